from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from .common import PARAM_PREFIX, SegmentationCase, days_ago

DEFAULTS = {
    "lookback_days": 365,
    "new_days": 90,
    "active_days": 180,
    "churn_days": 365,
    "value_method": "quantile",
    "value_high_share": 0.2,
    "value_medium_share": 0.3,
    "value_high_amount": 10000,
    "value_medium_amount": 2000,
}

# (values entered in the settings form, keys one of which the error must name)
INVALID_FORMS = [
    ({"lookback_days": 0}, {"lookback_days"}),
    ({"new_days": 0}, {"new_days"}),
    ({"active_days": -5}, {"active_days"}),
    ({"churn_days": 0}, {"churn_days"}),
    ({"churn_days": 180}, {"churn_days", "active_days"}),
    ({"active_days": 400}, {"churn_days", "active_days"}),
    (
        {"value_high_share": 0.6, "value_medium_share": 0.5},
        {"value_high_share", "value_medium_share"},
    ),
    ({"value_high_share": 1.5, "value_medium_share": 0}, {"value_high_share"}),
    ({"value_medium_share": -0.1}, {"value_medium_share"}),
    (
        {"value_method": "fixed", "value_high_amount": 2000},
        {"value_high_amount", "value_medium_amount"},
    ),
    (
        {"value_method": "fixed", "value_high_amount": 1000},
        {"value_high_amount", "value_medium_amount"},
    ),
    ({"value_method": "fixed", "value_medium_amount": -1}, {"value_medium_amount"}),
]

# (parameter stored directly in ir.config_parameter, keys one of which the
# error must name)
# Invalid values the typed company columns can hold (an import, a fix in SQL):
# text in a number column cannot be stored there at all.
INVALID_STORED = [
    ({"churn_days": 100}, {"churn_days", "active_days"}),
    ({"value_method": "median"}, {"value_method"}),
    ({"value_high_share": 0.9}, {"value_high_share", "value_medium_share"}),
    ({"value_medium_amount": -5}, {"value_medium_amount"}),
]


def assert_names_key(test, exception, keys):
    message = str(exception)
    test.assertTrue(
        any(PARAM_PREFIX + key in message for key in keys),
        f"{message!r} names none of {sorted(keys)}",
    )


class SettingsFormTests:
    """Tests shared by the two settings forms; a subclass says which form,
    which user opens it and how it is saved."""

    settings_model = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._make_customer("Last Bought 200 Days Ago")
        cls._make_order(cls.customer, 100.0, days_ago(200))

    def _settings_form(self):
        return Form(self.env[self.settings_model].with_user(self.settings_user))

    def _save(self, form):
        raise NotImplementedError

    def _fill(self, form, values):
        # In the order a user must follow: the shares are shown for the
        # quantile method, the amounts for the fixed one.
        def step(key):
            return 0 if key.endswith("_share") else 1 if key == "value_method" else 2

        for key in sorted(values, key=step):
            setattr(form, f"segmentation_{key}", values[key])

    def test_form_shows_the_defaults(self):
        form = self._settings_form()
        for key, default in DEFAULTS.items():
            with self.subTest(key=key):
                self.assertEqual(form[f"segmentation_{key}"], default)

    def test_valid_settings_are_saved_and_used(self):
        # each value at the edge of what the rules allow
        values = {
            "lookback_days": 1,
            "new_days": 1,
            "active_days": 60,
            "churn_days": 61,
            "value_high_share": 0.7,
            "value_medium_share": 0.3,
            "value_method": "fixed",
            "value_high_amount": 0.01,
            "value_medium_amount": 0,
        }
        form = self._settings_form()
        self._fill(form, values)
        self._save(form)
        reloaded = self._settings_form()
        for key, value in values.items():
            with self.subTest(key=key):
                self.assertEqual(reloaded[f"segmentation_{key}"], value)
        self._recompute_all()
        self.assertSegments(self.customer, lifecycle="churned")

    def test_zero_medium_share_is_kept(self):
        form = self._settings_form()
        self._fill(form, {"value_high_share": 0.5, "value_medium_share": 0})
        self._save(form)
        self.assertEqual(self._settings_form().segmentation_value_medium_share, 0)
        # 4 customers buying: ceil(0.5 * 4) = 2 high, no medium ones
        others = self.env["res.partner"]
        for amount in (400.0, 300.0, 200.0):
            others |= self._make_customer(f"Spends {amount}")
            self._make_order(others[-1], amount, days_ago(10))
        self._recompute_all()
        for customer, tier in zip(
            others + self.customer, ["high", "high", "low", "low"], strict=True
        ):
            with self.subTest(customer=customer.name):
                self.assertSegments(customer, value=tier)

    def test_invalid_settings_raise_validation_error_naming_the_key(self):
        stored_before = self._stored_params()
        for values, keys in INVALID_FORMS:
            with self.subTest(values=values):
                form = self._settings_form()
                self._fill(form, values)
                with self.assertRaises(ValidationError) as caught:
                    self._save(form)
                assert_names_key(self, caught.exception, keys)
        self.assertEqual(self._stored_params(), stored_before)

    def _stored_params(self):
        params = (
            self.env["ir.config_parameter"]
            .sudo()
            .search([("key", "=like", PARAM_PREFIX + "%")])
        )
        return {param.key: param.value for param in params}


@tagged("post_install", "-at_install")
class TestSalesSettings(SettingsFormTests, SegmentationCase):
    """Settings > Sales, for administrators who manage the segmentation."""

    settings_model = "res.config.settings"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.settings_user = new_test_user(
            cls.env,
            "cs_settings_admin",
            groups="base.group_system,sales_team.group_sale_manager",
        )

    def _save(self, form):
        form.save().execute()


@tagged("post_install", "-at_install")
class TestSegmentationSettings(SettingsFormTests, SegmentationCase):
    """The segmentation's own settings form, for segmentation managers who
    are not administrators."""

    settings_model = "customer.segmentation.settings"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.settings_user = cls.sales_manager

    def _save(self, form):
        self.assertIs(form.save().action_save(), True)

    def test_save_and_recompute(self):
        form = self._settings_form()
        form.segmentation_churn_days = 199
        action = form.save().action_save_and_recompute()
        self.assertEqual(action["tag"], "display_notification")
        self.assertSegments(self.customer, lifecycle="churned")

    def test_apply_strategies_now(self):
        self.env.ref("customer_segmentation.segment_value_high").write(
            {"followup_days": 30}
        )
        self.customer.sudo().user_id = self.salesman
        action = self._settings_form().save().action_apply_segment_strategies()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("follow-ups", action["params"]["message"])

    def test_salesman_cannot_change_settings(self):
        with self.assertRaises(AccessError):
            self.env[self.settings_model].with_user(self.salesman).create(
                {"segmentation_churn_days": 199}
            )


@tagged("post_install", "-at_install")
class TestStoredSettings(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._make_customer("Last Bought 200 Days Ago")
        cls._make_order(cls.customer, 100.0, days_ago(200))

    def test_invalid_stored_parameter_stops_every_recompute(self):
        self._recompute_all()
        Run = self.env["customer.segmentation.run"]
        entry_points = {
            "recompute_all_segments": self._recompute_all,
            "action_recompute_segments": lambda: self._recompute(self.customer),
        }
        for param, keys in INVALID_STORED:
            valid = {key: self.env.company[f"segmentation_{key}"] for key in param}
            for key, value in param.items():
                self._force_param(key, value)
            # Stale figures a recompute would have to rewrite.
            self.customer.write({"rfm_frequency": 0, "segment_lifecycle_id": False})
            before = self._snapshot(self.customer)
            runs_before = Run.search_count([])
            for name, recompute in entry_points.items():
                with self.subTest(param=param, entry_point=name):
                    with self.assertRaises(UserError) as caught:
                        recompute()
                    assert_names_key(self, caught.exception, keys)
                    self.assertEqual(self._snapshot(self.customer), before)
                    self.assertEqual(Run.search_count([]), runs_before)
            with self.subTest(param=param, entry_point="cron"):
                # the nightly job skips the company and says why
                with self.assertLogs(
                    "odoo.addons.customer_segmentation.models.customer_segmentation_run",
                    "WARNING",
                ):
                    self.env["res.partner"]._cron_recompute_segments()
                self.assertEqual(self._snapshot(self.customer), before)
                self.assertEqual(Run.search_count([]), runs_before)
            for key, value in valid.items():
                self._force_param(key, value)
