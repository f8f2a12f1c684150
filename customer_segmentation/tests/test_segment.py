from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged, users
from odoo.tools import mute_logger

from ..models.customer_segmentation_rule import RFM8_CODES
from .common import SegmentationCase, days_ago

# The RFM map of the specification: code -> (R from, R to, F from, F to).
RFM_MAP = {
    "hibernating": (1, 2, 1, 2),
    "at_risk": (1, 2, 3, 4),
    "cant_lose": (1, 2, 5, 5),
    "about_to_sleep": (3, 3, 1, 2),
    "need_attention": (3, 3, 3, 3),
    "loyal": (3, 4, 4, 5),
    "promising": (4, 4, 1, 1),
    "new": (5, 5, 1, 1),
    "potential_loyalist": (4, 5, 2, 3),
    "champions": (5, 5, 4, 5),
}
SEGMENT_CODES = {
    "value": ("high", "medium", "low"),
    "lifecycle": ("prospect", "new", "active", "at_risk", "churned"),
    # the ten R x F segments and the eight R x F x M classes
    "rfm": (*RFM_MAP, *RFM8_CODES),
}


@tagged("post_install", "-at_install")
class TestSegment(SegmentationCase):
    def test_default_segments(self):
        for dimension, codes in SEGMENT_CODES.items():
            for code in codes:
                with self.subTest(dimension=dimension, code=code):
                    segment = self._segment(dimension, code)
                    self.assertEqual(
                        (segment.dimension, segment.code), (dimension, code)
                    )
                    self.assertTrue(segment.active)
                    self.assertTrue(segment.name)
            self.assertEqual(
                self.env["customer.segment"].search([("dimension", "=", dimension)]),
                self.env["customer.segment"].union(
                    *(self._segment(dimension, code) for code in codes)
                ),
            )

    def test_default_rfm_map(self):
        for code, ranges in RFM_MAP.items():
            segment = self._segment("rfm", code)
            with self.subTest(code=code):
                self.assertEqual(
                    (
                        segment.rfm_recency_min,
                        segment.rfm_recency_max,
                        segment.rfm_frequency_min,
                        segment.rfm_frequency_max,
                    ),
                    ranges,
                )

    @users("cs_sales_manager")
    def test_name_is_translatable(self):
        self.env["res.lang"].sudo()._activate_lang("fr_FR")
        segment = self._segment("value", "high").with_env(self.env)
        english = segment.name
        segment.with_context(lang="fr_FR").name = "Haute valeur"
        self.assertEqual(segment.with_context(lang="fr_FR").name, "Haute valeur")
        self.assertEqual(segment.with_context(lang="en_US").name, english)

    @users("cs_sales_manager")
    @mute_logger("odoo.sql_db")
    def test_code_unique_per_dimension(self):
        Segment = self.env["customer.segment"]
        # "new" is a lifecycle stage and an RFM segment already
        Segment.create({"name": "Big Spenders", "dimension": "value", "code": "vip"})
        Segment.create({"name": "VIP Stage", "dimension": "lifecycle", "code": "vip"})
        with self.assertRaises(IntegrityError):
            Segment.create({"name": "VIP Again", "dimension": "value", "code": "vip"})
            self.env.flush_all()

    @users("cs_sales_manager")
    def test_rfm_ranges_within_one_to_five(self):
        segment = self._segment("rfm", "loyal").with_env(self.env)
        for field_name in ("rfm_recency_min", "rfm_frequency_min"):
            for bad in (0, 6):
                with self.subTest(field=field_name, value=bad):
                    with self.assertRaises(ValidationError):
                        segment.write(
                            {field_name: bad, field_name.replace("min", "max"): 5}
                        )
        for field_name in ("rfm_recency_max", "rfm_frequency_max"):
            with self.subTest(field=field_name, value=6):
                with self.assertRaises(ValidationError):
                    segment.write({field_name: 6})
        with self.assertRaises(ValidationError):
            self.env["customer.segment"].create(
                {
                    "name": "Off The Map",
                    "dimension": "rfm",
                    "code": "off",
                    "rfm_recency_min": 0,
                }
            )
        segment.write({"rfm_recency_min": 1, "rfm_recency_max": 5})
        self.assertEqual((segment.rfm_recency_min, segment.rfm_recency_max), (1, 5))

    @users("cs_salesman")
    def test_customer_count(self):
        company = self._make_customer("Company", is_company=True)
        self._make_customer("Contact", parent_id=company.id)
        self._make_order(company, 100.0, days_ago(10))
        individual = self._make_customer("Individual")
        self._make_order(individual, 100.0, days_ago(20))
        churned = self._make_customer("Churned")
        self._make_order(churned, 100.0, days_ago(400))
        self._recompute_all()
        # contacts carry their company's segments but are not customers
        counts = {
            segment.code: segment.customer_count
            for segment in self.env["customer.segment"].search(
                [("dimension", "=", "lifecycle")]
            )
        }
        self.assertEqual(
            counts, {"prospect": 0, "new": 2, "active": 0, "at_risk": 0, "churned": 1}
        )
