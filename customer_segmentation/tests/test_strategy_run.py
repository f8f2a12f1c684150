"""Run one segment's strategy now, after a preview of what it would change;
preview how many customers the unsaved settings would move."""

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from odoo.addons.customer_segmentation.models.customer_segmentation_strategy import (
    BATCH_COUNTERS,
)

from .common import SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestStrategyRun(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.medium = cls.env.ref("customer_segmentation.segment_value_medium")
        cls.member = new_test_user(
            cls.env, "cs_run_member", groups="sales_team.group_sale_salesman"
        )
        team = cls.env["crm.team"].create(
            {"name": "Key Accounts", "member_ids": [Command.set(cls.member.ids)]}
        )
        cls.tag = cls.env["res.partner.category"].create({"name": "Key Account"})
        cls.pricelist = cls.env["product.pricelist"].create({"name": "Key Prices"})
        strategy = {
            "manager_policy": "round_robin",
            "manager_team_id": team.id,
            "followup_days": 30,
            "partner_tag_ids": [Command.set(cls.tag.ids)],
            "pricelist_id": cls.pricelist.id,
        }
        cls.high.write(strategy)
        cls.medium.write(strategy)
        # two high value customers without account manager, one medium
        cls.highs = cls._customer("High A", 12000.0) | cls._customer("High B", 15000.0)
        cls.mediums = cls._customer("Medium", 3000.0)
        cls.Run = cls.env["customer.segment.strategy.run"]

    @classmethod
    def _customer(cls, name, amount):
        customer = cls._make_customer(name)
        cls._make_order(customer, amount, days_ago(40))
        return customer

    def _state(self, partners):
        return {
            partner.id: (
                partner.user_id,
                partner.category_id,
                partner.specific_property_product_pricelist,
                partner.segmentation_figure_id.segmentation_pricelist_id,
                partner.activity_ids,
                len(partner.message_ids),
            )
            for partner in partners
        }

    def _preview(self, segment):
        action = self.Run.with_user(self.sales_manager).action_preview(segment.id)
        return self.Run.with_user(self.sales_manager).browse(action["res_id"])

    def test_preview_changes_nothing_and_apply_does_it(self):
        everyone = self.highs | self.mediums
        before = self._state(everyone)
        moves = self.env["customer.segmentation.pool.move"].search_count([])
        wizard = self._preview(self.high)
        self.assertRecordValues(
            wizard,
            [
                {
                    "customer_count": 2,
                    "assigned": 2,
                    "returned_to_pool": 0,
                    "tags_added": 2,
                    "tags_removed": 0,
                    "pricelists_applied": 2,
                    "pricelists_restored": 0,
                    "followups": 2,
                    "churn_warnings": 0,
                }
            ],
        )
        self.env.invalidate_all()
        self.assertEqual(self._state(everyone), before)
        self.assertEqual(
            self.env["customer.segmentation.pool.move"].search_count([]), moves
        )
        result = wizard.action_apply()
        self.assertEqual(result["tag"], "display_notification")
        self.assertEqual(self.highs.user_id, self.member)
        self.assertEqual(self.highs.category_id, self.tag)
        self.assertEqual(len(self.highs.activity_ids), 2)
        # the segment's customers only
        self.assertEqual(
            self._state(self.mediums),
            {key: value for key, value in before.items() if key in self.mediums.ids},
        )
        # nothing left to do: the next preview says so
        wizard = self._preview(self.high)
        self.assertRecordValues(
            wizard, [{"customer_count": 2, **dict.fromkeys(BATCH_COUNTERS, 0)}]
        )

    def test_salesman_may_not_run_a_strategy(self):
        with self.assertRaises(AccessError):
            self.Run.with_user(self.salesman).action_preview(self.high.id)
        wizard = self._preview(self.high)
        with self.assertRaises(AccessError):
            wizard.with_user(self.salesman).action_apply()
        self.assertFalse(self.highs.user_id)

    def test_preview_bad_segment(self):
        Run = self.Run.with_user(self.sales_manager)
        for bad in ("1", None, [self.high.id], 2**31 - 1, self.high.ids + [0]):
            with self.assertRaisesRegex(UserError, r"Segment \(segment_id\)"):
                Run.action_preview(bad)

    # ------------------------------------------------------------------
    # Settings preview
    # ------------------------------------------------------------------

    def _settings_form(self):
        Settings = self.env["customer.segmentation.settings"]
        return Form(Settings.with_user(self.sales_manager))

    def _value_codes(self):
        return [p.segment_value_id.code for p in self.highs | self.mediums]

    def test_settings_preview_counts_moves_before_saving(self):
        self.assertEqual(self._value_codes(), ["high", "high", "medium"])
        form = self._settings_form()
        # 12,000 drops to medium, 3,000 rises to high
        form.segmentation_value_high_amount = 13000.0
        form.segmentation_value_medium_amount = 2500.0
        wizard = form.save()
        wizard.action_preview_segment_moves()
        self.assertIn(
            "Value Tier: 0 customers would move up, 1 down, 0 otherwise.",
            wizard.segmentation_moves_preview,
        )
        self.assertEqual(self.env.company.segmentation_value_high_amount, 10000.0)
        self.assertEqual(self._value_codes(), ["high", "high", "medium"])
        wizard.write(
            {
                "segmentation_value_high_amount": 2500.0,
                "segmentation_value_medium_amount": 1000.0,
            }
        )
        wizard.action_preview_segment_moves()
        self.assertIn(
            "Value Tier: 1 customers would move up, 0 down",
            (wizard.segmentation_moves_preview),
        )

    def test_settings_preview_without_change(self):
        wizard = self._settings_form().save()
        wizard.action_preview_segment_moves()
        self.assertEqual(
            wizard.segmentation_moves_preview, "No customer would change segment."
        )

    def test_settings_page_preview(self):
        admin = new_test_user(
            self.env,
            "cs_run_admin",
            groups="base.group_system,sales_team.group_sale_manager",
        )
        Settings = self.env["res.config.settings"].with_user(admin)
        settings = Settings.create({"segmentation_new_days": 10})
        # bought 40 days ago: new until now, active (a rank up) with a new
        # customer period of 10 days
        self.assertTrue(settings.action_preview_segment_moves())
        self.assertIn(
            "Lifecycle Stage: 3 customers would move up, 0 down",
            (settings.segmentation_moves_preview),
        )
        self.assertEqual(self.highs.segment_lifecycle_id.code, "new")

    def test_settings_preview_refuses_bad_values_and_salesmen(self):
        wizard = self._settings_form().save()
        with self.assertRaises(ValidationError):
            wizard.segmentation_value_medium_amount = 20000.0
        with self.assertRaises(AccessError):
            wizard.with_user(self.salesman).action_preview_segment_moves()
