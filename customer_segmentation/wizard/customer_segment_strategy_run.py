from odoo import api, fields, models

from ..models.arguments import checked_record, checked_records
from ..models.customer_segmentation_strategy import BATCH_COUNTERS
from ..models.res_partner import MANAGER_GROUP


class CustomerSegmentStrategyRun(models.TransientModel):
    """The strategies applied now to the customers of one segment in the
    current company, after a preview of what they would change. Each
    customer gets what the nightly job would give it: the strategy of the
    segment of highest priority among its segments, and every segment's
    tags."""

    _name = "customer.segment.strategy.run"
    _description = "Run a Segment's Strategy Now"

    segment_id = fields.Many2one(
        "customer.segment", required=True, readonly=True, ondelete="cascade"
    )
    customer_count = fields.Integer(string="Customers", readonly=True)
    assigned = fields.Integer(string="Account Managers to Assign", readonly=True)
    returned_to_pool = fields.Integer(string="Back to the Pool", readonly=True)
    tags_added = fields.Integer(string="Tags to Add", readonly=True)
    tags_removed = fields.Integer(string="Tags to Remove", readonly=True)
    pricelists_applied = fields.Integer(string="Pricelists to Apply", readonly=True)
    pricelists_restored = fields.Integer(string="Pricelists to Restore", readonly=True)
    followups = fields.Integer(string="Follow-ups to Schedule", readonly=True)
    churn_warnings = fields.Integer(string="Churn Warnings to Schedule", readonly=True)

    @api.model
    def action_preview(self, segment_id):
        """What running the strategies on the customers of a segment would
        change in the current company, computed without changing anything.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segment.strategy.run',
        'action_preview', [segment_id])``: the id of a segment. Requires the
        Customer Segmentation / Manager group.

        :return: a window action on the preview (a wizard of this model,
            whose ``action_apply`` runs the strategies)
        """
        Partner = self.env["res.partner"]
        Partner._segmentation_check_group(MANAGER_GROUP)
        segment = checked_record(
            self.env["customer.segment"],
            segment_id,
            "segment_id",
            self.env._("Segment"),
        )
        customer_ids = self._segment_customer_ids(segment)
        counts = dict.fromkeys(BATCH_COUNTERS, 0)
        if customer_ids:
            preview = (
                self.env["customer.segmentation.strategy"]
                .sudo()
                ._preview(self.env.company, customer_ids)
            )
            counts.update({key: preview[key] for key in BATCH_COUNTERS})
        wizard = self.create(
            {"segment_id": segment.id, "customer_count": len(customer_ids), **counts}
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Run Strategy: %(segment)s", segment=segment.name),
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "views": [[False, "form"]],
            "target": "new",
        }

    def action_apply(self):
        """Run the strategies on the segment's customers now.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segment.strategy.run',
        'action_apply', [[id]])``: one preview the caller created. Requires
        the Customer Segmentation / Manager group. The customers are those of
        the segment now, which may differ from the preview's.

        :return: a notification of what was done, closing the wizard
        """
        self.env["res.partner"]._segmentation_check_group(MANAGER_GROUP)
        wizard = checked_records(self, "ids", self.env._("Wizard"), single=True)
        customer_ids = self._segment_customer_ids(wizard.segment_id)
        result = dict.fromkeys(BATCH_COUNTERS, 0)
        if customer_ids:
            result = (
                self.env["customer.segmentation.strategy"]
                .sudo()
                ._apply(self.env.company, customer_ids=customer_ids)
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Segment strategy applied"),
                "message": self.env._(
                    "%(segment)s: %(assigned)s customers given an account "
                    "manager, %(pool)s returned to the pool, %(tags)s tags added "
                    "and %(untagged)s removed, %(pricelists)s pricelists applied, "
                    "%(followups)s follow-ups and %(warnings)s churn warnings "
                    "scheduled.",
                    segment=wizard.segment_id.name,
                    assigned=result["assigned"],
                    pool=result["returned_to_pool"],
                    tags=result["tags_added"],
                    untagged=result["tags_removed"],
                    pricelists=result["pricelists_applied"],
                    followups=result["followups"],
                    warnings=result["churn_warnings"],
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    @api.model
    def _segment_customer_ids(self, segment):
        """Ids of the customers (commercial entities, archived ones
        included, as the strategy job takes them) of ``segment`` in the
        current company."""
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        field_name = Partner._segmentation_dimension_fields().get(segment.dimension)
        if not field_name:
            return []
        return Partner.search(
            [
                *Partner._segmentation_customer_domain(),
                (field_name, "=", segment.id),
                ("company_id", "in", (False, self.env.company.id)),
            ]
        ).ids
