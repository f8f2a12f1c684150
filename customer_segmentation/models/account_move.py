from odoo import api, models

# Invoice fields whose change moves a customer's purchases (when a company
# counts posted invoices as purchases).
SEGMENTATION_TRIGGERS = frozenset(
    {"state", "invoice_date", "partner_id", "move_type", "company_id"}
)


class AccountMove(models.Model):
    _inherit = "account.move"

    @api.model_create_multi
    def create(self, vals_list):
        moves = super().create(vals_list)
        moves._segmentation_enqueue()
        return moves

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

    def _segmentation_enqueue(self, extra=()):
        self.env["customer.segmentation.queue"]._enqueue(
            self._segmentation_pairs() | set(extra)
        )
