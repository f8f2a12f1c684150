from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .arguments import (
    caller_names,
    checked_record,
    checked_records,
    checked_text,
    checked_values,
)
from .customer_segmentation_rule import COMPANY_DIMENSIONS
from .input_bounds import (
    MAX_DAYS,
    TYPED,
    DateRange,
    Text,
    check_records,
    check_vals,
)

# Set by the module alone: who pinned and ended a pin and when, whether it is
# active (a pin is ended by action_end, never archived or revived), what the
# rule says, and the company, which follows the customer.
ENGINE_FIELDS = frozenset(
    {"active", "rule_segment_id", "user_id", "ended_by_id", "date_end", "company_id"}
)

# Dimensions that describe the customer (the commercial entity); a pin on one
# of them is set on the company or individual, and its contacts follow.
CUSTOMER_DIMENSIONS = ("value", "lifecycle", "rfm", "scale")
# What users may type into a pin; the expiry date is checked when set.
OVERRIDE_LIMITS = {
    "reason": Text(1000),
    "date_expiry": DateRange(MAX_DAYS),
    "partner_id": TYPED,
    "dimension": TYPED,
    "segment_id": TYPED,
}


class CustomerSegmentOverride(models.Model):
    """A customer's segment on one dimension, pinned by hand.

    While active, recomputes keep the pinned segment and record what the rule
    would have said. Ending it, by hand or when it expires, hands the dimension
    back to the rule; both are logged in the segment history.
    """

    _name = "customer.segment.override"
    _description = "Pinned Customer Segment"
    _order = "active desc, create_date desc, id desc"
    _rec_name = "segment_id"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(
        "res.company",
        readonly=True,
        index=True,
        help="The company whose classification the pin fixes (none for the "
        "dimensions every company shares).",
    )
    dimension = fields.Selection(selection="_selection_dimension", required=True)
    segment_id = fields.Many2one(
        "customer.segment",
        string="Pinned Segment",
        required=True,
        ondelete="cascade",
        domain="[('dimension', '=', dimension)]",
    )
    rule_segment_id = fields.Many2one(
        "customer.segment",
        string="Rule Says",
        readonly=True,
        ondelete="set null",
        help="The segment the rules gave at the latest recompute.",
    )
    reason = fields.Text(required=True)
    date_expiry = fields.Date(
        string="Until",
        help="From the day after, the rule classifies the customer again.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Pinned By",
        default=lambda self: self.env.user,
        readonly=True,
    )
    active = fields.Boolean(default=True, readonly=True)
    ended_by_id = fields.Many2one("res.users", readonly=True)
    date_end = fields.Datetime(string="Ended On", readonly=True)

    def init(self):
        # one active pin per customer, dimension and company; ended pins are
        # kept
        self.env.cr.execute(
            """
            DROP INDEX IF EXISTS customer_segment_override_active_uniq;
            CREATE UNIQUE INDEX IF NOT EXISTS
                   customer_segment_override_active_company_uniq
                ON customer_segment_override
                   (partner_id, dimension, COALESCE(company_id, 0)) WHERE active
            """
        )

    @api.model
    def _selection_dimension(self):
        return self.env["customer.segment"]._selection_dimension()

    @api.constrains("partner_id", "dimension", "segment_id", "reason", "active")
    def _check_override(self):
        dimensions = {
            d.code: d
            for d in self.env["customer.segment.dimension"]
            .sudo()
            .with_context(active_test=False)
            .search([])
        }
        for override in self.filtered("active"):
            dimension = dimensions[override.dimension]
            if not dimension.allow_override:
                raise ValidationError(
                    self.env._(
                        "Dimension: segments of %(dimension)s cannot be pinned; "
                        "set them on the customer instead.",
                        dimension=dimension.name,
                    )
                )
            if override.segment_id.dimension != override.dimension:
                raise ValidationError(
                    self.env._(
                        "Pinned Segment: %(segment)s is not a segment of "
                        "%(dimension)s.",
                        segment=override.segment_id.display_name,
                        dimension=dimension.name,
                    )
                )
            if not (override.reason or "").strip():
                raise ValidationError(
                    self.env._("Reason: say why the segment is pinned.")
                )
            partner = override.partner_id
            if override.dimension in CUSTOMER_DIMENSIONS and (
                partner.commercial_partner_id != partner
            ):
                raise ValidationError(
                    # the company goes unnamed: the user may not read it
                    self.env._(
                        "Customer: %(dimension)s is pinned on the company of "
                        "%(contact)s, not on the contact.",
                        dimension=dimension.name,
                        contact=caller_names(partner),
                    )
                )
            if override.dimension == "job_level" and partner.is_company:
                raise ValidationError(
                    self.env._(
                        "Customer: a job level is pinned on a person, not on the "
                        "company %(company)s.",
                        company=caller_names(partner),
                    )
                )

    @api.constrains("reason")
    def _check_bounds(self):
        check_records(self, OVERRIDE_LIMITS, self.env._("Pin"), names=["reason"])

    @api.model_create_multi
    def create(self, vals_list):
        """XML-RPC: ``partner_id`` (a customer the caller may read),
        ``dimension`` (a dimension code), ``segment_id``, ``reason`` (at most
        ``arguments.MAX_TEXT_LENGTH`` characters) and optionally
        ``date_expiry``; the other fields are set by the module."""
        checked_values(self, vals_list, lambda: ENGINE_FIELDS)
        check_vals(self.browse(), vals_list, OVERRIDE_LIMITS, self.env._("Pin"))
        # the form passes the customer as a default
        vals_list = [self._add_missing_default_values(vals) for vals in vals_list]
        for vals in vals_list:
            checked_record(
                self.env["res.partner"],
                vals.get("partner_id"),
                "partner_id",
                self.env._("Customer"),
            )
            self._check_pin_values(vals)
        # A pin of a dimension each company classifies on its own fixes the
        # segment of the customer's company, or, for a shared customer, of
        # the current company.
        for vals in vals_list:
            partner = self.env["res.partner"].sudo().browse(vals["partner_id"])
            vals["company_id"] = (
                (partner.company_id or self.env.company).id
                if vals.get("dimension") in COMPANY_DIMENSIONS
                else False
            )
        # A new pin replaces the partner's current one on the dimension: the
        # segment goes from the old pin to the new one, without the rule's
        # segment in between.
        for vals in vals_list:
            self.search(
                [
                    ("partner_id", "=", vals["partner_id"]),
                    ("dimension", "=", vals.get("dimension")),
                    ("company_id", "=", vals["company_id"]),
                ]
            ).sudo().write(
                {
                    "active": False,
                    "ended_by_id": self.env.uid,
                    "date_end": fields.Datetime.now(),
                }
            )
        # the ended pin must leave the unique index before the new one enters
        self.flush_model(["active"])
        overrides = super().create(vals_list)
        overrides._reclassify(cause="override")
        return overrides

    def write(self, vals):
        """XML-RPC: ``segment_id``, ``reason`` and ``date_expiry`` of active
        pins; the other fields are set by the module."""
        checked_values(self, [vals], lambda: ENGINE_FIELDS)
        check_vals(self, [vals], OVERRIDE_LIMITS, self.env._("Pin"))
        if {"partner_id", "dimension"} & set(vals):
            raise UserError(
                self.env._(
                    "A pin's customer and dimension cannot change: end it and pin "
                    "again."
                )
            )
        self._check_pin_values(vals)
        if set(vals) - {"active", "ended_by_id", "date_end"} and not all(
            self.mapped("active")
        ):
            raise UserError(self.env._("An ended pin cannot be changed."))
        res = super().write(vals)
        if {"segment_id", "date_expiry"} & set(vals):
            self._reclassify(cause="override")
        return res

    def action_end(self):
        """End these pins now: the rule classifies the customers again.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segment.override',
        'action_end', [[id, ...]])``: ids of pins the caller may change
        (Customer Segmentation / User: Pin Segments); ended ones are left as
        they are.

        :return: True
        """
        checked_records(self, "ids", self.env._("Pins"), operation="write")._end()
        return True

    def _check_pin_values(self, vals):
        """Refuse values of the wrong type, naming the field, before the ORM
        turns them into a raw error."""
        if "reason" in vals:
            # an empty reason is refused by the constraint, as in the form
            checked_text(
                self.env, vals["reason"], "reason", self.env._("Reason"), required=False
            )
        if "dimension" in vals and (
            not isinstance(vals["dimension"], str)
            or vals["dimension"] not in dict(self._selection_dimension())
        ):
            raise UserError(
                self.env._(
                    "Dimension (dimension): no dimension has the code %(code)s.",
                    code=repr(vals["dimension"])[:40],
                )
            )
        if "segment_id" in vals:
            checked_record(
                self.env["customer.segment"],
                vals["segment_id"],
                "segment_id",
                self.env._("Pinned Segment"),
            )
        if vals.get("date_expiry"):
            try:
                fields.Date.to_date(vals["date_expiry"])
            except (TypeError, ValueError):
                raise UserError(
                    self.env._(
                        "Until (date_expiry): expected a date such as 2026-12-31; "
                        "got %(value)s.",
                        value=repr(vals["date_expiry"])[:40],
                    )
                ) from None

    def _end(self, expired=False):
        active = self.filtered("active")
        if not active:
            return
        # the module ends pins; the caller's right to was checked
        active.sudo().write(
            {
                "active": False,
                "ended_by_id": self.env.user.id,
                "date_end": fields.Datetime.now(),
            }
        )
        active._reclassify(
            cause="expiry",
            ended={(o.partner_id.id, o.dimension) for o in active},
            expired=expired,
        )

    def _reclassify(self, **kwargs):
        """Classify the pins' customers again, in the pins' companies (every
        company for the dimensions they share)."""
        for company, pins in self.grouped("company_id").items():
            pins.partner_id._segmentation_reclassify(
                companies=company or None, **kwargs
            )

    @api.model
    def _expire(self, today):
        """End the pins whose last day is before ``today``."""
        expired = self.sudo().search([("date_expiry", "<", today)])
        expired._end(expired=True)
        return len(expired)
