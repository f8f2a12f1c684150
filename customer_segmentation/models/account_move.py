from odoo import models


class AccountMove(models.Model):
    """With invoices as the purchases, posting, cancelling or moving an
    invoice or a credit note queues its customer."""

    _inherit = ["account.move", "customer.segmentation.source.mixin"]
    _name = "account.move"

    _segmentation_triggers = frozenset(
        {"state", "invoice_date", "partner_id", "move_type", "company_id"}
    )

    def _segmentation_pairs(self):
        """``(customer, company)`` of the customer invoices and credit notes
        of companies that count invoices as purchases, and of the sale orders
        they invoice: an invoiced order is no prospect signal any more."""
        pairs = set()
        for move in self.sudo():
            if not (
                move.is_sale_document(include_receipts=False)
                and move.company_id.segmentation_purchase_source == "invoice"
            ):
                continue
            partners = move.partner_id | move.line_ids.sale_line_ids.order_id.partner_id
            pairs.update(
                (partner.commercial_partner_id.id, move.company_id.id)
                for partner in partners
            )
        return pairs
