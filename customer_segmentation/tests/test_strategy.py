"""Segment strategies that conflict or add up: follow-ups and pricelists from
the segment of highest strategy priority, tags from every segment."""

from odoo import Command
from odoo.tests import freeze_time, new_test_user, tagged

from .common import NO_STRATEGY, SegmentationCase, days_ago, noon

FOLLOWUP_TYPE = "customer_segmentation.mail_activity_type_segment_followup"


@tagged("post_install", "-at_install")
class TestStrategy(SegmentationCase):
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

        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.new = cls.env.ref("customer_segmentation.segment_lifecycle_new")
        cls.account_manager = new_test_user(
            cls.env, "cs_strategy_am", groups="sales_team.group_sale_salesman"
        )
        cls.contact_editor = new_test_user(
            cls.env,
            "cs_strategy_editor",
            groups="sales_team.group_sale_salesman,base.group_partner_manager",
        )
        Pricelist = cls.env["product.pricelist"]
        cls.pricelist_high = Pricelist.create({"name": "High Value Prices"})
        cls.pricelist_new = Pricelist.create({"name": "Welcome Prices"})
        cls.pricelist_own = Pricelist.create({"name": "Negotiated Prices"})
        cls.pricelist_other = Pricelist.create({"name": "Prices Set By Hand"})
        Tag = cls.env["res.partner.category"]
        cls.tag_high = Tag.create({"name": "Key Account"})
        cls.tag_new = Tag.create({"name": "Welcome Pack"})
        cls.tag_own = Tag.create({"name": "Trade Fair 2026"})

        # first and only order 40 days ago, 20,000: high value and new
        cls.customer = cls._make_customer(
            "Big New Buyer", user_id=cls.account_manager.id
        )
        cls._make_order(cls.customer, 20000.0, days_ago(40))
        cls.Activity = cls.env["mail.activity"]

    def _apply(self):
        return (
            self.env["res.partner"]
            .with_user(self.sales_manager)
            .apply_segment_strategies()
        )

    def _demote_high_value(self):
        """20,000 becomes medium value: the customer leaves the high tier."""
        self._set_params(value_high_amount=50000.0)
        self.env["res.partner"].recompute_all_segments()

    def _activities(self, partner):
        return self.Activity.search(
            [("res_model", "=", "res.partner"), ("res_id", "=", partner.id)]
        )

    def test_customer_is_in_both_segments(self):
        self.assertSegments(self.customer, value="high", lifecycle="new")

    # ------------------------------------------------------------------
    # Priority conflicts
    # ------------------------------------------------------------------

    def test_pricelist_of_the_higher_priority_wins(self):
        self.high.write(
            {"pricelist_id": self.pricelist_high.id, "strategy_priority": 30}
        )
        self.new.write({"pricelist_id": self.pricelist_new.id, "strategy_priority": 25})
        result = self._apply()
        self.assertEqual(result["pricelists_applied"], 1)
        self.assertEqual(self.customer.property_product_pricelist, self.pricelist_high)
        self.assertEqual(self.customer.segmentation_pricelist_id, self.pricelist_high)

        # the lifecycle strategy now matters more: its pricelist replaces the
        # other, and the customer's own (none) is still the one to restore
        self.new.strategy_priority = 40
        result = self._apply()
        self.assertEqual(result["pricelists_applied"], 1)
        self.assertEqual(result["pricelists_restored"], 0)
        self.assertEqual(self.customer.property_product_pricelist, self.pricelist_new)
        self.assertEqual(self.customer.segmentation_pricelist_id, self.pricelist_new)
        self.assertFalse(self.customer.segmentation_previous_pricelist_id)

        self.assertEqual(self._apply()["pricelists_applied"], 0)

    def test_pricelist_tie_goes_to_the_older_segment(self):
        self.high.write(
            {"pricelist_id": self.pricelist_high.id, "strategy_priority": 20}
        )
        self.new.write({"pricelist_id": self.pricelist_new.id, "strategy_priority": 20})
        older = min(self.high, self.new, key=lambda segment: segment.id)
        self._apply()
        self.assertEqual(self.customer.property_product_pricelist, older.pricelist_id)

    def test_followup_of_the_higher_priority_wins(self):
        call = self.env.ref("mail.mail_activity_data_call")
        self.high.write(
            {
                "strategy_priority": 30,
                "followup_days": 30,
                "followup_summary": "Visit {customer}",
            }
        )
        self.new.write(
            {
                "strategy_priority": 25,
                "followup_days": 20,
                "followup_activity_type_id": call.id,
                "followup_summary": "Welcome call to {customer}",
            }
        )
        self.assertEqual(self._apply()["followups"], 1)
        activity = self._activities(self.customer)
        self.assertEqual(activity.summary, "Visit Big New Buyer")
        self.assertEqual(activity.activity_type_id, self.env.ref(FOLLOWUP_TYPE))

    def test_followup_of_the_higher_priority_wins_swapped(self):
        call = self.env.ref("mail.mail_activity_data_call")
        self.high.write(
            {
                "strategy_priority": 10,
                "followup_days": 30,
                "followup_summary": "Visit {customer}",
            }
        )
        self.new.write(
            {
                "strategy_priority": 25,
                "followup_days": 20,
                "followup_activity_type_id": call.id,
                "followup_summary": "Welcome call to {customer}",
            }
        )
        self.assertEqual(self._apply()["followups"], 1)
        activity = self._activities(self.customer)
        self.assertEqual(activity.summary, "Welcome call to Big New Buyer")
        self.assertEqual(activity.activity_type_id, call)

    def test_segment_without_followup_does_not_hide_another(self):
        # a higher priority that sets no follow-up does not cancel the
        # follow-up of the customer's other segment
        self.high.write({"strategy_priority": 50, "followup_days": 0})
        self.new.write(
            {
                "strategy_priority": 25,
                "followup_days": 20,
                "followup_summary": "Welcome call to {customer}",
            }
        )
        self.assertEqual(self._apply()["followups"], 1)
        self.assertEqual(
            self._activities(self.customer).summary, "Welcome call to Big New Buyer"
        )

    # ------------------------------------------------------------------
    # Tags
    # ------------------------------------------------------------------

    def test_tags_of_all_segments_add_up(self):
        self.high.partner_tag_ids = self.tag_high
        self.new.partner_tag_ids = self.tag_new
        self.customer.category_id = self.tag_own
        result = self._apply()
        self.assertEqual(result["tags_added"], 2)
        self.assertEqual(result["tags_removed"], 0)
        self.assertEqual(
            self.customer.category_id, self.tag_own | self.tag_high | self.tag_new
        )
        self.assertEqual(
            self.customer.segmentation_tag_ids, self.tag_high | self.tag_new
        )
        result = self._apply()
        self.assertEqual((result["tags_added"], result["tags_removed"]), (0, 0))

    def test_tags_are_removed_on_exit_except_those_the_customer_had(self):
        self.high.partner_tag_ids = self.tag_high
        self.new.partner_tag_ids = self.tag_new
        # the same purchase as the customer, who already had the welcome tag
        tagged_before = self._make_customer(
            "Big New Buyer Tagged By Hand", category_id=[Command.set(self.tag_new.ids)]
        )
        self._make_order(tagged_before, 20000.0, days_ago(40))
        self._apply()
        self.assertEqual(tagged_before.category_id, self.tag_new | self.tag_high)
        self.assertEqual(tagged_before.segmentation_tag_ids, self.tag_high)

        # 60 days later both are 100 days past their first order: no longer
        # new, still high value
        with freeze_time(noon(60)):
            self.env["res.partner"].recompute_all_segments()
            self.assertSegments(self.customer, value="high", lifecycle="active")
            result = self._apply()
            self.assertEqual(result["tags_removed"], 1)
            self.assertEqual(self.customer.category_id, self.tag_high)
            self.assertEqual(self.customer.segmentation_tag_ids, self.tag_high)
            self.assertEqual(tagged_before.category_id, self.tag_new | self.tag_high)
            self.assertEqual(tagged_before.segmentation_tag_ids, self.tag_high)

            self._demote_high_value()
            result = self._apply()
        self.assertEqual(result["tags_removed"], 2)
        self.assertFalse(self.customer.category_id)
        self.assertEqual(tagged_before.category_id, self.tag_new)
        self.assertFalse(tagged_before.segmentation_tag_ids)

    def test_tags_of_an_archived_segment_are_removed(self):
        self.high.partner_tag_ids = self.tag_high
        self._apply()
        self.assertEqual(self.customer.category_id, self.tag_high)
        self.high.active = False
        self.assertEqual(self._apply()["tags_removed"], 1)
        self.assertFalse(self.customer.category_id)

    # ------------------------------------------------------------------
    # Pricelists
    # ------------------------------------------------------------------

    def test_pricelist_applied_and_previous_restored_on_exit(self):
        self.customer.specific_property_product_pricelist = self.pricelist_own
        self.high.pricelist_id = self.pricelist_high
        result = self._apply()
        self.assertEqual(result["pricelists_applied"], 1)
        self.assertEqual(self.customer.property_product_pricelist, self.pricelist_high)
        self.assertEqual(
            self.customer.segmentation_previous_pricelist_id, self.pricelist_own
        )
        # an order placed while in the segment gets its prices
        order = self.env["sale.order"].create({"partner_id": self.customer.id})
        self.assertEqual(order.pricelist_id, self.pricelist_high)

        self._demote_high_value()
        self.assertSegments(self.customer, value="medium")
        result = self._apply()
        self.assertEqual(result["pricelists_restored"], 1)
        self.assertEqual(self.customer.property_product_pricelist, self.pricelist_own)
        self.assertEqual(
            self.customer.specific_property_product_pricelist, self.pricelist_own
        )
        self.assertFalse(self.customer.segmentation_pricelist_id)
        self.assertFalse(self.customer.segmentation_previous_pricelist_id)
        self.assertEqual(self._apply()["pricelists_restored"], 0)

    def test_no_previous_pricelist_is_restored_as_none(self):
        self.high.pricelist_id = self.pricelist_high
        self._apply()
        self.assertEqual(
            self.customer.specific_property_product_pricelist, self.pricelist_high
        )
        self._demote_high_value()
        self._apply()
        self.assertFalse(self.customer.specific_property_product_pricelist)
        self.assertFalse(self.customer.segmentation_pricelist_id)

    def test_pricelist_changed_by_a_user_is_not_restored(self):
        self.customer.specific_property_product_pricelist = self.pricelist_own
        self.high.pricelist_id = self.pricelist_high
        self._apply()
        self.customer.with_user(
            self.contact_editor
        ).property_product_pricelist = self.pricelist_other
        self._demote_high_value()
        result = self._apply()
        self.assertEqual(result["pricelists_restored"], 1)
        self.assertEqual(self.customer.property_product_pricelist, self.pricelist_other)
        self.assertFalse(self.customer.segmentation_pricelist_id)
        self.assertFalse(self.customer.segmentation_previous_pricelist_id)

    def test_pricelist_reaches_the_contacts_of_a_company(self):
        # Orders are usually placed for a contact person of a company
        # customer, and take the contact's pricelist, which Odoo keeps equal
        # to its company's (a commercial field).
        self.high.pricelist_id = self.pricelist_high
        company = self._make_customer("Big New Company", is_company=True)
        buyer = self._make_customer("Buyer At Big New Company", parent_id=company.id)
        self._make_order(buyer, 20000.0, days_ago(40))
        self.assertSegments(company, value="high")
        self._apply()
        self.assertEqual(company.property_product_pricelist, self.pricelist_high)
        self.assertEqual(buyer.property_product_pricelist, self.pricelist_high)
        order = self.env["sale.order"].create({"partner_id": buyer.id})
        self.assertEqual(order.pricelist_id, self.pricelist_high)
