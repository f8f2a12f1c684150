from odoo import api, models

# Order fields whose change moves a customer's purchase figures.
SEGMENTATION_TRIGGERS = frozenset({"state", "date_order", "partner_id", "company_id"})


class SaleOrder(models.Model):
    _inherit = "sale.order"

    @api.model_create_multi
    def create(self, vals_list):
        orders = super().create(vals_list)
        # a quotation makes a prospect, an imported confirmed order a customer
        orders._segmentation_enqueue()
        return orders

    def write(self, vals):
        if not SEGMENTATION_TRIGGERS & vals.keys():
            return super().write(vals)
        before = self._segmentation_pairs()
        res = super().write(vals)
        self._segmentation_enqueue(before)
        return res

    def unlink(self):
        before = self._segmentation_pairs()
        res = super().unlink()
        self.env["customer.segmentation.queue"]._enqueue(before)
        return res

    def _segmentation_pairs(self):
        return {
            (order.partner_id.commercial_partner_id.id, order.company_id.id)
            for order in self.sudo()
        }

    def _segmentation_enqueue(self, extra=()):
        """Classify the orders' customers again, in the orders' companies
        (queued: the confirmation does not wait)."""
        self.env["customer.segmentation.queue"]._enqueue(
            self._segmentation_pairs() | set(extra)
        )
