from odoo import api, fields, models


class UtmCampaign(models.Model):
    _inherit = "utm.campaign"

    customer_segment_id = fields.Many2one(
        "customer.segment",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The campaign of this customer segment's mailings in the campaign's "
        "company: Send a Mailing on the segment creates it once, then reuses it.",
    )

    _sql_constraints = [
        (
            "customer_segment_company_uniq",
            "UNIQUE(customer_segment_id, company_id)",
            "A customer segment has one campaign per company: another user "
            "created it at the same time, try again.",
        ),
    ]

    @api.model
    def _segmentation_campaign(self, segment):
        """The campaign of ``segment`` in the current company, created on its
        first mailing and named after the segment, its dimension and the
        company."""
        company = self.env.company
        # an archived campaign is still the segment's: one per company
        campaign = self.with_context(active_test=False).search(
            [
                ("customer_segment_id", "=", segment.id),
                ("company_id", "=", company.id),
            ],
            limit=1,
        )
        if campaign:
            return campaign
        return self.create(
            {
                "title": f"{segment.dimension_id.name}: {segment.name} "
                f"({company.name})",
                "customer_segment_id": segment.id,
                "company_id": company.id,
            }
        )
