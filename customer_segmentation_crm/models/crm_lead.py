from odoo import api, models

# Opportunity fields whose change makes or unmakes a prospect.
SEGMENTATION_TRIGGERS = frozenset(
    {"active", "type", "stage_id", "partner_id", "company_id"}
)


class CrmLead(models.Model):
    _inherit = "crm.lead"

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        leads._segmentation_enqueue()
        return leads

    def write(self, vals):
        if not SEGMENTATION_TRIGGERS & vals.keys():
            return super().write(vals)
        before = self._segmentation_pairs()
        res = super().write(vals)
        self._segmentation_enqueue(before)
        return res

    def unlink(self):
        before = self._segmentation_pairs()
        res = super().unlink()
        self.env["customer.segmentation.queue"]._enqueue(before)
        return res

    def _segmentation_pairs(self):
        """``(customer, company)`` of these opportunities; one without a
        company is a prospect signal in every company."""
        companies = self.env["res.company"].sudo().search([]).ids
        return {
            (lead.partner_id.commercial_partner_id.id, company_id)
            for lead in self.sudo()
            if lead.partner_id
            for company_id in (lead.company_id.ids or companies)
        }

    def _segmentation_enqueue(self, extra=()):
        self.env["customer.segmentation.queue"]._enqueue(
            self._segmentation_pairs() | set(extra)
        )
