import re

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .arguments import checked_records
from .input_bounds import TYPED, Bound, Text, check_records, check_vals, shown

# Prefix of the partner fields created for the dimensions users define.
CUSTOM_FIELD_PREFIX = "x_cs_"
# The partner field of each shipped dimension, by code. Every other dimension
# gets the field the module creates for it, x_cs_<code>_id: no field name is
# ever taken from a user, nor from the database.
SHIPPED_FIELDS = {
    "value": "segment_value_id",
    "lifecycle": "segment_lifecycle_id",
    "rfm": "segment_rfm_id",
    "geo": "segment_geo_id",
    "scale": "segment_scale_id",
    "job_level": "segment_job_level_id",
    "need": "segment_need_ids",
    "psychographic": "segment_psychographic_id",
}
DIMENSION_LIMITS = {
    "name": Text(100),
    "code": Text(40),
    "sequence": Bound(0, 1_000_000),
    "description": Text(5000),
    "rule_type": TYPED,
    "active": TYPED,
    "allow_override": TYPED,
}


def partner_field_name(code):
    """The partner field holding the segment of the dimension ``code``."""
    return SHIPPED_FIELDS.get(code) or f"{CUSTOM_FIELD_PREFIX}{code}_id"


def is_segment_field(field, code):
    """Whether ``field`` (of res.partner, or None) is the one the module ships
    or created for the dimension ``code``: a relation to segments, shipped in
    the code, or a custom field named after the code."""
    if field is None or field.name != partner_field_name(code):
        return False
    if field.comodel_name != "customer.segment":
        return False
    if code in SHIPPED_FIELDS:
        return not field.manual
    return field.manual and field.type == "many2one"


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
        compute="_compute_partner_field",
        store=True,
        help="The field of the contact holding its segment on this dimension, "
        "named by the module after the code.",
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

    @api.depends("code")
    def _compute_partner_field(self):
        for dimension in self:
            dimension.partner_field = (
                partner_field_name(dimension.code) if dimension.code else False
            )

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
                        "Dimension %(name)s: the code %(code)s must start with a "
                        "lower-case letter and hold only lower-case letters, "
                        "digits and underscores (at most 40).",
                        name=dimension.name,
                        code=shown(dimension.code),
                    )
                )

    @api.constrains(*DIMENSION_LIMITS)
    def _check_bounds(self):
        check_records(self, DIMENSION_LIMITS, self.env._("Dimension"))

    @api.model_create_multi
    def create(self, vals_list):
        # the shipped dimensions come from the module's data files only
        if not self.env.context.get("install_module") and any(
            vals.get("rule_type") == "builtin" for vals in vals_list
        ):
            raise UserError(
                self.env._("Only the shipped dimensions use the built-in rules.")
            )
        check_vals(self.browse(), vals_list, DIMENSION_LIMITS, self.env._("Dimension"))
        for vals in vals_list:
            code = vals.get("code")
            self._check_partner_field_vals(vals, code if isinstance(code, str) else "")
        dimensions = super().create(vals_list)
        custom = dimensions.filtered(lambda d: d.code not in SHIPPED_FIELDS)
        if custom:
            custom._create_partner_fields()
        self.env.registry.clear_cache()  # the partner's dimension caches
        return dimensions

    def write(self, vals):
        check_vals(self, [vals], DIMENSION_LIMITS, self.env._("Dimension"))
        for dimension in self:
            self._check_partner_field_vals(vals, dimension.code)
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

    def _update_field_translations(
        self, field_name, translations, digest=None, source_lang=None
    ):
        # the translation dialog writes the other languages behind write()
        if field_name in DIMENSION_LIMITS:
            check_vals(
                self,
                [{field_name: value} for value in translations.values()],
                DIMENSION_LIMITS,
                self.env._("Dimension"),
            )
        return super()._update_field_translations(
            field_name, translations, digest=digest, source_lang=source_lang
        )

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
        field_name = (
            self.env["res.partner"]._segmentation_dimension_fields().get(dimension.code)
        )
        action["context"] = {"group_by": [field_name]} if field_name else {}
        action["display_name"] = dimension.display_name
        return action

    @api.model
    def _check_partner_field_vals(self, vals, code):
        """Refuse a partner field given by the caller: the module names it.
        The name the module would give passes, so that a record exported and
        imported again, or a data file, still loads."""
        if "partner_field" in vals and vals["partner_field"] != (
            partner_field_name(code) if code else False
        ):
            raise UserError(
                self.env._(
                    "Partner Field (partner_field): the field of a dimension is "
                    "named by the module after its code (%(expected)s) and cannot "
                    "be set to %(value)s.",
                    expected=partner_field_name(code) if code else "-",
                    value=shown(vals["partner_field"]),
                )
            )

    def _partner_field_records(self):
        """The partner fields the module created for these custom dimensions:
        named after their own code (never after the stored partner_field),
        custom, and a many-to-one to segments."""
        names = [
            partner_field_name(d.code) for d in self if d.code not in SHIPPED_FIELDS
        ]
        if not names:
            return self.env["ir.model.fields"]
        return (
            self.env["ir.model.fields"]
            .sudo()
            .search(
                [
                    ("model", "=", "res.partner"),
                    ("name", "in", names),
                    ("state", "=", "manual"),
                    ("ttype", "=", "many2one"),
                    ("relation", "=", "customer.segment"),
                ]
            )
        )

    def _create_partner_fields(self):
        """A stored many2one on partners per custom dimension, so that Odoo's
        search, group-by, filters and exports treat it as any other field."""
        model = self.env["ir.model"]._get("res.partner")
        group = self.env.ref("customer_segmentation.group_segmentation_user")
        for dimension in self:
            name = partner_field_name(dimension.code)
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
