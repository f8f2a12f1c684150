"""Fields the module maintains cannot be written by users, whatever the web
client shows: ``readonly=True`` is a hint to the web client only."""

import datetime

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import SegmentationCase, days_ago

# A value of the right type for each engine-owned partner field.
ENGINE_VALUES = {
    "first_order_date": "2020-01-01",
    "last_order_date": "2020-01-01",
    "rfm_frequency": 99,
    "rfm_monetary": 1e9,
    "segmentation_revenue": 1e9,
    "rfm_recency_score": 5,
    "rfm_frequency_score": 5,
    "rfm_monetary_score": 5,
    "segmentation_last_interaction": "2020-01-01",
    "churn_typical_gap_days": 1,
    "churn_risk_score": 0,
    "churn_dismissed": True,
    "churn_dismiss_reason": "Never mind",
    "churn_dismissed_order_date": "2020-01-01",
    "churn_warned_order_date": "2020-01-01",
    "segmentation_manager_since": "2020-01-01",
    "segmentation_in_pool": False,
    "segmentation_pool_date": False,
    "segmentation_tag_ids": [Command.clear()],
    "segmentation_pricelist_id": False,
    "segmentation_previous_pricelist_id": False,
    "purchase_days": 5,
    "repeat_spend": 10.0,
    "model_alive_probability": 0.5,
    "model_expected_purchases": 1.0,
    "model_expected_value": 100.0,
    "model_alive_band": "high",
    "model_purchases_band": "some",
    "model_value_band": "high",
}
SEGMENT_OF = {
    "segment_value_id": ("value", "high"),
    "segment_lifecycle_id": ("lifecycle", "active"),
    "segment_rfm_id": ("rfm", "champions"),
    "segment_geo_id": ("geo", "local"),
    "segment_scale_id": ("scale", "large"),
    "segment_job_level_id": ("job_level", "senior"),
}
# Every partner field the module maintains.
ENGINE_FIELDS = (
    frozenset(ENGINE_VALUES) | frozenset(SEGMENT_OF) | {"segmentation_figure_id"}
)


@tagged("post_install", "-at_install")
class TestEngineFields(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner_manager = new_test_user(
            cls.env,
            "cs_engine_partner_manager",
            groups="sales_team.group_sale_salesman,base.group_partner_manager",
        )
        cls.pin_user = new_test_user(
            cls.env,
            "cs_engine_pin_user",
            groups="customer_segmentation.group_segmentation_pin",
        )
        cls.customer = cls._make_customer("Pooled Customer", user_id=False)
        cls._make_order(cls.customer, 100.0, days_ago(10))
        cls.env["res.partner"].recompute_all_segments()
        cls.customer.write(
            {
                "segmentation_in_pool": True,
                "segmentation_pool_date": "2026-06-01 08:00:00",
                "churn_risk_score": 80,
            }
        )

    def _values(self):
        return {name: ENGINE_VALUES.get(name) for name in ENGINE_FIELDS} | {
            name: self._segment(*SEGMENT_OF[name]).id for name in SEGMENT_OF
        }

    def _columns(self, partner):
        """The stored engine fields of ``partner`` and its figures in every
        company, read with SQL."""
        fields_ = partner._fields
        columns = sorted(
            name
            for name in ENGINE_FIELDS
            if fields_[name].store and fields_[name].column_type
        )
        # the figure columns the partner fields show (two may show one)
        figures = sorted(
            {
                fields_[name].related.rsplit(".", 1)[-1]
                for name in ENGINE_FIELDS
                if not fields_[name].store
            }
        )
        self.env.flush_all()
        self.env.cr.execute(
            f"SELECT {', '.join(columns)} FROM res_partner WHERE id = %s",  # noqa: S608
            [partner.id],
        )
        values = dict(zip(columns, self.env.cr.fetchone(), strict=True))
        self.env.cr.execute(
            f"SELECT company_id, {', '.join(figures)} "  # noqa: S608
            "FROM customer_segmentation_figure WHERE partner_id = %s ORDER BY 1",
            [partner.id],
        )
        values["figures"] = self.env.cr.fetchall()
        return values

    def test_every_engine_field_is_listed(self):
        self.assertEqual(
            set(self.env["res.partner"]._segmentation_engine_fields()),
            set(ENGINE_FIELDS),
        )

    def test_users_cannot_write_engine_fields(self):
        before = self._columns(self.customer)
        for user in (self.salesman, self.sales_manager, self.partner_manager):
            for name, value in self._values().items():
                with self.subTest(user=user.login, field=name):
                    with self.assertRaises(UserError) as caught:
                        self.customer.with_user(user).write({name: value})
                    self.assertIn(f"({name})", str(caught.exception))
        # a manual field next to an engine field does not get through either
        with self.assertRaises(UserError):
            self.customer.with_user(self.salesman).write(
                {"segmentation_decision_maker": True, "segmentation_in_pool": False}
            )
        self.assertEqual(self._columns(self.customer), before)
        self.assertFalse(self.customer.segmentation_decision_maker)

    def test_users_cannot_create_with_engine_fields(self):
        Partner = self.env["res.partner"].with_user(self.salesman)
        for name, value in self._values().items():
            with self.subTest(field=name):
                with self.assertRaises(UserError) as caught:
                    Partner.create({"name": "Forged", name: value})
                self.assertIn(f"({name})", str(caught.exception))
        self.assertFalse(
            self.env["res.partner"].search([("name", "=", "Forged")]),
        )
        # a default from a grouped view is ignored, not written
        grouped = Partner.with_context(default_segmentation_in_pool=True).create(
            {"name": "From a Grouped View"}
        )
        self.assertFalse(grouped.sudo().segmentation_in_pool)

    def test_users_write_the_fields_set_by_hand(self):
        need = self.env["customer.segment"].create(
            {"name": "Financing", "dimension": "need", "code": "cs_financing"}
        )
        values = {
            "segment_psychographic_id": self._segment("psychographic", "rational").id,
            "segment_need_ids": [Command.link(need.id)],
            "segmentation_decision_maker": True,
            "segmentation_employee_count": 250,
            "segmentation_annual_revenue": 1e6,
        }
        self.customer.with_user(self.salesman).write(values)
        self.assertRecordValues(
            self.customer,
            [{**values, "segment_need_ids": need.ids}],
        )
        created = (
            self.env["res.partner"]
            .with_user(self.salesman)
            .create({"name": "New Company", "is_company": True, **values})
        )
        self.assertEqual(created.segmentation_employee_count, 250)

    def test_the_module_writes_them(self):
        # the module's own code: a claim moves the customer out of the pool
        self.customer.with_user(self.salesman).action_claim_from_pool()
        self.assertFalse(self.customer.segmentation_in_pool)
        self.assertEqual(self.customer.user_id, self.salesman)

    def test_a_copy_is_a_new_customer(self):
        copy = self.customer.with_user(self.salesman).copy()
        self.assertRecordValues(
            copy,
            [
                {
                    "segmentation_in_pool": False,
                    "segmentation_pool_date": False,
                    "churn_risk_score": 0,
                    "rfm_frequency": 0,
                    "segment_value_id": False,
                    "last_order_date": False,
                }
            ],
        )

    def test_partner_manager_merges_customers(self):
        # Odoo merges contacts of one email address only, for non-admins
        self.customer.email = "pooled@example.com"
        duplicate = self._make_customer(
            "Pooled Customer (duplicate)", email="pooled@example.com"
        )
        self._make_order(duplicate, 200.0, days_ago(5))
        # Odoo's merge reads every field of the contacts: an administrator's
        # groups, but not the superuser
        merger = new_test_user(
            self.env,
            "cs_engine_merger",
            groups="sales_team.group_sale_salesman,base.group_system,"
            "base.group_partner_manager,account.group_account_invoice",
        )
        self.env["base.partner.merge.automatic.wizard"].with_user(merger)._merge(
            (duplicate | self.customer).ids, dst_partner=self.customer
        )
        self._classify_queued()
        self.assertFalse(duplicate.exists())
        # the engine reclassified the destination; its pool state is its own
        self.assertEqual(self.customer.last_order_date, days_ago(5))
        self.assertEqual(self.customer.rfm_frequency, 2)
        self.assertTrue(self.customer.segmentation_in_pool)

    def test_pin_fields_set_by_the_module(self):
        Override = self.env["customer.segment.override"].with_user(self.pin_user)
        valid = {
            "partner_id": self.customer.id,
            "dimension": "value",
            "segment_id": self._segment("value", "low").id,
            "reason": "Pays late",
        }
        forged = {
            "active": False,
            "user_id": self.sales_manager.id,
            "rule_segment_id": self._segment("value", "high").id,
            "ended_by_id": self.sales_manager.id,
            "date_end": "2026-01-01 00:00:00",
            "company_id": False,
        }
        for name, value in forged.items():
            with self.subTest(create=name):
                with self.assertRaises(UserError) as caught:
                    Override.create({**valid, name: value})
                self.assertIn(f"({name})", str(caught.exception))
        pin = Override.create(valid)
        before = pin.read(list(forged))
        for user in (self.pin_user, self.sales_manager):
            for name, value in forged.items():
                with self.subTest(user=user.login, write=name):
                    with self.assertRaises(UserError) as caught:
                        pin.with_user(user).write({name: value})
                    self.assertIn(f"({name})", str(caught.exception))
            with self.subTest(user=user.login, action="archive"):
                with self.assertRaises(UserError):
                    pin.with_user(user).action_archive()
        self.assertEqual(pin.read(list(forged)), before)
        self.assertEqual(pin.user_id, self.pin_user)
        # ending it is the way
        pin.with_user(self.pin_user).action_end()
        self.assertRecordValues(
            pin, [{"active": False, "ended_by_id": self.pin_user.id}]
        )
        with self.assertRaises(UserError):
            pin.with_user(self.sales_manager).action_unarchive()
        self.assertFalse(pin.active)

    def test_runs_and_counters_are_the_engine_s(self):
        run = self.env["customer.segmentation.run"].search([], limit=1)
        for values in ({"state": "running"}, {"stats": {}}, {"customers_done": 0}):
            with self.subTest(values=values):
                with self.assertRaises(AccessError):
                    run.with_user(self.sales_manager).write(values)
        Counter = self.env["customer.segmentation.claim.counter"]
        with self.assertRaises(AccessError):
            Counter.with_user(self.salesman).create(
                {"user_id": self.salesman.id, "day": datetime.date.today()}
            )
        self.customer.with_user(self.salesman).action_claim_from_pool()
        counter = Counter.with_user(self.salesman).search([])
        self.assertRecordValues(counter, [{"user_id": self.salesman.id, "claims": 1}])
        with self.assertRaises(AccessError):
            counter.write({"claims": 0})
        with self.assertRaises(AccessError):
            counter.unlink()
        self.assertEqual(Counter.with_user(self.sales_manager).search([]), counter)
        self.assertFalse(Counter.with_user(self.partner_manager).search([]))


# Creating a dimension changes the registry, which the rollback after a test
# does not restore: one test per class (see test_custom_dimension).
@tagged("post_install", "-at_install")
class TestEngineFieldsOfCustomDimensions(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.by_hand = cls._dimension("cs_by_hand", "manual")
        cls.by_rule = cls._dimension("cs_by_rule", "domain")
        cls.customer = cls._make_customer("Customer")

    @classmethod
    def _dimension(cls, code, rule_type):
        return (
            cls.env["customer.segment.dimension"]
            .with_user(cls.sales_manager)
            .create(
                {
                    "name": code.title(),
                    "code": code,
                    "rule_type": rule_type,
                    "segment_ids": [
                        Command.create({"name": "A", "code": "a", "dimension": code})
                    ],
                }
            )
        )

    def test_fields_of_dimensions_set_by_hand_only(self):
        customer = self.customer.with_user(self.salesman)
        by_hand, by_rule = self.by_hand, self.by_rule
        customer.write({by_hand.partner_field: by_hand.segment_ids.id})
        self.assertEqual(customer[by_hand.partner_field], by_hand.segment_ids)
        with self.assertRaises(UserError) as caught:
            customer.write({by_rule.partner_field: by_rule.segment_ids.id})
        self.assertIn(f"({by_rule.partner_field})", str(caught.exception))
        self.assertFalse(customer[by_rule.partner_field])
