"""A run refreshes the figures of the changed customers only, and leaves
every customer's figures as a full refresh would: the queued ones, and those
the passing days make stale (a purchase leaving the look-back window or
entering the holdout period's calibration, a later-dated order coming due).
Every customer's figures are refreshed by a company's first run, once a week,
and after a change of a setting the figures depend on."""

import datetime

from freezegun import freeze_time

from odoo.tests import tagged

from odoo.addons.customer_segmentation.models.customer_segmentation_figure import (
    PURCHASE_FIGURES,
)

from .common import TODAY, SegmentationCase, days_ago, noon


@tagged("post_install", "-at_install")
class TestIncrementalFigures(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make = cls._make_customer
        cls.leaving = make("Leaving the window")  # look-back: 365 days
        cls._make_order(cls.leaving, 100.0, days_ago(364))
        cls._make_order(cls.leaving, 70.0, days_ago(500))
        cls.calibrating = make("Leaving the holdout")  # holdout: 180 days
        cls._make_order(cls.calibrating, 40.0, days_ago(179))
        cls._make_order(cls.calibrating, 60.0, days_ago(400))
        cls.due = make("Order coming due")
        cls._make_order(cls.due, 30.0, days_ago(20))
        cls._make_order(cls.due, 55.0, TODAY + datetime.timedelta(days=1))
        cls.steady = make("Steady")
        cls._make_order(cls.steady, 80.0, days_ago(30))
        cls._make_order(cls.steady, 90.0, days_ago(60))
        cls.customers = cls.leaving | cls.calibrating | cls.due | cls.steady
        cls.Run = cls.env["customer.segmentation.run"]

    def _figures(self):
        """Every figure row of the company: ``{partner id: {figure: value}}``."""
        Figure = self.env["customer.segmentation.figure"]
        Figure.invalidate_model()
        rows = Figure.search([("company_id", "=", self.env.company.id)])
        return {row.partner_id.id: row.read(list(PURCHASE_FIGURES))[0] for row in rows}

    def _figure(self, customer):
        return self.env["customer.segmentation.figure"].search(
            [
                ("partner_id", "=", customer.id),
                ("company_id", "=", self.env.company.id),
            ]
        )

    def _run(self, days_later=0):
        with freeze_time(noon(days_later)):
            summary = self._recompute_all()
        return self.Run.browse(summary["run_id"])

    def test_changed_run_equals_full_refresh(self):
        first = self._run()
        self.assertEqual(first.figures_scope, "all")
        self.assertEqual(self._figure(self.leaving).rfm_frequency, 1)
        self.assertEqual(self._figure(self.calibrating).holdout_purchase_days, 1)
        self.assertEqual(self._figure(self.due).purchase_days, 1)
        self.assertTrue(self._figure(self.due).pending)
        steady_written = self._figure(self.steady).write_date

        second = self._run(days_later=2)
        self.assertEqual(second.figures_scope, "changed")
        # the three stale customers, nobody else
        self.assertEqual(second.customers_written, 3)
        self.assertEqual(self._figure(self.steady).write_date, steady_written)
        self.assertRecordValues(
            self._figure(self.leaving),
            [{"rfm_frequency": 0, "rfm_monetary": 0.0, "window_first_date": False}],
        )
        self.assertRecordValues(
            self._figure(self.calibrating),
            [
                {
                    "holdout_purchase_days": 0,
                    "holdout_calibration_days": 2,
                    "holdout_first_date": False,
                }
            ],
        )
        self.assertRecordValues(
            self._figure(self.due),
            [{"purchase_days": 2, "pending": False, "rfm_monetary": 85.0}],
        )
        changed = self._figures()

        # the same day, every customer's figures refreshed: the same figures
        self.Run.search([]).write({"figures_scope": "changed"})
        third = self._run(days_later=2)
        self.assertEqual(third.figures_scope, "all")
        self.assertEqual(third.customers_written, 0)
        self.assertEqual(self._figures(), changed)

    def test_every_customer_refreshed_weekly_and_after_a_figure_setting(self):
        scopes = [self._run(days_later).figures_scope for days_later in (0, 1, 6, 7)]
        self.assertEqual(scopes, ["all", "changed", "changed", "all"])
        # a setting the figures do not depend on
        self._set_params(new_days=60)
        self.assertEqual(self._run(days_later=7).figures_scope, "changed")
        for key, value in (
            ("lookback_days", 200),
            ("model_holdout_days", 90),
            ("purchase_source", "invoice"),
        ):
            with self.subTest(setting=key):
                self._set_params(**{key: value})
                self.assertEqual(self._run(days_later=7).figures_scope, "all")
                self.assertEqual(self._run(days_later=7).figures_scope, "changed")

    def test_run_refreshes_and_unqueues_the_queued_customers(self):
        self._run()
        order = self._make_order(self.steady, 25.0, days_ago(5), classify=False)
        Queue = self.env["customer.segmentation.queue"]
        self.assertTrue(Queue.search([("partner_id", "=", self.steady.id)]))
        run = self._run()
        self.assertEqual(run.figures_scope, "changed")
        self.assertEqual(run.customers_written, 1)
        self.assertFalse(Queue.search([("partner_id", "=", self.steady.id)]))
        self.assertRecordValues(
            self._figure(self.steady),
            [{"purchase_days": 3, "last_order_date": order.date_order.date()}],
        )
        # and this run classified it with them
        self.assertEqual(
            self.env["customer.segment.history"]
            .search([("partner_id", "=", self.steady.id), ("run_id", "=", run.id)])
            .mapped("dimension"),
            ["rfm"],
        )

    def test_figures_set_by_hand_are_summed_up_again(self):
        self._run()
        self.steady.write({"rfm_monetary": 1.0, "last_order_date": days_ago(900)})
        self.assertEqual(self._figure(self.steady).rfm_monetary, 1.0)
        run = self._run()
        self.assertEqual(run.figures_scope, "changed")
        self.assertRecordValues(
            self._figure(self.steady),
            [{"rfm_monetary": 170.0, "last_order_date": days_ago(30)}],
        )
