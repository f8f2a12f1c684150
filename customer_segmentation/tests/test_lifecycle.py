from odoo.tests import tagged

from .common import SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestLifecycle(SegmentationCase):
    """Lifecycle stages with the default periods: new 90, active 180 and
    churn 365 days."""

    def _customer_with_orders(self, name, *ages, amount=100.0):
        customer = self._make_customer(name)
        for age in ages:
            self._make_order(customer, amount, days_ago(age))
        return customer

    def _assert_lifecycles(self, cases):
        """``cases``: ``[(days ago of each purchase, expected stage)]``."""
        customers = [
            (self._customer_with_orders(f"Purchases {ages}", *ages), ages, expected)
            for ages, expected in cases
        ]
        self._recompute_all()
        for customer, ages, expected in customers:
            with self.subTest(purchases_days_ago=ages):
                self.assertSegments(customer, lifecycle=expected)

    def test_new_depends_on_first_purchase(self):
        self._assert_lifecycles(
            [
                ((0,), "new"),
                ((90,), "new"),
                ((90, 10), "new"),
                ((91,), "active"),
                # a recent purchase does not make an old customer new
                ((91, 1), "active"),
            ]
        )

    def test_active_at_risk_churned_depend_on_last_purchase(self):
        self._assert_lifecycles(
            [
                ((500, 10), "active"),
                ((500, 180), "active"),
                ((500, 181), "at_risk"),
                ((500, 365), "at_risk"),
                ((500, 366), "churned"),
                ((181,), "at_risk"),
                ((366,), "churned"),
                ((1000,), "churned"),
            ]
        )

    def test_order_dates_are_stored(self):
        customer = self._customer_with_orders("Three Orders", 400, 200, 30)
        self._recompute(customer)
        self.assertEqual(customer.first_order_date, days_ago(400))
        self.assertEqual(customer.last_order_date, days_ago(30))

    def test_prospect_has_a_quotation_but_no_purchase(self):
        draft = self._make_customer("Draft Quotation")
        self._make_order(draft, 100.0, days_ago(3), state="draft")
        sent = self._make_customer("Sent Quotation")
        self._make_order(sent, 100.0, days_ago(400), state="sent")
        quoted_after_cancel = self._make_customer("Quotation And Cancelled Order")
        self._make_order(quoted_after_cancel, 100.0, days_ago(5), state="cancel")
        self._make_order(quoted_after_cancel, 100.0, days_ago(2), state="draft")
        self._recompute(draft + sent + quoted_after_cancel)
        for customer in draft + sent + quoted_after_cancel:
            with self.subTest(customer=customer.name):
                self.assertSegments(
                    customer, lifecycle="prospect", value=False, rfm=False
                )
                self.assertFalse(customer.first_order_date)

    def test_quotation_does_not_make_a_buyer_a_prospect(self):
        customer = self._customer_with_orders("Old Buyer", 400)
        self._make_order(customer, 100.0, days_ago(1), state="draft")
        self._recompute(customer)
        self.assertSegments(customer, lifecycle="churned")

    def test_no_lifecycle_without_purchase_or_quotation(self):
        nothing = self._make_customer("No Orders")
        cancelled_only = self._make_customer("Cancelled Only")
        self._make_order(cancelled_only, 5000.0, days_ago(10), state="cancel")
        self._recompute(nothing + cancelled_only)
        for customer in nothing + cancelled_only:
            with self.subTest(customer=customer.name):
                self.assertSegments(customer, lifecycle=False, value=False, rfm=False)
                self.assertFalse(customer.last_order_date)
                self.assertEqual(customer.rfm_frequency, 0)

    def test_cancelled_orders_are_ignored(self):
        customer = self._customer_with_orders("Cancelled Recently", 200)
        self._make_order(customer, 100.0, days_ago(1), state="cancel")
        self._recompute(customer)
        self.assertSegments(customer, lifecycle="at_risk")
        self.assertEqual(customer.last_order_date, days_ago(200))
        self.assertEqual(customer.rfm_frequency, 1)
        self.assertEqual(customer.rfm_monetary, 100.0)

    def test_contact_orders_count_for_their_company(self):
        company = self._make_customer("Company", is_company=True)
        buyer = self._make_customer("Buyer", parent_id=company.id)
        colleague = self._make_customer("Colleague", parent_id=company.id)
        self._make_order(company, 300.0, days_ago(400))
        self._make_order(buyer, 200.0, days_ago(10))
        # recomputing a contact recomputes its commercial entity
        self._recompute(buyer)
        self.assertSegments(company, lifecycle="active", value="high")
        self.assertEqual(company.first_order_date, days_ago(400))
        self.assertEqual(company.last_order_date, days_ago(10))
        self.assertEqual(company.rfm_frequency, 1)
        self.assertEqual(company.rfm_monetary, 200.0)
        for contact in buyer + colleague:
            with self.subTest(contact=contact.name):
                self.assertEqual(
                    self._snapshot(contact)[contact.id],
                    self._snapshot(company)[company.id],
                )

    def test_churned_customer_ordering_again_becomes_active(self):
        customer = self._customer_with_orders("Returning", 400)
        self._recompute(customer)
        self.assertSegments(customer, lifecycle="churned")
        self._make_order(customer, 100.0, days_ago(0))
        self._recompute(customer)
        self.assertSegments(customer, lifecycle="active")
        self.assertEqual(customer.last_order_date, days_ago(0))

    def test_classification_does_not_depend_on_the_user_timezone(self):
        # At the frozen NOW (noon UTC) it is already the next day in
        # Kiritimati (UTC+14). Orders are dated by their UTC date, so "today"
        # must be the UTC date too, whoever triggers the recompute: the
        # nightly job (UTC) and this salesman must agree.
        self.salesman.tz = "Pacific/Kiritimati"
        customer = self._customer_with_orders("Bought 90 Days Ago", 90)
        self._recompute(customer)
        by_salesman = self._snapshot(customer)
        self.assertSegments(customer, lifecycle="new")
        self._recompute_all()
        self.assertEqual(self._snapshot(customer), by_salesman)

    def test_lifecycle_periods_come_from_settings(self):
        self._set_params(new_days=10, active_days=30, churn_days=60)
        self._assert_lifecycles(
            [
                ((10,), "new"),
                ((11,), "active"),
                ((30,), "active"),
                ((31,), "at_risk"),
                ((60,), "at_risk"),
                ((61,), "churned"),
            ]
        )
