from odoo import models

from ..models.res_partner import MERGE_CONTEXT_KEY


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _update_values(self, src_partners, dst_partner):
        # the destination's figures, segments, pool and churn state are the
        # engine's: the refresh after the merge reclassifies it
        return super()._update_values(
            src_partners, dst_partner.with_context(**{MERGE_CONTEXT_KEY: True})
        )

    def _merge(self, partner_ids, dst_partner=None, extra_checks=True):
        partners = self.env["res.partner"].browse(partner_ids).exists()
        customers = partners.commercial_partner_id
        res = super()._merge(partner_ids, dst_partner, extra_checks)
        # the merged partners' orders now belong to the destination
        (
            customers.exists() | partners.exists().commercial_partner_id
        )._segmentation_refresh()
        return res
