from odoo import api, fields, models
from odoo.osv import expression


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    customer_segment_id = fields.Many2one(
        "customer.segment",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The customer segment this mailing was created for.",
    )
    segmentation_company_id = fields.Many2one(
        "res.company",
        string="Segments Of",
        readonly=True,
        help="Customers have their segments in each company: the recipients' "
        "domain reads the segments of this company, whoever sends the mailing "
        "and in whichever company.",
    )

    def _get_recipients_domain(self):
        """The recipients, with the segments of the mailing's company: the
        domain is evaluated when the mailing is sent (by the mailing queue,
        whose user may be in another company)."""
        domain = super()._get_recipients_domain()
        company = self.segmentation_company_id
        if not company or self.mailing_model_real != "res.partner":
            return domain
        if not self.env.su and company not in self.env.user.company_ids:
            # a user of another company gets none of its customers
            return expression.FALSE_DOMAIN
        Partner = self.env["res.partner"].with_company(company)
        return [("id", "in", Partner._search(domain))]

    @api.model
    def _segmentation_draft_values(self, subject, domain, **values):
        """Values of a draft mailing on contacts selected by ``domain``, not
        blacklisted (as Odoo's mailings on contacts are by default)."""
        model = self.env["ir.model"]._get("res.partner")
        default_domain = self.new(
            {"mailing_model_id": model.id}
        )._get_default_mailing_domain()
        return {
            "subject": subject,
            "mailing_type": "mail",
            "mailing_model_id": model.id,
            "mailing_domain": repr(expression.AND([default_domain, domain])),
            **values,
        }

    def _segmentation_form_action(self):
        """The mailing's form, in Email Marketing's action."""
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "mass_mailing.mailing_mailing_action_mail"
        )
        action.update(
            {
                "res_id": self.id,
                "views": [(False, "form")],
                "view_mode": "form",
                "target": "current",
            }
        )
        return action
