from odoo.tests import tagged

from .common import OTHER_CURRENCY_RATE, SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestValue(SegmentationCase):
    def _customers_spending(self, amounts, age=30):
        """One customer per amount, each with one purchase ``age`` days ago."""
        customers = self.env["res.partner"]
        for index, amount in enumerate(amounts):
            customer = self._make_customer(f"Spends {amount} (#{index})")
            self._make_order(customer, amount, days_ago(age))
            customers |= customer
        return customers

    def _assert_tiers(self, customers, expected):
        self.assertEqual(len(customers), len(expected))
        for customer, tier in zip(customers, expected, strict=True):
            with self.subTest(customer=customer.name):
                self.assertSegments(customer, value=tier)

    def test_fixed_amounts_boundaries(self):
        self._set_params(value_method="fixed")
        customers = self._customers_spending([10000.0, 9999.99, 2000.0, 1999.99, 0.01])
        self._recompute_all()
        self._assert_tiers(customers, ["high", "medium", "medium", "low", "low"])

    def test_fixed_amounts_sum_the_window(self):
        self._set_params(value_method="fixed")
        two_orders = self._make_customer("Two Orders")
        self._make_order(two_orders, 6000.0, days_ago(300))
        self._make_order(two_orders, 4000.0, days_ago(20))
        old_big_spender = self._make_customer("Big Spender Long Ago")
        self._make_order(old_big_spender, 50000.0, days_ago(366))
        self._make_order(old_big_spender, 100.0, days_ago(365))
        self._recompute(two_orders + old_big_spender)
        self.assertSegments(two_orders, value="high")
        self.assertEqual(two_orders.rfm_monetary, 10000.0)
        self.assertSegments(old_big_spender, value="low")
        self.assertEqual(old_big_spender.rfm_monetary, 100.0)

    def test_fixed_amounts_no_purchase_in_window_is_low(self):
        # even when the medium amount is 0, spending nothing in the window
        # is not "at least 0": such customers are low value, as with quantiles
        self._set_params(
            value_method="fixed", value_high_amount=500, value_medium_amount=0
        )
        dormant = self._make_customer("Bought Long Ago")
        self._make_order(dormant, 900.0, days_ago(400))
        small = self._make_customer("Small Recent Buyer")
        self._make_order(small, 1.0, days_ago(10))
        self._recompute_all()
        self.assertSegments(dormant, value="low")
        self.assertSegments(small, value="medium")

    def test_fixed_amounts_come_from_settings(self):
        self._set_params(
            value_method="fixed", value_high_amount=500, value_medium_amount=100
        )
        customers = self._customers_spending([500.0, 499.0, 100.0, 99.0])
        self._recompute_all()
        self._assert_tiers(customers, ["high", "medium", "medium", "low"])

    def test_quantile_ten_customers(self):
        # default shares: high 0.2 -> 2 customers, medium 0.3 -> 3 more
        customers = self._customers_spending(
            [100.0, 1000.0, 300.0, 900.0, 500.0, 800.0, 200.0, 700.0, 400.0, 600.0]
        )
        self._recompute_all()
        self._assert_tiers(
            customers,
            [
                "low",
                "high",
                "low",
                "high",
                "low",
                "medium",
                "low",
                "medium",
                "low",
                "medium",
            ],
        )

    def test_quantile_ties_share_the_better_tier(self):
        # ranks 2 and 3 tie at the high cut-off, ranks 5 and 6 at the medium one
        customers = self._customers_spending(
            [1000.0, 900.0, 900.0, 700.0, 600.0, 600.0, 400.0, 300.0, 200.0, 100.0]
        )
        self._recompute_all()
        self._assert_tiers(
            customers,
            [
                "high",
                "high",
                "high",
                "medium",
                "medium",
                "medium",
                "low",
                "low",
                "low",
                "low",
            ],
        )

    def test_quantile_everyone_equal_is_high(self):
        customers = self._customers_spending([300.0] * 5)
        self._recompute_all()
        self._assert_tiers(customers, ["high"] * 5)

    def test_quantile_rounds_counts_up(self):
        # 7 customers: ceil(0.2 * 7) = 2 high, ceil(0.5 * 7) = 4 high or medium
        customers = self._customers_spending(
            [700.0, 600.0, 500.0, 400.0, 300.0, 200.0, 100.0]
        )
        self._recompute_all()
        self._assert_tiers(
            customers, ["high", "high", "medium", "medium", "low", "low", "low"]
        )

    def test_quantile_shares_are_exact_decimals(self):
        # 0.1 + 0.2 is 0.30000000000000004 in binary floating point: the
        # medium tier must still end at rank 3 of 10, not 4.
        self._set_params(value_high_share=0.1, value_medium_share=0.2)
        customers = self._customers_spending(
            [1000.0, 900.0, 800.0, 700.0, 600.0, 500.0, 400.0, 300.0, 200.0, 100.0]
        )
        self._recompute_all()
        self._assert_tiers(customers, ["high"] + ["medium"] * 2 + ["low"] * 7)

    def test_quantile_ignores_customers_without_purchase_in_window(self):
        # the two big spenders of last year are neither ranked nor counted:
        # still 2 high customers out of the 10 who bought in the window
        dormant = self._customers_spending([90000.0, 80000.0], age=366)
        customers = self._customers_spending(
            [1000.0, 900.0, 800.0, 700.0, 600.0, 500.0, 400.0, 300.0, 200.0, 100.0]
        )
        self._recompute_all()
        self._assert_tiers(dormant, ["low", "low"])
        self._assert_tiers(customers, ["high"] * 2 + ["medium"] * 3 + ["low"] * 5)

    def test_value_settings_take_effect(self):
        customers = self._customers_spending([5000.0, 4000.0, 3000.0, 2000.0, 1000.0])
        self._recompute_all()
        self._assert_tiers(customers, ["high", "medium", "medium", "low", "low"])
        # ceil(0.6 * 5) = 3 high, ceil(0.8 * 5) = 4 high or medium
        self._set_params(value_high_share=0.6, value_medium_share=0.2)
        self._recompute_all()
        self._assert_tiers(customers, ["high", "high", "high", "medium", "low"])
        self._set_params(value_method="fixed")
        self._recompute_all()
        self._assert_tiers(customers, ["medium", "medium", "medium", "medium", "low"])

    def test_orders_in_another_currency_are_converted(self):
        self._set_params(value_method="fixed")
        # 19998 / 2 = 9999: medium, though the amount itself is above 10000
        below_high = self._make_customer("Foreign Currency Below High")
        self._make_order(
            below_high, 19998.0, days_ago(10), currency=self.other_currency
        )
        at_high = self._make_customer("Foreign Currency At High")
        self._make_order(at_high, 20000.0, days_ago(10), currency=self.other_currency)
        mixed = self._make_customer("Both Currencies")
        self._make_order(mixed, 1000.0, days_ago(10))
        self._make_order(mixed, 2000.0, days_ago(20), currency=self.other_currency)
        self._recompute(below_high + at_high + mixed)
        self.assertEqual(below_high.rfm_monetary, 19998.0 / OTHER_CURRENCY_RATE)
        self.assertSegments(below_high, value="medium")
        self.assertEqual(at_high.rfm_monetary, 20000.0 / OTHER_CURRENCY_RATE)
        self.assertSegments(at_high, value="high")
        self.assertEqual(mixed.rfm_monetary, 1000.0 + 2000.0 / OTHER_CURRENCY_RATE)
        self.assertSegments(mixed, value="medium")
