"""Jobs that write every customer while users edit contacts: each batch of
customers is one transaction that locks its customers first, is run again
when PostgreSQL aborts it for a concurrent transaction, and a job that still
cannot finish says so clearly and keeps what it did.

PostgreSQL's errors are real: a trigger raises them, as a concurrent
transaction would make the statement fail (counted by a sequence, which a
rollback does not reset).
"""

import json
import logging

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.customer_segmentation.models import (
    res_partner as res_partner_module,
)
from odoo.addons.customer_segmentation.models import (
    segmentation_batch,
)
from odoo.addons.customer_segmentation.models.res_partner import (
    PROFILE_FIELDS,
    STORED_FIELDS,
)

from .common import NOW, SegmentationCase, days_ago

BATCH_LOGGER = "odoo.addons.customer_segmentation.models.segmentation_batch"
CLASSIFIED_FIELDS = STORED_FIELDS + PROFILE_FIELDS
# Far below any real batch's duration: the run stops after its first batch.
ONE_BATCH_BUDGET = 1e-9


@tagged("post_install", "-at_install")
class TestConcurrency(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.population = cls._make_rfm_population()
        cls.company = cls._make_customer(
            "Concurrent Company", is_company=True, segmentation_employee_count=300
        )
        cls.contact = cls._make_customer(
            "Concurrent Contact", parent_id=cls.company.id, function="CEO"
        )
        cls._make_order(cls.contact, 100.0, days_ago(20))
        cls.partners = (
            cls.env["res.partner"]
            .with_context(active_test=False)
            .search([("id", ">=", cls.population["hibernating"].id)])
        )

    def setUp(self):
        super().setUp()
        # the waits between attempts would only slow the tests down
        self.patch(segmentation_batch, "FIRST_RETRY_DELAY", 0)
        self.Partner = self.env["res.partner"]
        self.Run = self.env["customer.segmentation.run"]

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _fail_updates(self, table, failures):
        """``{n: error}``: the n-th statement (counted from 1) updating
        ``table`` from now on fails with the PostgreSQL ``error``. A run
        writes its resume point once per batch, the strategy job its figures
        first in each batch: the n-th statement is the n-th batch."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            CREATE SEQUENCE cs_test_updates;
            CREATE FUNCTION cs_test_fail_update() RETURNS trigger
            LANGUAGE plpgsql AS $$
            DECLARE
                error text := %s::jsonb ->> nextval('cs_test_updates')::text;
            BEGIN
                IF error IS NOT NULL THEN
                    RAISE EXCEPTION 'a concurrent transaction got in the way'
                          USING ERRCODE = error;
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER cs_test_fail_update
                BEFORE UPDATE ON %s
                FOR EACH STATEMENT EXECUTE FUNCTION cs_test_fail_update();
                """,
                json.dumps(failures),
                SQL.identifier(table),
            )
        )

    def _clear_segmentation(self):
        self.partners.write(dict.fromkeys(CLASSIFIED_FIELDS, False))
        self.env.flush_all()

    def _snapshot(self, partners):
        return {
            partner.id: {
                name: partner[name].id if name.startswith("segment_") else partner[name]
                for name in CLASSIFIED_FIELDS
            }
            for partner in partners
        }

    def _one_statement_run(self):
        """Classify everyone as one statement would, then forget it: the
        snapshot a batched run must reproduce."""
        self._clear_segmentation()
        run = self.Run._start("manual", self.env.company)
        run._process(batch_size=None)
        expected = self._snapshot(self.partners)
        self._clear_segmentation()
        return run, expected

    def _batch_size_up_to(self, customer):
        """The batch size making ``customer`` the last of the first batch."""
        partners = self.Partner.with_context(active_test=False).search(
            [("id", "<=", customer.id)]
        )
        return len(partners.filtered(lambda p: p.commercial_partner_id == p))

    def _row_version(self, partner):
        """``(ctid, xmax)`` of the partner's row: PostgreSQL writes a new row
        version (ctid) when the row is updated, and the locking transaction in
        its xmax when it is locked, which only another transaction would
        otherwise notice."""
        self.env.cr.execute(
            "SELECT ctid::text, xmax::text FROM res_partner WHERE id = %s",
            [partner.id],
        )
        return self.env.cr.fetchone()

    # ------------------------------------------------------------------
    # Full recompute
    # ------------------------------------------------------------------

    @mute_logger("odoo.sql_db")
    def test_manual_recompute_retries_a_batch(self):
        reference, expected = self._one_statement_run()
        self.patch(res_partner_module, "RECOMPUTE_BATCH_SIZE", 3)
        # the second batch is aborted twice: a concurrent update, a deadlock
        self._fail_updates(
            "customer_segmentation_run",
            {2: "serialization_failure", 3: "deadlock_detected"},
        )
        with self.assertLogs(BATCH_LOGGER, logging.INFO) as logs:
            summary = self._recompute_all()
        self.assertEqual(len(logs.records), 2)
        self.assertIn("SerializationFailure, retrying the batch", logs.output[0])
        self.assertIn("DeadlockDetected, retrying the batch", logs.output[1])
        self.assertEqual(self._snapshot(self.partners), expected)
        self.assertEqual(summary["changes"], reference._summary()["changes"])
        self.assertEqual(summary["customers"], reference.customers_done)
        self.assertEqual(self.Run.browse(summary["run_id"]).state, "done")

    @mute_logger("odoo.sql_db")
    def test_nightly_recompute_retries_a_batch(self):
        _reference, expected = self._one_statement_run()
        # the first and second batches are aborted once each
        self._fail_updates(
            "customer_segmentation_run",
            {1: "lock_not_available", 3: "deadlock_detected"},
        )
        with self.assertLogs(BATCH_LOGGER, logging.INFO) as logs:
            self.Partner._cron_recompute_segments(batch_size=4)
        self.assertEqual(len(logs.records), 2)
        run = self.Run.search([("trigger", "=", "cron")])
        self.assertEqual(run.state, "done")
        self.assertEqual(self._snapshot(self.partners), expected)

    @mute_logger("odoo.sql_db")
    def test_night_retries_a_batch_of_the_customers_that_may_change(self):
        """A run with a baseline classifies the customers its search found
        (``_planned_moving``); a batch of them aborted by PostgreSQL is run
        again with the same customers, none skipped."""
        _reference, expected = self._one_statement_run()
        self.Partner._cron_recompute_segments(batch_size=2)  # the baseline
        drifted = self.population["champions"] | self.population["loyal"]
        drifted |= self.population["at_risk"]
        self.env.cr.execute(
            "UPDATE res_partner SET segment_rfm_id = NULL WHERE id = ANY(%s)",
            [drifted.ids],
        )
        self.env.invalidate_all()
        # the run's updates: its phase (no figures to refresh), then the
        # resume point of its first batch, aborted once
        self._fail_updates("customer_segmentation_run", {2: "serialization_failure"})
        with self.assertLogs(BATCH_LOGGER, logging.INFO) as logs:
            self.Partner._cron_recompute_segments(batch_size=2)
        self.assertEqual(len(logs.records), 1)
        run = self.Run.search([("trigger", "=", "cron")], limit=1)
        self.assertEqual(run.state, "done")
        self.assertEqual(run.changes_rfm, 3)
        self.assertEqual(self._snapshot(self.partners), expected)

    @mute_logger("odoo.sql_db")
    def test_manual_recompute_that_keeps_failing_says_so_and_keeps_its_batches(self):
        self._clear_segmentation()
        first_batch = self._batch_size_up_to(self.population["cant_lose"])
        self.patch(res_partner_module, "RECOMPUTE_BATCH_SIZE", first_batch)
        # the first batch goes through, the second fails every time
        tries = segmentation_batch.BATCH_TRIES
        self._fail_updates(
            "customer_segmentation_run",
            dict.fromkeys(range(2, 2 + tries), "serialization_failure"),
        )
        with self.assertLogs(BATCH_LOGGER, logging.INFO):
            with self.assertRaisesRegex(
                UserError,
                "The recompute of customer segments stopped: other users kept "
                "changing the same customers, and a batch of customers failed "
                f"{tries} times \\(SerializationFailure\\)",
            ):
                self._recompute_all()
        run = self.Run.search([("trigger", "=", "manual")], limit=1)
        self.assertRecordValues(
            run,
            [
                {
                    "state": "abandoned",
                    "phase": "figures",
                    "last_customer_id": self.population["cant_lose"].id,
                }
            ],
        )
        # the first batch is saved, whole; the second left nothing behind
        self.assertTrue(self.population["cant_lose"].rfm_frequency)
        self.assertFalse(self.population["champions"].rfm_frequency)

    def test_parallel_batches_parameter_is_checked(self):
        # two batches at once run only where batches are committed (not in
        # tests: scripts/test_upgrade.py checks them); the parameter is
        # checked wherever a run goes through its batches
        Param = self.env["ir.config_parameter"].sudo()
        Param.set_param("customer_segmentation.parallel_batches", "twice")
        with self.assertRaisesRegex(
            UserError,
            "The system parameter customer_segmentation.parallel_batches must "
            "be true or false, not 'twice'",
        ):
            self._recompute_all()
        run = self.Run.search([("trigger", "=", "manual")], limit=1)
        self.assertEqual(run.state, "abandoned")
        self.assertFalse(run.customers_done)
        Param.set_param("customer_segmentation.parallel_batches", "False")
        self.assertEqual(self._recompute_all()["customers"], run.customers_total)

    def test_batch_locks_its_customers_first(self):
        # a one-statement run locks nothing it does not write
        self.Run._start("manual", self.env.company)._process(batch_size=None)
        # as if no run had refreshed every customer's figures yet: the next
        # one does, in batches of ids
        self.Run.search([]).write({"figures_scope": "changed"})
        # OdooBot: a customer of nothing, whom a second run leaves unchanged
        odoobot = self.env.ref("base.partner_root")
        row, locker = self._row_version(odoobot)
        with freeze_time(NOW, tick=True):
            self.Partner._cron_recompute_segments(
                batch_size=self._batch_size_up_to(odoobot),
                time_budget=ONE_BATCH_BUDGET,
            )
        run = self.Run.search([("trigger", "=", "cron")])
        self.assertRecordValues(
            run,
            [{"state": "running", "last_customer_id": odoobot.id}],
        )
        self.assertEqual(run.customers_written, 0)
        new_row, new_locker = self._row_version(odoobot)
        self.assertEqual(new_row, row, "the batch wrote OdooBot")
        self.assertNotEqual(new_locker, locker, "the batch did not lock OdooBot")

    # ------------------------------------------------------------------
    # Strategy job
    # ------------------------------------------------------------------

    @mute_logger("odoo.sql_db")
    def test_strategy_job_retries_a_batch(self):
        self._recompute_all()
        tag = self.env["res.partner.category"].create({"name": "Champion Club"})
        self._segment("rfm", "champions").partner_tag_ids = [Command.link(tag.id)]
        self._fail_updates(
            "customer_segmentation_figure",
            {1: "serialization_failure", 2: "serialization_failure"},
        )
        with self.assertLogs(BATCH_LOGGER, logging.INFO) as logs:
            result = self.Partner.with_user(
                self.sales_manager
            ).apply_segment_strategies()
        self.assertEqual(len(logs.records), 2)
        champions = self.Partner.search(
            [("segment_rfm_id", "=", self._segment("rfm", "champions").id)]
        )
        self.assertIn(self.population["champions"], champions)
        self.assertEqual(
            self.Partner.search([("category_id", "in", tag.ids)]), champions
        )
        self.assertGreaterEqual(result["tags_added"], len(champions))

    @mute_logger("odoo.sql_db")
    def test_strategy_job_that_keeps_failing_says_so(self):
        self._recompute_all()
        tries = segmentation_batch.BATCH_TRIES
        self._fail_updates(
            "customer_segmentation_figure",
            dict.fromkeys(range(1, 1 + tries), "serialization_failure"),
        )
        with self.assertLogs(BATCH_LOGGER, logging.INFO):
            with self.assertRaisesRegex(
                UserError, "The segment strategy job stopped: other users"
            ):
                self.Partner.with_user(self.sales_manager).apply_segment_strategies()
