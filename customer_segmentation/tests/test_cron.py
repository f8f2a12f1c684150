from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged

from odoo.addons.customer_segmentation.models import (
    customer_segmentation_run as run_module,
)
from odoo.addons.customer_segmentation.models import res_partner as res_partner_module
from odoo.addons.customer_segmentation.models.res_partner import PROFILE_FIELDS

from .common import (
    NOW,
    RFM_POPULATION,
    SEGMENTATION_FIELDS,
    TODAY,
    SegmentationCase,
    days_ago,
)

CLASSIFIED_FIELDS = SEGMENTATION_FIELDS + PROFILE_FIELDS


@tagged("post_install", "-at_install")
class TestCron(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.population = cls._make_rfm_population()
        cls.company = cls._make_customer("Company", is_company=True)
        cls.contact = cls._make_customer("Contact", parent_id=cls.company.id)
        # before the window, to keep the RFM population's hand-computed scores
        cls._make_order(cls.contact, 100.0, days_ago(380))
        cls.dormant = cls._make_customer("Dormant")
        cls._make_order(cls.dormant, 100.0, days_ago(400))
        cls.prospect = cls._make_customer("Prospect")
        cls._make_order(cls.prospect, 100.0, days_ago(1), state="draft")
        cls.customers = cls.env["res.partner"].union(
            *cls.population.values(), cls.company, cls.dormant, cls.prospect
        )
        cls.partners = cls.customers + cls.contact

    def _clear_segmentation(self):
        """Forget every partner's segments, so that a run's effect shows (a
        run writes the figures first, then the segments)."""
        self.env["res.partner"].with_context(active_test=False).search([]).write(
            dict.fromkeys(
                ["segment_value_id", "segment_lifecycle_id", "segment_rfm_id"], False
            )
        )

    def _classified(self):
        """Every classified column of every partner, comparable with ==."""
        partners = self.env["res.partner"].with_context(active_test=False).search([])
        return {
            partner.id: {
                name: partner[name].id if name.startswith("segment_") else partner[name]
                for name in CLASSIFIED_FIELDS
            }
            for partner in partners
        }

    def _clear_classification(self):
        self.env["res.partner"].with_context(active_test=False).search([]).write(
            dict.fromkeys(CLASSIFIED_FIELDS, False)
        )

    def _one_statement_run(self):
        """What a run of one statement over everyone leaves, from nothing."""
        self._clear_classification()
        run = self.env["customer.segmentation.run"]._start("manual", self.env.company)
        run._process(batch_size=None)
        return run, self._classified()

    def _cron_runs(self):
        return self.env["customer.segmentation.run"].search([("trigger", "=", "cron")])

    def _first_batch_size_up_to(self, customer):
        """The batch size making ``customer`` the last of the first batch."""
        partners = (
            self.env["res.partner"]
            .with_context(active_test=False)
            .search([("id", "<=", customer.id)])
        )
        return len(partners.filtered(lambda p: p.commercial_partner_id == p))

    def _run_one_batch(self, last_customer, day=NOW):
        """Start a nightly run on ``day`` and stop it after its figures and
        the first batch of segments, ending with ``last_customer``."""
        with freeze_time(day):
            [run] = self.env["customer.segmentation.run"]._cron_runs()
            run._process_batch(None)  # every customer's figures at once
            run._process_batch(None)  # the company's thresholds
            run._process_batch(self._first_batch_size_up_to(last_customer))
        return run

    def _assert_run_done(self, run):
        total = self._commercial_partner_count()
        self.assertRecordValues(
            run,
            [
                {
                    "state": "done",
                    "date": TODAY,
                    "customers_total": total,
                    "customers_done": total,
                }
            ],
        )

    def test_scheduled_action(self):
        cron = self.env.ref("customer_segmentation.ir_cron_recompute_segments")
        self.assertEqual(cron.model_id.model, "res.partner")
        self.assertIn("model._cron_recompute_segments()", cron.code)
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        self._clear_segmentation()
        cron.method_direct_trigger()
        run = self._cron_runs()
        self.assertEqual(len(run), 1)
        self._assert_run_done(run)
        self.assertSegments(self.population["champions"], value="high", rfm="champions")
        self.assertSegments(self.contact, value="low", lifecycle="churned", rfm=False)

    def test_batched_run_matches_full_recompute(self):
        self._clear_segmentation()
        self.env["res.partner"]._cron_recompute_segments(batch_size=2)
        run = self._cron_runs()
        self._assert_run_done(run)
        # From nothing: each customer who bought gets a value tier (10 + the
        # company + the dormant one), who bought or was quoted a lifecycle
        # stage (+ the prospect), who bought in the window an RFM segment.
        self.assertRecordValues(
            run,
            [{"changes_value": 12, "changes_lifecycle": 13, "changes_rfm": 10}],
        )
        batched = self._snapshot(self.partners)
        self._clear_segmentation()
        summary = self._recompute_all()
        self.assertEqual(self._snapshot(self.partners), batched)
        self.assertEqual(summary["customers"], run.customers_done)
        self.assertEqual(
            summary["changes"], {"value": 12, "lifecycle": 13, "rfm": 10, "other": 0}
        )
        # nothing left to change, batched or not
        self.env["res.partner"]._cron_recompute_segments(batch_size=2)
        second = self._cron_runs()[0]
        self.assertNotEqual(second, run)
        self.assertRecordValues(
            second,
            [
                {
                    "state": "done",
                    "customers_written": 0,
                    "changes_value": 0,
                    "changes_lifecycle": 0,
                    "changes_rfm": 0,
                }
            ],
        )

    def test_batches_numbered_once_take_new_customers_last(self):
        """A run searches once for the customers that may change
        (``_planned_moving``) and numbers the batches of those created since
        once (``_planned_upper``), not in a query per batch: a customer
        created meanwhile, whose id is higher, falls in the last batch, and
        the counts stay exact."""
        self._clear_segmentation()
        with freeze_time(NOW):
            [run] = self.env["customer.segmentation.run"]._cron_runs()
            run._process_batch(None)  # every customer's figures at once
            run._process_batch(None)  # the company's thresholds
            plan = {}
            run._process_batch(2, plan)
            self.assertEqual(plan["moving_key"], (run.id, "classify", 2))
            first_upper = run.last_customer_id
            late = self._make_customer("Late Customer")
            while run.state == "running":
                run._process_batch(2, plan)
        self.assertEqual(plan["key"], (run.id, "classify", 2))
        self.assertNotEqual(first_upper, late.id)
        self.assertEqual(run.last_customer_id, late.id)
        self.assertEqual(run.customers_done, self._commercial_partner_count())
        self.assertSegments(self.population["champions"], rfm="champions")

    def _classified_customers(self, batch_size=2):
        """Run the nightly job in batches of ``batch_size``: the run, and the
        customer ids each batch of its classification was given (None for a
        batch of ids)."""
        Pipeline = type(self.env["customer.segmentation.pipeline"])
        original = Pipeline._classify
        scopes = []

        def spy(pipeline, scope, *args, **kwargs):
            scopes.append(scope.customer_ids)
            return original(pipeline, scope, *args, **kwargs)

        with patch.object(Pipeline, "_classify", spy):
            self.env["res.partner"]._cron_recompute_segments(batch_size=batch_size)
        return self._cron_runs()[0], scopes

    def test_night_classifies_only_the_customers_that_may_change(self):
        """Once a company has its baseline, a run reads every customer once
        to find those that may change, then locks and classifies only them,
        in batches of their ids; the others are counted, not read again."""
        Partner = self.env["res.partner"]
        self._clear_segmentation()
        with freeze_time(NOW):
            Partner._cron_recompute_segments(batch_size=2)  # the baseline
            # nothing changed: no batch at all, every customer counted
            run, scopes = self._classified_customers()
            self.assertEqual(scopes, [])
            self._assert_run_done(run)
            # a segment lost behind the ORM's back (SQL), and a need whose
            # new rule a customer matches (no write of that customer)
            champion = self.population["champions"]
            self.env.cr.execute(
                "UPDATE res_partner SET segment_rfm_id = NULL WHERE id = %s",
                [champion.id],
            )
            champion.invalidate_recordset(["segment_rfm_id"])
            need = self.env["customer.segment"].search(
                [("dimension", "=", "need")], limit=1
            )
            need.write({"rule_domain": repr([("id", "=", self.dormant.id)])})
            self.assertFalse(self.dormant.segment_need_ids)
            run, scopes = self._classified_customers()
        self.assertEqual(scopes, [tuple(sorted((champion | self.dormant).ids))])
        self._assert_run_done(run)
        self.assertSegments(champion, rfm="champions")
        self.assertEqual(self.dormant.segment_need_ids, need)

    def test_search_of_customers_to_classify_keeps_the_jit_setting(self):
        """The search turns PostgreSQL's JIT off for its one statement only."""
        Partner = self.env["res.partner"]
        with freeze_time(NOW):
            Partner._cron_recompute_segments(batch_size=2)
            run = self._cron_runs()[0]
            pipeline = self.env["customer.segmentation.pipeline"]
            scope = pipeline._scope(run.company_id)
            for setting in ("on", "off"):
                self.env.cr.execute("SELECT set_config('jit', %s, true)", [setting])
                found = pipeline._customers_to_classify(
                    scope, run.date, run._run_params(), run.stats, 10
                )
                self.assertEqual(found, [])
                self.env.cr.execute("SELECT current_setting('jit')")
                self.assertEqual(self.env.cr.fetchone()[0], setting)

    def test_night_with_many_changes_takes_every_customer(self):
        """More customers that may change than MOVING_LIMIT: the run takes
        every customer in batches of ids, as without a baseline."""
        Partner = self.env["res.partner"]
        with freeze_time(NOW):
            Partner._cron_recompute_segments(batch_size=2)
            self._clear_segmentation()
            with patch.object(run_module, "MOVING_LIMIT", 1):
                run, scopes = self._classified_customers()
        self.assertTrue(scopes)
        self.assertEqual(set(scopes), {None})
        self._assert_run_done(run)
        self.assertSegments(self.population["champions"], rfm="champions")

    def test_unfinished_run_of_today_resumes(self):
        split = self.population["cant_lose"]
        self._run_one_batch(split)
        run = self._cron_runs()
        self.assertRecordValues(
            run,
            [
                {
                    "state": "running",
                    "last_customer_id": split.id,
                    "customers_done": self._first_batch_size_up_to(split),
                }
            ],
        )
        self.assertSegments(split, rfm="cant_lose")
        self._clear_segmentation()
        self.env["res.partner"]._cron_recompute_segments(batch_size=2)
        self.assertEqual(self._cron_runs(), run)
        self._assert_run_done(run)
        done_before = self.customers.filtered(lambda c: c.id <= split.id)
        done_after = self.customers - done_before
        self.assertTrue(done_before and done_after)
        for customer in done_before:
            with self.subTest(customer=customer.name):
                self.assertSegments(customer, value=False, lifecycle=False, rfm=False)
        for name in ("champions", "new", "loyal"):
            with self.subTest(customer=name):
                self.assertSegments(self.population[name], rfm=name)
        self.assertSegments(self.dormant, value="low", lifecycle="churned")
        self.assertSegments(self.prospect, lifecycle="prospect")

    def test_unfinished_run_of_an_earlier_day_is_abandoned(self):
        self._run_one_batch(self.population["cant_lose"], day="2026-06-14 12:00:00")
        stale = self._cron_runs()
        self.assertRecordValues(stale, [{"state": "running", "date": days_ago(1)}])
        self._clear_segmentation()
        self.env["res.partner"]._cron_recompute_segments(batch_size=2)
        self.assertEqual(stale.state, "abandoned")
        run = self._cron_runs() - stale
        self.assertEqual(len(run), 1)
        self._assert_run_done(run)
        for name in RFM_POPULATION:
            with self.subTest(customer=name):
                self.assertSegments(self.population[name], rfm=name)

    def test_manual_recompute_in_batches_matches_one_statement(self):
        reference, expected = self._one_statement_run()
        self._clear_classification()
        self.patch(res_partner_module, "RECOMPUTE_BATCH_SIZE", 2)
        summary = self._recompute_all()
        self.assertEqual(self._classified(), expected)
        self.assertEqual(
            {key: value for key, value in summary.items() if key != "run_id"},
            {
                key: value
                for key, value in reference._summary().items()
                if key != "run_id"
            },
        )

    def test_interrupted_run_resumed_matches_clean_run(self):
        """A crash loses the batch under way, never a committed one: the run
        resumed after the batch that ended with ``cant_lose`` leaves every
        partner as one clean run does."""
        _reference, expected = self._one_statement_run()
        self._clear_classification()
        self._run_one_batch(self.population["cant_lose"])
        self.env["res.partner"]._cron_recompute_segments(batch_size=3)
        self._assert_run_done(self._cron_runs())
        self.assertEqual(self._classified(), expected)
