from odoo import models

from .customer_segmentation_purchase import PAID_STATES

# States in which an order's customer is classified again: paid (a purchase
# or a refund) or cancelled.
QUEUED_STATES = frozenset({*PAID_STATES, "cancel"})


class PosOrder(models.Model):
    """Paying, refunding, invoicing or cancelling an order queues its
    customer."""

    _inherit = ["pos.order", "customer.segmentation.source.mixin"]
    _name = "pos.order"

    _segmentation_triggers = frozenset(
        {
            "state",
            "date_order",
            "partner_id",
            "company_id",
            "account_move",
            "amount_total",
            "amount_tax",
        }
    )

    def _segmentation_pairs(self):
        """``(customer, company)`` of these orders once paid or cancelled;
        the register edits open orders all the time, which changes no
        purchase."""
        return {
            (order.partner_id.commercial_partner_id.id, order.company_id.id)
            for order in self.sudo()
            if order.partner_id and order.state in QUEUED_STATES
        }
