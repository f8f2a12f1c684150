from odoo import models

from .customer_segment_dimension import CUSTOM_FIELD_PREFIX
from .res_partner import SEGMENTATION_GROUP


class IrModelFields(models.Model):
    _inherit = "ir.model.fields"

    def _instanciate_attrs(self, field_data):
        """The partner fields of custom dimensions behave like the shipped
        ones: visible to segmentation users only (custom fields have no
        ``groups`` of their own), every segment a kanban column."""
        attrs = super()._instanciate_attrs(field_data)
        if (
            attrs
            and field_data["model"] == "res.partner"
            and field_data["name"].startswith(CUSTOM_FIELD_PREFIX)
        ):
            attrs["groups"] = SEGMENTATION_GROUP
            attrs["group_expand"] = "_read_group_custom_segment"
        return attrs
