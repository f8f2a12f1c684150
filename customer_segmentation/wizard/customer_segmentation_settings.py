from odoo import api, fields, models

from ..models.arguments import checked_field_names, checked_records


class CustomerSegmentationSettings(models.TransientModel):
    """Segmentation settings for segmentation managers, who need not be
    administrators of the whole database (Odoo's settings page is theirs)."""

    _name = "customer.segmentation.settings"
    _inherit = ["customer.segmentation.settings.mixin"]
    _description = "Customer Segmentation Settings"

    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        readonly=True,
        help="The settings are this company's: switch company to see another's.",
    )

    @api.model
    def default_get(self, fields_list):
        """The stored settings. XML-RPC: ``fields_list``, a list of field names
        of this model."""
        checked_field_names(self, fields_list, "fields_list")
        res = super().default_get(fields_list)
        stored = self._segmentation_stored_values()
        res.update({name: stored[name] for name in fields_list if name in stored})
        return res

    def action_save(self):
        """Store the settings.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segmentation.settings',
        'action_save', [[id]])``: one settings record the caller created.
        Requires the Customer Segmentation / Manager group.

        :return: True
        """
        self.env["res.partner"]._segmentation_check_group(
            "customer_segmentation.group_segmentation_manager"
        )
        settings = checked_records(self, "ids", self.env._("Settings"), single=True)
        settings._segmentation_store_values()
        return True

    def action_save_and_recompute(self):
        """``action_save``, then a full recompute.

        :return: a client notification of what the recompute changed
        """
        self.action_save()
        Partner = self.env["res.partner"]
        return Partner._segmentation_notification(Partner.recompute_all_segments())

    def action_preview_segment_moves(self):
        """As the settings page's preview, then the form again, showing it.

        :return: a window action on this settings record
        """
        super().action_preview_segment_moves()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Customer Segmentation Settings"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [[False, "form"]],
            "target": "new",
        }
