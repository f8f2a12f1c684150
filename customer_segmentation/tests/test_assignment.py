"""Account managers given by a segment's policy: in turn across runs, or to
the least loaded member of a sales team."""

from collections import Counter

from odoo import Command
from odoo.tests import new_test_user, tagged

from .common import SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestAssignment(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # value tiers by amount: 20,000 is high value
        cls._start_without_strategies()

        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.new = cls.env.ref("customer_segmentation.segment_lifecycle_new")

        def salesman(login):
            return new_test_user(
                cls.env, login, groups="sales_team.group_sale_salesman"
            )

        # a user belongs to one sales team at a time (Odoo's default)
        cls.first, cls.second, cls.third = (
            salesman(f"cs_assign_rr_{n}") for n in (1, 2, 3)
        )
        cls.light, cls.idle, cls.busy = (
            salesman(f"cs_assign_ll_{n}") for n in (1, 2, 3)
        )
        cls.other = salesman("cs_assign_other")
        Team = cls.env["crm.team"]
        cls.team = Team.create(
            {
                "name": "Key Accounts",
                "member_ids": [Command.set((cls.first | cls.second | cls.third).ids)],
            }
        )
        cls.balanced_team = Team.create(
            {
                "name": "Balanced Team",
                "member_ids": [Command.set((cls.busy | cls.idle | cls.light).ids)],
            }
        )
        cls.other_team = Team.create(
            {"name": "Welcome Team", "member_ids": [Command.set(cls.other.ids)]}
        )
        cls.Move = cls.env["customer.segmentation.pool.move"]

    @classmethod
    def _high_value_customers(cls, *names):
        """New high-value customers without an account manager."""
        customers = cls.env["res.partner"]
        for name in names:
            customer = cls._make_customer(name)
            cls._make_order(customer, 20000.0, days_ago(10))
            customers |= customer
        return customers

    def _apply(self):
        return (
            self.env["res.partner"]
            .with_user(self.sales_manager)
            .apply_segment_strategies()
        )

    def _round_robin(self, team=None):
        self.high.write(
            {"manager_policy": "round_robin", "manager_team_id": (team or self.team).id}
        )

    # ------------------------------------------------------------------
    # Round robin
    # ------------------------------------------------------------------

    def test_round_robin_continues_across_runs(self):
        self._round_robin()
        first_customer = self._high_value_customers("Round Robin 1")
        self.assertEqual(self._apply()["assigned"], 1)
        self.assertEqual(first_customer.user_id, self.first)
        self.assertEqual(self.team.segmentation_last_assigned_user_id, self.first)

        # the next run starts after the member who got the last customer
        pair = self._high_value_customers("Round Robin 2", "Round Robin 3")
        self.assertEqual(self._apply()["assigned"], 2)
        self.assertEqual(pair.user_id, self.second | self.third)
        self.assertEqual(self.team.segmentation_last_assigned_user_id, self.third)

        # and wraps around to the first member
        last_customer = self._high_value_customers("Round Robin 4")
        self.assertEqual(self._apply()["assigned"], 1)
        self.assertEqual(last_customer.user_id, self.first)
        self.assertEqual(first_customer.user_id, self.first)

    def test_round_robin_starts_after_the_stored_member(self):
        self._round_robin()
        self.team.segmentation_last_assigned_user_id = self.second
        customer = self._high_value_customers("After The Second")
        self._apply()
        self.assertEqual(customer.user_id, self.third)
        self.assertEqual(self.team.segmentation_last_assigned_user_id, self.third)

    def test_nothing_to_assign_keeps_the_turn(self):
        self._round_robin()
        self.team.segmentation_last_assigned_user_id = self.second
        self.assertEqual(self._apply()["assigned"], 0)
        self.assertEqual(self.team.segmentation_last_assigned_user_id, self.second)

    # ------------------------------------------------------------------
    # Least loaded
    # ------------------------------------------------------------------

    def test_least_loaded_picks_the_member_with_fewest_customers(self):
        # customers held today: busy 3, light 1, idle none
        for index in range(3):
            self._make_customer(f"Held By Busy {index}", user_id=self.busy.id)
        self._make_customer("Held By Light", user_id=self.light.id)
        self.high.write(
            {
                "manager_policy": "least_loaded",
                "manager_team_id": self.balanced_team.id,
            }
        )
        single = self._high_value_customers("Least Loaded 1")
        self.assertEqual(self._apply()["assigned"], 1)
        self.assertEqual(single.user_id, self.idle)

        # now idle 1, light 1, busy 3: three more customers go to idle and
        # light, each taking the next one as soon as it holds fewer
        batch = self._high_value_customers(
            "Least Loaded 2", "Least Loaded 3", "Least Loaded 4"
        )
        self.assertEqual(self._apply()["assigned"], 3)
        self.assertEqual(batch.user_id, self.idle | self.light)
        held = Counter(
            partner.user_id.login
            for partner in self.env["res.partner"].search(
                [("user_id", "in", self.balanced_team.member_ids.ids)]
            )
        )
        self.assertEqual(held[self.busy.login], 3)
        self.assertEqual(
            sorted([held[self.idle.login], held[self.light.login]]), [2, 3]
        )

    # ------------------------------------------------------------------
    # Who is never assigned
    # ------------------------------------------------------------------

    def test_keep_never_assigns(self):
        self.high.write({"manager_policy": "keep", "manager_team_id": self.team.id})
        customer = self._high_value_customers("Kept Without Manager")
        self.assertEqual(self._apply()["assigned"], 0)
        self.assertFalse(customer.user_id)
        self.assertFalse(self.Move.search([("partner_id", "=", customer.id)]))

    def test_customer_with_a_manager_keeps_it(self):
        self._round_robin()
        customer = self._high_value_customers("Already Managed")
        customer.user_id = self.other
        self.assertEqual(self._apply()["assigned"], 0)
        self.assertEqual(customer.user_id, self.other)

    def test_customers_in_the_pool_are_not_assigned(self):
        self._set_params(pool_enabled=True)
        customer = self._high_value_customers("Waiting In The Pool")
        self.assertEqual(self._apply()["returned_to_pool"], 1)
        self.assertTrue(customer.segmentation_in_pool)

        self._round_robin()
        result = self._apply()
        self.assertEqual((result["assigned"], result["returned_to_pool"]), (0, 0))
        self.assertFalse(customer.user_id)
        self.assertTrue(customer.segmentation_in_pool)
        self.assertFalse(self.team.segmentation_last_assigned_user_id)

    def test_policy_of_the_higher_priority_segment_wins(self):
        self.high.write(
            {
                "manager_policy": "round_robin",
                "manager_team_id": self.team.id,
                "strategy_priority": 30,
            }
        )
        self.new.write(
            {
                "manager_policy": "round_robin",
                "manager_team_id": self.other_team.id,
                "strategy_priority": 25,
            }
        )
        customer = self._high_value_customers("Claimed By Two Segments")
        self._apply()
        self.assertEqual(customer.user_id, self.first)

        self.new.strategy_priority = 35
        newer = self._high_value_customers("Claimed By Two Segments Again")
        self._apply()
        self.assertEqual(newer.user_id, self.other)

    # ------------------------------------------------------------------
    # Log
    # ------------------------------------------------------------------

    def test_assignment_is_logged(self):
        self._round_robin()
        customer = self._high_value_customers("Logged Assignment")
        self._apply()
        move = self.Move.search([("partner_id", "=", customer.id)])
        self.assertRecordValues(
            move,
            [
                {
                    "move": "assign",
                    "user_id": self.first.id,
                    "company_id": self.env.company.id,
                    "reason": "Account manager policy of the customer's segment",
                }
            ],
        )
        self.assertTrue(move.date)
        # nothing new to assign: nothing more logged
        self._apply()
        self.assertEqual(len(self.Move.search([("partner_id", "=", customer.id)])), 1)

    def test_salesman_reads_the_log(self):
        self._round_robin()
        customer = self._high_value_customers("Log Read By Salesman")
        self._apply()
        moves = (
            self.Move.with_user(self.first)
            .search([("partner_id", "=", customer.id)])
            .read(["move", "user_id"])
        )
        self.assertEqual(
            [(m["move"], m["user_id"][0]) for m in moves], [("assign", self.first.id)]
        )
