"""The partner field of a dimension is named by the module, never by a user:
no foreign column is written or dropped, even from a value stored before."""

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import SQL

from .test_custom_dimension import FIELD, CustomDimensionCase


class DimensionFieldCase(CustomDimensionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.parent = cls._make_customer("Unrelated Company", is_company=True)
        cls.emails = {p.id: p.email for p in cls.ours}

    def _forge_partner_field(self, dimension, value):
        """Store a partner field as a database could hold it from before."""
        self.env.execute_query(
            SQL(
                "UPDATE customer_segment_dimension SET partner_field = %s "
                "WHERE id = %s",
                value,
                dimension.id,
            )
        )
        dimension.invalidate_recordset(["partner_field"])
        self.env.registry.clear_cache()
        self.env.registry.clear_cache("templates")  # the views built from it


@tagged("post_install", "-at_install")
class TestDimensionField(DimensionFieldCase):
    def test_partner_field_from_the_caller_is_refused(self):
        Dimension = self.env["customer.segment.dimension"].with_user(self.manager)
        count = Dimension.search_count([])
        for field_name in ("parent_id", "email", "name", FIELD, "x_cs_other_id"):
            with self.subTest(field=field_name):
                with self.assertRaises(UserError) as caught:
                    Dimension.create(
                        {
                            "name": "Hostile",
                            "code": "hostile",
                            "partner_field": field_name,
                        }
                    )
                self.assertIn("partner_field", str(caught.exception))
                self.assertIn("x_cs_hostile_id", str(caught.exception))
        for field_name in ("parent_id", "email", "x_cs_other_id", False):
            with self.subTest(field=field_name):
                with self.assertRaises(UserError):
                    self.dimension.with_user(self.manager).write(
                        {"partner_field": field_name}
                    )
        self.assertEqual(Dimension.search_count([]), count)
        self.assertEqual(self.dimension.partner_field, FIELD)
        # the name the module gives passes (a record exported and imported)
        self.dimension.with_user(self.manager).write({"partner_field": FIELD})

    def test_shipped_dimensions_get_their_field_from_the_code(self):
        dimensions = self.env["customer.segment.dimension"].search([])
        self.assertEqual(
            {d.code: d.partner_field for d in dimensions},
            {
                "value": "segment_value_id",
                "lifecycle": "segment_lifecycle_id",
                "rfm": "segment_rfm_id",
                "geo": "segment_geo_id",
                "scale": "segment_scale_id",
                "job_level": "segment_job_level_id",
                "need": "segment_need_ids",
                "psychographic": "segment_psychographic_id",
                "work_type": FIELD,
            },
        )

    def test_forged_parent_id_is_never_written(self):
        # every contact matches a segment of the dimension
        self.service.write({"rule_domain": "[('id', '!=', 0)]"})
        self._forge_partner_field(self.dimension, "parent_id")
        self._recompute_all(self.manager)
        self.env["res.partner"].with_user(self.user).create({"name": "Newcomer"})
        self.mason.with_user(self.user).write({"function": "Site Manager"})
        self.assertEqual(self.ours.mapped("parent_id"), self.env["res.partner"])
        self.assertEqual(self.mason[FIELD], self.construction)
        self.assertEqual(self.accountant[FIELD], self.service)

    def test_forged_text_column_breaks_nothing(self):
        for column in ("email", "vat", "name"):
            with self.subTest(column=column):
                self._forge_partner_field(self.dimension, column)
                summary = self._recompute_all(self.manager)
                self.assertGreaterEqual(summary["customers"], len(self.ours))
                contact = (
                    self.env["res.partner"]
                    .with_user(self.user)
                    .create({"name": "Contact", "email": "contact@example.com"})
                )
                self.accountant.with_user(self.user).write(
                    {"industry_id": self.manufacturing_industry.id}
                )
                self.assertEqual(contact.email, "contact@example.com")
                self.assertEqual(self.accountant[FIELD], self.manufacturing)
                self.assertEqual({p.id: p.email for p in self.ours}, self.emails)
                self.assertEqual(
                    self.ours.mapped("name"),
                    ["Mason", "Welder", "Site Technician", "Cleaner", "Accountant"],
                )

    def test_forged_value_does_not_reach_the_views_nor_the_actions(self):
        self._forge_partner_field(self.dimension, "parent_id")
        arch = (
            self.env["res.partner"]
            .with_user(self.user)
            .get_views([(False, "search")])["views"]["search"]["arch"]
        )
        self.assertIn(f"groupby_{FIELD}", arch)
        self.assertNotIn("groupby_parent_id", arch)
        action = self.dimension.with_user(self.user).action_view_customers()
        self.assertEqual(action["context"]["group_by"], [FIELD])


# Creates and drops partner fields: a class of its own (see test_custom_dimension).
@tagged("post_install", "-at_install")
class TestDimensionFieldDeletion(DimensionFieldCase):
    def test_deleting_a_dimension_drops_only_its_own_field(self):
        site = (
            self.env["customer.segment.dimension"]
            .with_user(self.manager)
            .create(
                {
                    "name": "Site",
                    "code": "site",
                    "segment_ids": [
                        Command.create(
                            {
                                "name": "Everyone",
                                "code": "everyone",
                                "rule_domain": "[]",
                            }
                        )
                    ],
                }
            )
        )
        self.assertIn("x_cs_site_id", self.env["res.partner"]._fields)
        # the other dimension's field, or a field of the module, or of Odoo
        for victim in ("parent_id", "segment_value_id", FIELD):
            self._forge_partner_field(site, victim)
            self._recompute_all(self.manager)
        site.with_user(self.manager).unlink()
        Fields = self.env["ir.model.fields"]
        self.assertTrue(Fields._get("res.partner", FIELD))
        self.assertIn(FIELD, self.env["res.partner"]._fields)
        self.assertFalse(Fields._get("res.partner", "x_cs_site_id"))
        self.assertNotIn("x_cs_site_id", self.env["res.partner"]._fields)
        self._recompute_all(self.manager)
        self.assertEqual(self.mason[FIELD], self.construction)
