from odoo import api, models

# Line fields whose change moves a confirmed order's untaxed amount.
AMOUNT_TRIGGERS = frozenset(
    {"product_uom_qty", "price_unit", "discount", "tax_id", "product_id"}
)


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines._segmentation_enqueue_confirmed()
        return lines

    def write(self, vals):
        res = super().write(vals)
        if AMOUNT_TRIGGERS & vals.keys():
            self._segmentation_enqueue_confirmed()
        return res

    def unlink(self):
        orders = self._segmentation_confirmed_orders()
        res = super().unlink()
        orders.exists()._segmentation_enqueue()
        return res

    def _segmentation_confirmed_orders(self):
        return self.order_id.filtered(lambda order: order.state == "sale")

    def _segmentation_enqueue_confirmed(self):
        # an edited confirmed order changes its customer's monetary value
        self._segmentation_confirmed_orders()._segmentation_enqueue()
