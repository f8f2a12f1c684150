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
        "company: created when the segment's first mailing there is saved, then "
        "reused.",
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
    def default_get(self, fields_list):
        """A segment's campaign is made by ``_segmentation_campaign`` only:
        the ``default_customer_segment_id`` of a segment mailing's form is the
        mailing's, not that of a campaign made there (A/B testing's own)."""
        return super().default_get(
            [name for name in fields_list if name != "customer_segment_id"]
        )

    @api.model
    def _segmentation_campaign_of(self, segment, company):
        """The campaign of ``segment`` in ``company``, if it has one yet (an
        archived campaign is still the segment's: one per company)."""
        return self.with_context(active_test=False).search(
            [
                ("customer_segment_id", "=", segment.id),
                ("company_id", "=", company.id),
            ],
            limit=1,
        )

    @api.model
    def _segmentation_campaign(self, segment, company):
        """The campaign of ``segment`` in ``company``, created when the
        segment's first mailing there is saved, named after the segment, its
        dimension and the company."""
        campaign = self._segmentation_campaign_of(segment, company)
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
