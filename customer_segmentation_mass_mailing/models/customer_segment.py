from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from odoo.addons.customer_segmentation.models.arguments import checked_records

MAILING_GROUP = "mass_mailing.group_mass_mailing_user"
# The mailings' figures (mass_mailing's mailing.mailing statistics) summed
# per segment: {segment field: mailing field}.
MAILING_FIGURES = {
    "mailing_sent": "sent",
    "mailing_opened": "opened",
    "mailing_replied": "replied",
}


def _results_field(field_type, string, help_text, **attrs):
    return field_type(
        string=string,
        compute="_compute_mailing_results",
        groups=MAILING_GROUP,
        help=help_text,
        **attrs,
    )


class CustomerSegment(models.Model):
    _inherit = "customer.segment"

    utm_campaign_ids = fields.One2many(
        "utm.campaign",
        "customer_segment_id",
        string="Campaigns",
        groups=MAILING_GROUP,
        help="The campaign of the segment's mailings, one per company.",
    )
    # The results of the segment's campaign in the current company.
    mailing_campaign_id = fields.Many2one(
        "utm.campaign",
        string="Campaign",
        compute="_compute_mailing_results",
        groups=MAILING_GROUP,
        help="The campaign of the segment's mailings in the current company.",
    )
    mailing_count = _results_field(
        fields.Integer,
        "Mailings",
        "Mailings of the segment's campaign in the current company.",
    )
    mailing_sent = _results_field(
        fields.Integer, "Sent", "Emails sent by the segment's mailings."
    )
    mailing_opened = _results_field(
        fields.Integer,
        "Opened",
        "Emails of the segment's mailings that were opened or replied to.",
    )
    mailing_replied = _results_field(
        fields.Integer, "Replied", "Emails of the segment's mailings replied to."
    )
    mailing_order_count = _results_field(
        fields.Integer,
        "Orders",
        "Quotations and sales orders of the segment's campaign (the UTM "
        "campaign a customer came from by a mailing's link, or that a "
        "salesperson set on the order).",
    )
    mailing_revenue = _results_field(
        fields.Monetary,
        "Revenue",
        "Untaxed amount of the posted invoices of the segment's campaign, in "
        "the company's currency.",
        currency_field="mailing_currency_id",
    )
    mailing_currency_id = fields.Many2one(
        "res.currency", compute="_compute_mailing_results", groups=MAILING_GROUP
    )

    @api.depends_context("company")
    def _compute_mailing_results(self):
        """The figures Odoo keeps for campaigns (sale: quotations and revenue)
        and for mailings (mass_mailing: sent, opened, replied), read for all
        the segments at once: each is one grouped read, whatever the number
        of segments."""
        company = self.env.company
        campaigns = (
            self.env["utm.campaign"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("customer_segment_id", "in", self.ids),
                    ("company_id", "=", company.id),
                ]
            )
        )
        campaign_of = {c.customer_segment_id.id: c for c in campaigns}
        mailings = (
            self.env["mailing.mailing"]
            .sudo()
            .with_context(active_test=False)
            .search([("campaign_id", "in", campaigns.ids)])
        )
        per_campaign = defaultdict(lambda: defaultdict(int))
        for mailing in mailings:
            figures = per_campaign[mailing.campaign_id.id]
            figures["mailing_count"] += 1
            for name, mailing_field in MAILING_FIGURES.items():
                figures[name] += mailing[mailing_field]
        for segment in self:
            campaign = campaign_of.get(segment.id, campaigns.browse())
            figures = per_campaign[campaign.id]
            segment.mailing_campaign_id = campaign.id
            segment.mailing_currency_id = company.currency_id
            segment.mailing_count = figures["mailing_count"]
            for name in MAILING_FIGURES:
                segment[name] = figures[name]
            segment.mailing_order_count = campaign.quotation_count
            segment.mailing_revenue = campaign.invoiced_amount

    def action_send_mailing(self):
        """Open a new mailing's form, filled in for the segment's customers in
        the current company, as Odoo's own "mail these" actions do: nothing
        is written until the user saves it, so one who only looks leaves no
        draft behind. Its recipients are a domain evaluated when the mailing
        is sent, not a list frozen now. Saved, it is in the segment's
        campaign (see ``mailing.mailing.create``).

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segment',
        'action_send_mailing', [[id]])``: one segment id.

        :return: a window action on a new mailing's form, its values as
            ``default_*`` keys of its context
        :raise UserError: the segment has no customers in the company, or none
            of them has an email address
        """
        segment = checked_records(self, "ids", self.env._("Segment"), single=True)
        Mailing = self.env["mailing.mailing"]
        Mailing.check_access("create")
        domain = segment._mailing_recipients_domain()
        segment._check_mailing_recipients(domain)
        company = self.env.company
        campaign = self.env["utm.campaign"]._segmentation_campaign_of(segment, company)
        return Mailing._segmentation_form_action(
            segment.name,
            domain,
            campaign_id=campaign.id,
            customer_segment_id=segment.id,
            segmentation_company_id=company.id,
        )

    def _mailing_recipients_domain(self):
        """The segment's customers, as a domain on contacts to store in a
        mailing (the segment's field is the current company's)."""
        self.ensure_one()
        Partner = self.env["res.partner"]
        field_name = Partner._segmentation_dimension_fields().get(self.dimension)
        if not field_name:
            raise UserError(
                self.env._(
                    "Segment %(segment)s: its dimension %(dimension)s has no "
                    "field on contacts, so no mailing can select its customers.",
                    segment=self.display_name,
                    dimension=self.dimension_id.display_name,
                )
            )
        return expression.AND(
            [Partner._segmentation_customer_domain(), [(field_name, "=", self.id)]]
        )

    def _check_mailing_recipients(self, domain):
        """A clear error rather than a mailing to nobody."""
        self.ensure_one()
        Partner = self.env["res.partner"]
        if not Partner.search_count(domain, limit=1):
            raise UserError(
                self.env._(
                    "Segment %(segment)s has no customers in %(company)s "
                    "(Customers: 0): there is nobody to send a mailing to.",
                    segment=self.display_name,
                    company=self.env.company.name,
                )
            )
        Partner._check_mailing_emails(
            domain, self.env._("the segment %(segment)s", segment=self.display_name)
        )

    def action_view_mailings(self):
        """The mailings of the segment's campaign in the current company.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segment',
        'action_view_mailings', [[id]])``: one segment id.

        :return: a window action on the mailings
        """
        segment = checked_records(self, "ids", self.env._("Segment"), single=True)
        campaign = segment.mailing_campaign_id
        action = self.env["ir.actions.actions"]._for_xml_id(
            "mass_mailing.mailing_mailing_action_mail"
        )
        action["domain"] = [("campaign_id", "in", campaign.ids)]
        action["context"] = {"create": False}
        action["display_name"] = self.env._(
            "Mailings of %(segment)s", segment=segment.display_name
        )
        return action
