from odoo import api, models
from odoo.tools import SQL


class CustomerSegmentationPurchase(models.AbstractModel):
    _inherit = "customer.segmentation.purchase"

    @api.model
    def _sources(self, company):
        return [*super()._sources(company), self._opportunities]

    @api.model
    def _opportunities(self, company, day, since=None, customers=None):
        """Open opportunities (not won, not lost) as prospect signals: a
        customer without purchase but with one is a prospect. Opportunities
        without a company count in every company."""
        company_condition = (
            SQL("(l.company_id IS NULL OR l.company_id = %s)", company.id)
            if company is not None
            else SQL("true")
        )
        customers_condition = (
            SQL("AND p.commercial_partner_id IN (%s)", customers)
            if customers is not None
            else SQL()
        )
        return SQL(
            """
            SELECT 'crm'::varchar AS source, l.id AS order_id,
                   p.commercial_partner_id AS customer_id, l.company_id,
                   l.user_id, l.create_date::date AS date,
                   NULL::numeric AS amount, false AS purchase, true AS pending
              FROM crm_lead l
              JOIN res_partner p ON p.id = l.partner_id
              LEFT JOIN crm_stage st ON st.id = l.stage_id
             WHERE l.active AND l.type = 'opportunity'
               AND NOT COALESCE(st.is_won, false)
               AND %(company)s %(customers)s
            """,
            company=company_condition,
            customers=customers_condition,
        )
