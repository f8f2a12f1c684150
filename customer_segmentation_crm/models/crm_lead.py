from odoo import models


class CrmLead(models.Model):
    """An open opportunity makes a prospect: opening, winning, losing or
    moving one queues its customer."""

    _inherit = ["crm.lead", "customer.segmentation.source.mixin"]
    _name = "crm.lead"

    _segmentation_triggers = frozenset(
        {"active", "type", "stage_id", "partner_id", "company_id"}
    )

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
