"""Segment changes reach partners through the ORM: Odoo's Automation Rules
(base_automation, installed by scripts/test.sh) fire on them, and the
chatter tracks them, like any edit."""

from odoo import Command
from odoo.tests import freeze_time, tagged

from .common import SegmentationCase, days_ago, noon


@tagged("post_install", "-at_install")
class TestAutomationRules(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._set_params(
            value_method="fixed", value_high_amount=1000, value_medium_amount=100
        )
        cls.vip_tag = cls.env["res.partner.category"].create({"name": "Became VIP"})
        Partner = cls.env["ir.model"]._get("res.partner")
        value_field = cls.env["ir.model.fields"]._get("res.partner", "segment_value_id")
        cls.rule = cls.env["base.automation"].create(
            {
                "name": "When Value Tier becomes High Value",
                "model_id": Partner.id,
                "trigger": "on_create_or_write",
                "trigger_field_ids": [Command.set(value_field.ids)],
                "filter_pre_domain": "[('segment_value_id.code', '!=', 'high')]",
                "filter_domain": "[('segment_value_id.code', '=', 'high')]",
            }
        )
        todo = cls.env.ref("mail.mail_activity_data_todo")
        actions = cls.env["ir.actions.server"].create(
            [
                {
                    "name": "Tag the new VIP",
                    "base_automation_id": cls.rule.id,
                    "model_id": Partner.id,
                    "usage": "base_automation",
                    "state": "code",
                    "code": (
                        "records.write({'category_id': "
                        f"[Command.link({cls.vip_tag.id})]}})"
                    ),
                },
                {
                    "name": "Call the new VIP",
                    "base_automation_id": cls.rule.id,
                    "model_id": Partner.id,
                    "usage": "base_automation",
                    "state": "next_activity",
                    "activity_type_id": todo.id,
                    "activity_summary": "Welcome call",
                    "activity_user_type": "specific",
                    "activity_user_id": cls.salesman.id,
                },
            ]
        )
        cls.rule.write({"action_server_ids": [Command.set(actions.ids)]})
        cls.customer = cls._make_customer("Growing Customer")
        cls._make_order(cls.customer, 500.0, days_ago(100))
        cls.env["res.partner"].recompute_all_segments()

    def _fired(self, customer):
        activities = self.env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", customer.id),
                ("summary", "=", "Welcome call"),
            ]
        )
        return self.vip_tag in customer.category_id, len(activities)

    def _grow(self, customer):
        """A purchase that makes ``customer`` high value, without its queued
        classification."""
        return self._make_order(customer, 800.0, days_ago(2), classify=False)

    def test_rule_fires_after_a_full_recompute(self):
        self.assertEqual(self.customer.segment_value_id.code, "medium")
        self.assertEqual(self._fired(self.customer), (False, 0))
        self._grow(self.customer)
        self._recompute_all()
        self.assertEqual(self.customer.segment_value_id.code, "high")
        self.assertEqual(self._fired(self.customer), (True, 1))
        # the rule fires on the change, not on every recompute
        self._recompute_all()
        self.assertEqual(self._fired(self.customer), (True, 1))

    def test_rule_fires_after_the_nightly_job(self):
        self._grow(self.customer)
        with freeze_time(noon(1)):
            self.env["res.partner"]._cron_recompute_segments()
        self.assertEqual(self.customer.segment_value_id.code, "high")
        self.assertEqual(self._fired(self.customer), (True, 1))

    def test_rule_fires_after_an_order_confirmation(self):
        quotation = self._make_order(
            self.customer, 800.0, days_ago(0), state="draft", classify=False
        )
        quotation.action_confirm()
        # the queue's scheduled action classifies the customer
        self._classify_queued()
        self.assertEqual(self.customer.segment_value_id.code, "high")
        self.assertEqual(self._fired(self.customer), (True, 1))

    def test_assignment_by_policy_is_tracked_in_the_chatter(self):
        team = self.env["crm.team"].create(
            {"name": "VIP Team", "member_ids": [Command.set(self.salesman.ids)]}
        )
        medium = self._segment("value", "medium")
        medium.write({"manager_policy": "round_robin", "manager_team_id": team.id})
        customer = self.customer
        customer.user_id = False
        # as in production: the customer was created in an earlier transaction
        self.env.cr.precommit.run()
        self.env["res.partner"].with_context(
            tracking_disable=False, mail_notrack=False
        ).with_user(self.sales_manager).apply_segment_strategies()
        self.assertEqual(customer.user_id, self.salesman)
        self.env.cr.precommit.run()
        tracked = self.env["mail.tracking.value"].search(
            [
                ("mail_message_id.model", "=", "res.partner"),
                ("mail_message_id.res_id", "=", customer.id),
                ("field_id.name", "=", "user_id"),
            ]
        )
        self.assertEqual(tracked.mapped("new_value_integer"), [self.salesman.id])
