from odoo import models


class MailTrackingValue(models.Model):
    _inherit = "mail.tracking.value"

    def _format_display_value(self, field_type, new=True):
        """A segment in the chatter is named in the reader's language, not in
        the language of whoever (or whichever nightly job) changed it."""
        result = super()._format_display_value(field_type, new)
        if field_type != "many2one":
            return result
        value_field = "new_value_integer" if new else "old_value_integer"
        segment_ids = {
            tracking[value_field]
            for tracking in self
            if tracking.field_id.relation == "customer.segment"
            and tracking[value_field]
        }
        if not segment_ids:
            return result
        names = {
            segment.id: segment.name
            for segment in self.env["customer.segment"]
            .sudo()
            .with_context(active_test=False)
            .browse(segment_ids)
            .exists()
        }
        return [
            names.get(tracking[value_field], value)
            if tracking.field_id.relation == "customer.segment"
            else value
            for tracking, value in zip(self, result, strict=True)
        ]
