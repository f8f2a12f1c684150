from odoo import models


class CustomerSegmentationPerformanceReport(models.Model):
    """The revenue of the report reads the purchases, POS orders included:
    inherited so that the view is built again when this module is installed,
    and flushed with the POS orders' fields it reads."""

    _inherit = "customer.segmentation.performance.report"
    _depends = {
        "pos.order": [
            "state",
            "date_order",
            "user_id",
            "partner_id",
            "company_id",
            "config_id",
            "amount_total",
            "amount_tax",
            "currency_rate",
            "account_move",
            "name",
        ],
        "pos.config": ["company_id", "journal_id"],
        "account.journal": ["currency_id", "company_id"],
    }
