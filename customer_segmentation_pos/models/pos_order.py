from odoo import api, models

from .customer_segmentation_purchase import PAID_STATES

# Order fields whose change moves a customer's purchases.
SEGMENTATION_TRIGGERS = frozenset(
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
# States in which an order's customer is classified again: paid (a purchase
# or a refund) or cancelled.
QUEUED_STATES = frozenset({*PAID_STATES, "cancel"})


class PosOrder(models.Model):
    _inherit = "pos.order"

    @api.model_create_multi
    def create(self, vals_list):
        orders = super().create(vals_list)
        orders._segmentation_enqueue()
        return orders

    def write(self, vals):
        if not SEGMENTATION_TRIGGERS & vals.keys():
            return super().write(vals)
        before = self._segmentation_pairs()
        res = super().write(vals)
        self._segmentation_enqueue(before)
        return res

    def _segmentation_pairs(self):
        """``(customer, company)`` of these orders once paid or cancelled;
        the register edits open orders all the time, which changes no
        purchase."""
        return {
            (order.partner_id.commercial_partner_id.id, order.company_id.id)
            for order in self.sudo()
            if order.partner_id and order.state in QUEUED_STATES
        }

    def _segmentation_enqueue(self, extra=()):
        """Classify the orders' customers again, in the orders' companies
        (queued: the payment does not wait)."""
        self.env["customer.segmentation.queue"]._enqueue(
            self._segmentation_pairs() | set(extra)
        )
