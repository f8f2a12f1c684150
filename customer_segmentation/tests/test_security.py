from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged, users

from .common import SEGMENTATION_FIELDS, SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestSecurity(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._make_customer("Segmented Customer")
        cls._make_order(cls.customer, 100.0, days_ago(10))
        cls.env["res.partner"].recompute_all_segments()

    def _unused_segment(self):
        return (
            self.env["customer.segment"]
            .sudo()
            .create({"name": "Unused", "dimension": "value", "code": "unused"})
        )

    def test_sales_groups_imply_segmentation_groups(self):
        self.assertTrue(
            self.salesman.has_group("customer_segmentation.group_segmentation_user")
        )
        self.assertFalse(
            self.salesman.has_group("customer_segmentation.group_segmentation_manager")
        )
        self.assertTrue(
            self.sales_manager.has_group(
                "customer_segmentation.group_segmentation_manager"
            )
        )
        self.assertFalse(
            self.internal_user.has_group(
                "customer_segmentation.group_segmentation_user"
            )
        )

    @users("cs_salesman", "cs_sales_manager")
    def test_sales_users_read_segments_and_partner_segmentation(self):
        segments = self.env["customer.segment"].search_read(
            [("dimension", "=", "lifecycle")], ["name", "code", "customer_count"]
        )
        self.assertIn("new", [segment["code"] for segment in segments])
        [values] = self.customer.with_env(self.env).read(list(SEGMENTATION_FIELDS))
        self.assertEqual(
            values["segment_lifecycle_id"][0], self._segment("lifecycle", "new").id
        )
        self.assertEqual(values["rfm_frequency"], 1)
        self.assertTrue(self.env["customer.segmentation.run"].search([]))

    @users("cs_salesman")
    def test_salesman_cannot_manage_segments(self):
        Segment = self.env["customer.segment"]
        with self.assertRaises(AccessError):
            Segment.create({"name": "Mine", "dimension": "value", "code": "mine"})
        segment = self._segment("value", "low").with_env(self.env)
        with self.assertRaises(AccessError):
            segment.write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            self._unused_segment().with_env(self.env).unlink()

    @users("cs_salesman")
    def test_salesman_cannot_recompute_everyone(self):
        with self.assertRaises(AccessError):
            self.env["res.partner"].recompute_all_segments()

    @users("cs_salesman")
    def test_runs_are_read_only(self):
        run = self.env["customer.segmentation.run"].search([], limit=1)
        self.assertTrue(run.customers_total)
        with self.assertRaises(AccessError):
            run.write({"customers_total": 0})
        with self.assertRaises(AccessError):
            run.unlink()
        with self.assertRaises(AccessError):
            self.env["customer.segmentation.run"].create({"trigger": "manual"})

    @users("cs_sales_manager")
    def test_manager_manages_segments(self):
        Segment = self.env["customer.segment"]
        segment = Segment.create(
            {"name": "Key Accounts", "dimension": "value", "code": "key"}
        )
        segment.write({"name": "Key Accounts (renamed)", "sequence": 5})
        self.assertEqual(segment.name, "Key Accounts (renamed)")
        segment.unlink()
        self.assertFalse(segment.exists())
        summary = self.env["res.partner"].recompute_all_segments()
        self.assertIsInstance(summary["run_id"], int)

    @users("cs_sales_manager")
    def test_segment_in_use_cannot_be_deleted(self):
        for dimension, code in (
            ("value", "high"),
            ("lifecycle", "new"),
            # the only customer buying scores 5 on everything
            ("rfm", "champions"),
        ):
            with self.subTest(dimension=dimension):
                segment = self._segment(dimension, code).with_env(self.env)
                self.assertEqual(self.customer[f"segment_{dimension}_id"], segment)
                with self.assertRaises(UserError):
                    segment.unlink()
                self.assertTrue(segment.exists())
        unused = self._segment("lifecycle", "churned").with_env(self.env)
        unused.unlink()
        self.assertFalse(unused.exists())

    @users("cs_internal")
    def test_internal_user_cannot_see_segmentation(self):
        customer = self.customer.with_env(self.env)
        self.assertEqual(customer.read(["name"])[0]["name"], "Segmented Customer")
        for field_name in ("segment_value_id", "segment_lifecycle_id", "rfm_monetary"):
            with self.subTest(field=field_name):
                with self.assertRaises(AccessError):
                    customer.read([field_name])
        with self.assertRaises(AccessError):
            self.env["customer.segment"].search_read([], ["name"])
        with self.assertRaises(AccessError):
            customer.action_recompute_segments()

    def test_recompute_needs_read_access_to_the_partners(self):
        other_company = self.env["res.company"].create({"name": "Other Company"})
        hidden = self._make_customer(
            "Other Company's Customer", company_id=other_company.id
        )
        with self.assertRaises(AccessError):
            self._recompute(hidden)
        # a user of both companies may
        self.salesman.write({"company_ids": [Command.link(other_company.id)]})
        both_companies = [self.env.company.id, other_company.id]
        self.assertIs(
            self._recompute(hidden.with_context(allowed_company_ids=both_companies)),
            True,
        )
