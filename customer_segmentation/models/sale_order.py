from odoo import api, models

# Order fields whose change moves a customer's purchase figures.
SEGMENTATION_TRIGGERS = frozenset({"state", "date_order", "partner_id"})


class SaleOrder(models.Model):
    _inherit = "sale.order"

    @api.model_create_multi
    def create(self, vals_list):
        orders = super().create(vals_list)
        # a quotation makes a prospect, an imported confirmed order a customer
        orders.partner_id.commercial_partner_id._segmentation_refresh()
        return orders

    def write(self, vals):
        if not SEGMENTATION_TRIGGERS & vals.keys():
            return super().write(vals)
        customers_before = self.partner_id.commercial_partner_id
        res = super().write(vals)
        (
            customers_before | self.partner_id.commercial_partner_id
        )._segmentation_refresh()
        return res

    def unlink(self):
        customers = self.partner_id.commercial_partner_id
        res = super().unlink()
        customers.exists()._segmentation_refresh()
        return res
