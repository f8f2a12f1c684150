"""Every setting is bounded, finite and typed: refused when saved, and a bad
value stored anyway never stops sales."""

import math

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import PARAM_PREFIX, SegmentationCase, days_ago

INF = math.inf
NAN = math.nan

# (setting, value typed into the form or sent over XML-RPC): each refused on
# its own, whatever the other settings
OUT_OF_RANGE = [
    ("lookback_days", 1_000_000),
    ("lookback_days", 0),
    ("new_days", 3651),
    ("active_days", -1),
    ("churn_days", 10**12),
    ("value_high_share", INF),
    ("value_high_share", 0.0),
    ("value_medium_share", NAN),
    ("value_medium_share", 1.0),
    ("value_high_amount", INF),
    ("value_high_amount", 1e15),
    ("value_medium_amount", -INF),
    ("value_medium_amount", -0.01),
    ("scale_large_employees", 10_000_001),
    ("scale_medium_employees", 0),
    ("scale_large_revenue", INF),
    ("scale_medium_revenue", 0.0),
    ("churn_full_risk_ratio", INF),
    ("churn_full_risk_ratio", 100.5),
    ("churn_full_risk_ratio", 1.0),
    ("churn_risk_threshold", 101),
    ("pool_grace_days", -1),
    ("pool_grace_days", 3651),
    ("pool_daily_claim_limit", 0),
    ("pool_daily_claim_limit", 10_001),
]

# (setting, value of the wrong type): the ORM would raise a raw ValueError
# naming no setting, or store something else than what was sent
WRONG_TYPES = [
    ("lookback_days", "abc"),
    ("lookback_days", "30"),
    ("lookback_days", [30]),
    ("lookback_days", True),
    ("lookback_days", 7.5),
    ("lookback_days", NAN),
    ("churn_risk_threshold", INF),
    ("value_high_amount", "1000"),
    ("value_high_amount", {"amount": 1}),
    ("value_high_share", True),
    ("pool_enabled", "yes"),
    ("pool_enabled", 2),
    ("value_method", 3),
    ("value_method", "median"),
]

# (setting, text stored in ir.config_parameter by hand)
# Bad values the typed company columns can hold (an import, a fix in SQL).
BAD_STORED = [
    ("lookback_days", "1000000"),
    ("value_high_amount", "inf"),
    ("value_medium_amount", "-inf"),
    ("value_high_share", "NaN"),
    ("churn_full_risk_ratio", "inf"),
    ("churn_full_risk_ratio", "1e308"),
    ("scale_large_employees", "2000000000"),
    ("scale_large_revenue", "Infinity"),
    ("pool_daily_claim_limit", "0"),
]


def assert_names_setting(test, exception, key):
    message = str(exception)
    test.assertIn(PARAM_PREFIX + key, message)
    test.assertLess(len(message), 1000, "a message never echoes a huge value")


@tagged("post_install", "-at_install")
class TestSettingsBounds(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._make_customer("Bounds Customer")
        cls._make_order(cls.customer, 100.0, days_ago(20))
        cls.admin_user = new_test_user(
            cls.env,
            "cs_bounds_admin",
            groups="base.group_system,sales_team.group_sale_manager",
        )

    def _stored_params(self):
        params = (
            self.env["ir.config_parameter"]
            .sudo()
            .search([("key", "=like", PARAM_PREFIX + "%")])
        )
        return {param.key: param.value for param in params}

    def _forms(self):
        """The two settings forms, each opened by a user who may save it."""
        return {
            "customer.segmentation.settings": self.env[
                "customer.segmentation.settings"
            ].with_user(self.sales_manager),
            "res.config.settings": self.env["res.config.settings"].with_user(
                self.admin_user
            ),
        }

    def test_out_of_range_and_non_finite_settings_are_refused(self):
        stored_before = self._stored_params()
        for model, Settings in self._forms().items():
            for key, value in OUT_OF_RANGE + WRONG_TYPES:
                with self.subTest(model=model, key=key, value=value):
                    with self.assertRaises(ValidationError) as caught:
                        Settings.create({f"segmentation_{key}": value})
                    assert_names_setting(self, caught.exception, key)
        self.assertEqual(self._stored_params(), stored_before)

    def test_wrong_values_are_refused_in_write_too(self):
        settings = (
            self.env["customer.segmentation.settings"]
            .with_user(self.sales_manager)
            .create({})
        )
        for key, value in OUT_OF_RANGE + WRONG_TYPES:
            with self.subTest(key=key, value=value):
                with self.assertRaises(ValidationError) as caught:
                    settings.write({f"segmentation_{key}": value})
                assert_names_setting(self, caught.exception, key)

    def test_settings_at_their_bounds_are_saved_and_used(self):
        values = {
            "lookback_days": 3650,
            "new_days": 3650,
            "active_days": 3649,
            "churn_days": 3650,
            "value_method": "fixed",
            "value_high_share": 1.0,
            "value_medium_share": 0.0,
            "value_high_amount": 999_999_999_999_999.0,
            "value_medium_amount": 0.0,
            "scale_large_employees": 10_000_000,
            "scale_medium_employees": 9_999_999,
            "scale_large_revenue": 999_999_999_999_999.0,
            "scale_medium_revenue": 0.01,
            "churn_full_risk_ratio": 100.0,
            "churn_risk_threshold": 100,
            "pool_enabled": True,
            "pool_grace_days": 3650,
            "pool_daily_claim_limit": 10_000,
        }
        settings = (
            self.env["customer.segmentation.settings"]
            .with_user(self.sales_manager)
            .create({f"segmentation_{key}": value for key, value in values.items()})
        )
        self.assertIs(settings.action_save(), True)
        params = self.env["res.partner"]._segmentation_params()
        self.assertEqual({key: params[key] for key in values}, values)
        # the engine works at the edges: window, amounts printed in the
        # explanations, churn ratio
        self._recompute_all()
        self.assertSegments(self.customer, lifecycle="new", value="medium")
        self.env["res.partner"].with_user(self.sales_manager).apply_segment_strategies()
        self.assertIn("999,999,999,999,999.00", self._history_reason())

    def _history_reason(self):
        return (
            self.env["customer.segment.history"]
            .search(
                [("partner_id", "=", self.customer.id), ("dimension", "=", "value")],
                order="id desc",
                limit=1,
            )
            .reason
        )

    def test_bad_stored_value_never_stops_sales_and_recompute_names_it(self):
        valid = {key: self.env.company[f"segmentation_{key}"] for key, _t in BAD_STORED}
        for key, text in BAD_STORED:
            with self.subTest(key=key, text=text):
                self._force_param(key, text)
                # a salesman's quotation, confirmed, and a new contact
                order = (
                    self.env["sale.order"]
                    .with_user(self.salesman)
                    .create(
                        {
                            "partner_id": self.customer.id,
                            "order_line": [
                                Command.create(
                                    {"product_id": self.product.id, "price_unit": 5}
                                )
                            ],
                        }
                    )
                )
                with mute_logger(
                    "odoo.addons.customer_segmentation.models.res_partner",
                    "odoo.addons.customer_segmentation.models.customer_segmentation_run",
                ):
                    order.action_confirm()
                    self.env["res.partner"].with_user(self.salesman).create(
                        {"name": "New Contact", "parent_id": self.customer.id}
                    )
                self.assertEqual(order.state, "sale")
                # the people who can fix it are told what to fix
                with self.assertRaises(UserError) as caught:
                    self._recompute_all()
                assert_names_setting(self, caught.exception, key)
                with self.assertRaises(UserError) as caught:
                    self.env["res.partner"].with_user(
                        self.sales_manager
                    ).apply_segment_strategies()
                assert_names_setting(self, caught.exception, key)
                self._force_param(key, valid[key])

    def test_bad_stored_value_shows_as_its_default_in_the_form(self):
        self._force_param("lookback_days", "1000000")
        self._force_param("value_high_amount", "inf")
        settings = (
            self.env["customer.segmentation.settings"]
            .with_user(self.sales_manager)
            .create({})
        )
        self.assertEqual(settings.segmentation_lookback_days, 365)
        self.assertEqual(settings.segmentation_value_high_amount, 10000.0)
        # saving it repairs the stored settings
        settings.action_save()
        self._recompute_all()
