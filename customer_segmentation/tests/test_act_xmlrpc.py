"""The one-step actions as an external client calls them."""

import xmlrpc.client

import odoo
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import NOW, SegmentationMixin, days_ago
from .test_xmlrpc import FAULT_ACCESS_ERROR, FAULT_USER_ERROR


@tagged("post_install", "-at_install")
class TestActXmlRpc(SegmentationMixin, HttpCase):
    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_segmentation_fixtures()
        cls._start_without_strategies()
        cls.colleague = new_test_user(
            cls.env, "cs_rpc_colleague", groups="sales_team.group_sale_salesman"
        )
        cls.mine = cls._make_customer("RPC Mine", user_id=cls.salesman.id)
        cls._make_order(cls.mine, 12000.0, days_ago(10))
        cls.theirs = cls._make_customer("RPC Theirs", user_id=cls.colleague.id)
        cls._make_order(cls.theirs, 12000.0, days_ago(10))
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.tag = cls.env["res.partner.category"].create({"name": "RPC Key"})
        cls.high.partner_tag_ids = cls.tag

    def setUp(self):
        super().setUp()
        url = f"http://127.0.0.1:{odoo.tools.config['http_port']}/xmlrpc/2"
        self.common = xmlrpc.client.ServerProxy(f"{url}/common")
        self.models = xmlrpc.client.ServerProxy(f"{url}/object", allow_none=True)

    def _login(self, login, password):
        db = self.env.cr.dbname
        uid = self.common.authenticate(db, login, password, {})

        def execute_kw(model, method, args):
            # the server shares the test's cursor, not its record cache
            self.env.flush_all()
            try:
                return self.models.execute_kw(
                    db, uid, password, model, method, args, {}
                )
            finally:
                self.env.invalidate_all()

        return execute_kw

    def _salesman(self):
        return self._login("cs_salesman", "cs-salesman-pwd-1")

    def _sales_manager(self):
        return self._login("cs_sales_manager", "cs-sales-manager-pwd-1")

    @mute_logger("odoo.http")
    def test_salesman_assigns_his_customer(self):
        execute_kw = self._salesman()
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            execute_kw(
                "res.partner",
                "action_assign_salesperson",
                [[self.mine.id], "somebody"],
            )
        self.assertEqual(caught.exception.faultCode, FAULT_USER_ERROR)
        self.assertIn("user_id", caught.exception.faultString)
        result = execute_kw(
            "res.partner",
            "action_assign_salesperson",
            [[self.mine.id], self.colleague.id],
        )
        self.assertIs(result, True)
        self.assertEqual(self.mine.user_id, self.colleague)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            execute_kw(
                "res.partner", "action_assign_salesperson", [[self.theirs.id], 1]
            )
        self.assertEqual(caught.exception.faultCode, FAULT_ACCESS_ERROR)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            execute_kw("res.partner", "action_schedule_activity", [[]])
        self.assertEqual(caught.exception.faultCode, FAULT_USER_ERROR)
        self.assertIn("Customers (ids)", caught.exception.faultString)

    @mute_logger("odoo.http")
    def test_manager_previews_then_runs_a_segment_strategy(self):
        execute_kw = self._sales_manager()
        action = execute_kw(
            "customer.segment.strategy.run", "action_preview", [self.high.id]
        )
        [preview] = execute_kw(
            "customer.segment.strategy.run",
            "read",
            [[action["res_id"]], ["customer_count", "tags_added"]],
        )
        self.assertEqual((preview["customer_count"], preview["tags_added"]), (2, 2))
        self.assertFalse((self.mine | self.theirs).category_id)
        result = execute_kw(
            "customer.segment.strategy.run", "action_apply", [[action["res_id"]]]
        )
        self.assertEqual(result["tag"], "display_notification")
        self.assertEqual((self.mine | self.theirs).category_id, self.tag)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self._salesman()(
                "customer.segment.strategy.run", "action_preview", [self.high.id]
            )
        self.assertEqual(caught.exception.faultCode, FAULT_ACCESS_ERROR)
