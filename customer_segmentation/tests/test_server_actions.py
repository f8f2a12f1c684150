from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestServerActions(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.recompute_action = cls.env.ref(
            "customer_segmentation.res_partner_action_server_recompute_segments"
        )
        cls.recompute_all_action = cls.env.ref(
            "customer_segmentation.res_partner_action_server_recompute_all_segments"
        )
        cls.company = cls._make_customer("Company", is_company=True)
        cls.contact = cls._make_customer("Contact", parent_id=cls.company.id)
        cls._make_order(cls.contact, 100.0, days_ago(10))
        cls.other = cls._make_customer("Other Customer")
        cls._make_order(cls.other, 100.0, days_ago(200))
        # Start from customers without any segmentation, so that a
        # recompute's effect shows.
        (cls.company + cls.contact + cls.other).write(
            {
                "segment_lifecycle_id": False,
                "segment_value_id": False,
                "rfm_frequency": 0,
            }
        )

    def _run(self, action, user, partners):
        return (
            action.with_user(user)
            .with_context(active_model="res.partner", active_ids=partners.ids)
            .run()
        )

    def test_actions_are_in_the_partner_action_menu(self):
        for action, group in (
            (self.recompute_action, "group_segmentation_user"),
            (self.recompute_all_action, "group_segmentation_manager"),
        ):
            with self.subTest(action=action.name):
                self.assertEqual(action.binding_model_id.model, "res.partner")
                self.assertEqual(
                    action.groups_id, self.env.ref(f"customer_segmentation.{group}")
                )

    def test_salesman_recomputes_selected_partners(self):
        self._run(self.recompute_action, self.salesman, self.contact)
        self.assertSegments(self.company, lifecycle="new")
        self.assertSegments(self.contact, lifecycle="new")
        self.assertEqual(self.company.rfm_frequency, 1)
        # not selected, not recomputed
        self.assertSegments(self.other, lifecycle=False)

    def test_internal_user_cannot_recompute(self):
        with self.assertRaises(AccessError):
            self._run(self.recompute_action, self.internal_user, self.contact)
        self.assertSegments(self.company, lifecycle=False)

    def test_salesman_cannot_recompute_everyone(self):
        with self.assertRaises(AccessError):
            self._run(self.recompute_all_action, self.salesman, self.contact)
        self.assertSegments(self.other, lifecycle=False)

    def test_manager_recomputes_everyone(self):
        action = self._run(self.recompute_all_action, self.sales_manager, self.contact)
        self.assertEqual(action["type"], "ir.actions.client")
        self.assertEqual(action["tag"], "display_notification")
        self.assertSegments(self.company, lifecycle="new")
        self.assertSegments(self.other, lifecycle="at_risk")
        run = self.env["customer.segmentation.run"].search([], limit=1)
        self.assertRecordValues(run, [{"trigger": "manual", "state": "done"}])


@tagged("post_install", "-at_install")
class TestRecomputeMethods(SegmentationCase):
    """The public methods behind the actions, as XML-RPC callers use them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._make_customer("Customer")
        cls._make_order(cls.customer, 100.0, days_ago(10))

    def test_recompute_segments_returns_true(self):
        self.assertIs(self._recompute(self.customer), True)

    def test_recompute_unknown_partner(self):
        missing_id = (
            self.env["res.partner"].search([], order="id desc", limit=1).id + 1000
        )
        partners = self.env["res.partner"].browse([self.customer.id, missing_id])
        with self.assertRaises(UserError) as caught:
            self._recompute(partners)
        self.assertIn(str(missing_id), str(caught.exception))

    def test_recompute_all_summary(self):
        self.env["res.partner"].recompute_all_segments()
        self.customer.write({"segment_value_id": False, "segment_lifecycle_id": False})
        summary = self._recompute_all()
        self.assertEqual(
            set(summary),
            {"run_id", "company_id", "customers", "written", "changes"}
            | {"r", "alpha", "a", "b"},
        )
        self.assertEqual(
            self.env["customer.segmentation.run"].browse(summary["run_id"]).state,
            "done",
        )
        self.assertEqual(summary["customers"], self._commercial_partner_count())
        self.assertEqual(summary["written"], 0)  # figures unchanged
        self.assertEqual(
            summary["changes"], {"value": 1, "lifecycle": 1, "rfm": 0, "other": 0}
        )
        again = self._recompute_all()
        self.assertGreater(again["run_id"], summary["run_id"])
        self.assertEqual(again["written"], 0)
        self.assertEqual(
            again["changes"], {"value": 0, "lifecycle": 0, "rfm": 0, "other": 0}
        )
