"""The main screens, tried in a real browser in English and in Chinese: the
overview, the kanban grouped by segment, a customer's form and its
explanation, pinning a segment, claiming from the pool and dismissing a churn
warning.

Sending a segment mailing is toured by its glue addon,
customer_segmentation_mass_mailing, on ``SegmentationTourCase``."""

import os
import re
from unittest.mock import patch

from odoo.tests import BaseCase, common, tagged

from .common import days_ago
from .common_tour import NO_BROWSER, NO_WEBSOCKET, SegmentationTourCase, check_browser

# Typed by the tours (static/tests/tours/customer_segmentation_tours.js).
PIN_REASON = "Tour: a key account whatever it buys"
DISMISS_REASON = "Tour: orders once a year for the spring fair"
CUSTOMERS_ACTION = "/odoo/action-customer_segmentation.res_partner_action_customers"


@tagged("post_install", "-at_install")
class TestToursNeedABrowser(BaseCase):
    """Odoo skips a tour it cannot run; these tests fail instead, with the
    fix in the message."""

    def test_no_browser_fails(self):
        common._find_executable.cache_clear()
        self.addCleanup(common._find_executable.cache_clear)
        with patch.dict(os.environ, {"PATH": ""}):
            with self.assertRaisesRegex(AssertionError, re.escape(NO_BROWSER)):
                check_browser()

    def test_no_websocket_client_fails(self):
        with patch.object(common, "websocket", None):
            with self.assertRaisesRegex(AssertionError, re.escape(NO_WEBSOCKET)):
                check_browser()


@tagged("post_install", "-at_install")
class TestTours(SegmentationTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls._set_params(value_high_amount=1000, value_medium_amount=100)
        managed = {"user_id": cls.salesman.id}
        cls.high = cls._make_customer("Tour High Value Buyer", **managed)
        cls._make_order(cls.high, 600.0, days_ago(10))
        cls._make_order(cls.high, 600.0, days_ago(40))
        cls.medium = cls._make_customer("Tour Medium Buyer", **managed)
        cls._make_order(cls.medium, 300.0, days_ago(20))
        # buys every 30 days, silent for 150: a churn warning
        cls.lapsing = cls._make_customer("Tour Lapsing Buyer", **managed)
        for age in (150, 180, 210, 240):
            cls._make_order(cls.lapsing, 100.0, days_ago(age))
        # no account manager: the pool takes them
        cls.pooled = cls._make_customer("Tour Pool Customer")
        cls._make_order(cls.pooled, 500.0, days_ago(30))
        cls.other_pooled = cls._make_customer("Tour Other Pool Customer")
        cls._make_order(cls.other_pooled, 200.0, days_ago(60))
        cls._set_params(pool_enabled=True)
        cls.env["res.partner"].apply_segment_strategies()
        cls.env["customer.segmentation.snapshot"]._store(
            cls.env.company, cls.env.cr.now().date()
        )

    def test_fixtures(self):
        self.assertSegments(self.high, value="high")
        self.assertSegments(self.medium, value="medium")
        self.assertTrue(self.lapsing.churn_alert)
        self.assertTrue(self.pooled.segmentation_in_pool)
        self.assertTrue(self.other_pooled.segmentation_in_pool)

    def _tour_overview(self, lang):
        self._start_tour(lang, "customer_segmentation_tour_overview")

    def _tour_pin(self, lang):
        user = self.tour_users[lang]
        self._start_tour(
            lang,
            "customer_segmentation_tour_pin",
            f"{CUSTOMERS_ACTION}/{self.medium.id}",
        )
        pin = self.env["customer.segment.override"].search(
            [("partner_id", "=", self.medium.id)]
        )
        first_segment = self.env["customer.segment"].search(
            [("dimension", "=", "value")], limit=1
        )
        self.assertRecordValues(
            pin,
            [
                {
                    "dimension": "value",
                    "segment_id": first_segment.id,
                    "reason": PIN_REASON,
                    "user_id": user.id,
                }
            ],
        )
        self.assertEqual(self.medium.segment_value_id, first_segment)

    def _tour_pool(self, lang):
        self._start_tour(lang, "customer_segmentation_tour_pool")
        self.assertFalse(self.pooled.segmentation_in_pool)
        self.assertEqual(self.pooled.user_id, self.tour_users[lang])
        self.assertTrue(self.other_pooled.segmentation_in_pool)

    def _tour_churn(self, lang):
        self.lapsing.user_id = self.tour_users[lang]
        self._start_tour(lang, "customer_segmentation_tour_churn")
        self.assertRecordValues(
            self.lapsing,
            [
                {
                    "churn_alert": False,
                    "churn_dismissed": True,
                    "churn_dismiss_reason": DISMISS_REASON,
                }
            ],
        )

    def test_overview_en(self):
        self._tour_overview("en_US")

    def test_overview_zh(self):
        self._tour_overview("zh_CN")

    def test_pin_en(self):
        self._tour_pin("en_US")

    def test_pin_zh(self):
        self._tour_pin("zh_CN")

    def test_pool_en(self):
        self._tour_pool("en_US")

    def test_pool_zh(self):
        self._tour_pool("zh_CN")

    def test_churn_en(self):
        self._tour_churn("en_US")

    def test_churn_zh(self):
        self._tour_churn("zh_CN")
