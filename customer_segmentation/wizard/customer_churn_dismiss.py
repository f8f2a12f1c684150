from odoo import fields, models

from ..models.arguments import checked_records


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
        """Dismiss the warnings of the wizard's customers.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.churn.dismiss',
        'action_dismiss', [[id]])``: one wizard the caller created; its
        customers and reason are checked as ``res.partner.
        action_dismiss_churn_risk`` checks them.

        :return: an action closing the wizard
        """
        wizard = checked_records(self, "ids", self.env._("Wizard"), single=True)
        # every linked customer, including any the caller may not read: the
        # dismissal refuses those rather than skipping them
        partner_ids = wizard.sudo().partner_ids.ids
        customers = self.env["res.partner"].browse(partner_ids)
        customers.action_dismiss_churn_risk(wizard.reason)
        return {"type": "ir.actions.act_window_close"}
