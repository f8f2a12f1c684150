import re

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .arguments import checked_records

# Prefix of the partner fields created for the dimensions users define.
CUSTOM_FIELD_PREFIX = "x_cs_"


class CustomerSegmentDimension(models.Model):
    """An axis customers are classified on, each with its own segments.

    The shipped dimensions are classified by the module's rules; a dimension a
    manager creates is classified by the domains of its segments, and gets its
    own stored partner field so that customers can be searched and grouped by it.
    """

    _name = "customer.segment.dimension"
    _description = "Customer Segment Dimension"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Stable technical key, lower-case letters, digits and underscores. "
        "Custom dimensions store their segment in the partner field "
        "x_cs_<code>_id.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    rule_type = fields.Selection(
        [
            ("builtin", "Built-in rules"),
            ("domain", "Segment domains"),
            ("manual", "Set by hand"),
        ],
        required=True,
        default="domain",
        help="Built-in rules: figures and settings of the module. Segment "
        "domains: the first segment, by priority, whose domain matches the "
        "partner. Set by hand: users choose the segment.",
    )
    partner_field = fields.Char(
        readonly=True,
        help="The field of the contact holding its segment on this dimension.",
    )
    allow_override = fields.Boolean(
        string="Allow Pinning",
        default=True,
        help="Users allowed to pin segments may fix a customer's segment on this "
        "dimension, with a reason.",
    )
    description = fields.Text(translate=True)
    segment_ids = fields.One2many(
        "customer.segment", "dimension_id", string="Segments", copy=False
    )
    segment_count = fields.Integer(compute="_compute_segment_count")

    _sql_constraints = [
        ("unique_code", "UNIQUE(code)", "A dimension code must be unique."),
    ]

    @api.depends("segment_ids")
    def _compute_segment_count(self):
        counts = dict(
            self.env["customer.segment"]._read_group(
                [("dimension_id", "in", self.ids)], ["dimension_id"], ["__count"]
            )
        )
        for dimension in self:
            dimension.segment_count = counts.get(dimension, 0)

    @api.constrains("code")
    def _check_code(self):
        for dimension in self:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", dimension.code or ""):
                raise ValidationError(
                    self.env._(
                        "Dimension %(name)s: the code %(code)r must start with a "
                        "lower-case letter and hold only lower-case letters, "
                        "digits and underscores (at most 40).",
                        name=dimension.name,
                        code=dimension.code,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        # the shipped dimensions come from the module's data files only
        if not self.env.context.get("install_module") and any(
            vals.get("rule_type") == "builtin" for vals in vals_list
        ):
            raise UserError(
                self.env._("Only the shipped dimensions use the built-in rules.")
            )
        dimensions = super().create(vals_list)
        custom = dimensions.filtered(lambda d: not d.partner_field)
        if custom:
            custom._create_partner_fields()
        self.env.registry.clear_cache()  # the partner's dimension caches
        return dimensions

    def write(self, vals):
        if "code" in vals and any(d.code != vals["code"] for d in self):
            raise UserError(
                self.env._(
                    "The code of a dimension cannot change: its partner field and "
                    "its history are keyed on it. Create a new dimension instead."
                )
            )
        if "rule_type" in vals and any(
            d.rule_type == "builtin" or vals["rule_type"] == "builtin" for d in self
        ):
            raise UserError(
                self.env._("Only the shipped dimensions use the built-in rules.")
            )
        res = super().write(vals)
        if "name" in vals:
            self._partner_field_records().sudo().write(
                {"field_description": vals["name"]}
            )
        if "rule_type" in vals:
            self._partner_field_records().sudo().write(
                {"readonly": vals["rule_type"] != "manual"}
            )
        self.env.registry.clear_cache()  # the partner's dimension caches
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_except_builtin(self):
        if any(d.rule_type == "builtin" for d in self):
            raise UserError(
                self.env._(
                    "The shipped dimensions cannot be deleted; archive them instead."
                )
            )

    def unlink(self):
        fields_to_drop = self._partner_field_records()
        self.env["customer.segment.override"].sudo().with_context(
            active_test=False
        ).search([("dimension", "in", self.mapped("code"))]).unlink()
        res = super().unlink()
        fields_to_drop.sudo().unlink()
        self.env.registry.clear_cache()  # the partner's dimension caches
        return res

    def action_view_customers(self):
        """Customers grouped by this dimension's segments.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segment.dimension',
        'action_view_customers', [[id]])``: one dimension id.

        :return: a window action on the customers
        """
        dimension = checked_records(self, "ids", self.env._("Dimension"), single=True)
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "customer_segmentation.res_partner_action_customers"
        )
        action["context"] = {"group_by": [dimension.partner_field]}
        action["display_name"] = dimension.display_name
        return action

    def _partner_field_records(self):
        names = [
            d.partner_field
            for d in self
            if d.partner_field and d.partner_field.startswith(CUSTOM_FIELD_PREFIX)
        ]
        if not names:
            return self.env["ir.model.fields"]
        return (
            self.env["ir.model.fields"]
            .sudo()
            .search([("model", "=", "res.partner"), ("name", "in", names)])
        )

    def _create_partner_fields(self):
        """A stored many2one on partners per custom dimension, so that Odoo's
        search, group-by, filters and exports treat it as any other field."""
        model = self.env["ir.model"]._get("res.partner")
        group = self.env.ref("customer_segmentation.group_segmentation_user")
        for dimension in self:
            name = f"{CUSTOM_FIELD_PREFIX}{dimension.code}_id"
            self.env["ir.model.fields"].sudo().create(
                {
                    "model_id": model.id,
                    "name": name,
                    "field_description": dimension.name,
                    "ttype": "many2one",
                    "relation": "customer.segment",
                    "on_delete": "set null",
                    "domain": repr([("dimension", "=", dimension.code)]),
                    "readonly": dimension.rule_type != "manual",
                    "index": True,
                    "copied": False,
                    "tracking": 1,
                    "groups": [fields.Command.link(group.id)],
                }
            )
            dimension.partner_field = name
