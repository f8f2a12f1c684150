"""The shared customer pool (公海): customers without an account manager or
neglected by theirs return to it; salespeople claim them, up to a daily
limit; every move is logged."""

import datetime

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import freeze_time, new_test_user, tagged

from .common import NO_STRATEGY, NOW, SegmentationCase, days_ago, noon

ORPHAN_REASON = "No account manager"
NEGLECT_REASON = (
    "No interaction within the follow-up cadence of 30 days plus 15 days of grace"
)


@tagged("post_install", "-at_install")
class TestPool(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # value tiers by amount: 20,000 is high value, 5,000 medium
        cls._set_params(value_method="fixed")
        cls.env["customer.segment"].with_context(active_test=False).search([]).write(
            NO_STRATEGY
        )
        cls.env["res.partner"].recompute_all_segments()
        cls.env["res.partner"].apply_segment_strategies()

        cls.account_manager = new_test_user(
            cls.env, "cs_pool_am", groups="sales_team.group_sale_salesman"
        )
        cls.other_salesman = new_test_user(
            cls.env, "cs_pool_other", groups="sales_team.group_sale_salesman"
        )
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.high.followup_days = 30
        am = cls.account_manager.id
        # high value customers: no account manager; neglected one day past
        # cadence (30) plus grace (15); exactly at it; followed up by a note
        cls.orphan = cls._high_value_customer("Orphan", 10)
        cls.neglected = cls._high_value_customer("Neglected", 46, user_id=am)
        cls.at_grace = cls._high_value_customer("At The End Of Grace", 45, user_id=am)
        cls.noted = cls._high_value_customer("Followed Up By A Note", 80, user_id=am)
        with freeze_time(noon(-3)):
            cls.noted.with_user(cls.account_manager).message_post(
                body="Called about the renewal",
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        # medium value: its segment sets no follow-up cadence
        cls.medium = cls._make_customer("Medium Value, Quiet", user_id=am)
        cls._make_order(cls.medium, 5000.0, days_ago(200))
        cls.Move = cls.env["customer.segmentation.pool.move"]

    @classmethod
    def _high_value_customer(cls, name, ordered_days_ago, **values):
        customer = cls._make_customer(name, **values)
        cls._make_order(customer, 20000.0, days_ago(ordered_days_ago))
        return customer

    def _apply(self):
        return (
            self.env["res.partner"]
            .with_user(self.sales_manager)
            .apply_segment_strategies()
        )

    def _moves(self, partner):
        return self.Move.search([("partner_id", "=", partner.id)], order="id")

    def _pooled_orphans(self, count):
        orphans = self.env["res.partner"]
        for index in range(count):
            orphans |= self._high_value_customer(f"Pooled Orphan {index}", 10)
        self._set_params(pool_enabled=True)
        self._apply()
        self.assertTrue(all(orphans.mapped("segmentation_in_pool")))
        return orphans

    # ------------------------------------------------------------------
    # Return to the pool
    # ------------------------------------------------------------------

    def test_pool_is_off_by_default(self):
        self.assertEqual(self._apply()["returned_to_pool"], 0)
        customers = self.orphan | self.neglected | self.at_grace | self.noted
        self.assertFalse(any(customers.mapped("segmentation_in_pool")))
        self.assertEqual(self.neglected.user_id, self.account_manager)
        self.assertFalse(self.Move.search([("partner_id", "in", customers.ids)]))

    def test_orphan_and_neglected_customers_return(self):
        self._set_params(pool_enabled=True)
        self.assertEqual(self._apply()["returned_to_pool"], 2)
        for customer in (self.orphan, self.neglected):
            self.assertTrue(customer.segmentation_in_pool, customer.name)
            self.assertTrue(customer.segmentation_pool_date, customer.name)
            self.assertFalse(customer.user_id, customer.name)
        for customer in (self.at_grace, self.noted, self.medium):
            self.assertFalse(customer.segmentation_in_pool, customer.name)
            self.assertEqual(customer.user_id, self.account_manager, customer.name)
        self.assertEqual(self.noted.segmentation_last_interaction, days_ago(3))
        self.assertRecordValues(
            self._moves(self.orphan),
            [{"move": "return", "user_id": False, "reason": ORPHAN_REASON}],
        )
        self.assertRecordValues(
            self._moves(self.neglected),
            [
                {
                    "move": "return",
                    "user_id": self.account_manager.id,
                    "reason": NEGLECT_REASON,
                }
            ],
        )
        # once in the pool, nothing more moves
        self.assertEqual(self._apply()["returned_to_pool"], 0)
        self.assertEqual(len(self._moves(self.orphan)), 1)
        self.assertEqual(len(self._moves(self.neglected)), 1)

    def test_grace_period_comes_from_settings(self):
        self._set_params(pool_enabled=True, pool_grace_days=0)
        self._apply()
        self.assertTrue(self.at_grace.segmentation_in_pool)
        self.assertEqual(
            self._moves(self.at_grace).reason,
            "No interaction within the follow-up cadence of 30 days plus 0 days "
            "of grace",
        )

    def test_neglect_as_time_passes(self):
        self._set_params(pool_enabled=True)
        self._apply()
        self.assertFalse(self.at_grace.segmentation_in_pool)
        with freeze_time(noon(1)):
            self.assertEqual(self._apply()["returned_to_pool"], 1)
        self.assertTrue(self.at_grace.segmentation_in_pool)

    def test_neglected_customer_gets_no_followup(self):
        self._set_params(pool_enabled=True)
        self._apply()
        self.assertFalse(
            self.env["mail.activity"].search(
                [("res_model", "=", "res.partner"), ("res_id", "=", self.neglected.id)]
            )
        )

    def test_returned_customer_takes_its_open_followup_along(self):
        # pool off: the neglected customer's manager gets a follow-up
        self._apply()
        followup = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.neglected.id)]
        )
        self.assertEqual(followup.user_id, self.account_manager)
        # pool on: the customer leaves its manager, and so does the follow-up
        self._set_params(pool_enabled=True)
        self._apply()
        self.assertTrue(self.neglected.segmentation_in_pool)
        self.assertFalse(followup.exists())

    # ------------------------------------------------------------------
    # Claims
    # ------------------------------------------------------------------

    def test_claim(self):
        self._set_params(pool_enabled=True)
        self._apply()
        self.assertTrue(self.orphan.with_user(self.salesman).action_claim_from_pool())
        self.assertEqual(self.orphan.user_id, self.salesman)
        self.assertFalse(self.orphan.segmentation_in_pool)
        self.assertFalse(self.orphan.segmentation_pool_date)
        self.assertRecordValues(
            self._moves(self.orphan)[-1],
            [
                {
                    "move": "claim",
                    "user_id": self.salesman.id,
                    "reason": "Claimed from the customer pool",
                    "date": datetime.datetime.fromisoformat(NOW),
                }
            ],
        )

    def test_daily_claim_limit(self):
        first, second, third = self._pooled_orphans(3)
        self._set_params(pool_daily_claim_limit=2)
        first.with_user(self.salesman).action_claim_from_pool()
        second.with_user(self.salesman).action_claim_from_pool()
        with self.assertRaises(UserError) as caught:
            third.with_user(self.salesman).action_claim_from_pool()
        self.assertIn("segmentation_pool_daily_claim_limit", str(caught.exception))
        self.assertTrue(third.segmentation_in_pool)
        self.assertFalse(third.user_id)
        # the limit is per salesperson
        third.with_user(self.other_salesman).action_claim_from_pool()
        self.assertEqual(third.user_id, self.other_salesman)

    def test_daily_claim_limit_starts_again_the_next_day(self):
        first, second = self._pooled_orphans(2)
        self._set_params(pool_daily_claim_limit=1)
        first.with_user(self.salesman).action_claim_from_pool()
        with self.assertRaises(UserError):
            second.with_user(self.salesman).action_claim_from_pool()
        with freeze_time(noon(1)):
            second.with_user(self.salesman).action_claim_from_pool()
        self.assertEqual(second.user_id, self.salesman)

    def test_claiming_more_than_the_limit_at_once_claims_none(self):
        orphans = self._pooled_orphans(3)
        self._set_params(pool_daily_claim_limit=2)
        with self.assertRaises(UserError) as caught:
            orphans.with_user(self.salesman).action_claim_from_pool()
        self.assertIn("segmentation_pool_daily_claim_limit", str(caught.exception))
        self.assertFalse(orphans.user_id)
        self.assertTrue(all(orphans.mapped("segmentation_in_pool")))

    def test_claiming_a_customer_not_in_the_pool(self):
        self._set_params(pool_enabled=True)
        self._apply()
        with self.assertRaises(UserError) as caught:
            (self.orphan | self.at_grace).with_user(
                self.salesman
            ).action_claim_from_pool()
        self.assertIn(self.at_grace.name, str(caught.exception))
        self.assertNotIn(self.orphan.name, str(caught.exception))
        self.assertEqual(self.at_grace.user_id, self.account_manager)
        self.assertTrue(self.orphan.segmentation_in_pool)
        self.assertFalse(self.Move.search([("move", "=", "claim")]))

    def test_plain_internal_user_cannot_claim(self):
        self._set_params(pool_enabled=True)
        self._apply()
        with self.assertRaises(AccessError):
            self.orphan.with_user(self.internal_user).action_claim_from_pool()
        self.assertTrue(self.orphan.segmentation_in_pool)
        self.assertFalse(self.orphan.user_id)

    # ------------------------------------------------------------------
    # After a claim or an assignment
    # ------------------------------------------------------------------

    def test_claimed_customer_stays_with_its_new_manager(self):
        # The neglected customer is claimed: its new account manager gets
        # the segment's cadence to follow it up, not the next night's run.
        self._set_params(pool_enabled=True)
        self._apply()
        self.neglected.with_user(self.salesman).action_claim_from_pool()
        with freeze_time(noon(1)):
            self._apply()
        self.assertEqual(self.neglected.user_id, self.salesman)
        self.assertFalse(self.neglected.segmentation_in_pool)
        self.assertEqual(
            self._moves(self.neglected).mapped("move"), ["return", "claim"]
        )

    def test_customer_assigned_by_policy_is_not_returned_at_once(self):
        team = self.env["crm.team"].create(
            {"name": "Pool Team", "member_ids": [Command.set(self.other_salesman.ids)]}
        )
        self.high.write({"manager_policy": "round_robin", "manager_team_id": team.id})
        lapsed = self._high_value_customer("Lapsed Without Manager", 60)
        self._set_params(pool_enabled=True)
        self._apply()
        self.assertEqual(lapsed.user_id, self.other_salesman)
        self.assertFalse(lapsed.segmentation_in_pool)
        self.assertEqual(self._moves(lapsed).mapped("move"), ["assign"])
