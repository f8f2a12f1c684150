from odoo import fields, models


class CustomerChurnDismiss(models.TransientModel):
    _name = "customer.churn.dismiss"
    _description = "Dismiss a Churn Warning"

    partner_ids = fields.Many2many(
        "res.partner",
        string="Customers",
        required=True,
        default=lambda self: self._default_partner_ids(),
    )
    reason = fields.Text(required=True)

    def _default_partner_ids(self):
        if self.env.context.get("active_model") != "res.partner":
            return []
        return self.env.context.get("active_ids", [])

    def action_dismiss(self):
        self.ensure_one()
        self.partner_ids.action_dismiss_churn_risk(self.reason)
        return {"type": "ir.actions.act_window_close"}
