"""The demo data's story: a year of nightly recomputes replayed, one per
month end, then today's run and the strategies, so that a new user sees
months of movements, churn warnings and follow-ups.

The test database is installed without demo data: the tests load the demo
files themselves, as Odoo does when it installs the module with them.
"""

import datetime
from collections import Counter

from odoo.tests import TransactionCase, new_test_user
from odoo.tools import SQL
from odoo.tools.convert import convert_file

from odoo.addons.customer_segmentation.models.customer_segmentation_demo import (
    LATE_ORDERS,
    ORDERS,
)

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
        """The customers of the demo's orders (companies and individuals)."""
        return (
            self.env["res.partner"]
            .browse(
                self.env.ref(f"customer_segmentation.res_partner_{key}_demo").id
                for key in ORDERS
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
