from contextlib import contextmanager

from odoo.tests import tagged

from .common import SegmentationCase, days_ago


@tagged("post_install", "-at_install", "is_query_count")
class TestPerformance(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls.env["res.partner"].create(
            [{"name": f"Bulk Customer {index}"} for index in range(200)]
        )
        cls._make_confirmed_orders(cls.customers[:100], 100.0, days_ago(30))
        cls._make_confirmed_orders(cls.customers[100:], 250.0, days_ago(300))
        cls._make_confirmed_orders(cls.customers[::3], 80.0, days_ago(2))

    @contextmanager
    def _counting_queries(self):
        """Yield a list that receives the number of queries of the block."""
        result = []
        self.env.flush_all()
        start = self.cr.sql_log_count
        yield result
        self.env.flush_all()
        result.append(self.cr.sql_log_count - start)

    def test_recompute_costs_the_same_for_120_or_200_customers(self):
        """What a recompute writes goes in one write per dimension and new
        segment (tracked, seen by Automation Rules): its cost follows the
        segments the customers move to, not their number."""
        some = self.customers[:120].with_user(self.salesman)
        all_200 = self.customers.with_user(self.salesman)
        # Warm up the ormcaches (settings, groups, access rules).
        all_200.action_recompute_segments()
        for field_name in (
            "segment_lifecycle_id",
            "segment_value_id",
            "segment_rfm_id",
        ):
            self.assertEqual(some.mapped(field_name), all_200.mapped(field_name))
        # stale rows, so that the customers are really written
        some.sudo().write({"segment_lifecycle_id": False, "rfm_frequency": 0})
        self.env.invalidate_all()
        with self._counting_queries() as some_customers:
            some.action_recompute_segments()
        self.customers.write({"segment_lifecycle_id": False, "rfm_frequency": 0})
        self.env.invalidate_all()
        with self.assertQueryCount(some_customers[0]):
            all_200.action_recompute_segments()
        self.assertEqual(len(all_200.filtered("segment_lifecycle_id")), 200)
