from odoo import models


class SaleOrder(models.Model):
    """A quotation makes a prospect, a confirmed order a purchase."""

    _inherit = ["sale.order", "customer.segmentation.source.mixin"]
    _name = "sale.order"

    _segmentation_triggers = frozenset(
        {"state", "date_order", "partner_id", "company_id"}
    )
