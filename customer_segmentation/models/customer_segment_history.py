from odoo import api, fields, models

from .customer_segmentation_reason import render_reason

CAUSES = [
    ("rule", "Rule"),
    ("override", "Pinned"),
    ("expiry", "Pin Ended"),
    ("manual", "Set by Hand"),
]
MOVEMENTS = [
    ("entry", "Entry"),
    ("upgrade", "Upgrade"),
    ("downgrade", "Downgrade"),
    ("lateral", "Lateral"),
    ("churn", "Churn"),
    ("exit", "Exit"),
]


class CustomerSegmentHistory(models.Model):
    """One change of a customer's segment on one dimension.

    Rows are written by the classification statements themselves (set-based),
    by pins and by hand edits; they are never edited afterwards.
    """

    _name = "customer.segment.history"
    _description = "Customer Segment Change"
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(
        "res.company",
        readonly=True,
        index=True,
        help="The company whose classification changed (none for the "
        "dimensions every company shares), for access rules.",
    )
    dimension = fields.Selection(
        selection="_selection_dimension", required=True, readonly=True
    )
    old_segment_id = fields.Many2one(
        "customer.segment", string="From", readonly=True, ondelete="set null"
    )
    new_segment_id = fields.Many2one(
        "customer.segment", string="To", readonly=True, ondelete="set null"
    )
    date = fields.Datetime(required=True, readonly=True, index=True)
    user_id = fields.Many2one(
        "res.users",
        string="By",
        readonly=True,
        help="Who changed it, or who triggered the classification.",
    )
    run_id = fields.Many2one(
        "customer.segmentation.run",
        string="Recompute Run",
        readonly=True,
        ondelete="set null",
    )
    cause = fields.Selection(CAUSES, required=True, readonly=True)
    movement = fields.Selection(
        MOVEMENTS,
        required=True,
        readonly=True,
        help="Entry and exit: into or out of any segment of the dimension. "
        "Upgrade and downgrade: to a segment of a higher or lower level. Churn: "
        "into a segment that counts as churn.",
    )
    reason_code = fields.Char(readonly=True)
    reason_values = fields.Json(readonly=True)
    reason_text = fields.Text(
        readonly=True, help="The reason as written before 18.0.3 (no code)."
    )
    reason = fields.Text(
        compute="_compute_reason",
        help="Why the segment changed, with the figures of that day, in the "
        "language of whoever reads it.",
    )

    @api.depends("reason_code", "reason_values", "reason_text", "company_id")
    @api.depends_context("lang")
    def _compute_reason(self):
        for change in self:
            currency = (change.company_id or self.env.company).currency_id
            change.reason = (
                render_reason(
                    self.env, change.reason_code, change.reason_values, currency
                )
                if change.reason_code
                else change.reason_text
            )

    @api.model
    def _selection_dimension(self):
        return self.env["customer.segment"]._selection_dimension()
