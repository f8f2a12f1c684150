"""Segments pinned by hand: kept by recomputes, ended by hand or on expiry."""

import datetime

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, freeze_time, new_test_user, tagged

from .common import TODAY, SegmentationCase, days_ago, noon

PIN_FORM = "customer_segmentation.customer_segment_override_view_form"


@tagged("post_install", "-at_install")
class TestOverride(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pin_user = new_test_user(
            cls.env,
            "cs_pin_user",
            groups="customer_segmentation.group_segmentation_pin",
        )
        cls.plain_user = new_test_user(
            cls.env,
            "cs_plain_user",
            groups="customer_segmentation.group_segmentation_user",
        )
        # two buyers: the bigger one is high value, the other low value
        cls.big_buyer = cls._make_customer("Big Buyer")
        cls._make_order(cls.big_buyer, 1000.0, days_ago(10))
        cls.small_buyer = cls._make_customer("Small Buyer")
        cls._make_order(cls.small_buyer, 10.0, days_ago(10))
        cls.company = cls._make_customer(
            "Small Company", is_company=True, segmentation_employee_count=10
        )
        cls.contact = cls._make_customer(
            "Assistant At Small Company",
            parent_id=cls.company.id,
            function="Sales Assistant",
        )
        cls.env["res.partner"].recompute_all_segments()
        cls.Override = cls.env["customer.segment.override"]

    def _pin(self, partner, dimension, code, reason="Strategic account", **values):
        return self.Override.with_user(self.pin_user).create(
            {
                "partner_id": partner.id,
                "dimension": dimension,
                "segment_id": self._segment(dimension, code).id,
                "reason": reason,
                **values,
            }
        )

    def _history(self, partner, dimension):
        return self.env["customer.segment.history"].search(
            [("partner_id", "=", partner.id), ("dimension", "=", dimension)],
            order="id",
        )

    def test_rules_before_any_pin(self):
        self.assertSegments(self.big_buyer, value="high", lifecycle="new")
        self.assertSegments(self.small_buyer, value="low", lifecycle="new")
        self.assertEqual(self.company.segment_scale_id, self._segment("scale", "small"))
        self.assertEqual(
            self.contact.segment_job_level_id, self._segment("job_level", "junior")
        )

    def test_pin_without_expiry_survives_recomputes(self):
        pin = self._pin(self.small_buyer, "value", "medium")
        self.assertSegments(self.small_buyer, value="medium")
        self.assertEqual(pin.rule_segment_id, self._segment("value", "low"))
        self.assertEqual(pin.user_id, self.pin_user)
        self.assertTrue(pin.active)
        self._recompute_all()
        self._recompute(self.small_buyer)
        self.assertSegments(self.small_buyer, value="medium")
        # the rule changes its mind: the pin holds and shows what it says now
        self._make_order(self.small_buyer, 5000.0, days_ago(1))
        self._recompute_all()
        self.assertSegments(self.small_buyer, value="medium")
        self.assertEqual(pin.rule_segment_id, self._segment("value", "high"))
        self.assertTrue(pin.active)
        # one row for the pin; the rule changing its mind behind it writes none
        pin_row = self._history(self.small_buyer, "value").filtered(
            lambda h: h.cause == "override"
        )
        [row] = self._history(self.small_buyer, "value").filtered(
            lambda h: h.id >= pin_row[:1].id
        )
        self.assertEqual(
            (row.old_segment_id.code, row.new_segment_id.code, row.movement),
            ("low", "medium", "upgrade"),
        )
        self.assertIn("Strategic account", row.reason)
        self.assertEqual(row.user_id, self.pin_user)

    def test_pin_with_expiry_hands_back_to_the_rule(self):
        pin = self._pin(
            self.small_buyer,
            "value",
            "high",
            reason="Framework contract signed",
            date_expiry=TODAY + datetime.timedelta(days=10),
        )
        self.assertSegments(self.small_buyer, value="high")
        # the expiry date is the pin's last day
        with freeze_time(noon(10)):
            self._recompute_all()
        self.assertTrue(pin.active)
        self.assertSegments(self.small_buyer, value="high")
        self.assertEqual(pin.rule_segment_id, self._segment("value", "low"))
        with freeze_time(noon(11)):
            self.env["res.partner"]._cron_recompute_segments()
        self.assertFalse(pin.active)
        self.assertTrue(pin.date_end)
        self.assertSegments(self.small_buyer, value="low")
        [row] = self._history(self.small_buyer, "value").filtered(
            lambda h: h.cause == "expiry"
        )
        self.assertEqual(
            (row.old_segment_id.code, row.new_segment_id.code, row.movement),
            ("high", "low", "downgrade"),
        )
        self.assertIn("Pin expired", row.reason)
        # the rule's own explanation follows
        self.assertIn("bought in the last 365 days", row.reason)
        # the pin is gone for good: the next run leaves the rule's segment
        with freeze_time(noon(12)):
            self._recompute_all()
        self.assertSegments(self.small_buyer, value="low")

    def test_manual_recompute_ends_expired_pins(self):
        pin = self._pin(
            self.big_buyer,
            "lifecycle",
            "churned",
            date_expiry=TODAY + datetime.timedelta(days=1),
        )
        self.assertSegments(self.big_buyer, lifecycle="churned")
        with freeze_time(noon(2)):
            self._recompute_all()
        self.assertFalse(pin.active)
        self.assertEqual(pin.ended_by_id, self.sales_manager)
        self.assertSegments(self.big_buyer, lifecycle="new")

    def test_end_a_pin(self):
        pin = self._pin(self.big_buyer, "value", "low", reason="Disputed invoices")
        self.assertSegments(self.big_buyer, value="low")
        self.assertIs(pin.with_user(self.pin_user).action_end(), True)
        self.assertFalse(pin.active)
        self.assertEqual(pin.ended_by_id, self.pin_user)
        self.assertEqual(
            pin.date_end, datetime.datetime.combine(TODAY, datetime.time(12))
        )
        self.assertSegments(self.big_buyer, value="high")
        rows = self._history(self.big_buyer, "value")
        self.assertEqual(
            rows[-2:].mapped(
                lambda h: (h.old_segment_id.code, h.new_segment_id.code, h.cause)
            ),
            [("high", "low", "override"), ("low", "high", "expiry")],
        )
        self.assertIn(f"Pin ended by {self.pin_user.name}", rows[-1].reason)
        self.assertEqual(rows[-1].user_id, self.pin_user)
        self._recompute_all()
        self.assertSegments(self.big_buyer, value="high")

    def test_a_new_pin_ends_the_previous_one(self):
        first = self._pin(self.small_buyer, "value", "medium")
        second = self._pin(self.small_buyer, "value", "high", reason="Even better")
        self.assertFalse(first.active)
        self.assertEqual(first.ended_by_id, self.pin_user)
        self.assertTrue(second.active)
        self.assertSegments(self.small_buyer, value="high")
        self.assertEqual(
            self.Override.search(
                [("partner_id", "=", self.small_buyer.id), ("dimension", "=", "value")]
            ),
            second,
        )
        # pins on other dimensions are independent
        lifecycle = self._pin(self.small_buyer, "lifecycle", "active")
        self.assertTrue(second.active)
        self.assertTrue(lifecycle.active)

    def test_replacing_a_pin_logs_one_change(self):
        self._pin(self.small_buyer, "value", "medium")
        last = self._history(self.small_buyer, "value")[-1:].id
        self._pin(self.small_buyer, "value", "high", reason="Even better")
        rows = self._history(self.small_buyer, "value").filtered(lambda h: h.id > last)
        # the customer went from medium to high, never back to the rule's low
        self.assertEqual(
            rows.mapped(
                lambda h: (h.old_segment_id.code, h.new_segment_id.code, h.cause)
            ),
            [("medium", "high", "override")],
        )

    def test_edit_a_pin(self):
        pin = self._pin(self.small_buyer, "value", "medium")
        with Form(pin.with_user(self.pin_user), view=PIN_FORM) as form:
            form.segment_id = self._segment("value", "high")
            form.reason = "Strategic account, confirmed by the board"
        self.assertSegments(self.small_buyer, value="high")
        self.assertTrue(pin.active)
        self._recompute_all()
        self.assertSegments(self.small_buyer, value="high")

    def test_profile_dimension_pinned_on_a_contact(self):
        self.env.company.partner_id.write({"country_id": self.env.ref("base.cn").id})
        self.contact.write({"country_id": self.env.ref("base.us").id})
        self.assertEqual(
            self.contact.segment_geo_id, self._segment("geo", "international")
        )
        pin = self._pin(
            self.contact, "geo", "local", reason="Lives abroad, buys from our shop"
        )
        local = self._segment("geo", "local")
        self.assertEqual(self.contact.segment_geo_id, local)
        self._recompute_all()
        self.assertEqual(self.contact.segment_geo_id, local)
        self.assertEqual(pin.rule_segment_id, self._segment("geo", "international"))
        pin.with_user(self.pin_user).action_end()
        self.assertEqual(
            self.contact.segment_geo_id, self._segment("geo", "international")
        )

    def test_reason_is_mandatory(self):
        form = Form(
            self.Override.with_user(self.pin_user).with_context(
                default_partner_id=self.small_buyer.id
            ),
            view=PIN_FORM,
        )
        form.dimension = "value"
        form.segment_id = self._segment("value", "high")
        with self.assertRaises(AssertionError):
            form.save()
        with self.assertRaises(ValidationError) as caught:
            self._pin(self.small_buyer, "value", "high", reason="   ")
        self.assertIn("Reason", str(caught.exception))
        self.assertFalse(self.small_buyer.segment_override_ids)
        self.assertSegments(self.small_buyer, value="low")

    def test_pin_in_the_form(self):
        form = Form(
            self.Override.with_user(self.pin_user).with_context(
                default_partner_id=self.small_buyer.id
            ),
            view=PIN_FORM,
        )
        form.dimension = "value"
        form.segment_id = self._segment("value", "high")
        form.reason = "Group purchasing agreement"
        form.date_expiry = TODAY + datetime.timedelta(days=30)
        pin = form.save()
        self.assertEqual(pin.partner_id, self.small_buyer)
        self.assertEqual(pin.rule_segment_id, self._segment("value", "low"))
        self.assertSegments(self.small_buyer, value="high")

    def test_customer_dimensions_are_pinned_on_the_company(self):
        for dimension, code in (
            ("value", "high"),
            ("lifecycle", "active"),
            ("rfm", "champions"),
            ("scale", "large"),
        ):
            with self.subTest(dimension=dimension):
                with self.assertRaises(ValidationError):
                    self._pin(self.contact, dimension, code)
        self.assertFalse(self.contact.segment_override_ids)

    def test_refusal_names_no_company_the_user_cannot_read(self):
        other_company = self.env["res.company"].create({"name": "CS Pin Other Co"})
        hidden = self._make_customer(
            "Hidden Parent Company", is_company=True, company_id=other_company.id
        )
        contact = self._make_customer("Shared Contact", parent_id=hidden.id)
        contact.company_id = False
        self.assertTrue(contact.with_user(self.pin_user).has_access("read"))
        self.assertFalse(hidden.with_user(self.pin_user).has_access("read"))
        with self.assertRaises(ValidationError) as caught:
            self._pin(contact, "value", "high")
        # the contact's own name shows its company, as everywhere in Odoo
        message = str(caught.exception).replace(contact.display_name, "")
        self.assertNotIn(hidden.name, message)
        self.assertIn(contact.display_name, str(caught.exception))
        self.assertFalse(contact.segment_override_ids)

    def test_job_level_is_pinned_on_a_person(self):
        with self.assertRaises(ValidationError):
            self._pin(self.company, "job_level", "senior")
        pin = self._pin(self.contact, "job_level", "senior", reason="Owner's son")
        self.assertEqual(
            self.contact.segment_job_level_id, self._segment("job_level", "senior")
        )
        self.assertEqual(pin.rule_segment_id, self._segment("job_level", "junior"))
        self.contact.write({"function": "Sales Manager"})
        self._recompute_all()
        self.assertEqual(
            self.contact.segment_job_level_id, self._segment("job_level", "senior")
        )
        self.assertEqual(pin.rule_segment_id, self._segment("job_level", "middle"))

    def test_scale_pinned_on_the_company_reaches_its_contacts(self):
        self._pin(self.company, "scale", "large", reason="Part of a large group")
        large = self._segment("scale", "large")
        self.assertEqual(self.company.segment_scale_id, large)
        self.assertEqual(self.contact.segment_scale_id, large)
        self._recompute_all()
        self.assertEqual(self.company.segment_scale_id, large)
        self.assertEqual(self.contact.segment_scale_id, large)

    def test_dimensions_set_by_hand_cannot_be_pinned(self):
        for dimension, code in (("need", "quality"), ("psychographic", "rational")):
            with self.subTest(dimension=dimension):
                with self.assertRaises(ValidationError):
                    self._pin(self.small_buyer, dimension, code)

    def test_segment_must_belong_to_the_dimension(self):
        with self.assertRaises(ValidationError):
            self.Override.with_user(self.pin_user).create(
                {
                    "partner_id": self.small_buyer.id,
                    "dimension": "value",
                    "segment_id": self._segment("lifecycle", "active").id,
                    "reason": "Wrong dimension",
                }
            )
        self.assertSegments(self.small_buyer, value="low", lifecycle="new")

    def test_plain_segmentation_user_cannot_pin(self):
        Override = self.Override.with_user(self.plain_user)
        with self.assertRaises(AccessError):
            Override.create(
                {
                    "partner_id": self.small_buyer.id,
                    "dimension": "value",
                    "segment_id": self._segment("value", "high").id,
                    "reason": "I would like to",
                }
            )
        self.assertSegments(self.small_buyer, value="low")
        pin = self._pin(self.small_buyer, "value", "high")
        # sees the pin, cannot end it
        self.assertEqual(
            self.small_buyer.with_user(self.plain_user).segment_override_ids, pin
        )
        with self.assertRaises(AccessError):
            pin.with_user(self.plain_user).action_end()
        self.assertTrue(pin.active)
        self.assertSegments(self.small_buyer, value="high")

    def test_pin_group_pins_and_ends_but_does_not_delete(self):
        self.assertTrue(
            self.pin_user.has_group("customer_segmentation.group_segmentation_user")
        )
        self.assertFalse(
            self.plain_user.has_group("customer_segmentation.group_segmentation_pin")
        )
        self.assertTrue(
            self.sales_manager.has_group("customer_segmentation.group_segmentation_pin")
        )
        pin = self._pin(self.small_buyer, "value", "high")
        pin.with_user(self.pin_user).action_end()
        with self.assertRaises(AccessError):
            pin.with_user(self.pin_user).unlink()
        pin.with_user(self.sales_manager).unlink()
        self.assertFalse(pin.exists())
