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

    @api.model_create_multi
    def create(self, vals_list):
        """A mailing to a segment, saved without a campaign, gets the
        segment's campaign in its company (created on the segment's first
        mailing there): the segment's results are its campaign's. Set before
        Odoo's own create, whose A/B testing would otherwise make a campaign
        of its own. The segment often comes from the form's context (a
        read-only field's ``default_*``, which the web client does not send)."""
        defaults = self.default_get(
            ["customer_segment_id", "segmentation_company_id", "campaign_id"]
        )
        for vals in vals_list:
            values = {**defaults, **vals}
            if values.get("campaign_id") or not values.get("customer_segment_id"):
                continue
            company = self.env["res.company"].browse(
                values.get("segmentation_company_id")
            )
            vals["campaign_id"] = (
                self.env["utm.campaign"]
                ._segmentation_campaign(
                    self.env["customer.segment"].browse(values["customer_segment_id"]),
                    company or self.env.company,
                )
                .id
            )
        return super().create(vals_list)

    @api.model
    def _segmentation_form_action(self, subject, domain, **defaults):
        """A window action on a new mailing's form, filled in as a mailing on
        contacts selected by ``domain``, not blacklisted (as Odoo's mailings
        on contacts are by default), with ``defaults`` (field values, falsy
        ones left out): the way Odoo's own actions open a mailing to an
        event's attendees, nothing is written until the user saves it."""
        model = self.env["ir.model"]._get("res.partner")
        default_domain = self.new(
            {"mailing_model_id": model.id}
        )._get_default_mailing_domain()
        values = {
            "subject": subject,
            "mailing_type": "mail",
            "mailing_model_id": model.id,
            "mailing_domain": repr(expression.AND([default_domain, domain])),
            **defaults,
        }
        action = self.env["ir.actions.actions"]._for_xml_id(
            "mass_mailing.mailing_mailing_action_mail"
        )
        action.update(
            {
                "views": [(False, "form")],
                "view_mode": "form",
                "target": "current",
                "context": {
                    f"default_{name}": value for name, value in values.items() if value
                },
            }
        )
        return action
