"""The nightly strategy job in batches with a resume point: a call stopped by
its time budget is continued by the next one after its last batch, no
customer is handled twice, and a later night goes only through the customers
that changed or fell due."""

from odoo.tests import freeze_time, new_test_user, tagged
from odoo.tools import SQL

from .common import SegmentationCase, days_ago, noon

FOLLOWUP_TYPE = "customer_segmentation.mail_activity_type_segment_followup"


@tagged("post_install", "-at_install")
class TestStrategyResume(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls.account_manager = new_test_user(
            cls.env, "cs_resume_am", groups="sales_team.group_sale_salesman"
        )
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.high.followup_days = 30
        # five high value customers, all due for a follow-up
        cls.customers = cls.env["res.partner"]
        for index in range(5):
            customer = cls._make_customer(
                f"Resume Customer {index}", user_id=cls.account_manager.id
            )
            cls._make_order(customer, 20000.0, days_ago(40 + index))
            cls.customers |= customer
        cls.Run = cls.env["customer.segmentation.strategy.run"]

    def _cron(self, batch_size=2):
        # a budget already spent: one batch per call
        self.env["res.partner"]._cron_apply_segment_strategies(
            batch_size=batch_size, time_budget=-1
        )
        return self.Run.search(
            [("company_id", "=", self.env.company.id)], order="id desc", limit=1
        )

    def _followups(self, partners=None):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "in", (partners or self.customers).ids),
                ("activity_type_id", "=", self.env.ref(FOLLOWUP_TYPE).id),
            ]
        )

    def _quiet_since(self):
        """Date what the set-up wrote a day back, as if written before the
        last run (a test's transaction has one clock)."""
        for table in (
            "res_partner",
            "customer_segmentation_figure",
            "customer_segment",
            "res_company",
        ):
            self.env.cr.execute(
                f"UPDATE {table} SET write_date = write_date - interval '1 day'"  # noqa: S608
            )
        self.env.invalidate_all()

    def test_a_call_stopped_by_its_budget_is_continued_by_the_next(self):
        followups = []
        runs = self.Run
        for _call in range(10):
            run = self._cron()
            runs |= run
            followups.append(len(self._followups()))
            if run.state == "done":
                break
        self.assertEqual(len(runs), 1, "one run for the day, resumed by each call")
        # at least one customer per batch of two, never one twice
        self.assertEqual(followups[-1], 5)
        self.assertEqual(followups, sorted(followups))
        self.assertGreaterEqual(len(followups), 3)
        self.assertEqual(
            sorted(self._followups().mapped("res_id")), sorted(self.customers.ids)
        )
        pipeline = self.env["customer.segmentation.pipeline"]
        customers = self.env.execute_query(
            SQL(
                "SELECT count(*) FROM (%s) c",
                pipeline._scope(self.env.company).customers_sql(),
            )
        )[0][0]
        self.assertEqual(run.customers_done, customers)
        self.assertEqual(run.followups, 5)

    def test_a_customer_done_today_is_not_handled_again_by_the_next_call(self):
        # one customer per call, up to the first of ours
        run = self._cron(batch_size=1)
        while not self._followups():
            self.assertEqual(run.state, "running")
            run = self._cron(batch_size=1)
        first = self._followups()
        self.assertEqual(len(first), 1)
        done_customer = self.customers.browse(first.res_id)
        # its account manager cancels it: the rest of today's run leaves it
        first.unlink()
        while run.state == "running":
            run = self._cron(batch_size=1)
        self.assertFalse(self._followups(done_customer))
        self.assertEqual(len(self._followups()), 4)
        # and a second run the same day does nothing
        self.assertEqual(self._cron(batch_size=1), run)
        self.assertFalse(self._followups(done_customer))

    def test_a_night_goes_only_through_changed_and_due_customers(self):
        first = self._cron(batch_size=100000)
        self.assertEqual((first.state, first.scope), ("done", "all"))
        self.assertGreaterEqual(first.customers_done, 5)
        self._quiet_since()
        cancelled = self._followups(self.customers[0])
        cancelled.unlink()
        with freeze_time(noon(1)):
            night = self._cron(batch_size=100000)
        self.assertNotEqual(night, first)
        self.assertEqual((night.state, night.scope), ("done", "changes"))
        # the customer whose follow-up went is due again, nobody else changed
        self.assertEqual(night.customers_done, 1)
        self.assertEqual(len(self._followups(self.customers[0])), 1)
        self.assertEqual(len(self._followups()), 5)

    def test_a_night_after_a_strategy_change_goes_through_everyone(self):
        self._cron(batch_size=100000)
        self._quiet_since()
        self.high.followup_days = 20
        with freeze_time(noon(1)):
            night = self._cron(batch_size=100000)
        self.assertEqual(night.scope, "all")
        self.assertGreaterEqual(night.customers_done, 5)
