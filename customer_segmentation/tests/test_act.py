"""Acting on a selection of customers or on a segment's customers in one
step: assign a salesperson, schedule an activity, return to the pool."""

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged

from .common import SegmentationCase, days_ago

TRACKING = {"tracking_disable": False, "mail_notrack": False}


@tagged("post_install", "-at_install")
class TestAct(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls.colleague = new_test_user(
            cls.env, "cs_act_colleague", groups="sales_team.group_sale_salesman"
        )
        salesman = cls.salesman.id
        # high value (fixed amounts: 10,000 and more), two of them the
        # salesman's, one his colleague's, one without salesperson
        cls.mine = cls._high_value("Mine A", user_id=salesman) | cls._high_value(
            "Mine B", user_id=salesman
        )
        cls.colleagues = cls._high_value("Colleague's", user_id=cls.colleague.id)
        cls.orphan = cls._high_value("Orphan")
        cls.mine_medium = cls._make_customer("Mine, Medium", user_id=salesman)
        cls._make_order(cls.mine_medium, 3000.0, days_ago(20))
        cls.contact = cls._make_customer("Contact Of Mine A", parent_id=cls.mine[0].id)
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.Move = cls.env["customer.segmentation.pool.move"]
        cls.other_company = cls.env["res.company"].create({"name": "CS Act Other Co"})

    @classmethod
    def _high_value(cls, name, **values):
        customer = cls._make_customer(name, **values)
        cls._make_order(customer, 12000.0, days_ago(10))
        return customer

    def _as(self, user, partners):
        return partners.with_user(user).with_context(**TRACKING)

    # ------------------------------------------------------------------
    # Assign a salesperson
    # ------------------------------------------------------------------

    def test_salesman_hands_his_customers_over(self):
        # a contact stands for its customer
        selection = self.mine[1] | self.contact
        self._as(self.salesman, selection).action_assign_salesperson(self.colleague.id)
        self.assertEqual(self.mine.user_id, self.colleague)
        self.assertEqual(self.contact.commercial_partner_id.user_id, self.colleague)
        # the chatter's tracking is written when the transaction commits
        self.env.flush_all()
        self.env.cr.precommit.run()
        tracked = self.env["mail.tracking.value"].search(
            [
                ("mail_message_id.res_id", "=", self.mine[0].id),
                ("mail_message_id.model", "=", "res.partner"),
                ("field_id.name", "=", "user_id"),
            ]
        )
        self.assertEqual(tracked.new_value_integer, self.colleague.id)
        moves = self.Move.search([("partner_id", "in", self.mine.ids)])
        self.assertEqual(set(moves.mapped("move")), {"hand"})
        self.assertEqual(moves.user_id, self.colleague)

    def test_salesman_cannot_assign_others_customers(self):
        selection = self.mine | self.colleagues
        with self.assertRaisesRegex(AccessError, "Colleague's"):
            self._as(self.salesman, selection).action_assign_salesperson(
                self.salesman.id
            )
        with self.assertRaisesRegex(AccessError, "Orphan"):
            self._as(self.salesman, self.orphan).action_assign_salesperson(
                self.salesman.id
            )
        self.assertEqual(self.mine.user_id, self.salesman)
        self.assertEqual(self.colleagues.user_id, self.colleague)
        self.assertFalse(self.orphan.user_id)

    def test_manager_assigns_anyone_of_the_company(self):
        selection = self.mine | self.colleagues | self.orphan
        self._as(self.sales_manager, selection).action_assign_salesperson(
            self.colleague.id
        )
        self.assertEqual(selection.user_id, self.colleague)

    def test_assigning_the_current_salesperson_changes_nothing(self):
        selection = self.colleagues | self.orphan
        self._as(self.sales_manager, selection).action_assign_salesperson(
            self.colleague.id
        )
        self.assertEqual(selection.user_id, self.colleague)
        moves = self.Move.search([("partner_id", "in", selection.ids)])
        self.assertEqual(moves.partner_id, self.orphan)

    def test_salesperson_must_be_a_salesperson_of_the_company(self):
        partners = self._as(self.sales_manager, self.mine)
        elsewhere = new_test_user(
            self.env,
            "cs_act_elsewhere",
            groups="sales_team.group_sale_salesman",
            company_id=self.other_company.id,
            company_ids=[Command.set(self.other_company.ids)],
        )
        archived = new_test_user(
            self.env, "cs_act_archived", groups="sales_team.group_sale_salesman"
        )
        archived.active = False
        for user_id in (self.internal_user.id, elsewhere.id, archived.id):
            with self.assertRaisesRegex(UserError, r"Salesperson \(user_id\)"):
                partners.action_assign_salesperson(user_id)
        for bad in ("3", None, 0, [self.colleague.id], 2**40):
            with self.assertRaisesRegex(UserError, r"Salesperson \(user_id\)"):
                partners.action_assign_salesperson(bad)
        self.assertEqual(self.mine.user_id, self.salesman)

    def test_other_company_customers_are_refused(self):
        theirs = self._make_customer("Their Customer", company_id=self.other_company.id)
        self.sales_manager.company_ids |= self.other_company
        with self.assertRaisesRegex(UserError, "another company"):
            self._as(self.sales_manager, self.mine | theirs).action_assign_salesperson(
                self.colleague.id
            )
        self.assertEqual(self.mine.user_id, self.salesman)

    def test_pooled_customers_are_claimed_not_assigned(self):
        self._set_params(pool_enabled=True)
        self._as(self.sales_manager, self.orphan).action_return_to_pool("Reshuffle")
        self.assertTrue(self.orphan.segmentation_in_pool)
        with self.assertRaisesRegex(AccessError, "Orphan"):
            self._as(self.salesman, self.orphan).action_assign_salesperson(
                self.salesman.id
            )
        self._as(self.sales_manager, self.orphan).action_assign_salesperson(
            self.salesman.id
        )
        self.assertFalse(self.orphan.segmentation_in_pool)
        self.assertEqual(self.orphan.user_id, self.salesman)

    def test_internal_user_cannot_act(self):
        with self.assertRaises(AccessError):
            self.mine.with_user(self.internal_user).action_assign_salesperson(
                self.salesman.id
            )

    def test_assignment_is_set_based(self):
        many = self.env["res.partner"].create(
            [{"name": f"Many {i}", "user_id": self.salesman.id} for i in range(20)]
        )
        one = self.env["res.partner"].create(
            {"name": "Just One", "user_id": self.salesman.id}
        )
        self.env.flush_all()
        one.with_user(self.salesman).action_assign_salesperson(self.colleague.id)
        self.env.flush_all()
        self.env.invalidate_all()
        queries = []
        for partners in (one, many):
            partners.write({"user_id": self.salesman.id})
            self.env.flush_all()
            self.env.invalidate_all()
            count = self.env.cr.sql_log_count
            partners.with_user(self.salesman).action_assign_salesperson(
                self.colleague.id
            )
            self.env.flush_all()
            queries.append(self.env.cr.sql_log_count - count)
        self.assertEqual(queries[0], queries[1])

    # ------------------------------------------------------------------
    # Return to the pool
    # ------------------------------------------------------------------

    def test_return_to_pool_needs_the_pool(self):
        with self.assertRaisesRegex(UserError, "segmentation_pool_enabled"):
            self._as(self.salesman, self.mine).action_return_to_pool("Moved away")
        self.assertEqual(self.mine.user_id, self.salesman)

    def test_salesman_returns_his_customers(self):
        self._set_params(pool_enabled=True)
        followup = self.env["mail.activity"].create(
            {
                "res_model_id": self.env["ir.model"]._get_id("res.partner"),
                "res_id": self.mine[0].id,
                "user_id": self.salesman.id,
                "activity_type_id": self.env.ref(
                    "customer_segmentation.mail_activity_type_segment_followup"
                ).id,
            }
        )
        self._as(self.salesman, self.mine).action_return_to_pool("  Moved abroad ")
        self.assertFalse(followup.exists())
        for customer in self.mine:
            self.assertTrue(customer.segmentation_in_pool)
            self.assertFalse(customer.user_id)
        self.assertRecordValues(
            self.Move.search([("partner_id", "in", self.mine.ids)], order="partner_id"),
            [
                {
                    "move": "return",
                    "user_id": self.salesman.id,
                    "reason": "Moved abroad",
                }
                for _customer in self.mine
            ],
        )
        with self.assertRaisesRegex(UserError, "in the customer pool already"):
            self._as(self.sales_manager, self.mine).action_return_to_pool("Again")

    def test_return_to_pool_bad_input(self):
        self._set_params(pool_enabled=True)
        partners = self._as(self.salesman, self.mine)
        for reason in ("   ", None, 42, "x" * 2001):
            with self.assertRaisesRegex(UserError, r"Reason \(reason\)"):
                partners.action_return_to_pool(reason)
        with self.assertRaisesRegex(AccessError, "Colleague's"):
            self._as(self.salesman, self.mine | self.colleagues).action_return_to_pool(
                "Mine and his"
            )
        self.assertFalse(
            any((self.mine | self.colleagues).mapped("segmentation_in_pool"))
        )

    # ------------------------------------------------------------------
    # Schedule an activity
    # ------------------------------------------------------------------

    def test_schedule_activity_on_many(self):
        action = self._as(self.salesman, self.mine).action_schedule_activity()
        self.assertEqual(action["res_model"], "mail.activity.schedule")
        Schedule = self.env["mail.activity.schedule"].with_user(self.salesman)
        form = Form(Schedule.with_context(**action["context"]))
        form.activity_type_id = self.env.ref("mail.mail_activity_data_call")
        form.summary = "Spring offer"
        form.save().action_schedule_activities()
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("summary", "=", "Spring offer")]
        )
        self.assertEqual(sorted(activities.mapped("res_id")), sorted(self.mine.ids))
        with self.assertRaises(AccessError):
            self._as(self.salesman, self.colleagues).action_schedule_activity()

    # ------------------------------------------------------------------
    # The wizard, on a selection or a segment
    # ------------------------------------------------------------------

    def _wizard(self, user, model, ids, operation):
        Act = self.env["customer.segment.act"].with_user(user)
        return Form(
            Act.with_context(
                active_model=model, active_ids=ids, default_operation=operation
            )
        )

    def test_segment_acts_on_the_salesmans_customers_of_it(self):
        form = self._wizard(self.salesman, "customer.segment", self.high.ids, "assign")
        self.assertEqual(form.customer_count, 2)
        form.user_id = self.colleague
        result = form.save().action_apply()
        self.assertEqual(result["tag"], "display_notification")
        self.assertEqual(self.mine.user_id, self.colleague)
        # not his: untouched; not of the segment: untouched
        self.assertFalse(self.orphan.user_id)
        self.assertEqual(self.mine_medium.user_id, self.salesman)

    def test_segment_acts_on_every_customer_of_it_for_a_manager(self):
        self._set_params(pool_enabled=True)
        form = self._wizard(
            self.sales_manager, "customer.segment", self.high.ids, "pool"
        )
        self.assertEqual(form.customer_count, 4)
        form.reason = "Spring clean"
        form.save().action_apply()
        high = self.mine | self.colleagues | self.orphan
        self.assertTrue(all(high.mapped("segmentation_in_pool")))
        self.assertFalse(self.mine_medium.segmentation_in_pool)

    def test_selection_wizard_refuses_without_salesperson(self):
        wizard = (
            self.env["customer.segment.act"]
            .with_user(self.salesman)
            .with_context(active_model="res.partner", active_ids=self.mine.ids)
            .create({"operation": "assign"})
        )
        with self.assertRaisesRegex(UserError, r"Salesperson \(user_id\)"):
            wizard.action_apply()
        wizard.operation = "activity"
        action = wizard.action_apply()
        self.assertEqual(action["context"]["active_ids"], self.mine.ids)
