import xmlrpc.client

import odoo
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import NOW, SegmentationMixin, days_ago

# faultCode of /xmlrpc/2 (odoo/addons/base/controllers/rpc.py)
FAULT_USER_ERROR = 2
FAULT_ACCESS_ERROR = 4

SEGMENT_FIELDS = ["segment_value_id", "segment_lifecycle_id", "segment_rfm_id"]


@tagged("post_install", "-at_install")
class TestXmlRpc(SegmentationMixin, HttpCase):
    """The API as an external client sees it. HttpCase shares its cursor with
    the server, so the data of setUpClass is visible there."""

    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_segmentation_fixtures()
        cls.new_customer = cls._make_customer("RPC New Customer")
        cls._make_order(cls.new_customer, 500.0, days_ago(10))
        cls.churned_customer = cls._make_customer("RPC Churned Customer")
        cls._make_order(cls.churned_customer, 100.0, days_ago(400))
        cls.env["res.partner"].recompute_all_segments()

    def setUp(self):
        super().setUp()
        url = f"http://127.0.0.1:{odoo.tools.config['http_port']}/xmlrpc/2"
        self.common = xmlrpc.client.ServerProxy(f"{url}/common")
        self.models = xmlrpc.client.ServerProxy(f"{url}/object", allow_none=True)
        self.db = self.env.cr.dbname

    def _login(self, user, password):
        uid = self.common.authenticate(self.db, user.login, password, {})
        self.assertEqual(uid, user.id)

        def execute_kw(model, method, args, kwargs=None):
            # the server shares the test's cursor, not its record cache
            self.env.flush_all()
            try:
                return self.models.execute_kw(
                    self.db, uid, password, model, method, args, kwargs or {}
                )
            finally:
                self.env.invalidate_all()

        return execute_kw

    def _salesman(self):
        return self._login(self.salesman, "cs-salesman-pwd-1")

    def _sales_manager(self):
        return self._login(self.sales_manager, "cs-sales-manager-pwd-1")

    def test_salesman_reads_segments(self):
        execute_kw = self._salesman()
        customers = execute_kw(
            "res.partner",
            "search_read",
            [[("id", "in", [self.new_customer.id, self.churned_customer.id])]],
            {"fields": ["name", *SEGMENT_FIELDS], "order": "id"},
        )
        self.assertEqual(
            [
                (c["segment_value_id"][1], c["segment_lifecycle_id"][1])
                for c in customers
            ],
            [
                (
                    self._segment("value", "high").display_name,
                    self._segment("lifecycle", "new").display_name,
                ),
                (
                    self._segment("value", "low").display_name,
                    self._segment("lifecycle", "churned").display_name,
                ),
            ],
        )
        # the only customer buying in the window scores 5 on everything
        self.assertEqual(
            customers[0]["segment_rfm_id"][0], self._segment("rfm", "champions").id
        )
        self.assertIs(customers[1]["segment_rfm_id"], False)
        segments = execute_kw(
            "customer.segment",
            "search_read",
            [[("dimension", "=", "lifecycle")]],
            {"fields": ["code", "customer_count"]},
        )
        self.assertEqual(
            {
                s["code"]: s["customer_count"]
                for s in segments
                if s["code"] in ("new", "churned")
            },
            {"new": 1, "churned": 1},
        )

    def test_salesman_recomputes_customers(self):
        execute_kw = self._salesman()
        self._make_order(self.churned_customer, 100.0, days_ago(1))
        result = execute_kw(
            "res.partner", "action_recompute_segments", [[self.churned_customer.id]]
        )
        self.assertIs(result, True)
        [customer] = execute_kw(
            "res.partner",
            "read",
            [[self.churned_customer.id], ["segment_lifecycle_id"]],
        )
        self.assertEqual(
            customer["segment_lifecycle_id"][0], self._segment("lifecycle", "active").id
        )

    @mute_logger("odoo.http")
    def test_bad_calls_give_clear_faults(self):
        execute_kw = self._salesman()
        missing_id = (
            self.env["res.partner"].search([], order="id desc", limit=1).id + 1000
        )
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            execute_kw("res.partner", "action_recompute_segments", [[missing_id]])
        self.assertEqual(caught.exception.faultCode, FAULT_USER_ERROR)
        self.assertIn(str(missing_id), caught.exception.faultString)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            execute_kw("res.partner", "action_recompute_segments", [["not-an-id"]])
        self.assertEqual(caught.exception.faultCode, FAULT_USER_ERROR)
        self.assertIn("not-an-id", caught.exception.faultString)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            execute_kw("res.partner", "recompute_all_segments", [])
        self.assertEqual(caught.exception.faultCode, FAULT_ACCESS_ERROR)

    @mute_logger("odoo.http")
    def test_internal_user_cannot_read_segments(self):
        execute_kw = self._login(self.internal_user, "cs-internal-pwd-1")
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            execute_kw(
                "res.partner",
                "read",
                [[self.new_customer.id], ["segment_value_id"]],
            )
        self.assertEqual(caught.exception.faultCode, FAULT_ACCESS_ERROR)

    def test_manager_recomputes_everyone(self):
        execute_kw = self._sales_manager()
        self.new_customer.write({"segment_value_id": False})
        summary = execute_kw("res.partner", "recompute_all_segments", [])
        self.assertEqual(
            set(summary),
            {"run_id", "company_id", "customers", "written", "changes"}
            | {"r", "alpha", "a", "b"},
        )
        # two customers: too few repeat buyers for a purchase model
        self.assertEqual([summary[k] for k in ("r", "alpha", "a", "b")], [False] * 4)
        run = self.env["customer.segmentation.run"].browse(summary["run_id"])
        self.assertRecordValues(run, [{"trigger": "manual", "state": "done"}])
        self.assertEqual(summary["customers"], self._commercial_partner_count())
        # the figures did not change, the value tier did
        self.assertEqual(summary["written"], 0)
        self.assertEqual(
            summary["changes"], {"value": 1, "lifecycle": 0, "rfm": 0, "other": 0}
        )
        again = execute_kw("res.partner", "recompute_all_segments", [])
        self.assertEqual(again["written"], 0)
        self.assertEqual(
            again["changes"], {"value": 0, "lifecycle": 0, "rfm": 0, "other": 0}
        )
