"""The staff performance report (绩效考核): its figures on a hand-built dataset,
and who sees them."""

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

    def _figures(self, domain, groupby, aggregate, user=None):
        """``{(group labels): aggregate}`` of the report as ``user`` (the
        sales manager by default), over Alice's and Bob's rows."""
        report = self.Report.with_user(user or self.manager)
        domain = [("user_id", "in", (self.alice + self.bob).ids), *domain]
        return {
            tuple(_label(key) for key in keys): value
            for *keys, value in report._read_group(domain, groupby, [aggregate])
        }

    def test_customers_held_per_segment_of_each_dimension(self):
        held = [("kind", "=", "held")]
        self.assertEqual(
            self._figures(
                held, ["user_id", "dimension", "segment_id"], "customer_count:sum"
            ),
            {
                ("cs_perf_alice", "value", "high"): 1,
                ("cs_perf_alice", "value", "low"): 1,
                ("cs_perf_alice", "lifecycle", "active"): 1,
                ("cs_perf_alice", "lifecycle", "at_risk"): 1,
                ("cs_perf_alice", "rfm", "champions"): 1,
                ("cs_perf_alice", "rfm", False): 1,
                ("cs_perf_bob", "value", "high"): 1,
                ("cs_perf_bob", "value", "low"): 1,
                ("cs_perf_bob", "lifecycle", "new"): 1,
                ("cs_perf_bob", "lifecycle", "churned"): 1,
                ("cs_perf_bob", "rfm", "new"): 1,
                ("cs_perf_bob", "rfm", "hibernating"): 1,
            },
        )
        # per team, each customer once on the value dimension
        self.assertEqual(
            self._figures(
                [*held, ("dimension", "=", "value")], ["team_id"], "customer_count:sum"
            ),
            {("Performance North",): 2, ("Performance South",): 2},
        )
        rows = self.Report.with_user(self.manager).search(
            [*held, ("user_id", "=", self.alice.id)]
        )
        self.assertEqual(rows.partner_id, self.alice_big + self.alice_small)
        self.assertEqual(set(rows.mapped("date")), {self.today})
        self.assertEqual(rows.team_id, self.north)

    def test_followups_on_time_late_and_overdue(self):
        self.assertEqual(
            self._figures([], ["user_id", "kind"], "followup_count:sum"),
            {
                ("cs_perf_alice", "followup_on_time"): 2,
                ("cs_perf_alice", "followup_late"): 2,
                ("cs_perf_alice", "followup_overdue"): 1,
                ("cs_perf_bob", "followup_on_time"): 1,
                ("cs_perf_bob", "followup_late"): 1,
                ("cs_perf_bob", "followup_overdue"): 1,
                # the other facts count no follow-up
                ("cs_perf_alice", "held"): 0,
                ("cs_perf_alice", "upgrade"): 0,
                ("cs_perf_alice", "downgrade"): 0,
                ("cs_perf_alice", "pool_claim"): 0,
                ("cs_perf_alice", "revenue"): 0,
                ("cs_perf_bob", "held"): 0,
                ("cs_perf_bob", "churn"): 0,
                ("cs_perf_bob", "pool_claim"): 0,
                ("cs_perf_bob", "revenue"): 0,
            },
        )
        followups = self.Report.with_user(self.manager).search(
            [("kind", "like", "followup_"), ("user_id", "=", self.alice.id)]
        )
        # done ones dated by their done date, open ones by their deadline;
        # a follow-up on a contact counts for its company
        self.assertEqual(
            sorted((r.kind, r.date, r.partner_id.name) for r in followups),
            [
                ("followup_late", self._day(25), "Alice Big Co"),
                ("followup_late", self._day(15), "Alice Small"),
                ("followup_on_time", self._day(12), "Alice Big Co"),
                ("followup_on_time", self._day(10), "Alice Big Co"),
                ("followup_overdue", self._day(3), "Alice Small"),
            ],
        )
        self.assertEqual(
            set(followups.mapped("value_segment_id.code")), {"high", "low"}
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
        self.assertEqual(
            self._figures(
                [("partner_id", "=", self.alice_small.id)], ["kind"], "__count"
            ),
            {
                ("held",): 3,
                ("followup_late",): 2,
                ("downgrade",): 2,
                ("pool_claim",): 1,
                ("revenue",): 1,
            },
        )

    def test_upgrades_downgrades_and_churn(self):
        self.assertEqual(
            self._figures(
                [("kind", "in", ("upgrade", "downgrade", "churn"))],
                ["user_id", "kind", "dimension", "segment_id"],
                "customer_count:sum",
            ),
            {
                ("cs_perf_alice", "upgrade", "value", "high"): 1,
                ("cs_perf_alice", "downgrade", "value", "low"): 1,
                ("cs_perf_alice", "downgrade", "lifecycle", "at_risk"): 1,
                ("cs_perf_bob", "churn", "lifecycle", "churned"): 1,
            },
        )
        upgrade = self.Report.with_user(self.manager).search(
            [("kind", "=", "upgrade"), ("user_id", "=", self.alice.id)]
        )
        self.assertEqual(
            (upgrade.date, upgrade.partner_id, upgrade.team_id),
            (self._day(30), self.alice_big, self.north),
        )

    def test_movements_follow_the_current_salesperson(self):
        self.alice_small.user_id = self.bob
        figures = self._figures(
            [("kind", "=", "downgrade")], ["user_id"], "customer_count:sum"
        )
        self.assertEqual(figures, {("cs_perf_bob",): 2})

    def test_revenue_by_value_tier(self):
        self.assertEqual(
            self._figures(
                [("kind", "=", "revenue")],
                ["user_id", "value_segment_id"],
                "revenue:sum",
            ),
            {
                # 1000 + 400 in a currency worth half + 100 from a contact
                ("cs_perf_alice", "high"): 1300.0,
                ("cs_perf_alice", "low"): 300.0,
                # by the order's salesperson, not the customer's
                ("cs_perf_bob", "medium"): 500.0,
                ("cs_perf_bob", "high"): 700.0,
            },
        )
        revenue = self.Report.with_user(self.manager).search(
            [("kind", "=", "revenue"), ("user_id", "=", self.alice.id)]
        )
        self.assertEqual(
            sorted(revenue.mapped("date")),
            [self._day(40), self._day(10), self._day(5), self._day(3)],
        )
        self.assertEqual(set(revenue.mapped("dimension")), {"value"})
        self.assertEqual(
            revenue.segment_id,
            self.alice_big.segment_value_id + self.alice_small.segment_value_id,
        )
        self.assertEqual(revenue.currency_id, self.company_currency)
        self.assertFalse(any(revenue.mapped("customer_count")))

    def test_pool_claims(self):
        self.assertEqual(
            self._figures(
                [("kind", "=", "pool_claim")],
                ["user_id", "partner_id", "date:day"],
                "customer_count:sum",
            ),
            {
                ("cs_perf_alice", "Alice Small", self._day(7)): 1,
                ("cs_perf_bob", "Bob Big Co", self._day(100)): 1,
            },
        )

    def test_period_counts_facts_dated_in_it(self):
        last_30_days = [("date", ">=", self._day(30)), ("date", "<=", self.today)]
        self.assertEqual(
            self._figures(last_30_days, ["user_id", "kind"], "__count"),
            {
                ("cs_perf_alice", "held"): 6,
                ("cs_perf_alice", "followup_on_time"): 2,
                ("cs_perf_alice", "followup_late"): 2,
                ("cs_perf_alice", "followup_overdue"): 1,
                ("cs_perf_alice", "upgrade"): 1,
                ("cs_perf_alice", "downgrade"): 2,
                ("cs_perf_alice", "pool_claim"): 1,
                ("cs_perf_alice", "revenue"): 3,
                ("cs_perf_bob", "held"): 6,
                ("cs_perf_bob", "followup_overdue"): 1,
                ("cs_perf_bob", "revenue"): 1,
            },
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
        figures = self._figures([], ["user_id"], "__count")
        self.assertEqual(set(figures), {("cs_perf_alice",), ("cs_perf_bob",)})
        self.assertEqual(
            figures[("cs_perf_alice",)],
            len(self.Report.with_user(self.alice).search([])),
        )

    def test_other_users_have_no_access(self):
        internal = new_test_user(self.env, "cs_perf_internal", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Report.with_user(internal).search([])

    def test_figures_of_another_company_stay_there(self):
        other = self.env["res.company"].create({"name": "Performance Abroad"})
        self.alice.company_ids += other
        self._make_customer("Alice Abroad", user_id=self.alice.id, company_id=other.id)
        domain = [("kind", "=", "held"), ("dimension", "=", "value")]
        alice = self.Report.with_user(self.alice)
        for companies, count in ((self.env.company, 2), (self.env.company + other, 3)):
            with self.subTest(companies=companies.mapped("name")):
                report = alice.with_context(allowed_company_ids=companies.ids)
                self.assertEqual(len(report.search(domain)), count)

    def test_action_opens_the_pivot_for_salespeople(self):
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
                ("user_id", "row"),
                ("kind", "col"),
                ("customer_count", "measure"),
                ("followup_count", "measure"),
                ("revenue", "measure"),
            ],
        )
