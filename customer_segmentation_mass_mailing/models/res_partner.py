from odoo import api, models
from odoo.exceptions import UserError

from odoo.addons.customer_segmentation.models.arguments import checked_records


class ResPartner(models.Model):
    _inherit = "res.partner"

    def action_send_mailing(self):
        """Open a new mailing's form, filled in for these contacts: nothing
        is written until the user saves it.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_send_mailing', [ids])``: the contacts' ids.

        :return: a window action on a new mailing's form, its values as
            ``default_*`` keys of its context
        :raise UserError: none of the contacts has an email address
        """
        partners = checked_records(self, "ids", self.env._("Customers"))
        Mailing = self.env["mailing.mailing"]
        Mailing.check_access("create")
        domain = [("id", "in", partners.ids)]
        self._check_mailing_emails(
            domain,
            self.env._("the %(count)s selected contacts", count=len(partners)),
        )
        subject = (
            partners.name
            if len(partners) == 1
            else self.env._("%(count)s customers", count=len(partners))
        )
        return Mailing._segmentation_form_action(subject, domain)

    @api.model
    def _check_mailing_emails(self, domain, recipients):
        """A UserError naming the Email field if no contact of ``domain`` has
        one; ``recipients`` says who they are, for the message."""
        if not self.search_count([*domain, ("email_normalized", "!=", False)], limit=1):
            raise UserError(
                self.env._(
                    "None of %(recipients)s has an address in the field "
                    "%(field)s (%(name)s): there is nobody to send a mailing to.",
                    recipients=recipients,
                    field=self._fields["email"]._description_string(self.env),
                    name="email",
                )
            )
