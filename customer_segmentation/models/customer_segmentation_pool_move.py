from odoo import fields, models


class CustomerSegmentationPoolMove(models.Model):
    """A customer entering or leaving the shared customer pool (公海), or
    getting an account manager by its segment's policy or from a user."""

    _name = "customer.segmentation.pool.move"
    _description = "Customer Pool Move"
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
    company_id = fields.Many2one("res.company", readonly=True)
    user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        readonly=True,
        index=True,
        help="Who lost the customer to the pool, claimed it or was assigned it.",
    )
    move = fields.Selection(
        [
            ("return", "Returned to Pool"),
            ("claim", "Claimed"),
            ("assign", "Assigned by Policy"),
            ("hand", "Assigned by Hand"),
        ],
        required=True,
        readonly=True,
    )
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    reason = fields.Text(readonly=True)
