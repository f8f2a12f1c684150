from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

# Partner field holding the segment of each dimension.
DIMENSION_FIELDS = {
    "value": "segment_value_id",
    "lifecycle": "segment_lifecycle_id",
    "rfm": "segment_rfm_id",
}


class CustomerSegment(models.Model):
    _name = "customer.segment"
    _description = "Customer Segment"
    _order = "dimension, sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Stable technical key used by the classification rules and by "
        "XML-RPC clients.",
    )
    dimension = fields.Selection(
        selection=[
            ("value", "Value Tier"),
            ("lifecycle", "Lifecycle Stage"),
            ("rfm", "RFM Segment"),
        ],
        required=True,
        index=True,
    )
    sequence = fields.Integer(default=10, aggregator=None)
    color = fields.Integer(
        aggregator=None, help="Colour of the segment's tags and kanban badges."
    )
    description = fields.Text(
        translate=True,
        help="How to manage the customers of this segment.",
    )
    active = fields.Boolean(default=True)
    rfm_recency_min = fields.Integer(string="Recency Score From", default=1)
    rfm_recency_max = fields.Integer(string="Recency Score To", default=5)
    rfm_frequency_min = fields.Integer(string="Frequency Score From", default=1)
    rfm_frequency_max = fields.Integer(string="Frequency Score To", default=5)
    customer_count = fields.Integer(compute="_compute_customer_count")

    _sql_constraints = [
        (
            "dimension_code_uniq",
            "UNIQUE(dimension, code)",
            "A segment code must be unique within its dimension.",
        ),
    ]

    def _compute_customer_count(self):
        counts = {}
        Partner = self.env["res.partner"]
        for dimension in set(self.mapped("dimension")):
            field_name = DIMENSION_FIELDS[dimension]
            domain = [
                *Partner._segmentation_customer_domain(),
                (field_name, "in", self.ids),
            ]
            for segment, count in Partner._read_group(
                domain, [field_name], ["__count"]
            ):
                counts[segment.id] = count
        for segment in self:
            segment.customer_count = counts.get(segment.id, 0)

    @api.constrains(
        "dimension",
        "rfm_recency_min",
        "rfm_recency_max",
        "rfm_frequency_min",
        "rfm_frequency_max",
    )
    def _check_rfm_ranges(self):
        for segment in self.filtered(lambda s: s.dimension == "rfm"):
            for label, low, high in (
                (
                    self.env._("Recency Score"),
                    segment.rfm_recency_min,
                    segment.rfm_recency_max,
                ),
                (
                    self.env._("Frequency Score"),
                    segment.rfm_frequency_min,
                    segment.rfm_frequency_max,
                ),
            ):
                if not 1 <= low <= high <= 5:
                    raise ValidationError(
                        self.env._(
                            "Segment %(segment)s: %(field)s must be a range "
                            "within 1..5 (got %(low)s to %(high)s).",
                            segment=segment.name,
                            field=label,
                            low=low,
                            high=high,
                        )
                    )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_in_use(self):
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        for dimension in set(self.mapped("dimension")):
            field_name = DIMENSION_FIELDS[dimension]
            in_use = Partner.search([(field_name, "in", self.ids)], limit=1)[field_name]
            if in_use:
                raise UserError(
                    self.env._(
                        "Segment %(segment)s is in use by customers and cannot "
                        "be deleted; archive it instead.",
                        segment=in_use.display_name,
                    )
                )

    def action_view_customers(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "customer_segmentation.res_partner_action_customers"
        )
        action["domain"] = [(DIMENSION_FIELDS[self.dimension], "=", self.id)]
        action["context"] = {}
        action["display_name"] = self.display_name
        return action
