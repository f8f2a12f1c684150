"""Churn early warning: the usual gap between a customer's purchases, a risk
score from how late the next one is, warnings and their dismissal."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, freeze_time, new_test_user, tagged

from .common import NO_STRATEGY, TODAY, SegmentationCase, days_ago, noon

CHURN_TYPE = "customer_segmentation.mail_activity_type_churn_warning"
NO_GAP = "Fewer than two purchase days: no usual gap to compare with."


@tagged("post_install", "-at_install")
class TestChurn(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["customer.segment"].with_context(active_test=False).search([]).write(
            NO_STRATEGY
        )
        cls.env["res.partner"].recompute_all_segments()
        cls.env["res.partner"].apply_segment_strategies()

        cls.account_manager = new_test_user(
            cls.env,
            "cs_churn_am",
            groups="sales_team.group_sale_salesman,base.group_partner_manager",
        )
        cls.churn_type = cls.env.ref(CHURN_TYPE)
        # orders 30 days apart, the last 10 days ago
        cls.regular = cls._history("Every 30 Days", 100, 70, 40, 10)
        # three orders on one day count as one order date: gaps 10 and 30
        cls.same_day = cls._history("Three Orders One Day", 50, 40, 40, 40, 10)
        # gaps 10 and 20: the median of an even count is their mean
        cls.even = cls._history("Gaps 10 And 20", 70, 60, 40)
        # gaps 10, 10 and 40: the median, not the mean (20)
        cls.skewed = cls._history("Gaps 10, 10 And 40", 80, 70, 60, 20)
        # a usual gap of 20 days, the last order R days ago
        cls.late = {
            recency: cls._history(
                f"Usually 20 Days, Last {recency} Days Ago",
                recency + 40,
                recency + 20,
                recency,
                user_id=cls.account_manager.id,
            )
            for recency in (20, 30, 40, 50, 60, 90)
        }
        cls.single = cls._history("Single Order", 200, user_id=cls.account_manager.id)
        cls.never = cls._make_customer("Never Ordered")
        cls.customers = (
            cls.regular
            | cls.same_day
            | cls.even
            | cls.skewed
            | cls.single
            | cls.never
            | cls.env["res.partner"].union(*cls.late.values())
        )

    @classmethod
    def _history(cls, name, *ordered_days_ago, **values):
        customer = cls._make_customer(name, **values)
        for age in ordered_days_ago:
            cls._make_order(customer, 100.0, days_ago(age))
        return customer

    def _apply(self):
        return (
            self.env["res.partner"]
            .with_user(self.sales_manager)
            .apply_segment_strategies()
        )

    def _warnings(self, partner, active=True):
        return (
            self.env["mail.activity"]
            .with_context(active_test=False)
            .search(
                [
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("activity_type_id", "=", self.churn_type.id),
                    ("active", "=", active),
                ]
            )
        )

    def _dismiss(self, partners, reason="Orders through a distributor now"):
        return partners.with_user(self.account_manager).action_dismiss_churn_risk(
            reason
        )

    # ------------------------------------------------------------------
    # Usual gap and risk
    # ------------------------------------------------------------------

    def test_usual_gap_is_the_median_gap(self):
        self._apply()
        self.assertEqual(self.regular.churn_typical_gap_days, 30)
        self.assertEqual(self.same_day.churn_typical_gap_days, 20)
        self.assertEqual(self.even.churn_typical_gap_days, 15)
        self.assertEqual(self.skewed.churn_typical_gap_days, 10)
        self.assertEqual(self.late[40].churn_typical_gap_days, 20)
        self.assertFalse(self.single.churn_typical_gap_days)
        self.assertFalse(self.never.churn_typical_gap_days)

    def test_classification_alone_gives_gap_and_risk(self):
        """The usual gap and the risk are figures of the purchases: right
        after a recompute or an order, not only once the strategy job ran."""
        self.env["res.partner"].recompute_all_segments()
        self.assertEqual(self.regular.churn_typical_gap_days, 30)
        self.assertEqual(self.skewed.churn_typical_gap_days, 10)
        self.assertEqual(self.late[40].churn_typical_gap_days, 20)
        self.assertEqual(self.late[40].churn_risk_score, 50)
        self.assertEqual(self.late[40].churn_signal, "Churn risk 50/100")
        self.assertFalse(self.single.churn_typical_gap_days)
        self.assertFalse(self.single.churn_risk_score)
        # a new order: the classification of the order refreshes them
        self._make_order(self.late[60], 100.0, days_ago(5))
        self.assertEqual(self.late[60].churn_typical_gap_days, 20)
        self.assertEqual(self.late[60].churn_risk_score, 0)
        self._make_order(self.single, 100.0, days_ago(50))
        self.assertEqual(self.single.churn_typical_gap_days, 150)
        self.assertEqual(self.single.churn_signal, "Churn risk 0/100")

    def test_risk_grows_linearly_from_one_gap_to_full_risk_ratio(self):
        self._apply()
        self.assertEqual(
            {
                recency: partner.churn_risk_score
                for recency, partner in self.late.items()
            },
            {20: 0, 30: 25, 40: 50, 50: 75, 60: 100, 90: 100},
        )
        self.assertEqual(self.regular.churn_risk_score, 0)  # within its gap
        self.assertEqual(self.even.churn_risk_score, 83)  # 40 / 15 = 2.67 gaps
        self.assertEqual(self.skewed.churn_risk_score, 50)  # 20 / 10 = 2 gaps
        self.assertEqual(self.single.churn_risk_score, 0)
        self.assertEqual(self.never.churn_risk_score, 0)

    def test_full_risk_ratio_comes_from_settings(self):
        self._set_params(churn_full_risk_ratio=2.0)
        self._apply()
        self.assertEqual(
            {
                recency: partner.churn_risk_score
                for recency, partner in self.late.items()
            },
            {20: 0, 30: 50, 40: 100, 50: 100, 60: 100, 90: 100},
        )

    def test_risk_follows_time(self):
        self._apply()
        self.assertEqual(self.regular.churn_risk_score, 0)
        # last order 70 days ago, usual gap 30: 2.33 gaps
        with freeze_time(noon(60)):
            self._apply()
            self.assertEqual(self.regular.churn_risk_score, 67)

    def test_only_confirmed_orders_count(self):
        customer = self._history("With Quotes And Cancellations", 60, 40)
        order = self._make_order(customer, 100.0, days_ago(20), state="draft")
        self._make_order(customer, 100.0, days_ago(10), state="cancel")
        self._apply()
        self.assertEqual(customer.churn_typical_gap_days, 20)
        self.assertEqual(customer.churn_risk_score, 50)
        order.action_confirm()
        order.date_order = noon(-20)
        self._apply()
        self.assertEqual(customer.churn_risk_score, 0)

    def test_orders_of_contacts_count_for_their_company(self):
        company = self._make_customer("Ordering Through Contacts", is_company=True)
        first = self._make_customer("First Buyer", parent_id=company.id)
        second = self._make_customer("Second Buyer", parent_id=company.id)
        self._make_order(first, 100.0, days_ago(80))
        self._make_order(second, 100.0, days_ago(60))
        self._make_order(first, 100.0, days_ago(40))
        self._apply()
        self.assertEqual(company.churn_typical_gap_days, 20)
        self.assertEqual(company.churn_risk_score, 50)

    def test_explanation(self):
        self._apply()
        self.assertEqual(
            self.late[40].churn_risk_explanation,
            "Usually buys every 20 days; last purchase 40 days ago, 2.0 times the "
            "usual gap: risk 50/100.",
        )
        self.assertEqual(
            self.even.churn_risk_explanation,
            "Usually buys every 15 days; last purchase 40 days ago, 2.7 times the "
            "usual gap: risk 83/100.",
        )
        self.assertEqual(self.single.churn_risk_explanation, NO_GAP)
        self.assertEqual(self.never.churn_risk_explanation, NO_GAP)

    def test_no_rhythm_no_signal(self):
        """One purchase day gives no usual gap: no churn signal on the card
        (not a reassuring 0/100 beside At-Risk), and a sentence saying why."""
        self.env["res.partner"].recompute_all_segments()
        self._apply()
        self.assertFalse(self.single.churn_signal)
        self.assertFalse(self.never.churn_signal)
        self.assertEqual(self.late[40].churn_signal, "Churn risk 50/100")
        self.assertIn(self.single.segment_lifecycle_id.code, ("at_risk", "churned"))
        self.assertIn(
            "fewer than two purchase days show none yet",
            self.single.segmentation_explanation,
        )

    def test_salesman_reads_the_risk(self):
        self._apply()
        [values] = (
            self.late[50]
            .with_user(self.salesman)
            .read(["churn_typical_gap_days", "churn_risk_score", "churn_alert"])
        )
        self.assertEqual(
            (
                values["churn_typical_gap_days"],
                values["churn_risk_score"],
                values["churn_alert"],
            ),
            (20, 75, True),
        )

    # ------------------------------------------------------------------
    # Warnings
    # ------------------------------------------------------------------

    def test_warning_activity_at_the_threshold(self):
        result = self._apply()
        # risk 50 and more with an account manager: 40, 50, 60 and 90 days
        self.assertEqual(result["churn_warnings"], 4)
        self.assertFalse(self._warnings(self.late[30]))
        warning = self._warnings(self.late[40])
        self.assertRecordValues(
            warning,
            [
                {
                    "user_id": self.account_manager.id,
                    "summary": "Churn risk 50/100",
                    "date_deadline": TODAY,
                }
            ],
        )
        self.assertIn(self.late[40].churn_risk_explanation, str(warning.note))
        # no duplicate on the next run
        self.assertEqual(self._apply()["churn_warnings"], 0)
        self.assertEqual(len(self._warnings(self.late[40])), 1)

    def test_threshold_comes_from_settings(self):
        self._set_params(churn_risk_threshold=25)
        self.assertEqual(self._apply()["churn_warnings"], 5)
        self.assertEqual(len(self._warnings(self.late[30])), 1)
        self.assertFalse(self._warnings(self.late[20]))

    def test_no_warning_activity_without_account_manager(self):
        orphan = self._history("Nobody's Lapsed Customer", 100, 80, 60)
        self._apply()
        self.assertEqual(orphan.churn_risk_score, 100)
        self.assertTrue(orphan.churn_alert)
        self.assertFalse(self._warnings(orphan))

    def test_warning_done_is_not_repeated_for_the_same_lapse(self):
        # The account manager called the customer and marked the warning
        # done: the customer crossed the threshold once, so the next nights
        # do not warn again until the customer orders and lapses again.
        self._apply()
        self._warnings(self.late[40]).with_user(self.account_manager).action_feedback(
            "Called: they are fine"
        )
        with freeze_time(noon(1)):
            self._apply()
        self.assertFalse(self._warnings(self.late[40]))

    # ------------------------------------------------------------------
    # Dismissal
    # ------------------------------------------------------------------

    def test_dismissed_warning(self):
        self._apply()
        self.assertTrue(self.late[40].churn_alert)
        self.assertTrue(self._dismiss(self.late[40], "  Seasonal buyer  "))
        self.assertTrue(self.late[40].churn_dismissed)
        self.assertEqual(self.late[40].churn_dismiss_reason, "Seasonal buyer")
        self.assertFalse(self.late[40].churn_alert)
        # the open warning is gone, and none comes back while the customer
        # does not order, however late it gets
        self.assertFalse(self._warnings(self.late[40], active=True))
        self.assertFalse(self._warnings(self.late[40], active=False))
        self.assertIn(
            "Churn warning dismissed: Seasonal buyer",
            self.late[40].message_ids.mapped("body")[0],
        )
        with freeze_time(noon(30)):
            self._apply()
            self.assertEqual(self.late[40].churn_risk_score, 100)
            self.assertTrue(self.late[40].churn_dismissed)
            self.assertFalse(self.late[40].churn_alert)
        self.assertFalse(self._warnings(self.late[40]))

    def test_dismissal_ends_with_a_new_order(self):
        self._apply()
        self._dismiss(self.late[40])
        self._make_order(self.late[40], 100.0, TODAY)
        self._apply()
        self.assertFalse(self.late[40].churn_dismissed)
        self.assertEqual(self.late[40].churn_risk_score, 0)
        self.assertFalse(self.late[40].churn_alert)
        # order dates 80, 60, 40 and 0 days ago: usual gap 20; 40 days later
        # the customer lapses again and is warned again (with the customers
        # of 20 and 30 days, who lapse in the meantime)
        with freeze_time(noon(40)):
            self.assertEqual(self._apply()["churn_warnings"], 3)
            self.assertEqual(self.late[40].churn_risk_score, 50)
            self.assertTrue(self.late[40].churn_alert)
            self.assertEqual(len(self._warnings(self.late[40])), 1)

    def test_dismiss_requires_a_reason(self):
        self._apply()
        for reason in ("", "   ", None, False):
            with self.assertRaises(UserError):
                self._dismiss(self.late[40], reason)
        self.assertFalse(self.late[40].churn_dismissed)
        self.assertEqual(len(self._warnings(self.late[40])), 1)

    def test_cron_resumes_without_recomputing_figures(self):
        Partner = self.env["res.partner"]
        customer = self.late[40]
        Partner._cron_apply_segment_strategies()
        self.assertEqual(customer.churn_risk_score, 50)
        self.env.cr.execute(
            """UPDATE customer_segmentation_figure SET churn_risk_score = 7
                WHERE partner_id = %s AND company_id = %s""",
            [customer.id, self.env.company.id],
        )
        self.env["customer.segmentation.figure"].invalidate_model()
        customer.invalidate_recordset()
        # a second call the same day resumes: today's figures are kept
        Partner._cron_apply_segment_strategies()
        self.assertEqual(customer.churn_risk_score, 7)
        # the next day's run computes them again
        with freeze_time(noon(1)):
            Partner._cron_apply_segment_strategies()
        customer.invalidate_recordset()
        self.assertNotEqual(customer.churn_risk_score, 7)

    def test_only_a_warning_can_be_dismissed(self):
        self._apply()
        healthy = self.late[20]
        self.assertFalse(healthy.churn_alert)
        with self.assertRaises(UserError):
            self._dismiss(healthy, "Looks fine")
        self.assertFalse(healthy.churn_dismissed)

    def test_dismiss_wizard(self):
        self._apply()
        customers = self.late[40] | self.late[50]
        wizard = Form(
            self.env["customer.churn.dismiss"]
            .with_user(self.account_manager)
            .with_context(active_model="res.partner", active_ids=customers.ids)
        )
        wizard.reason = "Both moved to a yearly contract"
        wizard.save().action_dismiss()
        self.assertEqual(customers.mapped("churn_dismissed"), [True, True])
        self.assertEqual(
            set(customers.mapped("churn_dismiss_reason")),
            {"Both moved to a yearly contract"},
        )
        self.assertFalse(self._warnings(self.late[40]) | self._warnings(self.late[50]))

    def test_plain_internal_user_cannot_dismiss(self):
        self._apply()
        with self.assertRaises(AccessError):
            self.late[40].with_user(self.internal_user).action_dismiss_churn_risk(
                "Not my customer"
            )
        self.assertFalse(self.late[40].churn_dismissed)

    def test_only_the_account_manager_or_a_manager_dismisses(self):
        self._apply()
        customers = self.late[40] | self.late[50]
        self.assertEqual(customers.user_id, self.account_manager)
        with self.assertRaises(AccessError) as caught:
            customers.with_user(self.salesman).action_dismiss_churn_risk(
                "Not my customer, but I think it is fine"
            )
        self.assertIn(self.late[40].name, str(caught.exception))
        self.assertFalse(any(customers.mapped("churn_dismissed")))
        self.assertEqual(len(self._warnings(self.late[40])), 1)
        # one customer of someone else spoils the lot
        mine = self._history("Mine, Usually 20 Days", 80, 60, 40)
        mine.user_id = self.salesman
        self._apply()
        self.assertTrue(mine.churn_alert)
        with self.assertRaises(AccessError):
            (mine | self.late[40]).with_user(self.salesman).action_dismiss_churn_risk(
                "Fine"
            )
        self.assertFalse(mine.churn_dismissed)
        mine.with_user(self.salesman).action_dismiss_churn_risk("Fine")
        self.assertTrue(mine.churn_dismissed)
        customers.with_user(self.sales_manager).action_dismiss_churn_risk(
            "Checked with their account manager"
        )
        self.assertEqual(customers.mapped("churn_dismissed"), [True, True])

    def test_refusals_name_no_customer_of_another_company(self):
        self._apply()
        other_company = self.env["res.company"].create({"name": "CS Churn Other Co"})
        hidden = self._make_customer(
            "Hidden Customer Of Another Company", company_id=other_company.id
        )
        self.assertFalse(hidden.churn_alert)
        for user in (self.account_manager, self.sales_manager):
            for customers in (hidden, hidden | self.late[40]):
                with self.subTest(user=user.login, count=len(customers)):
                    with self.assertRaises(AccessError) as caught:
                        customers.with_user(user).action_dismiss_churn_risk("Fine")
                    self.assertNotIn(hidden.name, str(caught.exception))
                    self.assertIn(str(hidden.id), str(caught.exception))
        self.assertFalse(self.late[40].churn_dismissed)

    # ------------------------------------------------------------------
    # Search
    # ------------------------------------------------------------------

    def test_churn_alert_search(self):
        self._apply()
        self._dismiss(self.late[60])
        Partner = self.env["res.partner"].with_user(self.salesman)
        mine = [("id", "in", self.customers.ids)]
        alerted = (
            self.late[40] | self.late[50] | self.late[90] | self.even | self.skewed
        )
        self.assertEqual(Partner.search([*mine, ("churn_alert", "=", True)]), alerted)
        self.assertEqual(Partner.search([*mine, ("churn_alert", "!=", False)]), alerted)
        self.assertEqual(
            Partner.search([*mine, ("churn_alert", "=", False)]),
            self.customers - alerted,
        )
        self.assertEqual(
            Partner.search([*mine, ("churn_alert", "!=", True)]),
            self.customers - alerted,
        )

    def test_churn_alert_search_agrees_with_the_field_before_any_run(self):
        # a customer created after the last nightly run has no score yet
        newcomer = self._make_customer("Created After The Run")
        self.assertFalse(newcomer.churn_alert)
        Partner = self.env["res.partner"].with_user(self.salesman)
        self.assertEqual(
            Partner.search([("id", "=", newcomer.id), ("churn_alert", "=", False)]),
            newcomer,
        )
