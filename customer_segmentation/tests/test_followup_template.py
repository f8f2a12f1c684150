"""Follow-up summaries are plain placeholders: nothing a manager types is run,
and a bad template never stops the strategy job."""

from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL, mute_logger

from .common import SegmentationCase, days_ago

# (template, a piece of the error message besides the segment and the field)
BAD_TEMPLATES = [
    ("{customer.__init__.__globals__}", "{customer.__init__.__globals__}"),
    ("{customer.__class__}", "is not a placeholder"),
    ("{customer[0]}", "is not a placeholder"),
    ("{}", "is not a placeholder"),
    ("{0}", "is not a placeholder"),
    ("Call {nobody} today", "{nobody}"),
    ("{customer:>100000000}", "no format"),
    ("{customer!r}", "no format"),
    ("{days:{customer}}", "no format"),
    ("Call {customer", "brace"),
    ("Call customer}", "brace"),
    ("Call { customer }", "is not a placeholder"),
    ("x" * 201, "201"),
]
STRATEGY_LOGGER = (
    "odoo.addons.customer_segmentation.models.customer_segmentation_strategy"
)


@tagged("post_install", "-at_install")
class TestFollowupTemplate(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls.account_manager = new_test_user(
            cls.env, "cs_template_am", groups="sales_team.group_sale_salesman"
        )
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.high.write({"followup_days": 30})
        cls.customer = cls._make_customer(
            "Template Customer", user_id=cls.account_manager.id
        )
        cls._make_order(cls.customer, 20000.0, days_ago(31))

    def _summaries(self, partner):
        self.env["res.partner"].with_user(self.sales_manager).apply_segment_strategies()
        return (
            self.env["mail.activity"]
            .search([("res_model", "=", "res.partner"), ("res_id", "=", partner.id)])
            .mapped("summary")
        )

    def _force_template(self, template):
        """Store a template as an old database could hold it."""
        self.env.execute_query(
            SQL(
                "UPDATE customer_segment SET followup_summary = "
                "jsonb_build_object('en_US', %s::text) WHERE id = %s",
                template,
                self.high.id,
            )
        )
        self.high.invalidate_recordset(["followup_summary"])

    def test_bad_templates_are_refused_when_saved(self):
        segment = self.high.with_user(self.sales_manager)
        segment.followup_summary = "Call {customer}"
        for template, detail in BAD_TEMPLATES:
            with self.subTest(template=template):
                with self.assertRaises(ValidationError) as caught:
                    segment.write({"followup_summary": template})
                message = str(caught.exception)
                self.assertIn(self.high.name, message)
                self.assertIn("followup_summary", message)
                self.assertIn(detail, message)
                self.assertEqual(segment.followup_summary, "Call {customer}")
                with self.assertRaises(ValidationError):
                    segment.create(
                        {
                            "name": "New Segment",
                            "code": "new_segment",
                            "dimension": "value",
                            "followup_summary": template,
                        }
                    )

    def test_placeholders_and_braces_are_replaced_as_text(self):
        self.high.with_user(
            self.sales_manager
        ).followup_summary = (
            "Call {customer} ({segment}) after {days} days, {{VIP}} {segment}"
        )
        self.assertEqual(
            self._summaries(self.customer),
            ["Call Template Customer (High Value) after 31 days, {VIP} High Value"],
        )

    def test_a_value_is_never_read_as_a_template(self):
        self.customer.name = "{customer.__class__} {days:>99999}"
        self.high.followup_summary = "Call {customer}"
        self.assertEqual(
            self._summaries(self.customer),
            ["Call {customer.__class__} {days:>99999}"],
        )

    def test_summary_is_cut_to_a_bounded_length(self):
        self.customer.name = "N" * 5000
        self.high.followup_summary = "{customer} {customer} {customer}"
        [summary] = self._summaries(self.customer)
        self.assertEqual(len(summary), 300)
        self.assertTrue(summary.endswith("…"))

    def test_every_language_is_checked(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        segment = self.high.with_user(self.sales_manager)
        with self.assertRaises(ValidationError) as caught:
            segment.with_context(lang="fr_FR").write(
                {"followup_summary": "{customer.__init__.__globals__}"}
            )
        self.assertIn("followup_summary", str(caught.exception))
        # the translation dialog writes the other languages behind write()
        with self.assertRaises(ValidationError) as caught:
            segment.update_field_translations(
                "followup_summary",
                {"fr_FR": "Appeler {client}", "en_US": "Call {customer}"},
            )
        self.assertIn("{client}", str(caught.exception))
        self.assertIn("[fr_FR]", str(caught.exception))
        with self.assertRaises(ValidationError):
            segment.update_field_translations("followup_summary", {"fr_FR": "é" * 201})
        segment.update_field_translations(
            "followup_summary",
            {"fr_FR": "Appeler {customer}", "en_US": "Call {customer}"},
        )
        self.assertEqual(
            segment.with_context(lang="fr_FR").followup_summary, "Appeler {customer}"
        )

    def test_bad_stored_template_falls_back_to_the_default_summary(self):
        for template in (
            "{customer.__init__.__globals__}",
            "{customer:>100000000}",
            "Call {customer",
            "{customer}" * 1000,
        ):
            with self.subTest(template=template[:40]):
                self._force_template(template)
                with self.assertLogs(STRATEGY_LOGGER, "WARNING"):
                    summaries = self._summaries(self.customer)
                self.assertEqual(
                    summaries, ["Follow up Template Customer (High Value)"]
                )
                self.env["mail.activity"].search(
                    [("res_id", "=", self.customer.id)]
                ).unlink()

    @mute_logger(STRATEGY_LOGGER)
    def test_bad_stored_template_does_not_stop_other_segments(self):
        self._force_template("{customer.__init__.__globals__}")
        new_stage = self.env.ref("customer_segmentation.segment_lifecycle_active")
        new_stage.write({"followup_days": 10, "followup_summary": "Active {customer}"})
        other = self._make_customer("Other Customer", user_id=self.account_manager.id)
        self._make_order(other, 100.0, days_ago(100))
        self._make_order(other, 100.0, days_ago(150))
        self._recompute_all()
        self.assertIn("Active Other Customer", self._summaries(other))
