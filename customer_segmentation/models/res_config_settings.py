from odoo import api, models

from .arguments import checked_records


class ResConfigSettings(models.TransientModel):
    _name = "res.config.settings"
    _inherit = ["res.config.settings", "customer.segmentation.settings.mixin"]

    @api.model
    def get_values(self):
        res = super().get_values()
        res.update(self._segmentation_stored_values())
        return res

    def set_values(self):
        """Store the settings of this one record (Odoo's ``execute`` calls it)."""
        checked_records(self, "ids", self.env._("Settings"), single=True)
        res = super().set_values()
        self._segmentation_store_values()
        return res

    def action_recompute_all_segments(self):
        """A full recompute (managers).

        XML-RPC: ``[[id]]``, one settings record the caller created.

        :return: a client notification of what the recompute changed
        """
        Partner = self.env["res.partner"]
        Partner._segmentation_check_group(
            "customer_segmentation.group_segmentation_manager"
        )
        checked_records(self, "ids", self.env._("Settings"), single=True)
        return Partner._segmentation_notification(Partner.recompute_all_segments())
