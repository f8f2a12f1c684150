"""The staff performance report (绩效考核): its figures on a hand-built dataset,
stored per day, salesperson and value tier, and who sees them."""

import datetime

import freezegun
from dateutil.relativedelta import relativedelta
from lxml import etree

from odoo import Command, models
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from .common import SegmentationMixin

FOLLOWUP = "customer_segmentation.mail_activity_type_segment_followup"
CHURN_WARNING = "customer_segmentation.mail_activity_type_churn_warning"


def _label(value):
    """A readable key for a group: logins, segment codes, names."""
    if not isinstance(value, models.BaseModel):
        return value
    value = value.sudo()
    if not value:
        return False
    if value._name == "res.users":
        return value.login
    if value._name == "customer.segment":
        return value.code
    return value.display_name


@tagged("post_install", "-at_install")
class TestPerformanceReport(SegmentationMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The view takes today from PostgreSQL, whose clock is not frozen:
        # freeze Python's on the database's date, so that both agree.
        [(cls.today,)] = cls.env.execute_query(
            SQL("SELECT (now() AT TIME ZONE 'UTC')::date")
        )
        cls.startClassPatcher(freezegun.freeze_time(cls._noon(0)))
        cls._setup_segmentation_fixtures()
        # Segments are set by hand below: orders must not reclassify anyone.
        cls.env = cls.env(context=dict(cls.env.context, segmentation_skip_refresh=True))
        cls.Report = cls.env["customer.segmentation.performance.report"]
        cls.alice = new_test_user(
            cls.env, "cs_perf_alice", groups="sales_team.group_sale_salesman"
        )
        cls.bob = new_test_user(
            cls.env, "cs_perf_bob", groups="sales_team.group_sale_salesman"
        )
        cls.manager = new_test_user(
            cls.env, "cs_perf_manager", groups="sales_team.group_sale_manager"
        )
        cls.north, cls.south = cls.env["crm.team"].create(
            [
                {
                    "name": name,
                    "crm_team_member_ids": [Command.create({"user_id": user.id})],
                }
                for name, user in (
                    ("Performance North", cls.alice),
                    ("Performance South", cls.bob),
                )
            ]
        )
        cls._make_customers()
        cls._make_followups()
        cls._make_movements()
        cls._make_pool_moves()
        cls._make_revenue()
        cls._refresh()

    @classmethod
    def _refresh(cls):
        cls.Report._refresh(cls.env.company)

    @classmethod
    def _noon(cls, days_ago):
        day = cls.today - datetime.timedelta(days=days_ago)
        return datetime.datetime.combine(day, datetime.time(12))

    @classmethod
    def _day(cls, days_ago):
        return cls.today - datetime.timedelta(days=days_ago)

    @classmethod
    def _seg(cls, dimension, code):
        return cls.env.ref(f"customer_segmentation.segment_{dimension}_{code}")

    @classmethod
    def _make_customers(cls):
        def segments(value, lifecycle, rfm=None):
            return {
                "segment_value_id": cls._seg("value", value).id,
                "segment_lifecycle_id": cls._seg("lifecycle", lifecycle).id,
                "segment_rfm_id": rfm and cls._seg("rfm", rfm).id,
            }

        alice, bob = cls.alice.id, cls.bob.id
        cls.alice_big = cls._make_customer(
            "Alice Big Co",
            is_company=True,
            user_id=alice,
            **segments("high", "active", "champions"),
        )
        cls.alice_small = cls._make_customer(
            "Alice Small", user_id=alice, **segments("low", "at_risk")
        )
        cls.bob_big = cls._make_customer(
            "Bob Big Co", is_company=True, user_id=bob, **segments("high", "new", "new")
        )
        cls.bob_lost = cls._make_customer(
            "Bob Lost", user_id=bob, **segments("low", "churned", "hibernating")
        )
        # Not held: a contact of a company, an archived customer, a customer
        # in the pool, a customer without a salesperson.
        cls.alice_buyer = cls._make_customer(
            "Alice Big Co Buyer", parent_id=cls.alice_big.id, user_id=alice
        )
        cls._make_customer(
            "Alice Archived", user_id=alice, active=False, **segments("high", "new")
        )
        cls._make_customer("Alice Pooled", user_id=alice, segmentation_in_pool=True)
        cls.unassigned = cls._make_customer(
            "Nobody's Customer", **segments("medium", "active")
        )

    @classmethod
    def _make_followups(cls):
        # Segments may schedule their follow-ups with another activity type.
        cls.visit = cls.env["mail.activity.type"].create(
            {"name": "Performance Visit", "keep_done": True}
        )
        cls._seg("value", "low").followup_activity_type_id = cls.visit
        other = cls.env["mail.activity.type"].create(
            {"name": "Performance Other", "keep_done": True}
        )
        followup, churn = cls.env.ref(FOLLOWUP), cls.env.ref(CHURN_WARNING)
        alice, bob = cls.alice, cls.bob
        # (record, type, salesperson, deadline in days ago, done days ago)
        specs = [
            (cls.alice_big, followup, alice, 10, 12),  # on time
            (cls.alice_buyer, followup, alice, 10, 10),  # on time, for Big Co
            (cls.alice_small, followup, alice, 20, 15),  # late
            (cls.alice_small, churn, alice, 3, None),  # overdue
            (cls.alice_big, cls.visit, alice, 30, 25),  # late
            (cls.alice_big, followup, alice, -5, None),  # not due yet
            (cls.alice_big, followup, alice, 0, None),  # due today
            (cls.alice_big, other, alice, 3, None),  # not a follow-up
            (cls.alice_big, other, alice, 20, 15),  # not a follow-up
            (cls.bob_big, followup, bob, 40, 35),  # late
            (cls.bob_lost, churn, bob, 1, None),  # overdue
            (cls.bob_lost, followup, bob, 50, 50),  # on time
        ]
        for record, activity_type, user, deadline, done in specs:
            activity = cls._make_activity(record, activity_type, user, deadline)
            if done is not None:
                with freezegun.freeze_time(cls._noon(done)):
                    activity.action_done()
                    activity.flush_recordset()  # the done date is computed now
        # not on a customer
        order = cls._make_order(cls.bob_big, 10.0, cls._day(400), state="draft")
        order.user_id = bob
        cls._make_activity(order, cls.visit, bob, 5)

    @classmethod
    def _make_activity(cls, record, activity_type, user, deadline):
        return cls.env["mail.activity"].create(
            {
                "res_model_id": cls.env["ir.model"]._get_id(record._name),
                "res_id": record.id,
                "activity_type_id": activity_type.id,
                "user_id": user.id,
                "date_deadline": cls._day(deadline),
            }
        )

    @classmethod
    def _make_movements(cls):
        def change(partner, dimension, old, new, movement, days_ago):
            return {
                "partner_id": partner.id,
                "company_id": cls.env.company.id,
                "dimension": dimension,
                "old_segment_id": old and cls._seg(dimension, old).id,
                "new_segment_id": new and cls._seg(dimension, new).id,
                "date": cls._noon(days_ago),
                "cause": "rule",
                "movement": movement,
            }

        cls.env["customer.segment.history"].create(
            [
                change(cls.alice_big, "value", "low", "high", "upgrade", 30),
                change(cls.alice_small, "value", "high", "low", "downgrade", 5),
                change(
                    cls.alice_small, "lifecycle", "active", "at_risk", "downgrade", 5
                ),
                change(cls.alice_small, "rfm", False, "new", "entry", 90),
                change(cls.alice_small, "rfm", "new", False, "exit", 40),
                change(cls.alice_big, "rfm", "loyal", "champions", "lateral", 8),
                change(cls.bob_lost, "lifecycle", "at_risk", "churned", "churn", 60),
                change(cls.bob_big, "geo", "local", "domestic", "upgrade", 2),
                change(cls.unassigned, "value", "low", "medium", "upgrade", 2),
            ]
        )

    @classmethod
    def _make_pool_moves(cls):
        def move(partner, user, kind, days_ago):
            return {
                "partner_id": partner.id,
                "company_id": cls.env.company.id,
                "user_id": user.id,
                "move": kind,
                "date": cls._noon(days_ago),
            }

        cls.env["customer.segmentation.pool.move"].create(
            [
                move(cls.alice_small, cls.alice, "claim", 7),
                move(cls.bob_big, cls.bob, "claim", 100),
                move(cls.bob_lost, cls.bob, "return", 50),
                move(cls.alice_big, cls.alice, "assign", 2),
            ]
        )

    @classmethod
    def _make_revenue(cls):
        # (customer, salesperson, amount, days ago, state, currency)
        specs = [
            (cls.alice_big, cls.alice, 1000.0, 10, "sale", None),
            (cls.alice_big, cls.alice, 400.0, 40, "sale", cls.other_currency),
            (cls.alice_buyer, cls.alice, 100.0, 3, "sale", None),
            (cls.alice_small, cls.alice, 300.0, 5, "sale", None),
            (cls.alice_small, cls.alice, 999.0, 5, "draft", None),
            (cls.alice_small, cls.alice, 555.0, 5, "cancel", None),
            (cls.unassigned, cls.bob, 500.0, 20, "sale", None),
            (cls.bob_big, cls.bob, 700.0, 200, "sale", None),
        ]
        for partner, user, amount, days_ago, state, currency in specs:
            order = cls._make_order(
                partner, amount, cls._noon(days_ago), state=state, currency=currency
            )
            order.user_id = user

    def _figures(self, domain, groupby, aggregates, user=None):
        """``{(group labels): (aggregates)}`` of the report as ``user`` (the
        sales manager by default), over Alice's and Bob's rows, without the
        groups where every aggregate is zero."""
        report = self.Report.with_user(user or self.manager)
        domain = [("user_id", "in", (self.alice + self.bob).ids), *domain]
        figures = {}
        for row in report._read_group(domain, groupby, aggregates):
            keys, values = row[: len(groupby)], row[len(groupby) :]
            if any(values):
                figures[tuple(_label(key) for key in keys)] = tuple(values)
        return figures

    def test_customers_held_once_each(self):
        held = ["customer_count:sum", "high_value_count:sum"]
        # two customers each, one of them in the highest value tier
        self.assertEqual(
            self._figures([], ["user_id"], held),
            {("cs_perf_alice",): (2, 1), ("cs_perf_bob",): (2, 1)},
        )
        self.assertEqual(
            self._figures([], ["team_id", "value_segment_id"], held),
            {
                ("Performance North", "high"): (1, 1),
                ("Performance North", "low"): (1, 0),
                ("Performance South", "high"): (1, 1),
                ("Performance South", "low"): (1, 0),
            },
        )
        rows = self.Report.with_user(self.manager).search(
            [("customer_count", ">", 0), ("user_id", "=", self.alice.id)]
        )
        self.assertEqual(set(rows.mapped("date")), {self.today})
        self.assertEqual(rows.team_id, self.north)

    def test_own_contacts_are_not_customers_held(self):
        # an internal user's contact is its own salesperson and may buy
        # (classified like any buyer), as may the company itself
        classified = {
            "user_id": self.alice.id,
            "segment_value_id": self._seg("value", "high").id,
            "segment_lifecycle_id": self._seg("lifecycle", "active").id,
        }
        (self.alice.partner_id | self.env.company.partner_id).sudo().write(classified)
        self._refresh()
        self.assertEqual(
            self._figures([], ["user_id"], ["customer_count:sum"])[("cs_perf_alice",)],
            (2,),
        )

    def test_rows_aggregate_a_day_of_a_salesperson_per_value_tier(self):
        # three more orders the day of an on-time follow-up: still one row
        for amount in (10.0, 20.0, 30.0):
            self._make_order(
                self.alice_big, amount, self._noon(12)
            ).user_id = self.alice
        self._refresh()
        rows = self.Report.with_user(self.manager).search(
            [("user_id", "=", self.alice.id), ("date", "=", self._day(12))]
        )
        self.assertEqual(len(rows), 1)
        self.assertEqual(
            (rows.value_segment_id.code, rows.revenue, rows.followup_on_time_count),
            ("high", 60.0, 1),
        )
        self.assertEqual(rows.currency_id, self.company_currency)

    def test_followups_on_time_late_and_overdue(self):
        followups = [
            "followup_on_time_count:sum",
            "followup_late_count:sum",
            "followup_overdue_count:sum",
        ]
        self.assertEqual(
            self._figures([], ["user_id"], followups),
            {("cs_perf_alice",): (2, 2, 1), ("cs_perf_bob",): (1, 1, 1)},
        )
        # done ones dated by their done date, overdue ones today (a state);
        # a follow-up on a contact counts for its company
        self.assertEqual(
            self._figures(
                [("user_id", "=", self.alice.id)],
                ["date:day", "value_segment_id"],
                followups,
            ),
            {
                (self._day(25), "high"): (0, 1, 0),
                (self._day(15), "low"): (0, 1, 0),
                (self._day(12), "high"): (1, 0, 0),
                (self._day(10), "high"): (1, 0, 0),
                (self.today, "low"): (0, 0, 1),
            },
        )

    def test_followup_done_after_the_fact_moves_from_overdue_to_late(self):
        overdue = self.env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", self.alice_small.id),
                ("activity_type_id", "=", self.env.ref(CHURN_WARNING).id),
            ]
        )
        overdue.action_done()
        self._refresh()
        self.assertEqual(
            self._figures(
                [("user_id", "=", self.alice.id)],
                ["date:day"],
                ["followup_late_count:sum", "followup_overdue_count:sum"],
            ),
            {
                (self._day(25),): (1, 0),
                (self._day(15),): (1, 0),
                (self.today,): (1, 0),
            },
        )

    def test_upgrades_downgrades_and_churn_count_customers_once_a_day(self):
        movements = ["upgrade_count:sum", "downgrade_count:sum", "churn_count:sum"]
        # Alice Small went down in value and lifecycle the same day: one
        # downgrade; moves on other dimensions and entries do not count
        self.assertEqual(
            self._figures([], ["user_id", "date:day"], movements),
            {
                ("cs_perf_alice", self._day(30)): (1, 0, 0),
                ("cs_perf_alice", self._day(5)): (0, 1, 0),
                ("cs_perf_bob", self._day(60)): (0, 0, 1),
            },
        )
        upgrade = self.Report.with_user(self.manager).search(
            [("upgrade_count", ">", 0), ("user_id", "=", self.alice.id)]
        )
        self.assertEqual(
            (upgrade.team_id, upgrade.value_segment_id.code), (self.north, "high")
        )

    def test_movements_follow_the_current_salesperson(self):
        self.alice_small.user_id = self.bob
        self._refresh()
        figures = self._figures([], ["user_id"], ["downgrade_count:sum"])
        self.assertEqual(figures, {("cs_perf_bob",): (1,)})

    def test_revenue_by_value_tier(self):
        self.assertEqual(
            self._figures([], ["user_id", "value_segment_id"], ["revenue:sum"]),
            {
                # 1000 + 400 in a currency worth half + 100 from a contact
                ("cs_perf_alice", "high"): (1300.0,),
                ("cs_perf_alice", "low"): (300.0,),
                # by the order's salesperson, not the customer's
                ("cs_perf_bob", "medium"): (500.0,),
                ("cs_perf_bob", "high"): (700.0,),
            },
        )
        self.assertEqual(
            self._figures(
                [("user_id", "=", self.alice.id)], ["date:day"], ["revenue:sum"]
            ),
            {
                (self._day(40),): (200.0,),
                (self._day(10),): (1000.0,),
                (self._day(5),): (300.0,),
                (self._day(3),): (100.0,),
            },
        )

    def test_revenue_is_stored_rounded(self):
        """A day's revenue converted from another currency is stored to the
        cent, as the ORM stores an amount: 100.01 at half the rate is 50.01,
        not 50.005."""
        order = self._make_order(
            self.alice_small,
            100.01,
            self._noon(60),
            currency=self.other_currency,
        )
        order.user_id = self.alice
        self._refresh()
        self.Report.flush_model()
        stored = self.env.execute_query(
            SQL(
                "SELECT revenue::text FROM customer_segmentation_performance_report"
                " WHERE company_id = %s AND user_id = %s AND date = %s"
                " AND revenue <> 0",
                self.env.company.id,
                self.alice.id,
                self._day(60),
            )
        )
        self.assertEqual(stored, [("50.01",)])

    def test_pool_claims(self):
        self.assertEqual(
            self._figures([], ["user_id", "date:day"], ["pool_claim_count:sum"]),
            {
                ("cs_perf_alice", self._day(7)): (1,),
                ("cs_perf_bob", self._day(100)): (1,),
            },
        )

    def test_period_counts_facts_dated_in_it(self):
        last_30_days = [("date", ">=", self._day(30)), ("date", "<=", self.today)]
        measures = [
            "customer_count:sum",
            "followup_on_time_count:sum",
            "followup_late_count:sum",
            "followup_overdue_count:sum",
            "upgrade_count:sum",
            "downgrade_count:sum",
            "churn_count:sum",
            "pool_claim_count:sum",
            "revenue:sum",
        ]
        self.assertEqual(
            self._figures(last_30_days, ["user_id"], measures),
            {
                ("cs_perf_alice",): (2, 2, 2, 1, 1, 1, 0, 1, 1400.0),
                ("cs_perf_bob",): (2, 0, 0, 1, 0, 0, 0, 0, 500.0),
            },
        )

    def test_full_recompute_refreshes_the_figures(self):
        newcomer = self._make_customer("Alice Newcomer", user_id=self.alice.id)
        self._make_order(newcomer, 80.0, self._noon(1)).user_id = self.alice
        held = ["customer_count:sum"]
        self.assertEqual(
            self._figures([("user_id", "=", self.alice.id)], [], held), {(): (2,)}
        )
        self.env["res.partner"].with_user(self.sales_manager).recompute_all_segments()
        self._run_reports_job()
        self.assertEqual(
            self._figures([("user_id", "=", self.alice.id)], [], held), {(): (3,)}
        )

    def test_hourly_refresh_brings_today_up_to_date(self):
        self._make_order(self.alice_small, 50.0, self._noon(0)).user_id = self.alice
        # a purchase dated earlier waits for the night's full refresh
        self._make_order(self.alice_big, 70.0, self._noon(10)).user_id = self.alice
        self.env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", self.alice_small.id),
                ("activity_type_id", "=", self.env.ref(CHURN_WARNING).id),
            ]
        ).action_done()
        self.env.ref(
            "customer_segmentation.ir_cron_refresh_performance"
        ).method_direct_trigger()
        measures = [
            "customer_count:sum",
            "followup_late_count:sum",
            "followup_overdue_count:sum",
            "revenue:sum",
        ]
        self.assertEqual(
            self._figures(
                [("user_id", "=", self.alice.id), ("date", ">=", self._day(10))],
                ["date:day"],
                measures,
            ),
            {
                (self._day(10),): (0, 0, 0, 1000.0),
                (self._day(5),): (0, 0, 0, 300.0),
                (self._day(3),): (0, 0, 0, 100.0),
                (self.today,): (2, 1, 0, 50.0),
            },
        )

    def test_states_count_once_whatever_the_period(self):
        """Customers held and follow-ups overdue are the state of the last
        refresh: refreshed the next day, they move to that day (where the
        follow-up due today is overdue too)."""
        tomorrow = self.today + datetime.timedelta(days=1)
        with freezegun.freeze_time(self._noon(-1)):
            self.Report._cron_refresh_today()
        states = [
            "customer_count:sum",
            "high_value_count:sum",
            "followup_overdue_count:sum",
        ]
        self.assertEqual(
            self._figures([], ["user_id", "date:day"], states),
            {
                ("cs_perf_alice", tomorrow): (2, 1, 2),
                ("cs_perf_bob", tomorrow): (2, 1, 1),
            },
        )
        # yesterday's events stay
        self.assertEqual(
            self._figures([], ["user_id"], ["pool_claim_count:sum"]),
            {("cs_perf_alice",): (1,), ("cs_perf_bob",): (1,)},
        )

    def test_refresh_figures_on_demand_by_a_sales_manager(self):
        self._make_customer(
            "Bob Newcomer",
            user_id=self.bob.id,
            segment_value_id=self._seg("value", "medium").id,
        )
        with self.assertRaises(AccessError):
            self.Report.with_user(self.bob).refresh_figures()
        self.assertIs(self.Report.with_user(self.manager).refresh_figures(), True)
        self.assertEqual(
            self._figures([("user_id", "=", self.bob.id)], [], ["customer_count:sum"]),
            {(): (3,)},
        )

    def test_search_view_periods(self):
        arch = self.Report.get_view(view_type="search")["arch"]
        filters = {
            node.get("name"): node.get("domain")
            for node in etree.fromstring(arch).iter("filter")
            if node.get("domain")
        }
        context = {
            "context_today": lambda: datetime.date(2026, 8, 20),
            "relativedelta": relativedelta,
            "uid": self.alice.id,
        }
        periods = {
            name: [term[2] for term in safe_eval(filters[name], context)]
            for name in ("this_month", "this_quarter", "this_year", "last_30_days")
        }
        self.assertEqual(
            periods,
            {
                "this_month": ["2026-08-01", "2026-09-01"],
                "this_quarter": ["2026-07-01", "2026-10-01"],
                "this_year": ["2026-01-01", "2027-01-01"],
                "last_30_days": ["2026-07-21", "2026-08-20"],
            },
        )
        self.assertEqual(
            safe_eval(filters["my_figures"], context),
            [("user_id", "=", self.alice.id)],
        )

    def test_salesperson_sees_own_figures(self):
        everyone = self.Report.with_user(self.manager)
        for user in (self.alice, self.bob):
            with self.subTest(user=user.login):
                own = self.Report.with_user(user).search([])
                self.assertEqual(own.user_id, user)
                self.assertEqual(
                    own, everyone.search([("user_id", "=", user.id)]).with_user(user)
                )
        self.assertFalse(
            self.Report.with_user(self.alice).search([("user_id", "=", self.bob.id)])
        )
        analyst = new_test_user(
            self.env,
            "cs_perf_analyst",
            groups="customer_segmentation.group_segmentation_user",
        )
        self.assertFalse(self.Report.with_user(analyst).search([]))

    def test_sales_manager_sees_everyone(self):
        figures = self._figures([], ["user_id"], ["__count"])
        self.assertEqual(set(figures), {("cs_perf_alice",), ("cs_perf_bob",)})
        self.assertEqual(
            figures[("cs_perf_alice",)],
            (len(self.Report.with_user(self.alice).search([])),),
        )

    def test_other_users_have_no_access(self):
        internal = new_test_user(self.env, "cs_perf_internal", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Report.with_user(internal).search([])

    def test_figures_of_another_company_stay_there(self):
        other = self.env["res.company"].create({"name": "Performance Abroad"})
        self.alice.company_ids += other
        self._make_customer("Alice Abroad", user_id=self.alice.id, company_id=other.id)
        self.Report._refresh(self.env.company + other)
        alice = self.Report.with_user(self.alice)
        for companies, count in ((self.env.company, 2), (self.env.company + other, 3)):
            with self.subTest(companies=companies.mapped("name")):
                report = alice.with_context(allowed_company_ids=companies.ids)
                [(held,)] = report._read_group([], [], ["customer_count:sum"])
                self.assertEqual(held, count)

    def test_action_opens_the_pivot_by_team_and_salesperson(self):
        action = self.env.ref(
            "customer_segmentation.customer_segmentation_performance_report_action"
        )
        self.assertEqual(action.view_mode.split(",")[0], "pivot")
        views = self.Report.with_user(self.alice).get_views(
            [(False, "pivot"), (False, "graph"), (False, "list"), (False, "search")]
        )
        pivot = etree.fromstring(views["views"]["pivot"]["arch"])
        self.assertEqual(
            [(f.get("name"), f.get("type")) for f in pivot.iter("field")],
            [
                ("team_id", "row"),
                ("user_id", "row"),
                ("customer_count", "measure"),
                ("high_value_count", "measure"),
                ("followup_on_time_count", "measure"),
                ("followup_overdue_count", "measure"),
                ("upgrade_count", "measure"),
                ("downgrade_count", "measure"),
                ("churn_count", "measure"),
                ("pool_claim_count", "measure"),
                ("revenue", "measure"),
            ],
        )
