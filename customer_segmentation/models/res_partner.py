import datetime
import json
import logging
import re
import time

from lxml import etree
from lxml.builder import E

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.query import Query

from .arguments import caller_names, checked_records, checked_text, checked_values
from .customer_segment_dimension import (
    CUSTOM_FIELD_PREFIX,
    SHIPPED_FIELDS,
    is_segment_field,
    partner_field_name,
)
from .input_bounds import (
    MAX_AMOUNT,
    MAX_EMPLOYEES,
    TYPED,
    Bound,
    check_records,
    check_vals,
    field_label,
)
from .segmentation_params import PARAM_PREFIX, PARAMS, parse_params

SEGMENTATION_GROUP = "customer_segmentation.group_segmentation_user"
# Day of the latest interactions and churn risks computed by the nightly job.
STRATEGY_FIGURES_PARAM = "customer_segmentation.strategy_figures_date"
MANAGER_GROUP = "customer_segmentation.group_segmentation_manager"

# Stored on every partner; a child contact carries its commercial entity's
# values, written by the same statement that classifies the entity.
STORED_FIELDS = (
    "first_order_date",
    "last_order_date",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_recency_score",
    "rfm_frequency_score",
    "rfm_monetary_score",
    "segment_value_id",
    "segment_lifecycle_id",
    "segment_rfm_id",
)
# Classified from the contact's own data (address, job title, its company's
# size, the rules of custom dimensions), by a second statement.
PROFILE_FIELDS = ("segment_geo_id", "segment_scale_id", "segment_job_level_id")
# Partner fields whose change reclassifies the profile dimensions.
PROFILE_DEPENDENCIES = {
    "country_id",
    "state_id",
    "company_id",
    "function",
    "is_company",
    "parent_id",
    "segmentation_employee_count",
    "segmentation_annual_revenue",
}

# What users may type into the segmentation fields of a contact.
PARTNER_LIMITS = {
    "segmentation_employee_count": Bound(0, MAX_EMPLOYEES),
    "segmentation_annual_revenue": Bound(0, MAX_AMOUNT, high_open=True),
    "segmentation_decision_maker": TYPED,
    "segment_psychographic_id": TYPED,
}
# In the context of a partner merge: the merge copies every field of the merged
# partners, but the classification's fields are recomputed after it instead.
# A Python object, which no XML-RPC caller can send.
MERGE_CONTEXT_KEY = "segmentation_merge"
MERGE_CONTEXT_TOKEN = object()

_logger = logging.getLogger(__name__)

# The first full recompute after installation is the baseline: the rules'
# changes are logged (history and chatter) once a full run has completed, so
# the baseline of a million customers is not written as millions of "changes".
# Pins and hand edits are always logged.
BASELINE = SQL("EXISTS (SELECT 1 FROM customer_segmentation_run WHERE state = 'done')")

# Customers per batch (one transaction each) of the full recompute, manual
# or nightly: see benchmarks/README.md for how it was chosen.
RECOMPUTE_BATCH_SIZE = 2000


class ResPartner(models.Model):
    _inherit = "res.partner"

    first_order_date = fields.Date(
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="Date of the first confirmed sale order of the customer.",
    )
    last_order_date = fields.Date(
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="Date of the latest confirmed sale order of the customer.",
    )
    rfm_recency_days = fields.Integer(
        string="Recency (days)",
        compute="_compute_rfm_recency_days",
        search="_search_rfm_recency_days",
        groups=SEGMENTATION_GROUP,
        help="Days since the latest confirmed sale order, as of today.",
    )
    rfm_frequency = fields.Integer(
        string="Frequency",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="Confirmed sale orders dated in the look-back window.",
    )
    rfm_monetary = fields.Monetary(
        string="Monetary",
        currency_field="segmentation_currency_id",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="Untaxed amount of the confirmed sale orders dated in the look-back "
        "window, in the company currency.",
    )
    segmentation_currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_segmentation_currency_id",
        groups=SEGMENTATION_GROUP,
    )
    rfm_recency_score = fields.Integer(
        string="Recency Score", readonly=True, copy=False, groups=SEGMENTATION_GROUP
    )
    rfm_frequency_score = fields.Integer(
        string="Frequency Score", readonly=True, copy=False, groups=SEGMENTATION_GROUP
    )
    rfm_monetary_score = fields.Integer(
        string="Monetary Score", readonly=True, copy=False, groups=SEGMENTATION_GROUP
    )
    segment_value_id = fields.Many2one(
        "customer.segment",
        string="Value Tier",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "value")],
        group_expand="_read_group_segment_value_id",
        tracking=True,
        groups=SEGMENTATION_GROUP,
    )
    segment_lifecycle_id = fields.Many2one(
        "customer.segment",
        string="Lifecycle Stage",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "lifecycle")],
        group_expand="_read_group_segment_lifecycle_id",
        tracking=True,
        groups=SEGMENTATION_GROUP,
    )
    segment_rfm_id = fields.Many2one(
        "customer.segment",
        string="RFM Segment",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "rfm")],
        group_expand="_read_group_segment_rfm_id",
        tracking=True,
        groups=SEGMENTATION_GROUP,
    )

    segment_geo_id = fields.Many2one(
        "customer.segment",
        string="Geography",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "geo")],
        group_expand="_read_group_segment_geo_id",
        tracking=True,
        groups=SEGMENTATION_GROUP,
        help="Local: same country and state as the company; domestic: same "
        "country; international: another country. Contacts without a country "
        "get none.",
    )
    segment_scale_id = fields.Many2one(
        "customer.segment",
        string="Business Scale",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "scale")],
        group_expand="_read_group_segment_scale_id",
        tracking=True,
        groups=SEGMENTATION_GROUP,
        help="Of the company, from its employees and annual revenue; its contacts "
        "share it.",
    )
    segment_job_level_id = fields.Many2one(
        "customer.segment",
        string="Job Level",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "job_level")],
        group_expand="_read_group_segment_job_level_id",
        tracking=True,
        groups=SEGMENTATION_GROUP,
        help="Of individual contacts, from the keywords of their job title, or "
        "pinned by hand.",
    )
    segment_psychographic_id = fields.Many2one(
        "customer.segment",
        string="Psychographic Type",
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "psychographic")],
        group_expand="_read_group_segment_psychographic_id",
        tracking=True,
        groups=SEGMENTATION_GROUP,
        help="How the customer decides: rational, emotional or impulsive.",
    )
    segment_need_ids = fields.Many2many(
        "customer.segment",
        relation="res_partner_customer_segment_need_rel",
        column1="partner_id",
        column2="segment_id",
        string="Needs",
        domain=[("dimension", "=", "need")],
        groups=SEGMENTATION_GROUP,
        help="Needs without a rule are set by hand; needs with a rule are added "
        "and removed by it.",
    )
    segmentation_decision_maker = fields.Boolean(
        string="Decision Maker",
        tracking=True,
        groups=SEGMENTATION_GROUP,
        help="This contact takes or signs off the purchase decisions.",
    )
    segmentation_employee_count = fields.Integer(
        string="Employees",
        aggregator="sum",
        groups=SEGMENTATION_GROUP,
        help="Number of employees of the company, for its business scale.",
    )
    segmentation_annual_revenue = fields.Monetary(
        string="Annual Revenue",
        currency_field="segmentation_currency_id",
        groups=SEGMENTATION_GROUP,
        help="Yearly revenue of the company in the company currency, for its "
        "business scale.",
    )
    segment_override_ids = fields.One2many(
        "customer.segment.override",
        "partner_id",
        string="Pinned Segments",
        groups=SEGMENTATION_GROUP,
    )
    segment_history_ids = fields.One2many(
        "customer.segment.history",
        "partner_id",
        groups=SEGMENTATION_GROUP,
    )

    # Management (issue: strategies, churn early warning, customer pool)
    segmentation_last_interaction = fields.Date(
        string="Last Interaction",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="Latest done activity, message or confirmed order of the customer "
        "and its contacts, as of the last nightly strategy run.",
    )
    churn_typical_gap_days = fields.Integer(
        string="Usual Gap (days)",
        readonly=True,
        copy=False,
        aggregator="avg",
        groups=SEGMENTATION_GROUP,
        help="Median number of days between the customer's consecutive "
        "confirmed orders.",
    )
    churn_risk_score = fields.Integer(
        string="Churn Risk",
        readonly=True,
        copy=False,
        aggregator="avg",
        groups=SEGMENTATION_GROUP,
        help="0 while the customer orders within its usual gap, rising to 100 "
        "when its last order is as old as the set number of usual gaps.",
    )
    churn_risk_explanation = fields.Char(
        string="Churn Risk Reason",
        compute="_compute_churn_risk_explanation",
        groups=SEGMENTATION_GROUP,
    )
    churn_alert = fields.Boolean(
        string="Churn Warning",
        compute="_compute_churn_alert",
        search="_search_churn_alert",
        groups=SEGMENTATION_GROUP,
        help="The churn risk reaches the warning threshold of the settings and "
        "nobody dismissed it.",
    )
    churn_dismissed = fields.Boolean(
        string="Churn Warning Dismissed",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="A user judged the churn warning a false alarm; it comes back when "
        "the customer orders again and then lapses.",
    )
    churn_dismiss_reason = fields.Text(
        string="Dismissal Reason", readonly=True, copy=False, groups=SEGMENTATION_GROUP
    )
    churn_dismissed_order_date = fields.Date(
        string="Last Order When Dismissed",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
    )
    churn_warned_order_date = fields.Date(
        string="Last Order When Warned",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
    )
    segmentation_manager_since = fields.Date(
        string="Account Manager Since",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="When the salesperson got the customer: the shared pool measures "
        "neglect from this date at the earliest.",
    )
    segmentation_in_pool = fields.Boolean(
        string="In Customer Pool",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups=SEGMENTATION_GROUP,
        help="In the shared customer pool (公海): salespeople may claim it.",
    )
    segmentation_pool_date = fields.Datetime(
        string="In Pool Since", readonly=True, copy=False, groups=SEGMENTATION_GROUP
    )
    segmentation_tag_ids = fields.Many2many(
        "res.partner.category",
        relation="res_partner_segmentation_tag_rel",
        column1="partner_id",
        column2="category_id",
        string="Tags from Segments",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
    )
    segmentation_pricelist_id = fields.Many2one(
        "product.pricelist",
        string="Pricelist from Segment",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="The exclusive pricelist of a segment, applied to this customer.",
    )
    segmentation_previous_pricelist_id = fields.Many2one(
        "product.pricelist",
        string="Pricelist Before Segment",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="Restored when the customer leaves the segment.",
    )

    segment_value_color = fields.Integer(
        string="Value Tier Colour",
        related="segment_value_id.color",
        groups=SEGMENTATION_GROUP,
    )
    segment_lifecycle_color = fields.Integer(
        string="Lifecycle Stage Colour",
        related="segment_lifecycle_id.color",
        groups=SEGMENTATION_GROUP,
    )
    segment_rfm_color = fields.Integer(
        string="RFM Segment Colour",
        related="segment_rfm_id.color",
        groups=SEGMENTATION_GROUP,
    )
    segmentation_explanation = fields.Text(
        string="Explanation",
        compute="_compute_segmentation_explanation",
        groups=SEGMENTATION_GROUP,
        help="The figures and settings behind each segment of the customer.",
    )

    @api.depends("churn_risk_score", "churn_dismissed")
    def _compute_churn_alert(self):
        threshold = self._segmentation_churn_threshold()
        for partner in self:
            partner.churn_alert = (
                partner.churn_risk_score >= threshold and not partner.churn_dismissed
            )

    def _search_churn_alert(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return NotImplemented
        alert = [
            ("churn_risk_score", ">=", self._segmentation_churn_threshold()),
            ("churn_dismissed", "!=", True),
        ]
        return alert if (operator == "=") == value else ["!", *expression.AND([alert])]

    @api.model
    def _segmentation_churn_threshold(self):
        try:
            return self._segmentation_params()["churn_risk_threshold"]
        except UserError:
            return PARAMS["churn_risk_threshold"][1]

    @api.depends("churn_risk_score", "churn_typical_gap_days", "last_order_date")
    @api.depends_context("lang")
    def _compute_churn_risk_explanation(self):
        today = _segmentation_today()
        for partner in self:
            gap = partner.churn_typical_gap_days
            if not gap or not partner.last_order_date:
                partner.churn_risk_explanation = self.env._(
                    "Fewer than two order dates: no usual gap to compare with."
                )
                continue
            recency = (today - partner.last_order_date).days
            partner.churn_risk_explanation = self.env._(
                "Usually orders every %(gap)s days; last order %(recency)s days "
                "ago, %(ratio)s times the usual gap: risk %(risk)s/100.",
                gap=gap,
                recency=recency,
                ratio=round(recency / gap, 1),
                risk=partner.churn_risk_score,
            )

    @api.depends_context("company")
    def _compute_segmentation_currency_id(self):
        self.segmentation_currency_id = self.env.company.currency_id

    @api.depends("last_order_date")
    def _compute_rfm_recency_days(self):
        today = _segmentation_today()
        for partner in self:
            partner.rfm_recency_days = (
                (today - partner.last_order_date).days if partner.last_order_date else 0
            )

    @api.depends(
        "segment_value_id",
        "segment_lifecycle_id",
        "segment_rfm_id",
        "first_order_date",
        "last_order_date",
        "rfm_frequency",
        "rfm_monetary",
        "segment_override_ids.active",
        "segment_override_ids.segment_id",
        "segment_override_ids.rule_segment_id",
        "segment_override_ids.date_expiry",
    )
    @api.depends_context("lang")
    def _compute_segmentation_explanation(self):
        try:
            params = self._segmentation_params()
        except UserError as error:
            self.segmentation_explanation = error.args[0]
            return
        today = _segmentation_today()
        for partner in self:
            partner.segmentation_explanation = "\n".join(
                partner._segmentation_explain(params, today)
                + partner._segmentation_explain_pins()
            )

    def _segmentation_explain_pins(self):
        """Sentences telling which segments are pinned, by whom and why."""
        _ = self.env._
        dimensions = dict(
            self.env["customer.segment"]
            ._fields["dimension"]
            ._description_selection(self.env)
        )
        lines = []
        for pin in self.segment_override_ids.filtered("active"):
            until = (
                _("until %(date)s", date=pin.date_expiry)
                if pin.date_expiry
                else _("until unpinned")
            )
            lines.append(
                _(
                    "%(dimension)s pinned to %(segment)s by %(user)s, %(until)s: "
                    "%(reason)s (the rules say %(rule)s).",
                    dimension=dimensions.get(pin.dimension, pin.dimension),
                    segment=pin.segment_id.name,
                    user=pin.user_id.name,
                    until=until,
                    reason=pin.reason,
                    rule=pin.rule_segment_id.name or _("none"),
                )
            )
        return lines

    def _segmentation_explain(self, params, today):
        """Sentences telling why this partner is in its segments."""
        _ = self.env._
        lines = []
        if not self.last_order_date:
            if self.segment_lifecycle_id:
                lines.append(
                    _(
                        "%(stage)s: no purchase yet, but an open quotation, an "
                        "order dated later or an opportunity.",
                        stage=self.segment_lifecycle_id.name,
                    )
                )
            else:
                lines.append(_("No confirmed order and no quotation: not classified."))
            return lines
        age = (today - self.first_order_date).days
        recency = (today - self.last_order_date).days
        stage = self.segment_lifecycle_id.code
        if stage == "new":
            reason = _(
                "first order %(age)s days ago, within the new-customer period "
                "of %(days)s days",
                age=age,
                days=params["new_days"],
            )
        elif stage == "active":
            reason = _(
                "last order %(recency)s days ago, within the active period of "
                "%(days)s days",
                recency=recency,
                days=params["active_days"],
            )
        elif stage == "at_risk":
            reason = _(
                "last order %(recency)s days ago, more than the active period of "
                "%(active)s days but within the churn period of %(churn)s days",
                recency=recency,
                active=params["active_days"],
                churn=params["churn_days"],
            )
        elif stage == "churned":
            reason = _(
                "last order %(recency)s days ago, more than the churn period of "
                "%(days)s days",
                recency=recency,
                days=params["churn_days"],
            )
        else:
            reason = _("not recomputed since the last order")
        if self.segment_lifecycle_id:
            lines.append(
                _(
                    "%(segment)s: %(reason)s.",
                    segment=self.segment_lifecycle_id.name,
                    reason=reason,
                )
            )
        if self.segment_value_id:
            amount = self.rfm_monetary
            if not self.rfm_frequency:
                reason = _(
                    "no confirmed order in the last %(window)s days",
                    window=params["lookback_days"],
                )
            elif params["value_method"] == "fixed":
                reason = _(
                    "%(amount).2f spent in the last %(window)s days; high value "
                    "from %(high).2f, medium from %(medium).2f",
                    amount=amount,
                    window=params["lookback_days"],
                    high=params["value_high_amount"],
                    medium=params["value_medium_amount"],
                )
            else:
                reason = _(
                    "%(amount).2f spent in the last %(window)s days; the top "
                    "%(high)s%% of buying customers are high value, the next "
                    "%(medium)s%% medium",
                    amount=amount,
                    window=params["lookback_days"],
                    high=round(params["value_high_share"] * 100, 2),
                    medium=round(params["value_medium_share"] * 100, 2),
                )
            lines.append(
                _(
                    "%(segment)s: %(reason)s.",
                    segment=self.segment_value_id.name,
                    reason=reason,
                )
            )
        if self.segment_rfm_id:
            lines.append(
                _(
                    "%(segment)s: recency score %(r)s (last order %(recency)s "
                    "days ago), frequency score %(f)s (%(orders)s orders), "
                    "monetary score %(m)s, among the customers buying in the "
                    "last %(window)s days.",
                    segment=self.segment_rfm_id.name,
                    r=self.rfm_recency_score,
                    recency=recency,
                    f=self.rfm_frequency_score,
                    orders=self.rfm_frequency,
                    m=self.rfm_monetary_score,
                    window=params["lookback_days"],
                )
            )
        return lines

    def _search_rfm_recency_days(self, operator, value):
        """Recency is ``today - last_order_date``: search on the date instead."""
        if operator not in ("=", "!=", "<", "<=", ">", ">=") or not isinstance(
            value, int
        ):
            return NotImplemented
        today = _segmentation_today()
        date = today - datetime.timedelta(days=value)
        # more days ago means an earlier date: flip the comparison
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(operator, operator)
        return [("last_order_date", flipped, date)]

    def _read_group_segment_value_id(self, segments, domain):
        return self._segmentation_group_expand(segments, "value")

    def _read_group_segment_lifecycle_id(self, segments, domain):
        return self._segmentation_group_expand(segments, "lifecycle")

    def _read_group_segment_rfm_id(self, segments, domain):
        return self._segmentation_group_expand(segments, "rfm")

    def _read_group_segment_geo_id(self, segments, domain):
        return self._segmentation_group_expand(segments, "geo")

    def _read_group_segment_scale_id(self, segments, domain):
        return self._segmentation_group_expand(segments, "scale")

    def _read_group_segment_job_level_id(self, segments, domain):
        return self._segmentation_group_expand(segments, "job_level")

    def _read_group_segment_psychographic_id(self, segments, domain):
        return self._segmentation_group_expand(segments, "psychographic")

    def _read_group_custom_segment(self, segments, domain):
        # the segments shown belong to the custom dimension being grouped by
        dimensions = set(segments.mapped("dimension"))
        return segments.search(
            ["|", ("id", "in", segments.ids), ("dimension", "in", list(dimensions))],
            order=segments._order,
        )

    def _segmentation_group_expand(self, segments, dimension):
        # Every segment of the dimension is a column, in segment order, even
        # when empty, so a kanban shows the whole ladder.
        return segments.search(
            ["|", ("id", "in", segments.ids), ("dimension", "=", dimension)],
            order=segments._order,
        )

    @api.model
    def _get_view(self, view_id=None, view_type="form", **options):
        """Search and group contacts by the custom dimensions too.

        Their fields come and go with the dimensions, so the filters are added
        here rather than in a view; adding or removing a dimension reloads the
        registry, which clears the cached views.
        """
        arch, view = super()._get_view(view_id, view_type, **options)
        if view_type != "search":
            return arch, view
        dimensions = (
            self.env["customer.segment.dimension"]
            .sudo()
            .search([("rule_type", "!=", "builtin")])
        )
        fields_by_dimension = self._segmentation_dimension_fields()
        custom = [
            (dimension, fields_by_dimension[dimension.code])
            for dimension in dimensions
            if dimension.code in fields_by_dimension
            and dimension.code not in SHIPPED_FIELDS
        ]
        if not custom:
            return arch, view
        group_by = arch.find(".//group")
        if group_by is None:
            group_by = etree.SubElement(arch, "group", {"expand": "0"})
        for dimension, field_name in custom:
            attrs = {"groups": SEGMENTATION_GROUP}
            arch.insert(0, E.field(name=field_name, **attrs))
            group_by.append(
                E.filter(
                    name=f"groupby_{field_name}",
                    string=dimension.name,
                    context=repr({"group_by": field_name}),
                    **attrs,
                )
            )
        return arch, view

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.constrains(*PARTNER_LIMITS)
    def _check_segmentation_bounds(self):
        check_records(self, PARTNER_LIMITS, self.env._("Contact"))

    @api.model_create_multi
    def create(self, vals_list):
        model = self._segmentation_without_defaults()
        checked_values(model, vals_list, model._segmentation_engine_fields)
        model._segmentation_check_input(vals_list)
        partners = super(ResPartner, model).create(vals_list)
        partners._segmentation_check_manual_segments(
            {name for vals in vals_list for name in vals}
        )
        # a new contact of a company shows the company's segments at once
        contacts = partners.filtered("parent_id")
        contacts.commercial_partner_id._segmentation_reclassify(
            profile=False, commercial=True
        )
        partners._segmentation_reclassify(orders=False)
        manual = self._segmentation_manual_fields()
        if any(manual.keys() & vals.keys() for vals in vals_list):
            Segment = self.env["customer.segment"]
            partners._segmentation_log_manual(
                {partner.id: dict.fromkeys(manual, Segment) for partner in partners}
            )
        return partners

    def write(self, vals):
        if self.env.context.get(MERGE_CONTEXT_KEY) is MERGE_CONTEXT_TOKEN and (
            isinstance(vals, dict)
        ):
            engine = self._segmentation_engine_fields()
            vals = {name: value for name, value in vals.items() if name not in engine}
        checked_values(self, [vals], self._segmentation_engine_fields)
        self._segmentation_check_input([vals])
        written = set(vals)
        orders = bool({"parent_id", "is_company"} & written)
        profile = bool(
            (PROFILE_DEPENDENCIES | self._segmentation_rule_fields()) & written
        )
        manual = bool(set(self._segmentation_manual_fields()) & written)
        before = self._segmentation_manual_values() if manual else None
        customers_before = self.commercial_partner_id if orders or profile else None
        res = super().write(vals)
        if manual:
            self._segmentation_check_manual_segments(written)
        if vals.get("user_id"):
            # The shared pool measures neglect from here. Whoever sets the
            # salesperson need not see the segmentation fields.
            super(ResPartner, self.sudo()).write(
                {"segmentation_manager_since": _segmentation_today()}
            )
        if manual:
            self._segmentation_log_manual(before)
        if orders or profile:
            # the orders of a moved contact now count for another customer
            (customers_before | self.commercial_partner_id)._segmentation_reclassify(
                orders=orders, profile=profile
            )
        return res

    def _commercial_sync_to_children(self, fields_to_sync=None):
        # Any write on a company "syncs" its commercial fields to its contacts,
        # even when none was written: Odoo then writes nothing on each
        # contact, one by one, bumping their write date and preparing their
        # tracking (10,000 contacts: 10,000 writes).
        if fields_to_sync is not None and not fields_to_sync:
            return True
        return super()._commercial_sync_to_children(fields_to_sync)

    # ------------------------------------------------------------------
    # Actions (UI and XML-RPC)
    # ------------------------------------------------------------------

    def action_recompute_segments(self):
        """Recompute the segments of these partners' commercial entities.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_recompute_segments', [[id, ...]])``: ids of partners the caller
        may read, at most ``arguments.MAX_RECORDS``. Value tiers and RFM scores
        are still ranked against all customers. Requires the Customer
        Segmentation / User group.

        :return: True
        """
        self._segmentation_check_group(SEGMENTATION_GROUP)
        partners = checked_records(self, "ids", self.env._("Partners"))
        customers = partners.sudo().commercial_partner_id
        engine = self.env["res.partner"].sudo()
        params = engine._segmentation_params()
        today = _segmentation_today()
        stats = engine._segmentation_population_stats(params, today)
        engine._segmentation_apply_all(params, stats, today, customer_ids=customers.ids)
        return True

    @api.model
    def recompute_all_segments(self):
        """Recompute the segments of every customer now.

        Customers are classified in committed batches against thresholds
        computed once at the start (see ``customer.segmentation.run``), so the
        result is that of one statement over everyone, while users may go on
        editing contacts.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'recompute_all_segments', [])``. Requires the Customer Segmentation /
        Manager group. If other users keep changing the same customers so that
        a batch fails again and again, a ``UserError`` says so; the batches
        done are kept and the run is marked abandoned.

        :return: ``{'run_id': int, 'customers': int, 'written': int,
            'changes': {'value': int, 'lifecycle': int, 'rfm': int}}``:
            customers (commercial entities, archived ones included) processed,
            customers whose stored figures changed and, per dimension, how many
            customers changed segment.
        """
        self._segmentation_check_group(MANAGER_GROUP)
        Run = self.env["customer.segmentation.run"].sudo()
        run = Run._start_committed("manual")
        try:
            run._process(batch_size=RECOMPUTE_BATCH_SIZE)
        except Exception:
            # nobody resumes a manual run: say it will not finish
            run._abandon()
            raise
        return run._summary()

    @api.model
    def apply_segment_strategies(self):
        """Apply every segment's management strategy now, as the nightly job
        does: account managers, shared pool, tags, pricelists, follow-up and
        churn early-warning activities.

        Customers are handled in committed batches, so users may go on
        editing contacts meanwhile (see ``customer.segmentation.strategy``).

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'apply_segment_strategies', [])``. Requires the Customer Segmentation /
        Manager group. If other users keep changing the same customers so that
        a batch fails again and again, a ``UserError`` says so; the batches
        done are kept.

        :return: ``{'assigned', 'returned_to_pool', 'tags_added',
            'tags_removed', 'pricelists_applied', 'pricelists_restored',
            'followups', 'churn_warnings', 'activities_left'}``: numbers of
            customers (tags: of customer-tag pairs); ``activities_left`` is 0
            here, as there is no time limit
        """
        self._segmentation_check_group(MANAGER_GROUP)
        # a caller's context does not make the job stop early
        return (
            self.env["customer.segmentation.strategy"]
            .sudo()
            .with_context(segmentation_deadline=None)
            ._apply()
        )

    @api.model
    def _cron_apply_segment_strategies(self, time_budget=240):
        """Nightly: strategies after the recompute. Activities are created in
        committed batches within ``time_budget`` seconds; if some are left,
        the job reports progress and Odoo runs it again at once."""
        # A call resuming today's work (activities left by the previous
        # call) reuses today's interactions and churn risks: at a million
        # customers they take minutes.
        config = self.env["ir.config_parameter"].sudo()
        today = str(_segmentation_today())
        figures = config.get_param(STRATEGY_FIGURES_PARAM) != today
        result = (
            self.env["customer.segmentation.strategy"]
            .with_context(segmentation_deadline=time.monotonic() + time_budget)
            ._apply(figures=figures)
        )
        config.set_param(STRATEGY_FIGURES_PARAM, today)
        self.env["ir.cron"]._notify_progress(
            done=result["followups"] + result["churn_warnings"],
            remaining=result["activities_left"],
        )

    def action_claim_from_pool(self):
        """Take these customers from the shared pool as their account manager.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_claim_from_pool', [[id, ...]])``: ids of customers in the pool
        that the caller may read. Each salesperson may claim up to the daily
        limit set in the settings, however many claims run at the same time;
        of two salespeople claiming one customer at once, one gets it and the
        other is refused (a claim meeting another one in progress fails with
        a concurrency error, which Odoo's RPC layer retries).

        :return: True
        """
        self._segmentation_check_group(SEGMENTATION_GROUP)
        customers = checked_records(self, "ids", self.env._("Customers"))
        limit = self._segmentation_params()["pool_daily_claim_limit"]
        # Locked before they are read, in a fixed order: another claim of one
        # of them fails at once; one committed since this transaction began
        # fails this lock with a serialization error. Both are retried.
        self.env.execute_query(
            SQL(
                """SELECT id FROM res_partner WHERE id = ANY(%s)
                ORDER BY id FOR NO KEY UPDATE NOWAIT""",
                customers.ids,
            )
        )
        customers = customers.sudo()
        not_in_pool = customers.filtered(lambda p: not p.segmentation_in_pool)
        if not_in_pool:
            raise UserError(
                self.env._(
                    "These customers are not in the customer pool: %(names)s.",
                    names=caller_names(not_in_pool.sudo(False)),
                )
            )
        with self.env.cr.savepoint(flush=False):
            claimed = self.env["customer.segmentation.claim.counter"]._add_claims(
                self.env.user, _segmentation_today(), len(customers)
            )
            if claimed > limit:
                raise UserError(
                    self.env._(
                        "Daily Pool Claims per Salesperson "
                        "(customer_segmentation.pool_daily_claim_limit) is "
                        "%(limit)s: you claimed %(claimed)s customers today and "
                        "cannot claim %(count)s more.",
                        limit=limit,
                        claimed=claimed - len(customers),
                        count=len(customers),
                    )
                )
        customers.write(
            {
                "user_id": self.env.uid,
                "segmentation_in_pool": False,
                "segmentation_pool_date": False,
            }
        )
        self.env["customer.segmentation.pool.move"].sudo().create(
            [
                {
                    "partner_id": customer.id,
                    "company_id": customer.company_id.id,
                    "user_id": self.env.uid,
                    "move": "claim",
                    "reason": self.env._("Claimed from the customer pool"),
                }
                for customer in customers
            ]
        )
        return True

    def action_dismiss_churn_risk(self, reason):
        """Mark the churn warning of these customers as a false alarm.

        The warning comes back only after the customer's next order lapses
        again. Open early-warning activities are removed.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_dismiss_churn_risk', [[id, ...], 'reason'])``: ids of customers
        with a churn warning that the caller may read, and a reason of at most
        ``arguments.MAX_TEXT_LENGTH`` characters. Only a customer's account
        manager (its salesperson) or a segmentation manager may dismiss its
        warning.

        :return: True
        """
        self._segmentation_check_group(SEGMENTATION_GROUP)
        customers = checked_records(self, "ids", self.env._("Customers"))
        reason = checked_text(self.env, reason, "reason", self.env._("Reason"))
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            others = customers.filtered(lambda p: p.user_id != self.env.user)
            if others:
                raise AccessError(
                    self.env._(
                        "Only the account manager of a customer or a segmentation "
                        "manager may dismiss its churn warning; you are not the "
                        "account manager of %(names)s.",
                        names=caller_names(others),
                    )
                )
        quiet = customers.filtered(lambda p: not p.churn_alert)
        if quiet:
            raise UserError(
                self.env._(
                    "These customers have no churn warning to dismiss: %(names)s.",
                    names=caller_names(quiet),
                )
            )
        # a judgement on the segmentation, not an edit of the contact
        for last_order_date, group in (
            customers.sudo().grouped("last_order_date").items()
        ):
            group.write(
                {
                    "churn_dismissed": True,
                    "churn_dismiss_reason": reason,
                    "churn_dismissed_order_date": last_order_date,
                }
            )
        self.env["mail.activity"].sudo().search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "in", customers.ids),
                (
                    "activity_type_id",
                    "=",
                    self.env.ref(
                        "customer_segmentation.mail_activity_type_churn_warning"
                    ).id,
                ),
            ]
        ).unlink()
        body = self.env._("Churn warning dismissed: %(reason)s", reason=reason)
        customers._message_log_batch(bodies=dict.fromkeys(customers.ids, body))
        return True

    @api.model
    def _segmentation_notification(self, summary):
        """A client notification telling what a full recompute changed."""
        changes = summary["changes"]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Customer segments recomputed"),
                "message": self.env._(
                    "%(customers)s customers classified: %(value)s value tier, "
                    "%(lifecycle)s lifecycle and %(rfm)s RFM segment changes.",
                    customers=summary["customers"],
                    value=changes["value"],
                    lifecycle=changes["lifecycle"],
                    rfm=changes["rfm"],
                ),
            },
        }

    @api.model
    def _cron_recompute_segments(
        self, batch_size=RECOMPUTE_BATCH_SIZE, time_budget=240
    ):
        """Nightly full recompute in committed batches (see the run model);
        a call after a crash or a time-out resumes today's run."""
        run = self.env["customer.segmentation.run"]._start_committed("cron")
        run._process(batch_size=batch_size, time_budget=time_budget)

    # ------------------------------------------------------------------
    # Classification engine
    # ------------------------------------------------------------------

    @api.model
    def _segmentation_customer_domain(self):
        """Who is a customer: the commercial entities, companies and
        individuals without a company. The one definition: SQL takes it from
        ``_segmentation_customer_sql``."""
        return ["|", ("is_company", "=", True), ("parent_id", "=", False)]

    @api.model
    def _segmentation_customer_sql(self, alias="res_partner"):
        """``_segmentation_customer_domain`` as an SQL condition on the
        partner table aliased ``alias``, archived partners included.

        The same rows as "id = commercial_partner_id", in a form PostgreSQL
        can estimate: with the id form it expected 0.5% of the partners and
        chose nested loops over the orders.
        """
        Partner = self.with_context(active_test=False)
        query = Query(self.env, alias, SQL.identifier(self._table))
        condition = expression.expression(
            self._segmentation_customer_domain(), Partner, alias, query
        )
        return condition.query.where_clause

    @api.model
    def _segmentation_check_group(self, group):
        if not self.env.su and not self.env.user.has_group(group):
            raise AccessError(
                self.env._(
                    "Only members of the group %(group)s may do this.",
                    group=self.env.ref(group).full_name,
                )
            )

    @api.model
    def _segmentation_params(self):
        """Read the settings; a stored invalid value aborts with a UserError."""
        get_param = self.env["ir.config_parameter"].sudo().get_param
        raw = {key: get_param(PARAM_PREFIX + key) for key in PARAMS}
        values, errors = parse_params(raw, self.env)
        if errors:
            raise UserError(
                self.env._(
                    "Customer segmentation settings are invalid; nothing was "
                    "recomputed.\n%(errors)s",
                    errors="\n".join(errors),
                )
            )
        return values

    @api.model
    def _segmentation_window_start(self, params, today):
        start = today - datetime.timedelta(days=params["lookback_days"])
        return datetime.datetime.combine(start, datetime.time.min)

    @api.model
    def _segmentation_population_stats(self, params, today):
        """Population-wide thresholds among customers with a purchase in the
        window, so that any subset of customers is classified exactly as in a
        full run.

        A score is ``ceil(5 * cume_dist)``, computed in integers; each score's
        breakpoint is the largest value that gets it, so the score of ``x`` is
        the smallest score whose breakpoint is at least ``x``. The quantile
        cut-offs are the amounts at the last high and medium ranks: ties with
        them share the better tier.

        :return: JSON-serialisable dict of thresholds (values as text)
        """
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """
            WITH purchase AS MATERIALIZED (
                SELECT customer_id, max(date) AS last_date,
                       count(*) AS frequency, sum(amount) AS monetary
                  FROM (%(purchases)s) pu
              GROUP BY customer_id
            ),
            ranked AS (
                SELECT last_date, frequency, monetary, total,
                       (5 * count(*) OVER (ORDER BY last_date) + total - 1)
                           / total AS r_score,
                       (5 * count(*) OVER (ORDER BY frequency) + total - 1)
                           / total AS f_score,
                       (5 * count(*) OVER (ORDER BY monetary) + total - 1)
                           / total AS m_score,
                       row_number() OVER (ORDER BY monetary DESC) AS m_rank
                  FROM (SELECT *, count(*) OVER () AS total FROM purchase) t
            )
            SELECT 'recency', r_score, max(last_date)::text
              FROM ranked GROUP BY r_score
            UNION ALL
            SELECT 'frequency', f_score, max(frequency)::text
              FROM ranked GROUP BY f_score
            UNION ALL
            SELECT 'monetary', m_score, max(monetary)::text
              FROM ranked GROUP BY m_score
            UNION ALL
            SELECT 'high', 0, max(monetary)::text FROM ranked
             WHERE m_rank = ceil(round(%(high_share)s::numeric * total, 9))
            UNION ALL
            SELECT 'medium', 0, max(monetary)::text FROM ranked
             WHERE m_rank = ceil(round(%(medium_share)s::numeric * total, 9))
            UNION ALL
            SELECT 'total', count(*), NULL FROM purchase
                """,
                purchases=self.env["customer.segmentation.purchase"]._query(
                    today,
                    since=self._segmentation_window_start(params, today).date(),
                ),
                high_share=str(params["value_high_share"]),
                medium_share=str(
                    params["value_high_share"] + params["value_medium_share"]
                ),
            )
        )
        stats = {
            "total": 0,
            "recency_breaks": [],
            "frequency_breaks": [],
            "monetary_breaks": [],
            "high_cutoff": None,
            "medium_cutoff": None,
        }
        for kind, score, value in rows:
            if kind == "total":
                stats["total"] = score
            elif kind in ("high", "medium"):
                stats[f"{kind}_cutoff"] = value
            else:
                stats[f"{kind}_breaks"].append((score, value))
        for kind in ("recency", "frequency", "monetary"):
            stats[f"{kind}_breaks"].sort()
        return stats

    @api.model
    def _segmentation_segment_ids(self):
        """Active segment ids per code, and the RFM map as 25 cells (R-major,
        the first segment by sequence winning a cell)."""
        rows = self.env.execute_query(
            SQL(
                """
            SELECT id, dimension, code, rfm_recency_min, rfm_recency_max,
                   rfm_frequency_min, rfm_frequency_max
              FROM customer_segment
             WHERE active AND dimension IN ('value', 'lifecycle', 'rfm')
          ORDER BY sequence, id
                """
            )
        )
        ids = {"value": {}, "lifecycle": {}}
        rfm_cells = [None] * 25
        for segment_id, dimension, code, r_min, r_max, f_min, f_max in rows:
            if dimension != "rfm":
                ids[dimension].setdefault(code, segment_id)
                continue
            for r in range(max(r_min, 1), min(r_max, 5) + 1):
                for f in range(max(f_min, 1), min(f_max, 5) + 1):
                    cell = (r - 1) * 5 + (f - 1)
                    if rfm_cells[cell] is None:
                        rfm_cells[cell] = segment_id
        return ids["value"], ids["lifecycle"], rfm_cells

    @api.model
    def _segmentation_apply(
        self,
        params,
        stats,
        today,
        customer_ids=None,
        id_range=None,
        cause="rule",
        ended=(),
        run=None,
        build_only=False,
    ):
        """Classify customers on value, lifecycle and RFM, write the rows whose
        values changed and log the segment changes.

        One statement for any number of customers: aggregate their orders,
        score them against ``stats``, keep the pinned segments, update the
        customers and their child contacts where something differs, and write
        the history and chatter of the customers that changed segment.

        :param customer_ids: commercial partner ids, or None for all
        :param id_range: ``(low, high)``: commercial partners with
            ``low < id <= high`` (used by the batched nightly run)
        :param cause: history cause of the changes made by the rules
        :param ended: ``{(partner_id, dimension)}`` whose pin just ended
        :param run: the ``customer.segmentation.run`` doing this, if any
        :param build_only: return ``(source, dimensions, figures)`` for
            ``_segmentation_write`` instead of writing
        :return: ``{'customers': n, 'value': n, 'lifecycle': n, 'rfm': n}``
            where ``customers`` counts the customers written
        """
        self.env.flush_all()
        value_ids, lifecycle_ids, rfm_cells = self._segmentation_segment_ids()
        window_start = self._segmentation_window_start(params, today).date()
        scope = self._segmentation_customer_sql("c")
        if customer_ids is not None:
            scope = SQL("%s AND c.id = ANY(%s)", scope, list(customer_ids))
        if id_range is not None:
            scope = SQL("%s AND c.id > %s AND c.id <= %s", scope, *id_range)
        customers = None
        if customer_ids is not None or id_range is not None:
            customers = SQL("SELECT c.id FROM res_partner c WHERE %s", scope)
        Purchase = self.env["customer.segmentation.purchase"]
        if params["value_method"] == "fixed":
            high_cutoff = params["value_high_amount"]
            medium_cutoff = params["value_medium_amount"]
        else:
            high_cutoff = stats["high_cutoff"]
            medium_cutoff = stats["medium_cutoff"]

        def score(column, breaks, cast):
            if not breaks:
                return SQL("NULL::int")
            cases = [
                SQL("WHEN %s <= %s::%s THEN %s", column, value, SQL(cast), s)
                for s, value in breaks
            ]
            return SQL("CASE %s ELSE 5 END", SQL(" ").join(cases))

        opportunity = SQL("false")
        if "crm.lead" in self.env:
            opportunity = SQL(
                """EXISTS (
                    SELECT 1 FROM crm_lead l
                      JOIN res_partner lp ON lp.id = l.partner_id
                      LEFT JOIN crm_stage st ON st.id = l.stage_id
                     WHERE lp.commercial_partner_id = m.customer_id
                       AND l.active
                       AND l.type = 'opportunity'
                       AND NOT COALESCE(st.is_won, false))"""
            )
        source = SQL(
            """
        WITH agg AS (
            SELECT customer_id,
                   min(date) FILTER (WHERE purchase) AS first_date,
                   max(date) FILTER (WHERE purchase) AS last_date,
                   count(*) FILTER (WHERE purchase AND date >= %(window_start)s)
                       AS frequency,
                   sum(amount) FILTER (WHERE purchase AND date >= %(window_start)s)
                       AS monetary,
                   -- an open quotation or an order dated later
                   bool_or(NOT purchase) AS quoted
              FROM (%(orders)s) o
          GROUP BY customer_id
        ),
        metric AS (
            SELECT c.id AS customer_id,
                   c.company_id,
                   c.segment_value_id AS old_value,
                   c.segment_lifecycle_id AS old_lifecycle,
                   c.segment_rfm_id AS old_rfm,
                   a.first_date, a.last_date,
                   COALESCE(a.frequency, 0) AS frequency,
                   COALESCE(a.monetary, 0) AS monetary,
                   -- NULL without purchase in the window: low value
                   a.monetary AS window_monetary,
                   COALESCE(a.quoted, false) AS quoted,
                   %(today)s::date - a.first_date AS age_days,
                   %(today)s::date - a.last_date AS recency_days
              FROM res_partner c
              LEFT JOIN agg a ON a.customer_id = c.id
             WHERE %(scope)s
        ),
        scored AS (
            SELECT m.*,
                   CASE WHEN m.frequency > 0 THEN %(r_score)s END AS r_score,
                   CASE WHEN m.frequency > 0 THEN %(f_score)s END AS f_score,
                   CASE WHEN m.frequency > 0 THEN %(m_score)s END AS m_score,
                   CASE
                       WHEN m.last_date IS NULL THEN NULL
                       WHEN m.window_monetary >= %(high_cutoff)s THEN %(value_high)s
                       WHEN m.window_monetary >= %(medium_cutoff)s THEN %(value_medium)s
                       ELSE %(value_low)s
                   END AS rule_value,
                   CASE
                       WHEN m.last_date IS NULL THEN
                           CASE WHEN m.quoted OR %(opportunity)s
                                THEN %(lc_prospect)s END
                       WHEN m.age_days <= %(new_days)s THEN %(lc_new)s
                       WHEN m.recency_days <= %(active_days)s THEN %(lc_active)s
                       WHEN m.recency_days <= %(churn_days)s THEN %(lc_at_risk)s
                       ELSE %(lc_churned)s
                   END AS rule_lifecycle
              FROM metric m
        )
        SELECT s.*,
               (%(rfm_cells)s::int[])[(s.r_score - 1) * 5 + s.f_score] AS rule_rfm
          FROM scored s
            """,
            window_start=window_start,
            orders=Purchase._query_orders(today, customers=customers),
            scope=scope,
            opportunity=opportunity,
            today=today,
            r_score=score(SQL("m.last_date"), stats["recency_breaks"], "date"),
            f_score=score(SQL("m.frequency"), stats["frequency_breaks"], "int"),
            m_score=score(SQL("m.monetary"), stats["monetary_breaks"], "numeric"),
            high_cutoff=_numeric(high_cutoff),
            medium_cutoff=_numeric(medium_cutoff),
            value_high=value_ids.get("high"),
            value_medium=value_ids.get("medium"),
            value_low=value_ids.get("low"),
            lc_prospect=lifecycle_ids.get("prospect"),
            lc_new=lifecycle_ids.get("new"),
            lc_active=lifecycle_ids.get("active"),
            lc_at_risk=lifecycle_ids.get("at_risk"),
            lc_churned=lifecycle_ids.get("churned"),
            new_days=params["new_days"],
            active_days=params["active_days"],
            churn_days=params["churn_days"],
            rfm_cells=rfm_cells,
        )
        reasons = self._segmentation_core_reasons(
            params, lifecycle_ids, high_cutoff, medium_cutoff
        )
        figures = {
            "first_order_date": SQL("first_date"),
            "last_order_date": SQL("last_date"),
            "rfm_frequency": SQL("frequency"),
            "rfm_monetary": SQL("monetary"),
            "rfm_recency_score": SQL("r_score"),
            "rfm_frequency_score": SQL("f_score"),
            "rfm_monetary_score": SQL("m_score"),
        }
        dimensions = {
            "value": ("segment_value_id", reasons["value"]),
            "lifecycle": ("segment_lifecycle_id", reasons["lifecycle"]),
            "rfm": ("segment_rfm_id", reasons["rfm"]),
        }
        if build_only:
            return source, dimensions, figures
        counts = self._segmentation_write(
            source,
            dimensions,
            figures=figures,
            children=True,
            cause=cause,
            ended=ended,
            run=run,
        )
        self.invalidate_model(list(STORED_FIELDS))
        return counts

    def _segmentation_core_reasons(self, params, lifecycle_ids, high, medium):
        """SQL texts telling, in the current language, why a customer got its
        value tier, lifecycle stage and RFM segment (columns of ``u``)."""
        _ = self.env._
        no_window_order = _sql_text(
            _("no confirmed order in the last %(window)s days"),
            window=SQL("%s", params["lookback_days"]),
        )
        recency = SQL("u.recency_days")
        lifecycle = SQL(
            """CASE u.rule_lifecycle
                 WHEN %(new)s THEN %(new_reason)s
                 WHEN %(active)s THEN %(active_reason)s
                 WHEN %(at_risk)s THEN %(at_risk_reason)s
                 WHEN %(churned)s THEN %(churned_reason)s
                 WHEN %(prospect)s THEN %(prospect_reason)s
                 ELSE %(none_reason)s END""",
            new=lifecycle_ids.get("new"),
            active=lifecycle_ids.get("active"),
            at_risk=lifecycle_ids.get("at_risk"),
            churned=lifecycle_ids.get("churned"),
            prospect=lifecycle_ids.get("prospect"),
            new_reason=_sql_text(
                _("first order %(age)s days ago ≤ new-customer period %(days)s days"),
                age=SQL("u.age_days"),
                days=SQL("%s", params["new_days"]),
            ),
            active_reason=_sql_text(
                _("last order %(recency)s days ago ≤ active period %(days)s days"),
                recency=recency,
                days=SQL("%s", params["active_days"]),
            ),
            at_risk_reason=_sql_text(
                _(
                    "last order %(recency)s days ago > active period %(active)s "
                    "days, ≤ churn period %(churn)s days"
                ),
                recency=recency,
                active=SQL("%s", params["active_days"]),
                churn=SQL("%s", params["churn_days"]),
            ),
            churned_reason=_sql_text(
                _("last order %(recency)s days ago > churn period %(days)s days"),
                recency=recency,
                days=SQL("%s", params["churn_days"]),
            ),
            prospect_reason=SQL(
                "%s::text",
                _(
                    "no purchase yet, but an open quotation, an order dated later "
                    "or an opportunity"
                ),
            ),
            none_reason=SQL(
                "%s::text", _("no confirmed order, open quotation or opportunity")
            ),
        )
        value = SQL(
            """CASE WHEN u.last_date IS NULL THEN %(no_order)s
                    WHEN u.window_monetary IS NULL THEN %(no_window_order)s
                    ELSE %(spent)s END""",
            no_order=SQL("%s::text", _("no confirmed order")),
            no_window_order=no_window_order,
            spent=_sql_text(
                _(
                    "%(amount)s bought in the last %(window)s days; high value "
                    "from %(high)s, medium from %(medium)s"
                ),
                amount=_amount(SQL("u.window_monetary")),
                window=SQL("%s", params["lookback_days"]),
                high=_amount(_numeric(high)),
                medium=_amount(_numeric(medium)),
            ),
        )
        rfm = SQL(
            "CASE WHEN u.r_score IS NULL THEN %s ELSE %s END",
            no_window_order,
            _sql_text(
                _(
                    "recency score %(r)s (last order %(recency)s days ago), "
                    "frequency score %(f)s (%(orders)s orders), monetary score "
                    "%(m)s"
                ),
                r=SQL("u.r_score"),
                recency=recency,
                f=SQL("u.f_score"),
                orders=SQL("u.frequency"),
                m=SQL("u.m_score"),
            ),
        )
        return {"value": value, "lifecycle": lifecycle, "rfm": rfm}

    @api.model
    def _segmentation_write(
        self,
        source,
        dimensions,
        figures=None,
        children=False,
        cause="rule",
        ended=(),
        run=None,
        entity_codes=(),
    ):
        """Write classification results and log what changed, in one statement.

        :param source: SQL selecting one row per classified partner with the
            columns ``customer_id``, ``company_id``, and per dimension ``d``:
            ``old_<d>`` (segment before) and ``rule_<d>`` (segment by rule),
            plus the columns named in ``figures`` and those the reasons use
        :param dimensions: ``{code: (partner column, reason SQL over u.*)}``
        :param figures: ``{partner column: SQL column of the source}`` also
            written
        :param children: write the child contacts of each row too
        :param entity_codes: dimensions of the commercial entity in a source
            with one row per partner (column ``entity_id``): pinned on the
            entity, logged and counted on the entity's own row only
        :return: ``{'customers': n, <code>: n per dimension}``
        """
        figures = figures or {}
        codes = list(dimensions)
        pin_columns = SQL(", ").join(
            SQL(
                """max(segment_id) FILTER (WHERE dimension = %(code)s)
                       AS %(pin)s,
                   max(reason) FILTER (WHERE dimension = %(code)s)
                       AS %(pin_reason)s""",
                code=code,
                pin=SQL.identifier(f"pin_{code}"),
                pin_reason=SQL.identifier(f"pin_reason_{code}"),
            )
            for code in codes
        )

        def pins_of(code):
            return SQL("pe" if code in entity_codes else "pn")

        final_columns = SQL(", ").join(
            SQL(
                "COALESCE(%(pins)s.%(pin)s, s.%(rule)s) AS %(new)s",
                pins=pins_of(code),
                pin=SQL.identifier(f"pin_{code}"),
                rule=SQL.identifier(f"rule_{code}"),
                new=SQL.identifier(f"new_{code}"),
            )
            for code in codes
        )
        pin_reasons = SQL(", ").join(
            SQL(
                "%(pins)s.%(pin)s, %(pins)s.%(pin_reason)s",
                pins=pins_of(code),
                pin=SQL.identifier(f"pin_{code}"),
                pin_reason=SQL.identifier(f"pin_reason_{code}"),
            )
            for code in codes
        )
        targets = [
            (SQL.identifier(column), SQL("r.%s", SQL.identifier(f"new_{code}")))
            for code, (column, _reason) in dimensions.items()
        ] + [
            (SQL.identifier(column), SQL("r.%s", expression))
            for column, expression in figures.items()
        ]
        assignments = SQL(", ").join(
            SQL("%s = %s", column, value) for column, value in targets
        )
        old_row = SQL(", ").join(SQL("p.%s", column) for column, _v in targets)
        new_row = SQL(", ").join(value for _c, value in targets)
        match = (
            SQL("p.commercial_partner_id = r.customer_id")
            if children
            else SQL("p.id = r.customer_id")
        )
        rule_by_dimension = SQL(
            "CASE o.dimension %s END",
            SQL(" ").join(
                SQL("WHEN %s THEN r.%s", code, SQL.identifier(f"rule_{code}"))
                for code in codes
            ),
        )
        changes = SQL(", ").join(
            SQL(
                "(%(code)s, u.%(old)s, u.%(new)s, u.%(pin)s IS NOT NULL, "
                "u.%(pin_reason)s, %(reason)s)",
                code=code,
                old=SQL.identifier(f"old_{code}"),
                new=SQL.identifier(f"new_{code}"),
                pin=SQL.identifier(f"pin_{code}"),
                pin_reason=SQL.identifier(f"pin_reason_{code}"),
                reason=reason,
            )
            for code, (_column, reason) in dimensions.items()
        )
        own_row = SQL("u.customer_id = u.entity_id") if entity_codes else SQL("true")
        was_classified = SQL(" OR ").join(
            SQL(
                "(%s AND u.%s IS NOT NULL)",
                own_row if code in entity_codes else SQL("true"),
                SQL.identifier(f"old_{code}"),
            )
            for code in codes
        )
        counts = SQL(", ").join(
            SQL(
                "count(*) FILTER (WHERE is_customer AND %s AND %s IS DISTINCT FROM %s)",
                SQL("customer_id = entity_id") if code in entity_codes else SQL("true"),
                SQL.identifier(f"old_{code}"),
                SQL.identifier(f"new_{code}"),
            )
            for code in codes
        )
        logged = (
            SQL("(v.dimension NOT IN %s OR %s)", tuple(entity_codes), own_row)
            if entity_codes
            else SQL("true")
        )
        written = (
            SQL("count(*) FILTER (WHERE customer_id = entity_id), count(*)")
            if entity_codes
            else SQL("count(*) FILTER (WHERE is_customer), NULL")
        )
        _ = self.env._
        user = self.env.user
        if not ended:
            ended_text = SQL("NULL::text")
        elif self.env.context.get("segmentation_pin_expired"):
            ended_text = _sql_text(_("Pin expired: %(reason)s"), reason=SQL("v.reason"))
        else:
            ended_text = _sql_text(
                _("Pin ended by %(user)s: %(reason)s"),
                user=SQL("%s", user.name),
                reason=SQL("v.reason"),
            )
        lang = self.env.lang or "en_US"
        tracked = {
            code: self.env["ir.model.fields"]._get("res.partner", column).id
            for code, (column, _reason) in dimensions.items()
        }
        query = SQL(
            """
        WITH src AS (%(source)s),
        pins AS (
            SELECT partner_id, %(pin_columns)s
              FROM customer_segment_override
             WHERE active AND dimension IN %(codes)s
          GROUP BY partner_id
        ),
        result AS (
            SELECT s.*, %(final_columns)s, %(pin_reasons)s
              FROM src s
              LEFT JOIN pins pn ON pn.partner_id = s.customer_id
              %(entity_pins)s
        ),
        updated AS (
            UPDATE res_partner p
               SET %(assignments)s
              FROM result r
             WHERE %(match)s
               AND (%(old_row)s) IS DISTINCT FROM (%(new_row)s)
         RETURNING p.id = r.customer_id AS is_customer, r.*
        ),
        pin_rule AS (
            UPDATE customer_segment_override o
               SET rule_segment_id = %(rule_by_dimension)s
              FROM result r
             WHERE o.active AND o.partner_id = r.customer_id
               AND o.dimension IN %(codes)s
               AND o.rule_segment_id IS DISTINCT FROM %(rule_by_dimension)s
        ),
        changes AS (
            SELECT u.customer_id, u.company_id, %(was_classified)s AS was_classified,
                   v.dimension, v.old_id, v.new_id,
                   CASE WHEN v.pinned THEN 'override'
                        WHEN concat(u.customer_id, ':', v.dimension) = ANY(%(ended)s)
                            THEN 'expiry'
                        ELSE %(cause)s END AS cause,
                   CASE WHEN v.pinned THEN %(pinned_text)s
                        WHEN concat(u.customer_id, ':', v.dimension) = ANY(%(ended)s)
                            THEN %(ended_text)s
                        ELSE v.reason END AS reason
              FROM updated u
             CROSS JOIN LATERAL (VALUES %(changes)s)
                   AS v(dimension, old_id, new_id, pinned, pin_reason, reason)
             WHERE u.is_customer AND v.old_id IS DISTINCT FROM v.new_id
               AND %(logged)s
        ),
        history AS (
            INSERT INTO customer_segment_history (
                partner_id, company_id, dimension, old_segment_id,
                new_segment_id, date, user_id, run_id, cause, movement, reason,
                create_uid, create_date, write_uid, write_date)
            SELECT c.customer_id, c.company_id, c.dimension, c.old_id, c.new_id,
                   %(now)s, %(uid)s, %(run_id)s, c.cause,
                   CASE WHEN c.new_id IS NULL THEN 'exit'
                        WHEN sn.is_churn THEN 'churn'
                        WHEN c.old_id IS NULL THEN 'entry'
                        WHEN sn.rank > so.rank THEN 'upgrade'
                        WHEN sn.rank < so.rank THEN 'downgrade'
                        ELSE 'lateral' END,
                   c.reason, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM changes c
              LEFT JOIN customer_segment so ON so.id = c.old_id
              LEFT JOIN customer_segment sn ON sn.id = c.new_id
             WHERE c.cause != 'rule' OR %(baseline)s
        ),
        message AS (
            -- the chatter tells changes, not a customer's first classification
            INSERT INTO mail_message (
                model, res_id, message_type, subtype_id, author_id, date,
                body, is_internal, create_uid, create_date, write_uid, write_date)
            SELECT 'res.partner', c.customer_id, 'notification', %(subtype)s,
                   %(author)s, %(now)s, '', true, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM changes c
             WHERE c.was_classified AND %(baseline)s
          GROUP BY c.customer_id
         RETURNING id, res_id
        ),
        tracking AS (
            INSERT INTO mail_tracking_value (
                mail_message_id, field_id, old_value_integer, old_value_char,
                new_value_integer, new_value_char,
                create_uid, create_date, write_uid, write_date)
            SELECT m.id, (%(tracked)s::jsonb ->> c.dimension)::int,
                   c.old_id, COALESCE(so.name ->> %(lang)s, so.name ->> 'en_US', ''),
                   c.new_id, COALESCE(sn.name ->> %(lang)s, sn.name ->> 'en_US', ''),
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM message m
              JOIN changes c ON c.customer_id = m.res_id
              LEFT JOIN customer_segment so ON so.id = c.old_id
              LEFT JOIN customer_segment sn ON sn.id = c.new_id
        )
        SELECT %(written)s, %(counts)s
          FROM updated
            """,
            source=source,
            pin_columns=pin_columns,
            codes=tuple(codes),
            final_columns=final_columns,
            pin_reasons=pin_reasons,
            assignments=assignments,
            match=match,
            old_row=old_row,
            new_row=new_row,
            rule_by_dimension=rule_by_dimension,
            was_classified=was_classified,
            entity_pins=SQL("LEFT JOIN pins pe ON pe.partner_id = s.entity_id")
            if entity_codes
            else SQL(),
            logged=logged,
            written=written,
            ended=[f"{partner_id}:{code}" for partner_id, code in ended],
            cause=cause,
            pinned_text=_sql_text(
                _("Pinned by hand: %(reason)s"), reason=SQL("v.pin_reason")
            ),
            ended_text=ended_text,
            changes=changes,
            now=SQL("(now() AT TIME ZONE 'UTC')"),
            uid=self.env.uid,
            run_id=run.id if run else None,
            subtype=self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
            author=SQL("(SELECT partner_id FROM res_users WHERE id = %s)", user.id),
            baseline=BASELINE,
            tracked=json.dumps(tracked),
            lang=lang,
            counts=counts,
        )
        row = self.env.execute_query(query)[0]
        self._segmentation_untrack([column for column, _r in dimensions.values()])
        self.env["customer.segment.history"].invalidate_model()
        self.env["customer.segment.override"].invalidate_model(["rule_segment_id"])
        counts = {"customers": row[0], **dict(zip(codes, row[2:], strict=True))}
        if entity_codes:
            counts["partners"] = row[1]
        return counts

    @api.model
    def _segmentation_untrack(self, columns):
        """Leave the changes of ``columns`` out of the tracking the ORM logs at
        commit for the partners written in this transaction: the engine
        logged them already (history and chatter, in its own statement), and
        the ORM would log them again, one message per partner."""
        pending = self.env.cr.precommit.data.get(f"mail.tracking.{self._name}")
        for initial_values in (pending or {}).values():
            for column in columns if initial_values else ():
                initial_values.pop(column, None)

    @api.model
    def _segmentation_apply_all(
        self,
        params,
        stats,
        today,
        customer_ids=None,
        id_range=None,
        cause="rule",
        ended=(),
        run=None,
    ):
        """``_segmentation_apply`` and ``_segmentation_apply_profile`` in one
        statement that writes each partner once: its commercial entity's
        figures and core segments and its own profile segments.

        Two UPDATEs of the same rows in one transaction cost far more than
        one: the second writes another version of the wide row (all its
        indexes again), and PostgreSQL re-checks every foreign key of a row
        its own transaction wrote (15 on ``res_partner``), changed or not.

        :return: ``{'customers': n, 'partners': n, <code>: n per dimension,
            'need': n}``
        """
        self.env.flush_all()
        core, core_dimensions, figures = self._segmentation_apply(
            params,
            stats,
            today,
            customer_ids=customer_ids,
            id_range=id_range,
            build_only=True,
        )
        profile, profile_dimensions, segments = self._segmentation_apply_profile(
            params, customer_ids=customer_ids, id_range=id_range, build_only=True
        )
        core_columns = (
            "old_value",
            "old_lifecycle",
            "old_rfm",
            "first_date",
            "last_date",
            "frequency",
            "monetary",
            "window_monetary",
            "quoted",
            "age_days",
            "recency_days",
            "r_score",
            "f_score",
            "m_score",
            "rule_value",
            "rule_lifecycle",
            "rule_rfm",
        )
        source = SQL(
            """
            SELECT x.*, c.customer_id AS entity_id, %s
              FROM (%s) x
              JOIN (%s) c ON c.customer_id = x.entity_ref
            """,
            SQL(", ").join(SQL("c.%s", SQL.identifier(n)) for n in core_columns),
            profile,
            core,
        )
        counts = self._segmentation_write(
            source,
            {**core_dimensions, **profile_dimensions},
            figures=figures,
            cause=cause,
            ended=ended,
            run=run,
            entity_codes=set(core_dimensions),
        )
        scope = _contact_scope(customer_ids, id_range)
        counts["need"] = self._segmentation_apply_needs(
            segments["need"], scope, run=run
        )
        self.invalidate_model(
            list(STORED_FIELDS)
            + [column for column, _reason in profile_dimensions.values()]
            + ["segment_need_ids"]
        )
        return counts

    @api.model
    def _segmentation_apply_profile(
        self,
        params,
        customer_ids=None,
        id_range=None,
        cause="rule",
        ended=(),
        run=None,
        build_only=False,
    ):
        """Classify contacts on geography, business scale, job level and the
        custom dimensions, and apply the needs set by rule.

        Works on every contact of the given commercial partners (or of the
        commercial partners in ``id_range``, or everyone), in one statement
        plus one per rule need.

        :return: ``{'partners': n, <code>: n per dimension}``
        """
        self.env.flush_all()
        segments = self._segmentation_profile_segments()
        scope = _contact_scope(customer_ids, id_range)
        _ = self.env._
        geo = segments["geo"]
        scale = segments["scale"]
        job_cases = [
            SQL(
                "WHEN p.function ~* %s OR p.function ILIKE ANY(%s::text[]) THEN %s",
                words,
                patterns,
                segment_id,
            )
            for segment_id, words, patterns in segments["job_level"]
        ]
        job_level = (
            SQL(
                "CASE WHEN p.is_company OR COALESCE(p.function, '') = '' THEN NULL "
                "%s END",
                SQL(" ").join(job_cases),
            )
            if job_cases
            else SQL("NULL::int")
        )
        dimensions = {
            "geo": (
                "segment_geo_id",
                SQL(
                    """CASE WHEN u.country_id IS NULL THEN %s ELSE %s END""",
                    SQL("%s::text", _("no country in the address")),
                    _sql_text(
                        _("address in %(address)s, company in %(company)s"),
                        address=SQL("concat_ws('/', u.country_code, u.state_code)"),
                        company=SQL(
                            "concat_ws('/', u.company_country_code, "
                            "u.company_state_code)"
                        ),
                    ),
                ),
            ),
            "scale": (
                "segment_scale_id",
                SQL(
                    "CASE WHEN u.rule_scale IS NULL THEN %s ELSE %s END",
                    SQL(
                        "%s::text",
                        _("not a company, or no employees nor annual revenue"),
                    ),
                    _sql_text(
                        _(
                            "%(employees)s employees, annual revenue %(revenue)s; "
                            "large from %(large_employees)s employees or "
                            "%(large_revenue)s, medium from %(medium_employees)s "
                            "or %(medium_revenue)s"
                        ),
                        employees=SQL("COALESCE(u.employees, 0)"),
                        revenue=_amount(SQL("COALESCE(u.revenue, 0)")),
                        large_employees=SQL("%s", params["scale_large_employees"]),
                        large_revenue=_amount(_numeric(params["scale_large_revenue"])),
                        medium_employees=SQL("%s", params["scale_medium_employees"]),
                        medium_revenue=_amount(
                            _numeric(params["scale_medium_revenue"])
                        ),
                    ),
                ),
            ),
            "job_level": (
                "segment_job_level_id",
                SQL(
                    "CASE WHEN u.rule_job_level IS NULL THEN %s ELSE %s END",
                    SQL("%s::text", _("no job title keyword matches")),
                    _sql_text(
                        _('job title "%(title)s" matches a keyword of the level'),
                        title=SQL("u.function"),
                    ),
                ),
            ),
        }
        custom_columns = []
        for code, field_name, rules in segments["custom"]:
            cases = [
                SQL("WHEN p.id IN (%s) THEN %s", subquery, segment_id)
                for segment_id, subquery in rules
            ]
            rule = (
                SQL("CASE %s END", SQL(" ").join(cases)) if cases else SQL("NULL::int")
            )
            custom_columns.append(
                SQL(
                    "p.%s AS %s, %s AS %s",
                    SQL.identifier(field_name),
                    SQL.identifier(f"old_{code}"),
                    rule,
                    SQL.identifier(f"rule_{code}"),
                )
            )
            dimensions[code] = (
                field_name,
                SQL(
                    "CASE WHEN u.%s IS NULL THEN %s ELSE %s END",
                    SQL.identifier(f"rule_{code}"),
                    SQL("%s::text", _("matches no segment rule")),
                    SQL("%s::text", _("matches the segment's rule")),
                ),
            )
        source = SQL(
            """
            SELECT p.id AS customer_id, p.company_id,
                   p.commercial_partner_id AS entity_ref,
                   p.country_id, p.function,
                   pc.code AS country_code, ps.code AS state_code,
                   cc.code AS company_country_code, cs.code AS company_state_code,
                   NULLIF(e.segmentation_employee_count, 0) AS employees,
                   NULLIF(e.segmentation_annual_revenue, 0) AS revenue,
                   p.segment_geo_id AS old_geo,
                   p.segment_scale_id AS old_scale,
                   p.segment_job_level_id AS old_job_level,
                   CASE WHEN p.country_id IS NULL THEN NULL
                        WHEN p.country_id = cp.country_id
                             AND p.state_id = cp.state_id THEN %(local)s
                        WHEN p.country_id = cp.country_id THEN %(domestic)s
                        ELSE %(international)s END AS rule_geo,
                   -- contacts share their company's scale, pinned or not
                   CASE WHEN NOT e.is_company THEN NULL
                        WHEN ep.segment_id IS NOT NULL THEN ep.segment_id
                        WHEN e.segmentation_employee_count >= %(large_employees)s
                          OR e.segmentation_annual_revenue >= %(large_revenue)s
                            THEN %(large)s
                        WHEN e.segmentation_employee_count >= %(medium_employees)s
                          OR e.segmentation_annual_revenue >= %(medium_revenue)s
                            THEN %(medium)s
                        WHEN e.segmentation_employee_count > 0
                          OR e.segmentation_annual_revenue > 0 THEN %(small)s
                   END AS rule_scale,
                   %(job_level)s AS rule_job_level
                   %(custom_columns)s
              FROM res_partner p
              JOIN res_partner e ON e.id = p.commercial_partner_id
              LEFT JOIN customer_segment_override ep
                     ON ep.partner_id = e.id AND e.id <> p.id AND ep.active
                    AND ep.dimension = 'scale'
              LEFT JOIN res_company co
                     ON co.id = COALESCE(p.company_id, %(main_company)s)
              LEFT JOIN res_partner cp ON cp.id = co.partner_id
              LEFT JOIN res_country pc ON pc.id = p.country_id
              LEFT JOIN res_country_state ps ON ps.id = p.state_id
              LEFT JOIN res_country cc ON cc.id = cp.country_id
              LEFT JOIN res_country_state cs ON cs.id = cp.state_id
             WHERE %(scope)s
            """,
            local=geo.get("local"),
            domestic=geo.get("domestic"),
            international=geo.get("international"),
            large=scale.get("large"),
            medium=scale.get("medium"),
            small=scale.get("small"),
            large_employees=params["scale_large_employees"],
            medium_employees=params["scale_medium_employees"],
            large_revenue=_numeric(params["scale_large_revenue"]),
            medium_revenue=_numeric(params["scale_medium_revenue"]),
            job_level=job_level,
            custom_columns=SQL("").join(SQL(", %s", c) for c in custom_columns),
            main_company=self._segmentation_main_company_id(),
            scope=scope,
        )
        if build_only:
            return source, dimensions, segments
        counts = self._segmentation_write(
            source, dimensions, cause=cause, ended=ended, run=run
        )
        counts["need"] = self._segmentation_apply_needs(
            segments["need"], scope, run=run
        )
        self.invalidate_model(
            [column for column, _reason in dimensions.values()] + ["segment_need_ids"]
        )
        counts["partners"] = counts.pop("customers")
        return counts

    @api.model
    def _segmentation_apply_needs(self, rules, scope, run=None):
        """Add the needs whose rule a contact matches and remove those it no
        longer matches; needs without a rule are left to the users."""
        if not rules:
            return 0
        wanted = SQL(" UNION ALL ").join(
            SQL("SELECT id AS partner_id, %s AS segment_id FROM (%s) m", segment_id, q)
            for segment_id, q in rules
        )
        rows = self.env.execute_query(
            SQL(
                """
            WITH wanted AS (
                SELECT w.partner_id, w.segment_id
                  FROM (%(wanted)s) w
                  JOIN res_partner p ON p.id = w.partner_id
                 WHERE %(scope)s
            ),
            removed AS (
                DELETE FROM res_partner_customer_segment_need_rel rel
                 USING res_partner p
                 WHERE p.id = rel.partner_id AND %(scope)s
                   AND rel.segment_id = ANY(%(rule_ids)s)
                   AND NOT EXISTS (
                       SELECT 1 FROM wanted w
                        WHERE w.partner_id = rel.partner_id
                          AND w.segment_id = rel.segment_id)
             RETURNING rel.partner_id, rel.segment_id AS old_id, NULL::int AS new_id,
                       p.company_id
            ),
            added AS (
                INSERT INTO res_partner_customer_segment_need_rel
                       (partner_id, segment_id)
                SELECT w.partner_id, w.segment_id FROM wanted w
                 WHERE NOT EXISTS (
                       SELECT 1 FROM res_partner_customer_segment_need_rel rel
                        WHERE rel.partner_id = w.partner_id
                          AND rel.segment_id = w.segment_id)
             RETURNING partner_id, NULL::int AS old_id, segment_id AS new_id
            ),
            changes AS (
                SELECT * FROM removed
                UNION ALL
                SELECT a.*, p.company_id FROM added a
                  JOIN res_partner p ON p.id = a.partner_id
            ),
            history AS (
                INSERT INTO customer_segment_history (
                    partner_id, company_id, dimension, old_segment_id,
                    new_segment_id, date, user_id, run_id, cause, movement, reason,
                    create_uid, create_date, write_uid, write_date)
                SELECT partner_id, company_id, 'need', old_id, new_id, %(now)s,
                       %(uid)s, %(run_id)s, 'rule',
                       CASE WHEN new_id IS NULL THEN 'exit' ELSE 'entry' END,
                       CASE WHEN new_id IS NULL THEN %(removed_text)s
                            ELSE %(added_text)s END,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM changes
                 WHERE %(baseline)s
            )
            SELECT count(*) FROM changes
                """,
                wanted=wanted,
                scope=scope,
                rule_ids=[segment_id for segment_id, _q in rules],
                now=SQL("(now() AT TIME ZONE 'UTC')"),
                uid=self.env.uid,
                run_id=run.id if run else None,
                baseline=BASELINE,
                removed_text=self.env._("no longer matches the need's rule"),
                added_text=self.env._("matches the need's rule"),
            )
        )
        return rows[0][0]

    @api.model
    def _segmentation_profile_segments(self):
        """Active segment ids of the profile dimensions, the job-title
        patterns per job level, and the rules of custom dimensions and needs
        as SQL subqueries, in priority order."""
        Segment = self.env["customer.segment"].sudo()
        Partner = self.sudo().with_context(active_test=False)
        segments = Segment.search(
            [
                "|",
                ("dimension", "in", ("geo", "scale", "job_level", "need")),
                ("dimension_id.rule_type", "=", "domain"),
            ],
            order="sequence, id",
        )
        result = {"geo": {}, "scale": {}, "job_level": [], "need": [], "custom": []}
        custom = {}
        for segment in segments:
            if segment.dimension in ("geo", "scale"):
                result[segment.dimension].setdefault(segment.code, segment.id)
            elif segment.dimension == "job_level":
                # commas as typed in English or Chinese: , ， 、
                keywords = [
                    keyword.strip()
                    for keyword in re.split(
                        r"[,，、]", segment.job_title_keywords or ""
                    )
                    if keyword.strip()
                ]
                # Latin words match whole words ("COO" is not in
                # "Coordinator"); Chinese has no spaces, so its keywords
                # match anywhere in the title.
                latin = [_regex_escape(k) for k in keywords if k.isascii()]
                words = r"\m(" + "|".join(latin) + r")\M" if latin else "$^"
                patterns = [
                    "%" + _like_escape(k) + "%" for k in keywords if not k.isascii()
                ]
                if keywords:
                    result["job_level"].append((segment.id, words, patterns))
            elif segment.rule_domain:
                query = Partner._search(segment._segmentation_rule_domain())
                subquery = query.subselect()
                if segment.dimension == "need":
                    result["need"].append((segment.id, subquery))
                else:
                    custom.setdefault(segment.dimension_id, []).append(
                        (segment.id, subquery)
                    )
        dimensions = (
            self.env["customer.segment.dimension"]
            .sudo()
            .search([("rule_type", "=", "domain")])
        )
        fields_by_dimension = self._segmentation_dimension_fields()
        for dimension in dimensions:
            field_name = fields_by_dimension.get(dimension.code)
            if field_name and self._fields[field_name].type == "many2one":
                result["custom"].append(
                    (dimension.code, field_name, custom.get(dimension, []))
                )
        return result

    @api.model
    def _segmentation_main_company_id(self):
        company = self.env.ref("base.main_company", raise_if_not_found=False)
        return company.id if company else self.env.company.id

    @api.model
    @tools.ormcache()
    def _segmentation_rule_fields(self):
        """Partner fields the segment rules read: writing one reclassifies."""
        names = set()
        segments = (
            self.env["customer.segment"]
            .sudo()
            .search([("rule_domain", "not in", (False, "", "[]"))])
        )
        for segment in segments:
            try:
                domain = segment._segmentation_rule_domain()
            except ValidationError:
                continue
            names.update(
                leaf[0].split(".")[0]
                for leaf in domain
                if isinstance(leaf, (list, tuple)) and len(leaf) == 3
            )
        return frozenset(names)

    @api.model
    @tools.ormcache()
    def _segmentation_manual_fields(self):
        """``{partner field: dimension code}`` of the segments set by hand."""
        dimensions = (
            self.env["customer.segment.dimension"]
            .sudo()
            .with_context(active_test=False)
            .search(["|", ("rule_type", "=", "manual"), ("code", "=", "need")])
        )
        fields_by_dimension = self._segmentation_dimension_fields()
        return {
            fields_by_dimension[d.code]: d.code
            for d in dimensions
            if d.code in fields_by_dimension
        }

    def _segmentation_manual_values(self):
        names = self._segmentation_manual_fields()
        return {
            partner.id: {name: partner[name] for name in names}
            for partner in self.sudo()
        }

    def _segmentation_log_manual(self, before):
        """History rows for the segments set by hand in this write."""
        reason = self.env._("Set by %(user)s", user=self.env.user.name)
        names = self._segmentation_manual_fields()
        rows = []
        for partner in self.sudo():
            changes = []
            for name, dimension in names.items():
                old, new = before[partner.id][name], partner[name]
                if self._fields[name].type == "many2many":
                    changes += [(dimension, s, s.browse()) for s in old - new]
                    changes += [(dimension, s.browse(), s) for s in new - old]
                elif old != new:
                    changes.append((dimension, old, new))
            rows += [
                {
                    "partner_id": partner.id,
                    "company_id": partner.company_id.id,
                    "dimension": dimension,
                    "old_segment_id": old.id,
                    "new_segment_id": new.id,
                    "date": fields.Datetime.now(),
                    "user_id": self.env.uid,
                    "cause": "manual",
                    "movement": _movement(old, new),
                    "reason": reason,
                }
                for dimension, old, new in changes
            ]
        self.env["customer.segment.history"].sudo().create(rows)

    @api.model
    def _segmentation_dimension_fields(self):
        """``{dimension code: partner field}`` of every dimension whose field
        the module ships or created. The name comes from the code, never from
        the stored ``partner_field``: the classification writes these columns
        with SQL, and deleting a dimension drops its field."""
        dimensions = (
            self.env["customer.segment.dimension"]
            .sudo()
            .with_context(active_test=False)
            .search_fetch([], ["code"])
        )
        return {
            d.code: partner_field_name(d.code)
            for d in dimensions
            if is_segment_field(self._fields.get(partner_field_name(d.code)), d.code)
        }

    @api.model
    @tools.ormcache()
    def _segmentation_engine_fields(self):
        """Partner fields that only the classification and the strategies
        write: the module's read-only stored fields, and the fields of the
        custom dimensions classified by rule."""
        return frozenset(
            name
            for name, field in self._fields.items()
            if field.store
            and field.readonly
            and not field.compute
            and not field.related
            and (
                field._module == "customer_segmentation"
                or (field.manual and name.startswith(CUSTOM_FIELD_PREFIX))
            )
        )

    @api.model
    def _segmentation_check_input(self, vals_list):
        """Refuse, before anything is written, a segmentation figure of the
        wrong type or out of bounds (the fields of the classification are
        refused by ``checked_values``)."""
        check_vals(self, vals_list, PARTNER_LIMITS, self.env._("Contact"))

    @api.model
    def _segmentation_without_defaults(self):
        """This model without defaults for the classification's fields in
        its context: a view grouped by a segment gives it as a default, but
        the classification decides."""
        if self.env.su:
            return self
        engine = self._segmentation_engine_fields()
        defaults = [
            key
            for key, value in self.env.context.items()
            if key.startswith("default_") and key[8:] in engine and value
        ]
        # an empty default is no default
        return self.with_context(**dict.fromkeys(defaults, False)) if defaults else self

    def _segmentation_check_manual_segments(self, written):
        """The segments set by hand belong to the dimension of their field: a
        segment of another dimension would bring that segment's strategy."""
        manual = {
            name: code
            for name, code in self._segmentation_manual_fields().items()
            if name in written
        }
        for partner in self.sudo():
            for name, code in manual.items():
                wrong = partner[name].filtered(lambda s, code=code: s.dimension != code)
                if wrong:
                    raise ValidationError(
                        self.env._(
                            "%(field)s: %(segment)s is not a segment of this "
                            "dimension.",
                            field=field_label(self, name),
                            segment=wrong[:1].display_name,
                        )
                    )

    def _segmentation_refresh(self):
        """Reclassify these commercial partners after their orders or
        contacts changed, in the current transaction.

        Dates, figures, lifecycle stages and fixed value tiers come out exact;
        quantile tiers and RFM scores are placed against the thresholds of the
        latest full run, and the next full run ranks everyone again. Costs a
        few queries whatever the number of customers. Bulk imports may pass
        the context key ``segmentation_skip_refresh`` and recompute once after.
        """
        self._segmentation_reclassify(profile=False, commercial=True)

    def _segmentation_reclassify(
        self,
        cause="rule",
        ended=(),
        expired=False,
        orders=True,
        profile=True,
        commercial=False,
    ):
        """Reclassify these partners (and their commercial entities) now.

        :param cause: history cause of the changes the rules make
        :param ended: ``{(partner_id, dimension)}`` whose pin just ended
        :param expired: the pins in ``ended`` expired (rather than being ended
            by a user)
        :param orders: reclassify value, lifecycle and RFM
        :param profile: reclassify geography, scale, job level, custom
            dimensions and rule needs
        :param commercial: these partners are commercial entities already
        """
        if not self or self.env.context.get("segmentation_skip_refresh"):
            return
        engine = (
            self.env["res.partner"]
            .sudo()
            .with_context(segmentation_pin_expired=expired)
        )
        try:
            params = engine._segmentation_params()
        except UserError:
            # Invalid settings must not block sales: the full recompute
            # reports them, to the people who can fix them.
            _logger.warning(
                "Customer segments not refreshed: invalid settings", exc_info=True
            )
            return
        customers = self.sudo() if commercial else self.sudo().commercial_partner_id
        if orders:
            today = _segmentation_today()
            stats = self.env["customer.segmentation.run"].sudo()._latest_stats()
            if stats is None:
                stats = engine._segmentation_population_stats(params, today)
            # one UPDATE per partner when both change (see _apply_all)
            apply = (
                engine._segmentation_apply_all
                if profile
                else engine._segmentation_apply
            )
            apply(
                params,
                stats,
                today,
                customer_ids=customers.ids,
                cause=cause,
                ended=ended,
            )
        if profile and not orders:
            engine._segmentation_apply_profile(
                params, customer_ids=customers.ids, cause=cause, ended=ended
            )


def _contact_scope(customer_ids, id_range):
    """SQL selecting the partners ``p`` of these commercial partners (ids, or
    ``low < id <= high``, or all when both are None)."""
    scope = SQL("TRUE")
    if customer_ids is not None:
        scope = SQL("p.commercial_partner_id = ANY(%s)", list(customer_ids))
    if id_range is not None:
        scope = SQL(
            "%s AND p.commercial_partner_id > %s AND p.commercial_partner_id <= %s",
            scope,
            *id_range,
        )
    return scope


def _segmentation_today():
    """Order dates are classified by their UTC date, so "today" is the UTC
    date too, whoever triggers the classification and wherever they are."""
    return fields.Date.today()


def _numeric(value):
    if value is None:
        return SQL("NULL::numeric")
    return SQL("%s::numeric", str(value))


def _movement(old, new):
    if not new:
        return "exit"
    if new.is_churn:
        return "churn"
    if not old:
        return "entry"
    if new.rank != old.rank:
        return "upgrade" if new.rank > old.rank else "downgrade"
    return "lateral"


def _amount(value):
    """An amount as text with thousands separators: 12,345.60."""
    return SQL("to_char(%s, 'FM999,999,999,999,990.00')", value)


def _regex_escape(text):
    """Escape ``text`` for a PostgreSQL regular expression."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", text)


def _like_escape(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sql_text(template, **values):
    """SQL concatenating a translated ``template`` whose ``%(name)s``
    placeholders are the SQL expressions in ``values``."""
    parts = re.split(r"%\((\w+)\)s", template)
    pieces = []
    for index, part in enumerate(parts):
        if index % 2:
            pieces.append(SQL("COALESCE((%s)::text, '')", values[part]))
        elif part:
            pieces.append(SQL("%s::text", part))
    return SQL("concat(%s)", SQL(", ").join(pieces))
