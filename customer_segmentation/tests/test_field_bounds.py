"""What managers and users may type into the module's fields is typed and
bounded: a clear error naming the field, and nothing written."""

import datetime
import math

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import TODAY, SegmentationCase, days_ago

# (field, value) refused on a segment
BAD_SEGMENT_VALUES = [
    ("followup_days", -1),
    ("followup_days", 3651),
    ("followup_days", "abc"),
    ("followup_days", math.nan),
    ("followup_days", 2**40),
    ("strategy_priority", 1001),
    ("strategy_priority", True),
    ("sequence", -5),
    ("sequence", 2**31),
    ("rank", 10**9),
    ("color", 12),
    ("color", 1.5),
    ("rfm_recency_min", 0),
    ("rfm_frequency_max", 6),
    ("name", "N" * 101),
    ("name", ["a list"]),
    ("code", "Not A Code"),
    ("code", "c" * 41),
    ("job_title_keywords", "k, " * 700),
    ("description", "d" * 5001),
    ("rule_domain", "[" * 5001),
    ("manager_policy", "everyone"),
    ("dimension", "no_such_dimension"),
    ("is_churn", "false"),
    ("manager_team_id", "Sales"),
    ("manager_team_id", 10**9),
    ("pricelist_id", -1),
]
# (field, value) refused on a dimension
BAD_DIMENSION_VALUES = [
    ("name", "N" * 101),
    ("sequence", 10**12),
    ("sequence", "first"),
    ("description", "d" * 5001),
]
# (field, value) refused on a company
BAD_PARTNER_VALUES = [
    ("segmentation_employee_count", -1),
    ("segmentation_employee_count", 10_000_001),
    ("segmentation_employee_count", 2**40),
    ("segmentation_employee_count", "many"),
    ("segmentation_employee_count", math.inf),
    ("segmentation_employee_count", 12.5),
    ("segmentation_annual_revenue", -0.01),
    ("segmentation_annual_revenue", 1e15),
    ("segmentation_annual_revenue", math.inf),
    ("segmentation_annual_revenue", math.nan),
    ("segmentation_annual_revenue", "1000"),
    ("segmentation_decision_maker", "no"),
    ("segment_psychographic_id", "rational"),
    ("segment_psychographic_id", 10**9),
]


class FieldBoundsCase(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contact_user = new_test_user(
            cls.env,
            "cs_bounds_contact_user",
            groups="customer_segmentation.group_segmentation_user,"
            "base.group_partner_manager",
        )
        cls.pin_user = new_test_user(
            cls.env,
            "cs_bounds_pin_user",
            groups="customer_segmentation.group_segmentation_pin",
        )
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.company = cls._make_customer(
            "Bounded Company",
            is_company=True,
            segmentation_employee_count=300,
            segmentation_annual_revenue=1000.0,
        )
        cls._make_order(cls.company, 100.0, days_ago(10))

    def assertRefused(self, exception, field):
        message = str(exception)
        self.assertIn(f"({field})", message)
        self.assertLess(len(message), 1000, "a message never echoes a huge value")


@tagged("post_install", "-at_install")
class TestFieldBounds(FieldBoundsCase):
    def test_segment_values_are_typed_and_bounded(self):
        segment = self.high.with_user(self.sales_manager)
        before = segment.read([field for field, _value in BAD_SEGMENT_VALUES])
        Segment = self.env["customer.segment"].with_user(self.sales_manager)
        for field, value in BAD_SEGMENT_VALUES:
            with self.subTest(field=field, value=str(value)[:20]):
                with self.assertRaises(ValidationError) as caught:
                    segment.write({field: value})
                self.assertRefused(caught.exception, field)
                self.assertIn(self.high.name, str(caught.exception))
                with self.assertRaises(ValidationError) as caught:
                    Segment.create(
                        {
                            "name": "Bounded",
                            "code": "bounded",
                            "dimension": "value",
                            field: value,
                        }
                    )
                self.assertRefused(caught.exception, field)
        self.assertEqual(segment.read([f for f, _v in BAD_SEGMENT_VALUES]), before)
        self.assertFalse(Segment.search([("code", "=", "bounded")]))

    def test_segment_values_at_their_bounds_are_kept(self):
        values = {
            "followup_days": 3650,
            "strategy_priority": 1000,
            "sequence": 1_000_000,
            "rank": -1000,
            "color": 11,
            "name": "N" * 100,
        }
        self.high.with_user(self.sales_manager).write(values)
        self.assertRecordValues(self.high, [values])
        self.env["res.partner"].with_user(self.sales_manager).apply_segment_strategies()

    def test_dimension_values_are_typed_and_bounded(self):
        dimension = self.env.ref("customer_segmentation.dimension_geo").with_user(
            self.sales_manager
        )
        for field, value in BAD_DIMENSION_VALUES:
            with self.subTest(field=field, value=str(value)[:20]):
                with self.assertRaises(ValidationError) as caught:
                    dimension.write({field: value})
                self.assertRefused(caught.exception, field)
        self.env["res.lang"]._activate_lang("fr_FR")
        with self.assertRaises(ValidationError) as caught:
            dimension.update_field_translations("name", {"fr_FR": "N" * 101})
        self.assertRefused(caught.exception, "name")
        self.assertEqual(dimension.name, "Geography")

    def test_followup_activity_is_an_activity_of_contacts(self):
        lead_call = self.env["mail.activity.type"].create(
            {"name": "Call the Lead", "res_model": "crm.lead"}
        )
        with self.assertRaises(ValidationError) as caught:
            self.high.with_user(self.sales_manager).write(
                {"followup_activity_type_id": lead_call.id}
            )
        self.assertRefused(caught.exception, "followup_activity_type_id")
        call = self.env.ref("mail.mail_activity_data_call")
        self.high.with_user(self.sales_manager).followup_activity_type_id = call

    def test_partner_figures_are_typed_and_bounded(self):
        company = self.company.with_user(self.contact_user)
        for field, value in BAD_PARTNER_VALUES:
            with self.subTest(field=field, value=value):
                with self.assertRaises(ValidationError) as caught:
                    company.write({field: value})
                self.assertRefused(caught.exception, field)
                with self.assertRaises(ValidationError) as caught:
                    company.create(
                        {"name": "Bounded", "is_company": True, field: value}
                    )
                self.assertRefused(caught.exception, field)
        self.assertEqual(
            (company.segmentation_employee_count, company.segmentation_annual_revenue),
            (300, 1000.0),
        )
        company.write(
            {
                "segmentation_employee_count": 10_000_000,
                "segmentation_annual_revenue": 1e14,
            }
        )
        self.assertEqual(company.segment_scale_id.code, "large")

    def test_pin_reason_and_expiry_are_bounded(self):
        Pin = self.env["customer.segment.override"].with_user(self.pin_user)
        values = {
            "partner_id": self.company.id,
            "dimension": "value",
            "segment_id": self.high.id,
            "reason": "Framework contract",
        }
        for field, value in (
            ("reason", "r" * 1001),
            ("reason", ["a", "list"]),
            ("date_expiry", TODAY - datetime.timedelta(days=1)),
            ("date_expiry", TODAY + datetime.timedelta(days=3651)),
            ("date_expiry", "9999-99-99"),
            ("date_expiry", 20260701),
            ("dimension", "everything"),
            ("segment_id", [1]),
        ):
            with self.subTest(field=field, value=str(value)[:20]):
                with self.assertRaises(ValidationError) as caught:
                    Pin.create({**values, field: value})
                self.assertRefused(caught.exception, field)
        self.assertFalse(Pin.search([("partner_id", "=", self.company.id)]))
        pin = Pin.create({**values, "date_expiry": TODAY})
        with self.assertRaises(ValidationError) as caught:
            pin.write({"date_expiry": TODAY - datetime.timedelta(days=1)})
        self.assertRefused(caught.exception, "date_expiry")
        self.assertEqual(pin.date_expiry, TODAY)

    def test_rule_reading_a_field_the_manager_cannot_read_is_refused(self):
        manager = new_test_user(
            self.env,
            "cs_bounds_segmentation_manager",
            groups="customer_segmentation.group_segmentation_manager",
        )
        need = self.env.ref("customer_segmentation.segment_need_price")
        for rule in (
            "[('credit_limit', '>', 1000)]",
            "[('signup_type', '=', 'signup')]",
            "[('child_ids.credit_limit', '>', 0)]",
        ):
            with self.subTest(rule=rule):
                with self.assertRaises(ValidationError) as caught:
                    need.with_user(manager).write({"rule_domain": rule})
                self.assertIn("Rule", str(caught.exception))
                self.assertIn(need.name, str(caught.exception))
        self.assertFalse(need.rule_domain)
        # a rule on what the manager may read is kept
        need.with_user(manager).write({"rule_domain": "[('is_company', '=', True)]"})
        self.assertEqual(need.rule_domain, "[('is_company', '=', True)]")


@tagged("post_install", "-at_install")
class TestClassificationFields(FieldBoundsCase):
    """Fields computed by the classification and the strategies are never
    typed: writing them by hand would bypass a churn dismissal's reason, a
    pool claim's limit or the classification itself."""

    def test_users_cannot_write_the_classification(self):
        self._recompute_all()
        before = self._snapshot(self.company)
        for user in (self.salesman, self.sales_manager, self.contact_user):
            for values in (
                {"segment_value_id": self.high.id},
                {"rfm_monetary": 10**6},
                {"churn_dismissed": True},
                {"segmentation_in_pool": True},
                {"segmentation_pricelist_id": False},
                {"first_order_date": "2000-01-01"},
            ):
                with self.subTest(user=user.login, values=values):
                    with self.assertRaises(UserError) as caught:
                        self.company.with_user(user).write(values)
                    self.assertRefused(caught.exception, next(iter(values)))
        with self.assertRaises(UserError) as caught:
            self.env["res.partner"].with_user(self.salesman).create(
                {"name": "Pooled", "segmentation_in_pool": True}
            )
        self.assertRefused(caught.exception, "segmentation_in_pool")
        # a view grouped by a segment gives it as a default: ignored
        contact = (
            self.env["res.partner"]
            .with_user(self.salesman)
            .with_context(
                default_segmentation_in_pool=True,
                default_segment_value_id=self.high.id,
            )
            .create({"name": "From a Grouped View"})
        )
        self.assertFalse(contact.segmentation_in_pool)
        self.assertFalse(contact.segment_value_id)
        self.assertEqual(self._snapshot(self.company), before)
        self.assertFalse(self.company.segmentation_in_pool)

    def test_duplicate_is_classified_on_its_own(self):
        self._recompute_all()
        self.assertTrue(self.company.last_order_date)
        copy = self.company.with_user(self.contact_user).copy()
        self.assertFalse(copy.last_order_date)
        self.assertFalse(copy.segment_value_id)
        self.assertEqual(copy.segment_scale_id.code, "large")

    def test_merge_by_a_user_recomputes_the_classification(self):
        merger = new_test_user(
            self.env,
            "cs_bounds_merger",
            groups="customer_segmentation.group_segmentation_user,"
            "base.group_partner_manager,base.group_system",
        )
        other = self._make_customer("Bounded Company Duplicate", is_company=True)
        self._make_order(other, 100.0, days_ago(400))
        self._recompute_all()
        wizard = (
            self.env["base.partner.merge.automatic.wizard"].with_user(merger).create({})
        )
        wizard._merge((self.company + other).ids, dst_partner=other.with_user(merger))
        self._classify_queued()
        self.assertFalse(self.company.exists())
        self.assertEqual(other.last_order_date, days_ago(10))
        self.assertSegments(other, lifecycle="active")

    def test_manual_segment_of_another_dimension_is_refused(self):
        rational = self.env.ref("customer_segmentation.segment_psychographic_rational")
        price = self.env.ref("customer_segmentation.segment_need_price")
        company = self.company.with_user(self.contact_user)
        for values in (
            {"segment_psychographic_id": self.high.id},
            {"segment_psychographic_id": price.id},
            {"segment_need_ids": [Command.link(rational.id)]},
            {"segment_need_ids": [Command.set([price.id, self.high.id])]},
        ):
            with self.subTest(values=values):
                with self.assertRaises(ValidationError) as caught:
                    company.write(values)
                self.assertRefused(caught.exception, next(iter(values)))
                with self.assertRaises(ValidationError):
                    company.create({"name": "Contact", **values})
        company.write(
            {
                "segment_psychographic_id": rational.id,
                "segment_need_ids": [Command.link(price.id)],
            }
        )
        self.assertEqual(company.segment_psychographic_id, rational)
        self.assertEqual(company.segment_need_ids, price)
