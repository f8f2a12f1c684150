from odoo import api, models


class CustomerSegmentationSourceMixin(models.AbstractModel):
    """Documents that move a customer's purchases or prospect signal (sale
    orders, invoices, opportunities, Point of Sale orders): creating,
    deleting or changing one of ``_segmentation_triggers`` queues its
    customer to be classified again, in its company, before and after the
    change. The sale does not wait for the classification.

    A model mixes it in with ``_inherit = ["sale.order", <this>]``, names its
    trigger fields and, when its customers are not simply ``partner_id`` in
    ``company_id``, overrides ``_segmentation_pairs``.
    """

    _name = "customer.segmentation.source.mixin"
    _description = "Document Queuing Its Customer for Classification"

    # Fields whose change moves the customer's figures.
    _segmentation_triggers = frozenset({"state", "partner_id", "company_id"})

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._segmentation_enqueue()
        return records

    def write(self, vals):
        if not self._segmentation_triggers & vals.keys():
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
        """``(commercial partner id, company id)`` whose figures these
        documents move."""
        return {
            (record.partner_id.commercial_partner_id.id, record.company_id.id)
            for record in self.sudo()
        }

    def _segmentation_enqueue(self, extra=()):
        """Queue these documents' customers, and the ``extra`` pairs they had
        before a change."""
        self.env["customer.segmentation.queue"]._enqueue(
            self._segmentation_pairs() | set(extra)
        )
