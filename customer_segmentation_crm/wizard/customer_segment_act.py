from odoo import fields, models


class CustomerSegmentAct(models.TransientModel):
    _inherit = "customer.segment.act"

    operation = fields.Selection(
        selection_add=[("opportunity", "Create Opportunities")],
        ondelete={"opportunity": "cascade"},
    )

    def _act_opportunity(self, customers):
        return customers.action_create_opportunities()
