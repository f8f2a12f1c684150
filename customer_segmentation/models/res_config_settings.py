from odoo import api, models


class ResConfigSettings(models.TransientModel):
    _name = "res.config.settings"
    _inherit = ["res.config.settings", "customer.segmentation.settings.mixin"]

    @api.model
    def get_values(self):
        res = super().get_values()
        res.update(self._segmentation_stored_values())
        return res

    def set_values(self):
        res = super().set_values()
        self._segmentation_store_values()
        return res

    def action_recompute_all_segments(self):
        Partner = self.env["res.partner"]
        return Partner._segmentation_notification(Partner.recompute_all_segments())
