from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ..models.arguments import checked_records
from ..models.res_partner import MANAGER_GROUP


class CustomerSegmentAct(models.TransientModel):
    """One action on chosen customers, or on the customers of a segment in
    the current company (a salesperson's own customers of it): each
    operation is a public method of ``res.partner``, which checks the
    caller, the customers and the input."""

    _name = "customer.segment.act"
    _description = "Act on Customers"

    operation = fields.Selection(
        [
            ("assign", "Assign a Salesperson"),
            ("activity", "Schedule an Activity"),
            ("pool", "Return to the Pool"),
        ],
        required=True,
        default="assign",
    )
    segment_id = fields.Many2one(
        "customer.segment",
        readonly=True,
        ondelete="cascade",
        help="Acts on the customers of this segment in the current company.",
    )
    partner_ids = fields.Many2many("res.partner", string="Customers", readonly=True)
    customer_count = fields.Integer(
        string="Customers to Act On", compute="_compute_customer_count"
    )
    user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        domain=lambda self: [
            ("share", "=", False),
            ("company_ids", "in", self.env.company.id),
            (
                "groups_id",
                "in",
                self.env.ref("sales_team.group_sale_salesman").ids,
            ),
        ],
    )
    reason = fields.Text()

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        context = self.env.context
        active_ids = context.get("active_ids") or []
        if (
            context.get("active_model") == "res.partner"
            and "partner_ids" in fields_list
        ):
            res["partner_ids"] = [fields.Command.set(active_ids)]
        if (
            context.get("active_model") == "customer.segment"
            and "segment_id" in fields_list
            and len(active_ids) == 1
        ):
            res["segment_id"] = active_ids[0]
        return res

    @api.depends("segment_id", "partner_ids")
    @api.depends_context("company", "uid")
    def _compute_customer_count(self):
        for wizard in self:
            wizard.customer_count = len(wizard._customers())

    def action_apply(self):
        """Run the wizard's operation on its customers.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segment.act',
        'action_apply', [[id]])``: one wizard the caller created, with
        customers or a segment; a salesperson (``user_id``) to assign, a
        reason to return customers to the pool.

        :return: a notification closing the wizard, or the activity
            scheduler on the customers
        """
        wizard = checked_records(self, "ids", self.env._("Wizard"), single=True)
        customers = wizard._customers()
        if not customers:
            raise UserError(
                self.env._(
                    "Customers to Act On (customer_count): there is no customer "
                    "you may act on in %(what)s.",
                    what=wizard.segment_id.display_name or self.env._("the selection"),
                )
            )
        return getattr(wizard, f"_act_{wizard.operation}")(customers)

    def _act_assign(self, customers):
        if not self.user_id:
            raise UserError(self.env._("Salesperson (user_id) is required."))
        customers.action_assign_salesperson(self.user_id.id)
        return self._done(
            self.env._(
                "%(user)s is now the account manager of %(count)s customers.",
                user=self.user_id.name,
                count=len(customers),
            )
        )

    def _act_activity(self, customers):
        return customers.action_schedule_activity()

    def _act_pool(self, customers):
        customers.action_return_to_pool(self.reason)
        return self._done(
            self.env._(
                "%(count)s customers returned to the customer pool.",
                count=len(customers),
            )
        )

    def _customers(self):
        """The chosen partners (every one, including any the caller may not
        read: the operations refuse those rather than skip them), or the
        active customers of the segment in the current company, a
        salesperson's own only."""
        self.ensure_one()
        Partner = self.env["res.partner"]
        if not self.segment_id:
            return Partner.browse(self.sudo().partner_ids.ids)
        field_name = Partner._segmentation_dimension_fields().get(
            self.segment_id.dimension
        )
        if not field_name:
            return Partner
        domain = [
            *Partner._segmentation_customer_domain(),
            (field_name, "=", self.segment_id.id),
            ("company_id", "in", (False, self.env.company.id)),
        ]
        if not self.env.user.has_group(MANAGER_GROUP):
            domain = expression.AND([domain, [("user_id", "=", self.env.uid)]])
        return Partner.search(domain)

    def _done(self, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": message,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
