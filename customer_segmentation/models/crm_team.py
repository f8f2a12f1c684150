from odoo import fields, models


class CrmTeam(models.Model):
    _inherit = "crm.team"

    segmentation_last_assigned_user_id = fields.Many2one(
        "res.users",
        string="Last Assigned Account Manager",
        readonly=True,
        help="Customer segments assigning account managers in turn continue "
        "with the member after this one.",
    )
