"""Follow-up activities: one per customer whose last interaction is older than
its segment's cadence, for its account manager, never two open at once."""

import datetime

from odoo.exceptions import ValidationError
from odoo.tests import freeze_time, new_test_user, tagged

from .common import TODAY, SegmentationCase, days_ago, noon

FOLLOWUP_TYPE = "customer_segmentation.mail_activity_type_segment_followup"


@tagged("post_install", "-at_install")
class TestFollowup(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # value tiers by amount: 20,000 is high value
        cls._start_without_strategies()

        cls.account_manager = new_test_user(
            cls.env, "cs_followup_am", groups="sales_team.group_sale_salesman"
        )
        cls.call = cls.env.ref("mail.mail_activity_data_call")
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.high.write(
            {
                "followup_days": 30,
                "followup_activity_type_id": cls.call.id,
                "followup_summary": "Call {customer} ({segment}): {days} days",
            }
        )
        # high value customers of the account manager, whose only interaction
        # is their order: exactly one cadence ago, and one day more
        cls.on_time = cls._high_value_customer("Ordered 30 Days Ago", 30)
        cls.due = cls._high_value_customer("Ordered 31 Days Ago", 31)
        cls.Activity = cls.env["mail.activity"]

    @classmethod
    def _high_value_customer(cls, name, ordered_days_ago, **values):
        customer = cls._make_customer(
            name, **{"user_id": cls.account_manager.id, **values}
        )
        cls._make_order(customer, 20000.0, days_ago(ordered_days_ago))
        return customer

    def _apply(self):
        return (
            self.env["res.partner"]
            .with_user(self.sales_manager)
            .apply_segment_strategies()
        )

    def _activities(self, partner, active=True):
        return self.Activity.with_context(active_test=False).search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", partner.id),
                ("active", "=", active),
            ]
        )

    # ------------------------------------------------------------------
    # Cadence
    # ------------------------------------------------------------------

    def test_cadence_boundary(self):
        self.assertEqual(self._apply()["followups"], 1)
        self.assertEqual(self.on_time.segmentation_last_interaction, days_ago(30))
        self.assertFalse(self._activities(self.on_time))
        self.assertEqual(len(self._activities(self.due)), 1)

    def test_activity_for_the_account_manager_with_the_segment_type_and_summary(
        self,
    ):
        self._apply()
        self.assertRecordValues(
            self._activities(self.due),
            [
                {
                    "res_model": "res.partner",
                    "user_id": self.account_manager.id,
                    "activity_type_id": self.call.id,
                    "summary": "Call Ordered 31 Days Ago (High Value): 31 days",
                    "date_deadline": TODAY,
                }
            ],
        )
        # the account manager sees it among their activities
        mine = self.Activity.with_user(self.account_manager).search(
            [("user_id", "=", self.account_manager.id)]
        )
        self.assertEqual(mine, self._activities(self.due))

    def test_default_type_and_summary(self):
        self.high.write({"followup_activity_type_id": False, "followup_summary": False})
        self._apply()
        activity = self._activities(self.due)
        self.assertEqual(activity.activity_type_id, self.env.ref(FOLLOWUP_TYPE))
        self.assertEqual(activity.summary, "Follow up Ordered 31 Days Ago (High Value)")

    def test_summary_with_an_unknown_placeholder_is_refused(self):
        # saved and printed as written until templates were checked: see
        # test_followup_template for the templates stored before
        with self.assertRaises(ValidationError):
            self.high.followup_summary = "Call {nobody} today"
        self._apply()
        self.assertEqual(
            self._activities(self.due).summary,
            "Call Ordered 31 Days Ago (High Value): 31 days",
        )

    def test_cadence_as_time_passes(self):
        recent = self._high_value_customer("Ordered 10 Days Ago", 10)
        self._apply()
        self.assertFalse(self._activities(recent))
        with freeze_time(noon(20)):
            self._apply()
            self.assertFalse(self._activities(recent))
        with freeze_time(noon(21)):
            self._apply()
            activity = self._activities(recent)
            self.assertEqual(len(activity), 1)
            self.assertEqual(activity.date_deadline, TODAY + datetime.timedelta(21))

    def test_cadence_comes_from_the_segment(self):
        self.high.followup_days = 31
        self.assertEqual(self._apply()["followups"], 0)
        self.high.followup_days = 29
        self.assertEqual(self._apply()["followups"], 2)
        self.assertEqual(len(self._activities(self.on_time)), 1)

    def test_no_followup_without_cadence(self):
        self.high.followup_days = 0
        self.assertEqual(self._apply()["followups"], 0)
        self.assertFalse(self._activities(self.due))

    # ------------------------------------------------------------------
    # Never two open at once
    # ------------------------------------------------------------------

    def test_never_two_open_at_once_across_runs(self):
        self.assertEqual(self._apply()["followups"], 1)
        self.assertEqual(self._apply()["followups"], 0)
        # still not done a cadence later: still one
        with freeze_time(noon(40)):
            self.assertEqual(self._apply()["followups"], 1)  # on_time is due now
        self.assertEqual(len(self._activities(self.due)), 1)
        self.assertEqual(len(self._activities(self.on_time)), 1)

    def test_what_the_time_budget_leaves_the_next_run_schedules(self):
        Run = self.env["customer.segmentation.strategy.run"]
        # a budget already spent: one customer per call
        self.env["res.partner"]._cron_apply_segment_strategies(
            batch_size=1, time_budget=-1
        )
        run = Run.search([("company_id", "=", self.env.company.id)])
        self.assertEqual(run.state, "running")
        for _call in range(100):
            if run.state == "done":
                break
            self.env["res.partner"]._cron_apply_segment_strategies(
                batch_size=1, time_budget=-1
            )
        self.assertEqual(len(self._activities(self.due)), 1)
        self.assertEqual(run.followups, 1)
        result = self._apply()
        self.assertEqual((result["followups"], result["activities_left"]), (0, 0))

    def test_open_activity_of_the_same_type_planned_by_hand(self):
        self.Activity.create(
            {
                "res_model_id": self.env["ir.model"]._get_id("res.partner"),
                "res_id": self.due.id,
                "activity_type_id": self.call.id,
                "user_id": self.account_manager.id,
                "date_deadline": noon(3).date(),
            }
        )
        self.assertEqual(self._apply()["followups"], 0)
        self.assertEqual(len(self._activities(self.due)), 1)

    # ------------------------------------------------------------------
    # Interactions
    # ------------------------------------------------------------------

    def test_done_activity_counts_as_interaction(self):
        # the shipped follow-up type keeps done activities
        self.high.followup_activity_type_id = False
        self._apply()
        activity = self._activities(self.due)
        with freeze_time(noon(5)):
            activity.with_user(self.account_manager).action_feedback("Called them")
            self._apply()
        self.assertEqual(self.due.segmentation_last_interaction, noon(5).date())
        self.assertFalse(self._activities(self.due))
        self.assertEqual(self._activities(self.due, active=False), activity)
        with freeze_time(noon(35)):
            self._apply()
            self.assertFalse(self._activities(self.due))
        with freeze_time(noon(36)):
            self._apply()
            self.assertEqual(len(self._activities(self.due)), 1)

    def test_note_counts_as_interaction(self):
        with freeze_time(noon(-10)):
            self.due.with_user(self.account_manager).message_post(
                body="Met them at the trade fair",
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        self.assertEqual(self._apply()["followups"], 0)
        self.assertEqual(self.due.segmentation_last_interaction, days_ago(10))

    def test_email_to_a_contact_of_the_customer_counts(self):
        company = self._high_value_customer(
            "Company Ordered 31 Days Ago", 31, is_company=True
        )
        contact = self._make_customer("Buyer At The Company", parent_id=company.id)
        with freeze_time(noon(-2)):
            contact.message_post(
                body="About your next order",
                message_type="email",
                subtype_xmlid="mail.mt_comment",
            )
        self._apply()
        self.assertEqual(company.segmentation_last_interaction, days_ago(2))
        self.assertFalse(self._activities(company))
        self.assertFalse(self._activities(contact))

    def test_system_log_does_not_count(self):
        with freeze_time(noon(-1)):
            self.due._message_log(body="Imported from the old CRM")
        self._apply()
        self.assertEqual(self.due.segmentation_last_interaction, days_ago(31))
        self.assertEqual(len(self._activities(self.due)), 1)

    def test_order_counts_as_interaction(self):
        self._make_order(self.due, 100.0, days_ago(5))
        self.assertEqual(self._apply()["followups"], 0)
        self.assertEqual(self.due.segmentation_last_interaction, days_ago(5))
        self.assertFalse(self._activities(self.due))

    # ------------------------------------------------------------------
    # Without an account manager
    # ------------------------------------------------------------------

    def test_no_account_manager_no_followup(self):
        orphan = self._high_value_customer("Nobody's Customer", 60, user_id=False)
        self.assertEqual(self._apply()["followups"], 1)  # self.due only
        self.assertFalse(self._activities(orphan))

    def test_archived_account_manager_gets_no_followup(self):
        self.account_manager.active = False
        self.assertEqual(self._apply()["followups"], 0)
        self.assertFalse(self._activities(self.due))


@tagged("post_install", "-at_install")
class TestActivityBatch(SegmentationCase):
    def test_a_batch_of_activities_costs_no_query_per_customer(self):
        companies = self.env["res.partner"].create(
            [{"name": f"Batch Co {i}", "is_company": True} for i in range(40)]
        )
        contacts = self.env["res.partner"].create(
            [
                {"name": f"Batch Contact {i}", "parent_id": c.id}
                for i, c in enumerate(companies)
            ]
        )
        todo = self.env.ref("mail.mail_activity_data_todo")
        vals_list = [
            {
                "res_id": contact.id,
                "activity_type_id": todo.id,
                "summary": "Follow up",
                "user_id": self.env.uid,
            }
            for contact in contacts
        ]
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        self.env["customer.segmentation.strategy"]._create_activity_batch(vals_list, [])
        self.env.flush_all()
        queries = self.env.cr.sql_log_count - before
        # a fixed cost for the batch, not one name read per customer
        self.assertLess(queries, len(contacts))
        self.assertEqual(
            self.env["mail.activity"].search_count(
                [("res_model", "=", "res.partner"), ("res_id", "in", contacts.ids)]
            ),
            len(contacts),
        )
