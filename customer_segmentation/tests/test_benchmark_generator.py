import argparse
import datetime
import importlib
import sys
from collections import defaultdict
from pathlib import Path

from odoo.tests import tagged

from .common import TODAY, SegmentationCase

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@tagged("post_install", "-at_install")
class TestBenchmarkGenerator(SegmentationCase):
    """The benchmark's SQL generator writes data the ORM and the real
    recompute read as they would read data made through the ORM."""

    @classmethod
    def _generator(cls):
        if not (BENCHMARKS / "generate.py").exists():
            cls.skipTest(cls, "benchmarks/ is not next to the addon")
        sys.path.insert(0, str(BENCHMARKS))
        try:
            return importlib.import_module("generate")
        finally:
            sys.path.remove(str(BENCHMARKS))

    def test_generated_data_feeds_the_recompute(self):
        generate = self._generator()
        args = argparse.Namespace(
            customers=80,
            orders_per_customer=6.0,
            orders_sigma=1.3,
            seed=7,
            company_share=0.4,
            contact_share=0.5,
            foreign_share=0.25,
            no_lines=False,
            keep_indexes=True,
            skip_checks=False,
            no_recompute=False,
        )
        ref = generate.setup_reference_data(self.env, args)
        generate.load(self.env, args, ref, {})
        self.env.invalidate_all()
        generate.check_with_orm(self.env, ref)  # opens and confirms orders

        summary = self.env["res.partner"].recompute_all_segments()

        orders = self.env["sale.order"].search(
            [("name", "=like", generate.ORDER_PREFIX + "%")]
        )
        self.assertGreater(len(orders), 80)
        self.assertEqual(
            set(orders.mapped("state")), {"draft", "sent", "sale", "cancel"}
        )
        self.assertGreater(len(orders.currency_id), 1, "two currencies")
        window_start = datetime.datetime.combine(
            TODAY - datetime.timedelta(days=365), datetime.time.min
        )
        expected = defaultdict(lambda: [None, 0, 0.0])
        for order in orders.filtered(lambda o: o.state == "sale"):
            figures = expected[order.partner_id.commercial_partner_id]
            day = order.date_order.date()
            figures[0] = max(figures[0] or day, day)
            if order.date_order >= window_start:
                figures[1] += 1
                figures[2] += order.amount_untaxed / (order.currency_rate or 1.0)
        self.assertGreater(len(expected), 40)
        for customer, (last_date, frequency, monetary) in expected.items():
            with self.subTest(customer=customer.name):
                self.assertEqual(customer.last_order_date, last_date)
                self.assertEqual(customer.rfm_frequency, frequency)
                self.assertAlmostEqual(customer.rfm_monetary, monetary, places=2)
                self.assertTrue(customer.segment_lifecycle_id)
                self.assertTrue(customer.segment_value_id)
                self.assertEqual(bool(customer.segment_rfm_id), frequency > 0)
                for contact in customer.child_ids:
                    self.assertEqual(
                        contact.segment_value_id, customer.segment_value_id
                    )
        self.assertGreaterEqual(summary["customers"], 80)
