import datetime

from odoo.tests import tagged

from .common import SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestRefresh(SegmentationCase):
    """Orders and contacts reclassify their customer at once, without
    waiting for a recompute."""

    def test_order_workflow_reclassifies_the_customer(self):
        customer = self._make_customer("Customer")
        order = self._make_order(customer, 100.0, days_ago(0), state="draft")
        self.assertSegments(customer, lifecycle="prospect", value=False)
        order.action_confirm()
        self.assertSegments(customer, lifecycle="new")
        self.assertEqual(customer.last_order_date, days_ago(0))
        self.assertEqual(customer.rfm_frequency, 1)
        order.write(
            {"date_order": datetime.datetime.combine(days_ago(200), datetime.time(12))}
        )
        self.assertSegments(customer, lifecycle="at_risk")
        order._action_cancel()
        self.assertSegments(customer, lifecycle=False, value=False, rfm=False)
        self.assertFalse(customer.last_order_date)

    def test_new_order_reclassifies_only_its_customer(self):
        # ten customers spending 100..1000: the run puts the high cut-off at 900
        others = self.env["res.partner"]
        for amount in range(100, 1001, 100):
            others |= self._make_customer(f"Spends {amount}")
            self._make_order(others[-1], amount, days_ago(20))
        self._recompute_all()
        before = self._snapshot(others)
        newcomer = self._make_customer("Newcomer")
        self._make_order(newcomer, 950.0, days_ago(1))
        self.assertSegments(newcomer, value="high", lifecycle="new")
        self.assertEqual(newcomer.rfm_monetary, 950.0)
        self.assertEqual(self._snapshot(others), before)

    def test_new_contact_shows_its_company_segments(self):
        company = self._make_customer("Company", is_company=True)
        self._make_order(company, 100.0, days_ago(200))
        self._recompute(company)
        contact = self._make_customer("New Contact", parent_id=company.id)
        self.assertEqual(
            self._snapshot(contact)[contact.id], self._snapshot(company)[company.id]
        )

    def test_moving_a_contact_moves_its_orders(self):
        old_company = self._make_customer("Old Company", is_company=True)
        new_company = self._make_customer("New Company", is_company=True)
        contact = self._make_customer("Moving Contact", parent_id=old_company.id)
        self._make_order(contact, 100.0, days_ago(10))
        self.assertSegments(old_company, lifecycle="new")
        contact.parent_id = new_company
        self.assertSegments(old_company, lifecycle=False)
        self.assertSegments(new_company, lifecycle="new")
        self.assertEqual(
            self._snapshot(contact)[contact.id],
            self._snapshot(new_company)[new_company.id],
        )

    def test_merging_partners_moves_their_orders(self):
        recent = self._make_customer("Recent Buyer", email="buyer@example.com")
        self._make_order(recent, 100.0, days_ago(10))
        old = self._make_customer("Old Buyer", email="buyer@example.com")
        self._make_order(old, 100.0, days_ago(400))
        self.assertSegments(old, lifecycle="churned")
        self.env["base.partner.merge.automatic.wizard"]._merge(
            (recent + old).ids, dst_partner=old
        )
        self.assertSegments(old, lifecycle="active")
        self.assertEqual(old.last_order_date, days_ago(10))

    def test_invalid_settings_do_not_block_sales(self):
        customer = self._make_customer("Customer")
        self._make_order(customer, 100.0, days_ago(10))
        before = self._snapshot(customer)
        self._set_params(churn_days=10)
        with self.assertLogs(
            "odoo.addons.customer_segmentation.models.res_partner", "WARNING"
        ):
            order = self._make_order(customer, 100.0, days_ago(0))
        self.assertEqual(order.state, "sale")
        self.assertEqual(self._snapshot(customer), before)
