"""Wrong types and absurd values sent over XML-RPC get a clear fault naming
the setting or field, not a traceback, and nothing is written."""

import math
import xmlrpc.client

import odoo
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import NOW, PARAM_PREFIX, SegmentationMixin, days_ago
from .test_xmlrpc import FAULT_USER_ERROR


@tagged("post_install", "-at_install")
class TestInputXmlRpc(SegmentationMixin, HttpCase):
    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_segmentation_fixtures()

    def setUp(self):
        super().setUp()
        url = f"http://127.0.0.1:{odoo.tools.config['http_port']}/xmlrpc/2"
        self.common = xmlrpc.client.ServerProxy(f"{url}/common")
        self.models = xmlrpc.client.ServerProxy(f"{url}/object", allow_none=True)

    def _sales_manager(self):
        password = "cs-sales-manager-pwd-1"
        db = self.env.cr.dbname
        uid = self.common.authenticate(db, self.sales_manager.login, password, {})

        def execute_kw(model, method, args):
            # the server shares the test's cursor, not its record cache
            self.env.flush_all()
            try:
                return self.models.execute_kw(db, uid, password, model, method, args)
            finally:
                self.env.invalidate_all()

        return execute_kw

    def _assert_refused(self, call, named):
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            call()
        self.assertEqual(caught.exception.faultCode, FAULT_USER_ERROR)
        self.assertIn(named, caught.exception.faultString)
        self.assertNotIn("Traceback", caught.exception.faultString)

    def _stored_params(self):
        params = (
            self.env["ir.config_parameter"]
            .sudo()
            .search([("key", "=like", PARAM_PREFIX + "%")])
        )
        return {param.key: param.value for param in params}

    @mute_logger("odoo.http")
    def test_settings_refuse_wrong_types_and_values(self):
        execute_kw = self._sales_manager()
        model = "customer.segmentation.settings"
        before = self._stored_params()
        settings_id = execute_kw(model, "create", [{}])
        for key, value in (
            ("lookback_days", "abc"),
            ("lookback_days", math.nan),
            ("lookback_days", [1, 2]),
            ("lookback_days", True),
            ("lookback_days", 1_000_000),
            ("churn_risk_threshold", 7.5),
            ("value_high_amount", math.inf),
            ("value_high_amount", "10000"),
            ("churn_full_risk_ratio", -math.inf),
            ("pool_enabled", "no"),
            ("value_method", ["fixed"]),
        ):
            with self.subTest(key=key, value=value):
                field = {f"segmentation_{key}": value}
                self._assert_refused(
                    lambda field=field: execute_kw(model, "create", [field]),
                    PARAM_PREFIX + key,
                )
                self._assert_refused(
                    lambda field=field: execute_kw(
                        model, "write", [[settings_id], field]
                    ),
                    PARAM_PREFIX + key,
                )
        self.assertEqual(self._stored_params(), before)
        self.assertIs(execute_kw(model, "action_save", [[settings_id]]), True)

    @mute_logger("odoo.http")
    def test_module_fields_refuse_wrong_types_and_values(self):
        execute_kw = self._sales_manager()
        company = self._make_customer("RPC Company", is_company=True)
        self._make_order(company, 100.0, days_ago(5))
        high = self._segment("value", "high")
        for model, record_id, field, value in (
            ("customer.segment", high.id, "followup_days", "weekly"),
            ("customer.segment", high.id, "followup_days", math.nan),
            ("customer.segment", high.id, "strategy_priority", 10**9),
            ("customer.segment", high.id, "followup_summary", "{customer.__class__}"),
            ("res.partner", company.id, "segmentation_employee_count", "many"),
            ("res.partner", company.id, "segmentation_annual_revenue", math.inf),
            ("res.partner", company.id, "segment_value_id", high.id),
        ):
            with self.subTest(model=model, field=field):
                self._assert_refused(
                    lambda model=model, record_id=record_id, field=field, value=value: (
                        execute_kw(model, "write", [[record_id], {field: value}])
                    ),
                    field,
                )
        self._assert_refused(
            lambda: execute_kw(
                "customer.segment.dimension",
                "create",
                [{"name": "Parent", "code": "parent", "partner_field": "parent_id"}],
            ),
            "partner_field",
        )
        self.assertFalse(
            self.env["customer.segment.dimension"].search([("code", "=", "parent")])
        )
