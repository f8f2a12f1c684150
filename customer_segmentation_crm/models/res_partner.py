from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.customer_segmentation.models.arguments import caller_names


class ResPartner(models.Model):
    _inherit = "res.partner"

    def action_create_opportunities(self):
        """One opportunity per customer of these partners, skipping those with
        an open one (not won, not lost) in the current company.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_create_opportunities', [[id, ...]])``: ids of partners of the
        current company the caller may read. A salesperson creates them for
        the customers he manages only. Each opportunity goes to the
        customer's salesperson, or to the caller.

        :return: a window action on the opportunities created
        """
        customers = self._segmentation_acting_customers(
            self.env._("create opportunities for")
        )
        company = self.env.company
        open_ids = {
            row[0]
            for row in self.env.execute_query(
                SQL(
                    "SELECT DISTINCT o.customer_id FROM (%s) o",
                    self.env["customer.segmentation.purchase"]._opportunities(
                        company,
                        fields.Date.today(),
                        customers=SQL("SELECT unnest(%s::int[])", customers.ids),
                    ),
                )
            )
        }
        missing = customers.filtered(lambda c: c.id not in open_ids)
        if not missing:
            raise UserError(
                self.env._(
                    "Customers (ids): these customers all have an open "
                    "opportunity already: %(names)s.",
                    names=caller_names(customers.sudo(False)),
                )
            )
        leads = self.env["crm.lead"].create(
            [
                {
                    "name": customer.name,
                    "type": "opportunity",
                    "partner_id": customer.id,
                    "user_id": customer.user_id.id or self.env.uid,
                    "company_id": company.id,
                }
                for customer in missing
            ]
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Opportunities Created"),
            "res_model": "crm.lead",
            "view_mode": "list,form",
            "views": [[False, "list"], [False, "form"]],
            "domain": [("id", "in", leads.ids)],
            "context": {"default_type": "opportunity"},
        }
