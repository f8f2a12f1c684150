import datetime

from odoo.tests import tagged

from .common import RFM_POPULATION, SegmentationCase, days_ago

# Scores of RFM_POPULATION, by hand. Ten customers buy in the window, so a
# score is ceil(5 * c / 10) = ceil(c / 2), c being the number of customers
# whose value is at most the customer's own (ties count together):
#
# recency, oldest last purchase first (days ago):
#   hibernating 300 (c=1) -> 1, at_risk 250 (2) -> 1, cant_lose 200 (3) -> 2,
#   about_to_sleep and need_attention 100 (5) -> 3,
#   promising and loyal 50 (7) -> 4,
#   new, potential_loyalist and champions 5 (10) -> 5
# frequency: 1 order promising, new (2) -> 1; 2 hibernating, about_to_sleep
#   (4) -> 2; 3 need_attention, potential_loyalist (6) -> 3; 4 at_risk, loyal
#   (8) -> 4; 5 cant_lose, champions (10) -> 5
# monetary: 50 promising, new (2) -> 1; 100 hibernating (3) -> 2;
#   200 about_to_sleep (4) -> 2; 300 need_attention, potential_loyalist
#   (6) -> 3; 400 at_risk (7) -> 4; 800 loyal (8) -> 4; 1000 cant_lose (9) -> 5;
#   2000 champions (10) -> 5
# and the RFM map sends each (R, F) to the segment the customer is named after.
EXPECTED_SCORES = {
    "hibernating": (1, 2, 2),
    "at_risk": (1, 4, 4),
    "cant_lose": (2, 5, 5),
    "about_to_sleep": (3, 2, 2),
    "need_attention": (3, 3, 3),
    "promising": (4, 1, 1),
    "loyal": (4, 4, 4),
    "new": (5, 1, 1),
    "potential_loyalist": (5, 3, 3),
    "champions": (5, 5, 5),
}


@tagged("post_install", "-at_install")
class TestRfm(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.population = cls._make_rfm_population()
        cls.dormant = cls._make_customer("Bought Before The Window")
        cls._make_order(cls.dormant, 5000.0, days_ago(366))
        cls.no_orders = cls._make_customer("Never Bought")

    def _all_customers(self):
        return self.env["res.partner"].union(
            *self.population.values(), self.dormant, self.no_orders
        )

    def _scores(self, customer):
        return (
            customer.rfm_recency_score,
            customer.rfm_frequency_score,
            customer.rfm_monetary_score,
        )

    def _assert_population(self, names=None):
        for name in names or RFM_POPULATION:
            customer = self.population[name]
            ages, amount = RFM_POPULATION[name]
            with self.subTest(customer=name):
                self.assertEqual(self._scores(customer), EXPECTED_SCORES[name])
                self.assertEqual(customer.rfm_frequency, len(ages))
                self.assertEqual(customer.rfm_monetary, amount * len(ages))
                self.assertEqual(customer.last_order_date, days_ago(min(ages)))
                self.assertSegments(customer, rfm=name)

    def test_scores_computed_by_hand(self):
        self._recompute_all()
        self._assert_population()

    def test_lifecycle_and_rfm_disagreeing_say_why(self):
        """The lifecycle stage compares the last purchase with fixed periods,
        the RFM segment with the other customers': where one says recent and
        the other lapsed, the explanation says why."""
        sentence = "the lifecycle stage compares the last purchase"
        # a long active period: "Can't Lose Them" (200 days, R 2) is active
        self._set_params(active_days=250, churn_days=400)
        self._recompute_all()
        cant_lose = self.population["cant_lose"]
        self.assertSegments(cant_lose, lifecycle="active", rfm="cant_lose")
        self.assertIn(
            "Active Customer although Can't Lose Them: the lifecycle stage "
            "compares the last purchase, 200 days ago, with the company's fixed "
            "periods, the RFM segment with the other customers' last purchases "
            "(recency score 2 of 5).",
            cant_lose.segmentation_explanation,
        )
        for name in ("champions", "loyal", "need_attention", "hibernating"):
            with self.subTest(customer=name):
                self.assertNotIn(
                    sentence, self.population[name].segmentation_explanation
                )
        # a short one: "Loyal Customers" (50 days, R 4) is at risk
        self._set_params(new_days=30, active_days=40, churn_days=400)
        self._recompute_all()
        loyal = self.population["loyal"]
        self.assertSegments(loyal, lifecycle="at_risk", rfm="loyal")
        self.assertIn(sentence, loyal.segmentation_explanation)
        self.assertNotIn(
            sentence, self.population["cant_lose"].segmentation_explanation
        )

    def test_reason_counts_the_purchases(self):
        """The RFM reason gives the count as a value: "purchases: 1", not
        "1 purchases"."""
        self._recompute_all()
        self.assertIn(
            "frequency score 1 (purchases: 1)",
            self.population["new"].segmentation_explanation,
        )
        self.assertIn(
            "frequency score 5 (purchases: 5)",
            self.population["champions"].segmentation_explanation,
        )

    def test_segment_map_covers_the_ten_segments(self):
        self._recompute_all()
        segments = (
            self.env["res.partner"].union(*self.population.values()).segment_rfm_id
        )
        self.assertEqual(len(segments), 10)
        self.assertEqual(
            segments,
            self.env["customer.segment"].search(
                [("dimension", "=", "rfm"), ("rfm_preset", "!=", "rfm8")]
            ),
        )

    def test_editing_segment_ranges_changes_the_result(self):
        # Promising now also covers R5 F1 and comes first: it takes the new
        # customer over from "new", whose own range is unchanged.
        self._segment("rfm", "promising").with_user(self.sales_manager).write(
            {"rfm_recency_max": 5, "sequence": 1}
        )
        self._recompute_all()
        self.assertSegments(self.population["new"], rfm="promising")
        self.assertSegments(self.population["promising"], rfm="promising")
        self.assertEqual(self._scores(self.population["new"]), EXPECTED_SCORES["new"])
        # Loyal restricted to R3: R4 F4 now falls in no segment.
        self._segment("rfm", "loyal").with_user(self.sales_manager).write(
            {"rfm_recency_max": 3}
        )
        self._recompute_all()
        self.assertSegments(self.population["loyal"], rfm=False)

    def test_partial_recompute_matches_full_recompute(self):
        subset = self.env["res.partner"].union(
            *(self.population[name] for name in ("hibernating", "new", "champions"))
        )
        others = self._all_customers() - subset
        others_before = self._snapshot(others)
        self._recompute(subset)
        # ranked against the whole population, not just the three of them
        self._assert_population(["hibernating", "new", "champions"])
        self.assertEqual(self._snapshot(others), others_before)
        partial = self._snapshot(subset)
        self._recompute_all()
        self.assertEqual(self._snapshot(subset), partial)
        self._assert_population()

    def test_customers_without_purchase_in_window_have_no_scores(self):
        self._recompute_all()
        for customer in self.dormant + self.no_orders:
            with self.subTest(customer=customer.name):
                self.assertEqual(self._scores(customer), (0, 0, 0))
                self.assertEqual(customer.rfm_frequency, 0)
                self.assertEqual(customer.rfm_monetary, 0)
                self.assertSegments(customer, rfm=False)
        self.assertSegments(self.dormant, value="low", lifecycle="churned")
        self.assertEqual(self.dormant.last_order_date, days_ago(366))
        self.assertSegments(self.no_orders, value=False, lifecycle=False)

    def test_window_starts_lookback_days_ago(self):
        # on the UTC dates of the orders, whatever their time of day
        first_day = datetime.datetime.combine(days_ago(365), datetime.time.min)
        customer = self._make_customer("On The Edge")
        self._make_order(customer, 10.0, first_day)
        self._make_order(customer, 20.0, first_day - datetime.timedelta(seconds=1))
        self._recompute(customer)
        self.assertEqual(customer.rfm_frequency, 1)
        self.assertEqual(customer.rfm_monetary, 10.0)

    def test_lookback_setting_takes_effect(self):
        self._set_params(lookback_days=100)
        self._recompute_all()
        about_to_sleep = self.population["about_to_sleep"]
        self.assertEqual(about_to_sleep.rfm_frequency, 1)
        self.assertEqual(about_to_sleep.rfm_monetary, 100.0)
        cant_lose = self.population["cant_lose"]
        self.assertEqual(cant_lose.rfm_frequency, 0)
        self.assertEqual(self._scores(cant_lose), (0, 0, 0))
        self.assertSegments(cant_lose, rfm=False)

    def test_recency_days(self):
        self._recompute_all()
        Partner = self.env["res.partner"].with_user(self.salesman)
        loyal = self.population["loyal"].with_user(self.salesman)
        self.assertEqual(loyal.rfm_recency_days, 50)
        recent = Partner.search(
            [("rfm_recency_days", "<=", 50), ("id", "in", self._all_customers().ids)]
        )
        self.assertEqual(
            recent,
            self.env["res.partner"].union(
                *(
                    self.population[name]
                    for name in (
                        "promising",
                        "loyal",
                        "new",
                        "potential_loyalist",
                        "champions",
                    )
                )
            ),
        )
        older = Partner.search(
            [("rfm_recency_days", ">", 250), ("id", "in", self._all_customers().ids)]
        )
        self.assertEqual(older, self.population["hibernating"] + self.dormant)
