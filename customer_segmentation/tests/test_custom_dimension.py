"""Dimensions a manager defines, each segment a domain on contacts."""

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from .common import SegmentationCase

FIELD = "x_cs_work_type_id"


class CustomDimensionCase(SegmentationCase):
    """A manager's "Work Type" dimension: construction, manufacturing and
    service workers, by the industry and the job title of the contact."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Industry = cls.env["res.partner.industry"]
        cls.construction_industry = Industry.create({"name": "CS Construction"})
        cls.manufacturing_industry = Industry.create({"name": "CS Manufacturing"})
        cls.manager = new_test_user(
            cls.env,
            "cs_custom_manager",
            groups="customer_segmentation.group_segmentation_manager",
        )
        cls.user = new_test_user(
            cls.env,
            "cs_custom_user",
            groups="customer_segmentation.group_segmentation_user,"
            "base.group_partner_manager",
        )
        cls.mason = cls._make_customer(
            "Mason",
            industry_id=cls.construction_industry.id,
            function="Bricklayer",
        )
        cls.welder = cls._make_customer(
            "Welder", industry_id=cls.manufacturing_industry.id, function="Welder"
        )
        # matches construction and service: construction comes first
        cls.site_technician = cls._make_customer(
            "Site Technician",
            industry_id=cls.construction_industry.id,
            function="Service Technician",
        )
        cls.cleaner = cls._make_customer("Cleaner", function="Cleaning Service")
        cls.accountant = cls._make_customer("Accountant", function="Accountant")
        cls.ours = (
            cls.mason + cls.welder + cls.site_technician + cls.cleaner + cls.accountant
        )
        cls.dimension = (
            cls.env["customer.segment.dimension"]
            .with_user(cls.manager)
            .create(
                {
                    "name": "Work Type",
                    "code": "work_type",
                    "segment_ids": [
                        Command.create(
                            {
                                "name": "Construction Workers",
                                "code": "construction",
                                "dimension": "work_type",
                                "sequence": 10,
                                "rule_domain": repr(
                                    [("industry_id", "=", cls.construction_industry.id)]
                                ),
                            }
                        ),
                        Command.create(
                            {
                                "name": "Manufacturing Workers",
                                "code": "manufacturing",
                                "dimension": "work_type",
                                "sequence": 20,
                                "rule_domain": repr(
                                    [
                                        (
                                            "industry_id",
                                            "=",
                                            cls.manufacturing_industry.id,
                                        )
                                    ]
                                ),
                            }
                        ),
                        Command.create(
                            {
                                "name": "Service Workers",
                                "code": "service",
                                "dimension": "work_type",
                                "sequence": 30,
                                "rule_domain": "[('function', 'ilike', 'service')]",
                            }
                        ),
                    ],
                }
            )
        )
        segments = {s.code: s for s in cls.dimension.sudo().segment_ids}
        cls.construction = segments["construction"]
        cls.manufacturing = segments["manufacturing"]
        cls.service = segments["service"]
        cls.env["res.partner"].recompute_all_segments()

    def _work_types(self):
        return {p.name: p[FIELD].code for p in self.ours}

    def _history(self, partner):
        return self.env["customer.segment.history"].search(
            [("partner_id", "=", partner.id), ("dimension", "=", "work_type")],
            order="id",
        )


@tagged("post_install", "-at_install")
class TestCustomDimension(CustomDimensionCase):
    def test_dimension_gets_a_stored_partner_field(self):
        self.assertEqual(self.dimension.partner_field, FIELD)
        self.assertEqual(self.dimension.rule_type, "domain")
        self.assertEqual(self.dimension.segment_count, 3)
        field = self.env["ir.model.fields"]._get("res.partner", FIELD)
        self.assertEqual(
            (field.ttype, field.relation, field.store, field.field_description),
            ("many2one", "customer.segment", True, "Work Type"),
        )
        self.assertEqual(
            self.construction.dimension_id + self.service.dimension_id, self.dimension
        )

    def test_first_matching_segment_by_priority_wins(self):
        self.assertEqual(
            self._work_types(),
            {
                "Mason": "construction",
                "Welder": "manufacturing",
                "Site Technician": "construction",
                "Cleaner": "service",
                "Accountant": False,
            },
        )
        self.service.with_user(self.manager).write({"sequence": 5})
        self._recompute_all(self.manager)
        self.assertEqual(self.site_technician[FIELD], self.service)
        self.assertEqual(self.mason[FIELD], self.construction)
        [change] = self._history(self.site_technician).filtered("old_segment_id")
        self.assertEqual(
            (change.old_segment_id, change.new_segment_id, change.cause),
            (self.construction, self.service, "rule"),
        )

    def test_changing_a_partner_reclassifies_it(self):
        self.accountant.with_user(self.user).write(
            {"industry_id": self.manufacturing_industry.id}
        )
        self.assertEqual(self.accountant[FIELD], self.manufacturing)
        self.mason.with_user(self.user).write({"industry_id": False})
        self.assertFalse(self.mason[FIELD])

    def test_search_view_offers_the_dimension(self):
        Partner = self.env["res.partner"]
        arch = Partner.with_user(self.user).get_views([(False, "search")])["views"][
            "search"
        ]["arch"]
        self.assertIn(f'name="{FIELD}"', arch)
        self.assertIn(f"groupby_{FIELD}", arch)
        # users outside the segmentation groups do not get it
        arch = Partner.with_user(self.internal_user).get_views([(False, "search")])[
            "views"
        ]["search"]["arch"]
        self.assertNotIn(FIELD, arch)

    def test_searchable_and_groupable(self):
        Partner = self.env["res.partner"].with_user(self.user)
        self.assertEqual(
            Partner.search([(FIELD, "=", self.construction.id)]),
            self.mason + self.site_technician,
        )
        self.assertEqual(
            Partner.search([(f"{FIELD}.code", "=", "service")]), self.cleaner
        )
        groups = Partner.read_group(
            [("id", "in", self.ours.ids)], [FIELD], [FIELD], orderby=FIELD
        )
        self.assertEqual(
            {(g[FIELD] and g[FIELD][0]): g[f"{FIELD}_count"] for g in groups},
            {
                self.construction.id: 2,
                self.manufacturing.id: 1,
                self.service.id: 1,
                False: 1,
            },
        )
        description = Partner.fields_get([FIELD])[FIELD]
        self.assertTrue(description["searchable"])
        self.assertTrue(description["sortable"])
        action = self.dimension.with_user(self.user).action_view_customers()
        self.assertEqual(action["context"]["group_by"], [FIELD])

    def test_field_hidden_from_users_without_segmentation(self):
        internal = self.mason.with_user(self.internal_user)
        self.assertEqual(internal.read(["name"])[0]["name"], "Mason")
        with self.assertRaises(AccessError):
            internal.read([FIELD])

    def test_invalid_domain_is_refused_and_nothing_written(self):
        Segment = self.env["customer.segment"].with_user(self.manager)
        history_before = self.env["customer.segment.history"].search_count([])
        for domain in (
            "[('no_such_field', '=', 1)]",
            "[('function', 'ilike'",
            "[('function', 'is about', 'service')]",
            "'function'",
        ):
            with self.subTest(domain=domain):
                with self.assertRaises(ValidationError) as caught:
                    Segment.create(
                        {
                            "name": "Broken",
                            "code": "broken",
                            "dimension": "work_type",
                            "sequence": 1,
                            "rule_domain": domain,
                        }
                    )
                self.assertIn("Rule", str(caught.exception))
                self.assertFalse(
                    Segment.search(
                        [("dimension", "=", "work_type"), ("code", "=", "broken")]
                    )
                )
                with self.assertRaises(ValidationError) as caught:
                    self.service.with_user(self.manager).write({"rule_domain": domain})
                self.assertIn("Rule", str(caught.exception))
                self.assertEqual(
                    self.service.rule_domain, "[('function', 'ilike', 'service')]"
                )
        self._recompute_all(self.manager)
        self.assertEqual(self.cleaner[FIELD], self.service)
        self.assertEqual(self.site_technician[FIELD], self.construction)
        self.assertEqual(
            self.env["customer.segment.history"].search_count([]), history_before
        )

    def test_invalid_domain_in_the_dimension_form(self):
        form = Form(self.dimension.with_user(self.manager))
        with form.segment_ids.new() as line:
            line.name = "Office Workers"
            line.code = "office"
            line.rule_domain = "[('function', 'ilike', 'clerk'"
        with self.assertRaises(ValidationError) as caught:
            form.save()
        self.assertIn("Rule", str(caught.exception))
        self.assertEqual(self.dimension.segment_count, 3)

    def test_only_managers_define_dimensions(self):
        with self.assertRaises(AccessError):
            self.env["customer.segment.dimension"].with_user(self.user).create(
                {"name": "Mine", "code": "mine"}
            )
        with self.assertRaises(AccessError):
            self.service.with_user(self.user).write({"rule_domain": "[]"})

    def test_code_is_checked_and_never_changes(self):
        Dimension = self.env["customer.segment.dimension"].with_user(self.manager)
        for code in ("Work Type", "1st", "work-type"):
            with self.subTest(code=code):
                with self.assertRaises(ValidationError):
                    Dimension.create({"name": "Bad Code", "code": code})
        with self.assertRaises(UserError):
            self.dimension.with_user(self.manager).write({"code": "job"})
        with self.assertRaises(UserError):
            self.dimension.with_user(self.manager).write({"rule_type": "builtin"})

    def test_archived_segment_no_longer_matches(self):
        self.construction.with_user(self.manager).write({"active": False})
        self._recompute_all(self.manager)
        self.assertFalse(self.mason[FIELD])
        # the next matching segment by priority takes over
        self.assertEqual(self.site_technician[FIELD], self.service)
        [exit_row] = self._history(self.mason).filtered("old_segment_id")
        self.assertEqual(
            (exit_row.old_segment_id, exit_row.new_segment_id, exit_row.movement),
            (self.construction, self.env["customer.segment"], "exit"),
        )

    def test_archived_dimension_classifies_nobody_new(self):
        self.dimension.with_user(self.manager).write({"active": False})
        newcomer = self._make_customer(
            "New Mason", industry_id=self.construction_industry.id
        )
        self._recompute_all(self.manager)
        self.assertFalse(newcomer[FIELD])

    def test_segment_in_use_cannot_be_deleted(self):
        with self.assertRaises(UserError):
            self.manufacturing.with_user(self.manager).unlink()
        self.assertTrue(self.manufacturing.exists())
        unused = (
            self.env["customer.segment"]
            .with_user(self.manager)
            .create({"name": "Unused", "code": "unused", "dimension": "work_type"})
        )
        unused.unlink()
        self.assertFalse(unused.exists())

    def test_pin_on_a_custom_dimension(self):
        pin_user = new_test_user(
            self.env,
            "cs_custom_pin_user",
            groups="customer_segmentation.group_segmentation_pin",
        )
        pin = (
            self.env["customer.segment.override"]
            .with_user(pin_user)
            .create(
                {
                    "partner_id": self.accountant.id,
                    "dimension": "work_type",
                    "segment_id": self.service.id,
                    "reason": "Does the books of a cleaning company",
                }
            )
        )
        self.assertEqual(self.accountant[FIELD], self.service)
        self._recompute_all(self.manager)
        self.assertEqual(self.accountant[FIELD], self.service)
        self.assertFalse(pin.rule_segment_id)
        pin.with_user(pin_user).action_end()
        self.assertFalse(self.accountant[FIELD])

    def test_builtin_dimension_cannot_be_deleted(self):
        geo = self.env.ref("customer_segmentation.dimension_geo")
        with self.assertRaises(UserError):
            geo.with_user(self.manager).unlink()
        self.assertTrue(geo.exists())


# Each of the classes below changes the registry (a partner field created or
# dropped): the rollback after a test restores the database, not the registry,
# which is only set up again when the class ends.
@tagged("post_install", "-at_install")
class TestCustomDimensionForm(CustomDimensionCase):
    def test_manager_creates_a_dimension_in_the_form(self):
        form = Form(self.env["customer.segment.dimension"].with_user(self.manager))
        form.name = "Site"
        form.code = "site"
        dimension = form.save()
        self.assertEqual(dimension.partner_field, "x_cs_site_id")
        with Form(dimension.with_user(self.manager)) as form:
            with form.segment_ids.new() as line:
                line.name = "Builders"
                line.code = "builders"
                line.rule_domain = repr(
                    [("industry_id", "=", self.construction_industry.id)]
                )
        [segment] = dimension.segment_ids
        self.assertEqual(segment.dimension, "site")
        self._recompute_all(self.manager)
        self.assertEqual(
            self.env["res.partner"].search([("x_cs_site_id", "=", segment.id)]),
            self.mason + self.site_technician,
        )


@tagged("post_install", "-at_install")
class TestCustomDimensionDeletion(CustomDimensionCase):
    def test_deleting_the_dimension_drops_its_field(self):
        # a classified customer changes segment: history and chatter refer to
        # the dimension and its field
        # as in production, where the customer was created earlier: Odoo does
        # not track records created in the same transaction
        self.env.cr.precommit.run()
        self.mason.with_context(tracking_disable=False, mail_notrack=False).write(
            {"industry_id": self.manufacturing_industry.id}
        )
        self.assertEqual(self.mason[FIELD], self.manufacturing)
        # Odoo posts the tracking just before the commit
        self.env.cr.precommit.run()
        self.assertTrue(
            self.env["mail.tracking.value"].search(
                [
                    ("field_id.name", "=", FIELD),
                    ("mail_message_id.res_id", "=", self.mason.id),
                ]
            )
        )
        segments = self.dimension.segment_ids
        self.dimension.with_user(self.manager).unlink()
        self.assertFalse(self.dimension.exists())
        self.assertFalse(segments.exists())
        self.assertNotIn(FIELD, self.env["res.partner"]._fields)
        self.assertFalse(
            self.env["ir.model.fields"].search(
                [("model", "=", "res.partner"), ("name", "=", FIELD)]
            )
        )
        # the rest still classifies
        summary = self._recompute_all(self.manager)
        self.assertGreaterEqual(summary["customers"], len(self.ours))
