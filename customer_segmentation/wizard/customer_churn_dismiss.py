from odoo import fields, models


class CustomerChurnDismiss(models.TransientModel):
    _name = "customer.churn.dismiss"
    _description = "Dismiss a Churn Warning"

    partner_ids = fields.Many2many(
        "res.partner",
        string="Customers",
        required=True,
        default=lambda self: self.env.context.get("active_ids", []),
    )
    reason = fields.Text(required=True)

    def action_dismiss(self):
        self.ensure_one()
        self.partner_ids.action_dismiss_churn_risk(self.reason)
        return {"type": "ir.actions.act_window_close"}
