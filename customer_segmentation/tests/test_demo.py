"""The demo data's story: a year of nightly recomputes replayed, one per
month end, then today's run and the strategies, so that a new user sees
months of movements, churn warnings and follow-ups, and the purchase model
fitted on every one of these runs.

The test database is installed without demo data: the tests load the demo
files themselves, as Odoo does when it installs the module with them.
"""

import datetime
from collections import Counter

import numpy as np

from odoo.tests import TransactionCase, new_test_user
from odoo.tests.common import BaseCase
from odoo.tools import SQL
from odoo.tools.convert import convert_file

from ..models.customer_segmentation_demo import (
    LATE_ORDERS,
    ORDERS,
    OVERDUE_FOLLOWUPS,
    PARTNERS,
    generated_buyers,
)
from ..models.customer_segmentation_purchase_model import MIN_REPEAT_BUYERS
from ..models.segmentation_params import PARAMS
from ..tools import purchase_model as pm
from .common import NOW, TODAY

DEMO_FILES = (
    "demo/customer_segmentation_demo.xml",
    "demo/customer_segmentation_snapshot_demo.xml",
)
MOVEMENTS = ("upgrade", "downgrade", "churn")


def month_ends_before(day, count):
    """The last days of the ``count`` months before ``day``'s, oldest
    first."""
    ends = []
    end = day.replace(day=1) - datetime.timedelta(days=1)
    for _month in range(count):
        ends.append(end)
        end = end.replace(day=1) - datetime.timedelta(days=1)
    return ends[::-1]


class TestDemoStory(TransactionCase):
    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo's demo user, who is a salesperson of half the demo customers
        # (base's demo data, absent from the test database)
        salesperson = new_test_user(
            cls.env, "cs_demo_salesperson", groups="sales_team.group_sale_salesman"
        )
        cls.env["ir.model.data"]._update_xmlids(
            [{"xml_id": "base.user_demo", "record": salesperson}]
        )
        # only the demo's orders count
        cls.env["sale.order"].search([("state", "!=", "cancel")]).write(
            {"state": "cancel"}
        )
        # the currency rates of a database with demo data (base's demo
        # data): the demo's customers in China buy in yuan
        convert_file(
            cls.env,
            "base",
            "data/res_currency_rate_demo.xml",
            {},
            mode="init",
            kind="demo",
        )
        for filename in DEMO_FILES:
            convert_file(
                cls.env,
                "customer_segmentation",
                filename,
                {},
                mode="init",
                kind="demo",
            )
        cls.company = cls.env.company
        cls.month_ends = month_ends_before(TODAY, 12)
        cls.runs = cls.env["customer.segmentation.run"].search(
            [("company_id", "=", cls.company.id)], order="date, id"
        )

    def _demo_customers(self):
        """The customers of the demo's orders (companies and individuals),
        the generated buyers included."""
        return (
            self.env["res.partner"]
            .browse(
                self.env.ref(f"customer_segmentation.res_partner_{key}_demo").id
                for key in ORDERS | generated_buyers()[1]
            )
            .commercial_partner_id
        )

    def _history_months(self, runs):
        """``{first of month: Counter(movement)}`` of the rules' changes of
        value tier, lifecycle stage and RFM segment made by ``runs``."""
        history = self.env["customer.segment.history"].search(
            [
                ("run_id", "in", runs.ids),
                ("dimension", "in", ("value", "lifecycle", "rfm")),
            ]
        )
        months = {}
        for change in history:
            month = change.date.date().replace(day=1)
            months.setdefault(month, Counter())[change.movement] += 1
        return months

    def test_a_nightly_run_at_each_month_end_then_today(self):
        self.assertEqual(self.runs.mapped("date"), [*self.month_ends, TODAY])
        self.assertEqual(set(self.runs.mapped("state")), {"done"})
        for run in self.runs[:-1]:
            self.assertEqual(run.started_at.date(), run.date)
            self.assertEqual(run.trigger, "cron")

    def test_every_month_has_movements(self):
        baseline, *replayed = self.runs[:-1]
        # the first run is the baseline: it logs nothing
        self.assertFalse(self._history_months(baseline))
        months = self._history_months(self.runs.browse(run.id for run in replayed))
        self.assertEqual(
            sorted(months), [day.replace(day=1) for day in self.month_ends[1:]]
        )
        for month, movements in months.items():
            with self.subTest(month=month):
                self.assertTrue(
                    movements["upgrade"] and movements["downgrade"], movements
                )
        # each run's changes are dated its day
        for run in replayed:
            dates = set(
                self.env["customer.segment.history"]
                .search([("run_id", "=", run.id)])
                .mapped(lambda change: change.date.date())
            )
            self.assertEqual(dates, {run.date})
        # today's run moves customers too, and the late orders move theirs
        self.assertTrue(self._history_months(self.runs[-1]))
        late = self.env["customer.segment.history"].search(
            [
                ("run_id", "=", False),
                ("cause", "=", "rule"),
                ("movement", "in", ("upgrade", "downgrade", "entry")),
            ]
        )
        self.assertEqual(
            set(late.partner_id.ids),
            {
                self.env.ref(f"customer_segmentation.res_partner_{key}_demo").id
                for key in LATE_ORDERS
            },
        )

    def test_chatter_dated_by_month(self):
        """The chatter tracks the replayed changes on their days, not all on
        the day of the installation."""
        messages = self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "in", self._demo_customers().ids),
                ("tracking_value_ids", "!=", False),
            ]
        )
        replayed_days = set(self.month_ends[1:])
        dated = {message.date.date() for message in messages}
        self.assertEqual(dated & replayed_days, replayed_days)

    def test_overview_has_a_point_per_month(self):
        Snapshot = self.env["customer.segmentation.snapshot"]
        points = Snapshot.search(
            [("company_id", "=", self.company.id), ("is_month_end", "=", True)]
        )
        self.assertEqual(sorted(set(points.mapped("date"))), [*self.month_ends, TODAY])
        self.assertEqual(
            set(points.filtered("is_latest").mapped("date")),
            {TODAY},
        )
        # the overview's trend: the month ends of the last 12 months
        since = (TODAY.replace(day=1) - datetime.timedelta(days=330)).replace(day=1)
        self.assertEqual(len({p.date for p in points if p.date >= since}), 12)
        # each month's figures count the history's movements of the month
        value = self.env.ref("customer_segmentation.dimension_value")
        history = self._history_months(self.runs[1:-1])
        for day in self.month_ends[1:]:
            rows = points.filtered(
                lambda row, day=day: row.date == day and row.dimension_id == value
            )
            logged = self.env["customer.segment.history"].search_count(
                [
                    ("dimension", "=", "value"),
                    ("movement", "in", MOVEMENTS),
                    ("date", ">=", day.replace(day=1)),
                    ("date", "<", day + datetime.timedelta(days=1)),
                ]
            )
            with self.subTest(day=day):
                self.assertTrue(history[day.replace(day=1)])
                self.assertEqual(
                    sum(rows.mapped("upgrades"))
                    + sum(rows.mapped("downgrades"))
                    + sum(rows.mapped("churned")),
                    logged,
                )

    def test_strategies_applied(self):
        customers = self._demo_customers()
        Figure = self.env["customer.segmentation.figure"]
        figures = Figure.search(
            [("partner_id", "in", customers.ids), ("company_id", "=", self.company.id)]
        )
        self.assertEqual(figures.partner_id, customers)
        # churn risk from the usual gap of every repeat buyer
        repeat_buyers = figures.filtered(lambda figure: figure.purchase_days > 1)
        self.assertTrue(repeat_buyers)
        for figure in repeat_buyers:
            self.assertTrue(figure.churn_typical_gap_days, figure.partner_id.name)
        warned = figures.filtered_domain(
            Figure._churn_warning_domain(self.company._segmentation_params())
        )
        self.assertTrue(warned)
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "in", customers.ids)]
        )
        followup_type = self.env.ref(
            "customer_segmentation.mail_activity_type_segment_followup"
        )
        churn_type = self.env.ref(
            "customer_segmentation.mail_activity_type_churn_warning"
        )
        self.assertIn(followup_type, activities.activity_type_id)
        self.assertEqual(
            set(
                activities.filtered(
                    lambda activity: activity.activity_type_id == churn_type
                ).mapped("res_id")
            ),
            set(warned.partner_id.ids),
        )
        # the overview's value at stake comes from these warnings
        today = self.env["customer.segmentation.snapshot"].search(
            [("company_id", "=", self.company.id), ("is_latest", "=", True)]
        )
        self.assertTrue(sum(today.mapped("value_at_stake")))
        # the tags of the customers' segments
        tagged = self.env["customer.segment"].search([("partner_tag_ids", "!=", False)])
        self.assertTrue(tagged)
        for segment in tagged:
            members = customers.with_company(self.company).filtered(
                lambda partner, segment=segment: (
                    segment
                    in partner.segment_value_id
                    | partner.segment_lifecycle_id
                    | partner.segment_rfm_id
                )
            )
            with self.subTest(segment=segment.name):
                self.assertTrue(members)
                for partner in members:
                    self.assertLessEqual(
                        segment.partner_tag_ids, partner.category_id, partner.name
                    )

    def test_staff_performance_has_months_of_movements(self):
        self.env.flush_all()
        months = self.env.execute_query(
            SQL(
                """SELECT DISTINCT date_trunc('month', date)::date
                     FROM customer_segmentation_performance_report
                    WHERE company_id = %s
                      AND upgrade_count + downgrade_count + churn_count > 0""",
                self.company.id,
            )
        )
        self.assertGreaterEqual(
            {row[0] for row in months},
            {day.replace(day=1) for day in self.month_ends[1:]},
        )

    def test_staff_performance_has_a_year_of_followups(self):
        """The account managers' follow-ups of the replayed year: done on
        time every month, some late, and a few of today's overdue."""
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """SELECT date_trunc('month', date)::date,
                          sum(followup_on_time_count), sum(followup_late_count),
                          sum(followup_overdue_count)
                     FROM customer_segmentation_performance_report
                    WHERE company_id = %s
                 GROUP BY 1""",
                self.company.id,
            )
        )
        on_time = {month for month, done, _late, _overdue in rows if done}
        self.assertGreaterEqual(
            on_time, {day.replace(day=1) for day in self.month_ends[1:]}
        )
        self.assertTrue(sum(late for _month, _done, late, _overdue in rows))
        self.assertEqual(
            sum(overdue for _month, _done, _late, overdue in rows), OVERDUE_FOLLOWUPS
        )
        # done by the account managers, as the chatter says
        done = (
            self.env["mail.activity"]
            .with_context(active_test=False)
            .search(
                [
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", self._demo_customers().ids),
                    ("active", "=", False),
                ]
            )
        )
        self.assertTrue(done)
        for activity in done:
            partner = self.env["res.partner"].browse(activity.res_id)
            self.assertEqual(activity.user_id, partner.user_id, partner.name)
        # every account manager has some in every month, and one overdue
        managers = self._demo_customers().user_id
        self.assertEqual(len(managers), 2)
        for manager in managers:
            months = {
                activity.date_done.replace(day=1)
                for activity in done
                if activity.user_id == manager
            }
            with self.subTest(manager=manager.name):
                self.assertGreaterEqual(
                    months, {day.replace(day=1) for day in self.month_ends[1:]}
                )
                self.assertTrue(
                    self.env["mail.activity"].search_count(
                        [
                            ("res_model", "=", "res.partner"),
                            ("user_id", "=", manager.id),
                            ("date_deadline", "<", TODAY),
                        ]
                    )
                )

    def test_every_segment_has_members(self):
        """Every value tier, lifecycle stage and segment of the ten RFM
        segments has members, as README says."""
        Partner = self.env["res.partner"].with_company(self.company)
        segments = self.env["customer.segment"].search(
            [
                ("dimension", "in", ("value", "lifecycle", "rfm")),
                ("rfm_preset", "!=", "rfm8"),
            ]
        )
        self.assertEqual(len(segments), 3 + 5 + 10)
        for segment in segments:
            with self.subTest(segment=segment.name):
                self.assertTrue(
                    Partner.search_count(
                        [(f"segment_{segment.dimension}_id", "=", segment.id)]
                    )
                )

    def test_purchase_model_fitted(self):
        """The demo's customers fit the purchase model: every run with
        enough repeat buyers holds its parameters, and a new user sees the
        model's figures, churn signal and sentences on the customers."""
        for run in self.runs:
            with self.subTest(date=run.date):
                if run.model_repeat_buyers >= MIN_REPEAT_BUYERS:
                    self.assertEqual(run.model_state, "fitted", run.model_message)
        today = self.runs[-1]
        self.assertEqual(today.model_state, "fitted", today.model_message)
        # sensible figures: a purchase every one to six months on average, a
        # dropout probability of 5 to 50 % per purchase, spend per purchase
        # with a finite mean, a holdout check
        self.assertTrue(30 < today.model_alpha / today.model_r < 180)
        self.assertTrue(0.05 < today.model_a / (today.model_a + today.model_b) < 0.5)
        self.assertGreater(today.model_q, 1)
        self.assertTrue(today.holdout_customers and today.holdout_actual)
        customers = self._demo_customers().with_company(self.company)
        buyers = customers.filtered("purchase_days")
        self.assertGreaterEqual(len(buyers), 80)
        for partner in buyers:
            with self.subTest(customer=partner.name):
                self.assertTrue(partner.model_alive_band)
                self.assertTrue(0 <= partner.model_alive_probability <= 1)
                self.assertGreater(partner.model_expected_value, 0)
                if partner.purchase_days > 1:
                    self.assertIn("likely still active", partner.churn_signal)
                else:
                    # the model tells nothing before a repeat purchase
                    self.assertFalse(partner.churn_signal)
                self.assertTrue(partner.model_explanation)
        # the model tells customers still buying from those who stopped
        alive = {
            key: self.env.ref(f"customer_segmentation.res_partner_{key}_demo")
            .commercial_partner_id.with_company(self.company)
            .model_alive_probability
            for key in ("northwind_laura", "huasheng", "shancheng", "fabrikam")
        }
        self.assertGreater(min(alive["northwind_laura"], alive["huasheng"]), 0.7)
        self.assertLess(max(alive["shancheng"], alive["fabrikam"]), 0.3)
        self.assertTrue(buyers.filtered("churn_alert"))
        self.assertEqual(
            set(buyers.mapped("model_value_band")), {"high", "medium", "low"}
        )
        # as an XML-RPC client sees it
        manager = new_test_user(
            self.env,
            "cs_demo_manager",
            groups="sales_team.group_sale_manager",
        )
        summary = self.env["res.partner"].with_user(manager).recompute_all_segments()
        for name in ("r", "alpha", "a", "b"):
            self.assertGreater(summary[name], 0, name)


class TestDemoPurchaseModelEveryDay(BaseCase):
    """The demo's data are dated relative to the day it is installed: its
    replayed runs fall on the month ends of the year before that day, and
    the nightly recompute goes on after it. The purchase model must fit on
    all of these days, not on one lucky date."""

    # base's demo rate of the yuan (data/res_currency_rate_demo.xml), in
    # which the demo's customers in China buy
    YUAN_PER_DOLLAR = 8.7556

    def _orders(self):
        """``{key: [(days before the installation, amount in dollars)]}``
        of every customer of the demo's own data, with the orders placed
        on the day of the installation after its runs."""
        buyers, buyer_orders = generated_buyers()
        yuan = {row[0] for row in PARTNERS + buyers if row[4] == "CN"}
        yuan.add("minghui_wang")  # for 上海明辉机械, in the demo XML
        orders = {}
        for key, rows in (ORDERS | buyer_orders).items():
            rate = self.YUAN_PER_DOLLAR if key in yuan else 1
            orders[key] = [(days, amount / rate) for days, amount in rows]
        late = {
            key: [(0, amount / (self.YUAN_PER_DOLLAR if key in yuan else 1))]
            for key, amount in LATE_ORDERS.items()
        }
        return orders, late

    def _summaries(self, orders, day):
        """The purchase model's summaries (x, t_x, T, repeat spend per
        purchase day) as of ``day`` days after the installation (before it
        when negative), as the figures count them: purchase days, not
        orders."""
        rows = []
        for customer_orders in orders.values():
            spend = Counter()
            for days, amount in customer_orders:
                if days >= -day:
                    spend[days] += amount
            if not spend:
                continue
            dates = sorted(spend, reverse=True)
            repeat = [spend[days] for days in dates[1:]]
            rows.append(
                (
                    len(repeat),
                    dates[0] - dates[-1],
                    dates[0] + day,
                    sum(repeat) / len(repeat) if repeat else 0,
                )
            )
        return np.array(rows, dtype=float).T

    def test_fits_on_every_replayed_day_and_after(self):
        orders, late = self._orders()
        with_late = {
            key: orders.get(key, []) + late.get(key, []) for key in orders | late
        }
        holdout = PARAMS["model_holdout_days"].default
        # a replayed run falls up to a year and a month end before the day
        # of the installation, its holdout check fits the history until
        # the holdout period before; the nights after it see the late orders
        for day in range(-366 - holdout, 31):
            x, t_x, T, spend = self._summaries(with_late if day > 0 else orders, day)
            if day < -366 and (x > 0).sum() < MIN_REPEAT_BUYERS:
                # the oldest runs' holdout checks: too few repeat buyers, as
                # the run says
                continue
            with self.subTest(day=day):
                pm.fit_bgnbd(x, t_x, T, min_repeat_buyers=MIN_REPEAT_BUYERS)
                spending = (x > 0) & (spend > 0)
                pm.fit_gamma_gamma(
                    x[spending], spend[spending], min_repeat_buyers=MIN_REPEAT_BUYERS
                )
