import datetime
import logging
import time

from lxml import etree
from lxml.builder import E
from markupsafe import escape

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.models import READ_GROUP_AGGREGATE
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id
from odoo.tools.query import Query

from .arguments import (
    caller_names,
    checked_record,
    checked_records,
    checked_text,
    checked_values,
)
from .customer_segment_dimension import (
    SHIPPED_FIELDS,
    is_segment_field,
    partner_field_name,
)
from .customer_segmentation_figure import PURCHASE_FIGURES
from .customer_segmentation_reason import render_reason
from .input_bounds import (
    MAX_AMOUNT,
    MAX_EMPLOYEES,
    TYPED,
    Bound,
    check_records,
    check_vals,
    field_label,
)
from .segmentation_params import PARAMS

SEGMENTATION_GROUP = "customer_segmentation.group_segmentation_user"
MANAGER_GROUP = "customer_segmentation.group_segmentation_manager"
# Where versions before 18.0.3 kept the strategy job's day (the migration
# removes it; the job's runs are customer.segmentation.strategy.run now).
STRATEGY_FIGURES_PARAM = "customer_segmentation.strategy_figures_date"

# Partner fields showing the figures of the current company
# (customer.segmentation.figure), read through ``segmentation_figure_id``.
FIGURE_FIELDS = frozenset(
    (
        "first_order_date",
        "last_order_date",
        "rfm_frequency",
        "rfm_monetary",
        "rfm_recency_score",
        "rfm_frequency_score",
        "rfm_monetary_score",
        "segmentation_last_interaction",
        "churn_typical_gap_days",
        "churn_risk_score",
        "churn_dismissed",
        "churn_dismiss_reason",
        "churn_dismissed_order_date",
        "churn_warned_order_date",
        "segmentation_in_pool",
        "segmentation_pool_date",
        "segmentation_pricelist_id",
        "segmentation_previous_pricelist_id",
        "purchase_days",
        "repeat_spend",
        "model_alive_probability",
        "model_expected_purchases",
        "model_expected_value",
        "model_alive_band",
        "model_purchases_band",
        "model_value_band",
    )
)
FIGURE_PATH = "commercial_partner_id.segmentation_figure_id."
# Figures and segments of the customer, the same on its contacts.
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
# size).
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
# Partner fields whose change moves purchases to another customer.
PURCHASE_DEPENDENCIES = {"parent_id", "is_company"}

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
# Set while the classification writes segments: no reclassification then.
WRITING_CONTEXT_KEY = "segmentation_writing"
# The fields the module's own write of partners writes (see _track_prepare).
TRACKED_WRITE_KEY = "segmentation_tracked_write"

_logger = logging.getLogger(__name__)


def _figure(field_type, name, **attrs):
    """A partner field showing the figure ``name`` of the customer in the
    current company."""
    return field_type(
        related=FIGURE_PATH + name,
        depends_context=("company",),
        groups=SEGMENTATION_GROUP,
        **attrs,
    )


def _company_segment(dimension, string, **attrs):
    """The partner's segment on ``dimension`` in the current company: each
    company classifies its customers on its own (a company-dependent field,
    which Odoo searches and groups like any other)."""
    return fields.Many2one(
        "customer.segment",
        string=string,
        company_dependent=True,
        readonly=True,
        copy=False,
        domain=[("dimension", "=", dimension)],
        group_expand=f"_read_group_segment_{dimension}_id",
        tracking=True,
        groups=SEGMENTATION_GROUP,
        # see COMPANY_DEPENDENT_INDEXES
        index=False,
        **attrs,
    )


# Odoo gives a company-dependent column an index on "column IS NOT NULL",
# which no search of the module uses; on the segment columns and the figures
# pointer it made every classification write a non-HOT update of the wide
# contact row, with an entry in each of its indexes (benchmarks/README.md).
# Databases created before 18.0.3.0.0 was released may still have them.
COMPANY_DEPENDENT_INDEXES = tuple(
    f"res_partner__{name}_index"
    for name in (
        "segmentation_figure_id",
        "segment_value_id",
        "segment_lifecycle_id",
        "segment_rfm_id",
        "segment_geo_id",
        "segment_scale_id",
    )
)

# Customers per batch (one transaction each) of the full recompute, manual
# or nightly: see benchmarks/README.md for how it was chosen.
RECOMPUTE_BATCH_SIZE = 2000
# Customers per transaction of the strategy job (figures, account managers,
# pool, tags, pricelists and their activities): see benchmarks/README.md.
STRATEGY_BATCH_SIZE = 2000


# Company-dependent many2one columns of contacts read through a join (see
# ResPartner._field_to_sql): the segments and the figures rows.
COMPANY_JOINED_MODELS = ("customer.segment", "customer.segmentation.figure")

# Key of cr.precommit.data holding the messages to log while the contacts'
# tracking is being computed (ResPartner._message_track).
TRACKING_LOGS_KEY = "customer_segmentation.tracking_logs"


class ResPartner(models.Model):
    _inherit = "res.partner"

    # the chatter tells who got a customer, by hand or by a segment's policy
    user_id = fields.Many2one(tracking=True)
    segmentation_figure_id = fields.Many2one(
        "customer.segmentation.figure",
        string="Figures",
        company_dependent=True,
        index=False,  # see COMPANY_DEPENDENT_INDEXES
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="The customer's figures in the current company.",
    )
    first_order_date = _figure(
        fields.Date,
        "first_order_date",
        string="First Purchase",
        help="Date of the customer's first purchase in the current company.",
    )
    last_order_date = _figure(
        fields.Date,
        "last_order_date",
        string="Last Purchase",
        help="Date of the customer's latest purchase in the current company.",
    )
    rfm_recency_days = fields.Integer(
        string="Recency (days)",
        compute="_compute_rfm_recency_days",
        search="_search_rfm_recency_days",
        groups=SEGMENTATION_GROUP,
        help="Days since the latest purchase, as of today.",
    )
    rfm_frequency = _figure(
        fields.Integer,
        "rfm_frequency",
        string="Frequency",
        help="Purchases dated in the look-back window.",
    )
    rfm_monetary = _figure(
        fields.Monetary,
        "rfm_monetary",
        string="Monetary",
        currency_field="segmentation_currency_id",
        help="Untaxed amount of the purchases dated in the look-back window, in "
        "the company currency.",
    )
    segmentation_revenue = _figure(
        fields.Monetary,
        "rfm_monetary",
        string="12-Month Revenue",
        currency_field="segmentation_currency_id",
        aggregator="sum",
        help="Untaxed amount of the customer's purchases in the company's "
        "look-back window (the last 365 days unless the settings say "
        "otherwise), in the company currency. Kanban columns add it up.",
    )
    segmentation_currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_segmentation_currency_id",
        groups=SEGMENTATION_GROUP,
    )
    rfm_recency_score = _figure(
        fields.Integer,
        "rfm_recency_score",
        string="Recency Score",
        # a grouped list shows the segment's mean score, not a meaningless sum
        aggregator="avg",
    )
    rfm_frequency_score = _figure(
        fields.Integer,
        "rfm_frequency_score",
        string="Frequency Score",
        # a grouped list shows the segment's mean score, not a meaningless sum
        aggregator="avg",
    )
    rfm_monetary_score = _figure(
        fields.Integer,
        "rfm_monetary_score",
        string="Monetary Score",
        # a grouped list shows the segment's mean score, not a meaningless sum
        aggregator="avg",
    )
    segment_value_id = _company_segment("value", "Value Tier")
    segment_lifecycle_id = _company_segment("lifecycle", "Lifecycle Stage")
    segment_rfm_id = _company_segment("rfm", "RFM Segment")
    segment_geo_id = _company_segment(
        "geo",
        "Geography",
        help="Local: same country and state as the company; domestic: same "
        "country; international: another country. Contacts without a country "
        "get none.",
    )
    segment_scale_id = _company_segment(
        "scale",
        "Business Scale",
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

    # Management: strategies, churn early warning, customer pool
    segmentation_last_interaction = _figure(
        fields.Date,
        "segmentation_last_interaction",
        string="Last Interaction",
        help="Latest done activity, message or purchase of the customer and its "
        "contacts, as of the last nightly strategy run.",
    )
    churn_typical_gap_days = _figure(
        fields.Integer,
        "churn_typical_gap_days",
        string="Usual Gap (days)",
        aggregator="avg",
        help="Median number of days between the customer's consecutive purchase days.",
    )
    churn_risk_score = _figure(
        fields.Integer,
        "churn_risk_score",
        string="Churn Risk",
        aggregator="avg",
        help="0 while the customer buys within its usual gap, rising to 100 when "
        "its last purchase is as old as the set number of usual gaps.",
    )
    purchase_days = _figure(
        fields.Integer,
        "purchase_days",
        string="Purchase Days",
        help="Distinct days the customer bought on, whole history: the purchase "
        "model counts purchase days, not orders.",
    )
    repeat_spend = _figure(
        fields.Monetary,
        "repeat_spend",
        string="Spend per Repeat Purchase Day",
        currency_field="segmentation_currency_id",
    )
    model_alive_probability = _figure(
        fields.Float,
        "model_alive_probability",
        string="Probability Active",
        aggregator="avg",
        help="The purchase model's probability that the customer still buys "
        "(0 to 1), from its purchase days and the company's fitted model; empty "
        "where the company has no model.",
    )
    model_expected_purchases = _figure(
        fields.Float,
        "model_expected_purchases",
        string="Expected Purchases (90 days)",
        aggregator="sum",
        help="Purchase days the model expects in the next 90 days.",
    )
    model_expected_value = _figure(
        fields.Monetary,
        "model_expected_value",
        string="Expected Value (12 months)",
        currency_field="segmentation_currency_id",
        aggregator="sum",
        help="Expected purchases in the next 12 months times the expected spend "
        "per purchase day, in the company currency.",
    )
    model_alive_band = _figure(
        fields.Selection, "model_alive_band", string="Probability Active Band"
    )
    model_purchases_band = _figure(
        fields.Selection, "model_purchases_band", string="Expected Purchases Band"
    )
    model_value_band = _figure(
        fields.Selection,
        "model_value_band",
        string="Expected Value Band",
        help="The expected value against the company's value tier cut-offs of "
        "expected value.",
    )
    model_explanation = fields.Char(
        string="Purchase Model",
        compute="_compute_model_explanation",
        groups=SEGMENTATION_GROUP,
        help="The purchase model's figures of the customer, in one sentence.",
    )
    churn_signal = fields.Char(
        compute="_compute_churn_risk_explanation",
        groups=SEGMENTATION_GROUP,
        help="The one churn signal of the customer: its probability of being "
        "still active where the company has a purchase model, else its churn "
        "risk from the usual gap between orders.",
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
        help="Where the company has a purchase model, the probability of being "
        "still active is below the setting's threshold; otherwise the churn "
        "risk reaches its threshold. Unless somebody dismissed it.",
    )
    segmentation_churn_state = fields.Selection(
        [("warning", "Churn Warning"), ("none", "No Churn Warning")],
        string="Churn Status",
        compute="_compute_segmentation_churn_state",
        search="_search_segmentation_churn_state",
        groups=SEGMENTATION_GROUP,
        help="Whether the customer has a churn warning in the current company, "
        "as a value a kanban progress bar can count.",
    )
    churn_dismissed = _figure(
        fields.Boolean,
        "churn_dismissed",
        string="Churn Warning Dismissed",
        help="A user judged the churn warning a false alarm; it comes back when "
        "the customer buys again and then lapses.",
    )
    churn_dismiss_reason = _figure(
        fields.Text, "churn_dismiss_reason", string="Dismissal Reason"
    )
    churn_dismissed_order_date = _figure(
        fields.Date, "churn_dismissed_order_date", string="Last Purchase When Dismissed"
    )
    churn_warned_order_date = _figure(
        fields.Date, "churn_warned_order_date", string="Last Purchase When Warned"
    )
    segmentation_manager_since = fields.Date(
        string="Account Manager Since",
        readonly=True,
        copy=False,
        groups=SEGMENTATION_GROUP,
        help="When the salesperson got the customer: the shared pool measures "
        "neglect from this date at the earliest.",
    )
    segmentation_in_pool = _figure(
        fields.Boolean,
        "segmentation_in_pool",
        string="In Customer Pool",
        help="In the company's shared customer pool (公海): salespeople may claim it.",
    )
    segmentation_pool_date = _figure(
        fields.Datetime, "segmentation_pool_date", string="In Pool Since"
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
    segmentation_pricelist_id = _figure(
        fields.Many2one,
        "segmentation_pricelist_id",
        string="Pricelist from Segment",
        help="The exclusive pricelist of a segment, applied to this customer.",
    )
    segmentation_previous_pricelist_id = _figure(
        fields.Many2one,
        "segmentation_previous_pricelist_id",
        string="Pricelist Before Segment",
        help="Restored when the customer leaves the segment.",
    )

    segmentation_own_contact = fields.Boolean(
        string="Own Company Contact",
        compute="_compute_segmentation_own_contact",
        search="_search_segmentation_own_contact",
        groups=SEGMENTATION_GROUP,
        help="A company of this database or one of its contacts, or the "
        "contact of an internal user: the module's customer views leave "
        "them out.",
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

    @api.depends(
        "churn_risk_score",
        "churn_dismissed",
        "model_alive_probability",
        "model_alive_band",
    )
    @api.depends_context("company")
    def _compute_churn_alert(self):
        domain = self.env["customer.segmentation.figure"]._churn_warning_domain(
            self._segmentation_churn_params()
        )
        figures = self.sudo().commercial_partner_id.segmentation_figure_id
        warned = figures.filtered_domain(domain)
        for partner in self:
            figure = partner.sudo().commercial_partner_id.segmentation_figure_id
            partner.churn_alert = bool(figure) and figure in warned

    def _search_churn_alert(self, operator, value):
        """Partners whose customer has a warning in the current company; a
        customer without figures there has none."""
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return NotImplemented
        Figure = self.env["customer.segmentation.figure"].sudo()
        warned = Figure._search(
            [
                ("company_id", "=", self.env.company.id),
                *Figure._churn_warning_domain(self._segmentation_churn_params()),
            ]
        ).subselect("partner_id")
        operator = "in" if (operator == "=") == value else "not in"
        return [("commercial_partner_id", operator, warned)]

    @api.depends("churn_alert")
    @api.depends_context("company")
    def _compute_segmentation_churn_state(self):
        for partner in self:
            partner.segmentation_churn_state = (
                "warning" if partner.churn_alert else "none"
            )

    def _search_segmentation_churn_state(self, operator, value):
        """The churn warning's search, for the values asked."""
        if operator in ("=", "!="):
            values = {value}
        elif operator in ("in", "not in") and isinstance(value, (list, tuple)):
            values = set(value)
        else:
            return NotImplemented
        states = {"warning", "none"}
        wanted = states & values if operator in ("=", "in") else states - values
        if wanted == states:
            return expression.TRUE_DOMAIN
        if not wanted:
            return expression.FALSE_DOMAIN
        return [("churn_alert", "=", "warning" in wanted)]

    @api.model
    def _segmentation_churn_params(self):
        try:
            return self._segmentation_params()
        except UserError:
            return {key: param.default for key, param in PARAMS.items()}

    @api.depends(
        "churn_risk_score",
        "churn_typical_gap_days",
        "last_order_date",
        "model_alive_probability",
        "purchase_days",
    )
    @api.depends_context("lang", "company")
    def _compute_churn_risk_explanation(self):
        """The one churn signal and why: the purchase model's probability of
        being still active where the company has one, else the churn risk
        from the usual gap."""
        _ = self.env._
        today = _segmentation_today()
        threshold = self._segmentation_churn_params()["churn_alive_threshold"]
        for partner in self:
            if partner.model_alive_band:
                alive = round(100 * partner.model_alive_probability)
                # the model counts a customer as lost only after a repeat
                # purchase: no "100% likely still active" after one purchase
                partner.churn_signal = partner.purchase_days > 1 and _(
                    "%(alive)s%% likely still active", alive=alive
                )
                partner.churn_risk_explanation = (
                    _(
                        "%(model)s. Churn warning below %(threshold)s%%.",
                        model=partner.model_explanation,
                        threshold=round(100 * threshold),
                    )
                    if partner.churn_signal
                    # no warning to come until a second purchase day
                    else _("%(model)s.", model=partner.model_explanation)
                )
                continue
            # no signal for a customer without a rhythm, rather than a
            # reassuring "0/100" beside At-Risk
            partner.churn_signal = partner.purchase_days > 1 and _(
                "Churn risk %(risk)s/100", risk=partner.churn_risk_score
            )
            gap = partner.churn_typical_gap_days
            if not gap or not partner.last_order_date:
                partner.churn_risk_explanation = _(
                    "Fewer than two purchase days: no usual gap to compare with."
                )
                continue
            recency = (today - partner.last_order_date).days
            partner.churn_risk_explanation = _(
                "Usually buys every %(gap)s days; last purchase %(recency)s days "
                "ago, %(ratio)s times the usual gap: risk %(risk)s/100.",
                gap=gap,
                recency=recency,
                ratio=round(recency / gap, 1),
                risk=partner.churn_risk_score,
            )

    @api.depends(
        "model_alive_probability",
        "model_expected_purchases",
        "model_expected_value",
        "purchase_days",
        "first_order_date",
        "last_order_date",
    )
    @api.depends_context("lang", "company")
    def _compute_model_explanation(self):
        today = _segmentation_today()
        currency = self.env.company.currency_id
        average_spend = self.env["customer.segmentation.purchase.model"]._average_spend(
            self.env.company
        )
        for partner in self:
            if not partner.model_alive_band or not partner.last_order_date:
                partner.model_explanation = False
                continue
            repeat_days = partner.purchase_days - 1
            span = (partner.last_order_date - partner.first_order_date).days
            values = {
                "silent": (today - partner.last_order_date).days,
                "alive": round(100 * partner.model_alive_probability),
                "purchases": round(partner.model_expected_purchases, 1),
                "value": partner.model_expected_value,
            }
            if repeat_days > 0:
                code = "model_repeat"
                values["gap"] = round(span / repeat_days)
            else:
                code = "model_single"
                values["spend"] = average_spend
            partner.model_explanation = render_reason(self.env, code, values, currency)

    @api.depends_context("company")
    def _compute_segmentation_currency_id(self):
        self.segmentation_currency_id = self.env.company.currency_id

    def _compute_segmentation_own_contact(self):
        own = self.with_context(active_test=False).search(
            [("id", "in", self._origin.ids), ("segmentation_own_contact", "=", True)]
        )
        for partner in self:
            partner.segmentation_own_contact = partner._origin in own

    def _search_segmentation_own_contact(self, operator, value):
        """The companies of the database (archived ones too) with their
        contacts, and the contacts of the internal users, former ones
        included."""
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return NotImplemented
        companies = (
            self.env["res.company"]
            .sudo()
            .with_context(active_test=False)
            ._search([("partner_id", "!=", False)])
        )
        users = (
            self.env["res.users"]
            .sudo()
            .with_context(active_test=False)
            ._search([("share", "=", False), ("partner_id", "!=", False)])
        )
        domain = [
            "|",
            ("commercial_partner_id", "in", companies.subselect("partner_id")),
            ("id", "in", users.subselect("partner_id")),
        ]
        return domain if (operator == "=") == value else ["!", *domain]

    @api.depends("last_order_date")
    @api.depends_context("company")
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
        "segmentation_figure_id",
        "segment_override_ids.active",
        "segment_override_ids.segment_id",
        "segment_override_ids.rule_segment_id",
        "segment_override_ids.date_expiry",
    )
    @api.depends_context("lang", "company")
    def _compute_segmentation_explanation(self):
        """Why the customer is in its segments of the current company: the
        rules' reasons (the same as the history's), and its pins."""
        company = self.env.company
        try:
            reasons = (
                self.env["customer.segmentation.pipeline"]
                .sudo()
                ._reasons(company, self.commercial_partner_id.ids)
            )
        except UserError as error:
            self.segmentation_explanation = error.args[0]
            return
        for partner in self:
            lines = partner._segmentation_explain(
                reasons.get(partner.commercial_partner_id.id, {})
            )
            partner.segmentation_explanation = "\n".join(
                lines + partner._segmentation_explain_pins()
            )

    def _segmentation_explain(self, reasons):
        """Sentences telling why this partner is in its value tier, lifecycle
        stage and RFM segment: ``reasons`` are the rules' ``{dimension:
        (code, values)}``."""
        _ = self.env._
        currency = self.env.company.currency_id
        lines = []
        for dimension in ("lifecycle", "value", "rfm"):
            segment = self[SHIPPED_FIELDS[dimension]]
            if not segment or dimension not in reasons:
                continue
            code, values = reasons[dimension]
            lines.append(
                _(
                    "%(segment)s: %(reason)s.",
                    segment=segment.name,
                    reason=render_reason(self.env, code, values, currency),
                )
            )
        if not lines:
            lines.append(_("No purchase and nothing pending: not classified."))
        if self.model_explanation:
            lines.append(
                _("Purchase model: %(reason)s.", reason=self.model_explanation)
            )
        return (
            lines
            + self._segmentation_explain_recency()
            + self._segmentation_explain_churn()
        )

    def _segmentation_explain_recency(self):
        """A sentence saying why the lifecycle stage and the RFM segment
        seem to disagree on how recent the last purchase is, when they do:
        recent by the stage and among the least recent customers by the RFM
        recency score, or the reverse."""
        stage, rfm = self.segment_lifecycle_id, self.segment_rfm_id
        score = self.rfm_recency_score
        if not (stage and rfm and score and self.last_order_date):
            return []
        lapsed_stage = stage.code in ("at_risk", "churned")
        recent_stage = stage.code in ("new", "active")
        if not (recent_stage and score <= 2 or lapsed_stage and score >= 4):
            return []
        return [
            self.env._(
                "%(stage)s although %(rfm)s: the lifecycle stage compares the "
                "last purchase, %(days)s days ago, with the company's fixed "
                "periods, the RFM segment with the other customers' last "
                "purchases (recency score %(score)s of 5).",
                stage=stage.name,
                rfm=rfm.name,
                days=self.rfm_recency_days,
                score=score,
            )
        ]

    def _segmentation_explain_churn(self):
        """A sentence saying why the churn warning and the lifecycle stage or
        RFM segment seem to disagree, when they do."""
        _ = self.env._
        stage = self.segment_lifecycle_id
        recent = stage.code in ("new", "active") or self.rfm_recency_score >= 4
        if self.churn_alert and recent:
            return [
                _(
                    "Churn warning although %(stage)s / %(rfm)s: the lifecycle "
                    "stage and the RFM segment compare the last purchase with "
                    "fixed periods and with the other customers, the warning "
                    "compares the silence with this customer's own rhythm.",
                    stage=stage.name or "-",
                    rfm=self.segment_rfm_id.name or "-",
                )
            ]
        if not self.churn_alert and stage.code in ("at_risk", "churned"):
            if not self.churn_signal:
                return [
                    _(
                        "No churn warning although %(stage)s: the warning "
                        "compares the silence with this customer's own rhythm, "
                        "and fewer than two purchase days show none yet.",
                        stage=stage.name,
                    )
                ]
            return [
                _(
                    "No churn warning although %(stage)s: the lifecycle stage "
                    "compares the last purchase with fixed periods, the warning "
                    "compares the silence with this customer's own rhythm "
                    "(%(signal)s).",
                    stage=stage.name,
                    signal=self.churn_signal,
                )
            ]
        return []

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
        # the columns of the company's RFM preset only
        try:
            preset = self._segmentation_params()["rfm_preset"]
        except UserError:
            preset = PARAMS["rfm_preset"].default
        operator = "=" if preset == "rfm8" else "!="
        return self._segmentation_group_expand(
            segments, "rfm", [("rfm_preset", operator, "rfm8")]
        )

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

    def _segmentation_group_expand(self, segments, dimension, domain=()):
        # Every segment of the dimension is a column, in segment order, even
        # when empty, so a kanban shows the whole ladder.
        return segments.search(
            [
                "|",
                ("id", "in", segments.ids),
                *expression.AND([[("dimension", "=", dimension)], list(domain)]),
            ],
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

    def _field_to_sql(self, alias, fname, query=None, flush=True):
        """The company's segment (or figures row) of a contact as a join.

        Odoo reads a company-dependent many2one through a subquery per row,
        which checks that the record exists (there is no foreign key): a
        kanban or list grouped by value tier ran it three times per contact
        (2.7 s at 100k customers). The same check as one LEFT JOIN of the
        (small) table of segments or figures, which PostgreSQL hashes."""
        field = self._fields.get(fname)
        if (
            query is None
            or field is None
            or not field.company_dependent
            or field.type != "many2one"
            or field.comodel_name not in COMPANY_JOINED_MODELS
        ):
            return super()._field_to_sql(alias, fname, query, flush)
        self.check_field_access_rights("read", [fname])
        column = SQL.identifier(alias, fname, to_flush=field if flush else None)
        reference = SQL("(%s ->> %s)::int", column, str(self.env.company.id))
        fallback = field.get_company_dependent_fallback(self)
        if fallback:
            reference = SQL("COALESCE(%s, %s)", reference, fallback.id)
        comodel = self.env[field.comodel_name]
        coalias = query.make_alias(alias, f"{fname}__company")
        query.add_join(
            "LEFT JOIN",
            coalias,
            comodel._table,
            SQL("%s = %s", SQL.identifier(coalias, "id"), reference),
        )
        return SQL.identifier(coalias, "id")

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        """Aggregate a figure of the current company through one join on the
        narrow figures table, its row of the customer and the company: the
        related path would join the wide contact table a second time (the
        commercial partner) and read the company-dependent pointer of every
        row. A kanban column's revenue is then one grouped query."""
        figure_name = self._segmentation_figure_name(aggregate_spec)
        if not figure_name:
            return super()._read_group_select(aggregate_spec, query)
        fname, __, func = models.parse_read_group_spec(aggregate_spec)
        if func not in READ_GROUP_AGGREGATE or (
            func == "recordset" and not self._fields[fname].relational
        ):
            # the ORM's error
            return super()._read_group_select(aggregate_spec, query)
        self.check_field_access_rights("read", [fname])
        alias = self._segmentation_figure_join(query)
        Figure = self.env["customer.segmentation.figure"]
        column = SQL.identifier(
            alias, figure_name, to_flush=Figure._fields[figure_name]
        )
        return READ_GROUP_AGGREGATE[func](self._table, column)

    @api.model
    def _read_group_groupby(self, groupby_spec, query):
        """Group by churn status (a kanban progress bar) in SQL: the churn
        warning's condition on the current company's figures row."""
        if groupby_spec != "segmentation_churn_state":
            return super()._read_group_groupby(groupby_spec, query)
        self.check_field_access_rights("read", [groupby_spec])
        alias = self._segmentation_figure_join(query)
        Figure = self.env["customer.segmentation.figure"].sudo()
        domain = Figure._churn_warning_domain(self._segmentation_churn_params())
        figure_query = Query(self.env, alias, SQL.identifier(Figure._table))
        warning = expression.expression(domain, Figure, alias, figure_query)
        return SQL(
            "CASE WHEN %s IS NOT NULL AND %s THEN 'warning' ELSE 'none' END",
            SQL.identifier(alias, "id"),
            warning.query.where_clause,
        )

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    def init(self):
        res = super().init()
        for name in COMPANY_DEPENDENT_INDEXES:
            self.env.cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(name)))
        return res

    @api.constrains(*PARTNER_LIMITS)
    def _check_segmentation_bounds(self):
        check_records(self, PARTNER_LIMITS, self.env._("Contact"))

    @api.model_create_multi
    def create(self, vals_list):
        model = self._segmentation_without_defaults()
        checked_values(model, vals_list, model._segmentation_engine_fields)
        model._segmentation_check_input(vals_list)
        # figures given at creation (superuser only) go to the company's row
        figures = [
            {name: vals[name] for name in FIGURE_FIELDS & vals.keys()}
            for vals in vals_list
        ]
        vals_list = [
            {name: value for name, value in vals.items() if name not in FIGURE_FIELDS}
            for vals in vals_list
        ]
        partners = super(ResPartner, model).create(vals_list)
        for partner, values in zip(partners, figures, strict=True):
            if values:
                partner._segmentation_write_figures(values)
        partners._segmentation_check_manual_segments(
            {name for vals in vals_list for name in vals}
        )
        # a new contact of a company shows the company's segments at once,
        # and every partner gets its profile segments
        partners._segmentation_reclassify()
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
        reclassify = not self.env.context.get(WRITING_CONTEXT_KEY) and bool(
            (PROFILE_DEPENDENCIES | self._segmentation_rule_fields()) & written
        )
        manual = not self.env.context.get(WRITING_CONTEXT_KEY) and bool(
            set(self._segmentation_manual_fields()) & written
        )
        before = self._segmentation_manual_values() if manual else None
        customers_before = self.commercial_partner_id if reclassify else None
        figures = {name: vals[name] for name in FIGURE_FIELDS & written}
        if figures:
            # the figures of the current company live in its row (only the
            # superuser gets here: the module's code, or a fix by hand)
            vals = {name: value for name, value in vals.items() if name not in figures}
            self._segmentation_write_figures(figures)
        partners = self
        if self.env.context.get(WRITING_CONTEXT_KEY):
            # the module's own write: mail tracks the written fields only
            # (see _track_prepare)
            partners = self.with_context(**{TRACKED_WRITE_KEY: frozenset(vals)})
        res = super(ResPartner, partners).write(vals)
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
        if reclassify:
            customers = customers_before | self.commercial_partner_id
            if PURCHASE_DEPENDENCIES & written:
                # the purchases of a moved contact now count for another
                # customer: both are refreshed from their purchases
                self.env["customer.segmentation.queue"]._enqueue_all_companies(
                    customers.ids
                )
            customers._segmentation_reclassify()
        return res

    def _segmentation_write_figures(self, values):
        """Write figures of these partners' customers in the current company,
        making their rows where missing."""
        Figure = self.env["customer.segmentation.figure"].sudo()
        company = self.env.company
        rows = Figure._ensure(company, self.commercial_partner_id.ids)
        Figure.browse(rows.values()).write(values)
        self.invalidate_recordset(list(values))
        if PURCHASE_FIGURES & values.keys():
            # purchase figures set by hand: the next run (or the queue) sums
            # the customers' purchases up again, as it would have them
            self.env["customer.segmentation.queue"]._enqueue(
                (customer_id, company.id) for customer_id in rows
            )

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
        """Recompute the segments of these partners' commercial entities, in
        the current company, from their purchases.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_recompute_segments', [[id, ...]])``: ids of partners the caller
        may read, at most ``arguments.MAX_RECORDS``. Value tiers and RFM scores
        are still ranked against all the company's customers. Requires the
        Customer Segmentation / User group.

        :return: True
        """
        self._segmentation_check_group(SEGMENTATION_GROUP)
        partners = checked_records(self, "ids", self.env._("Partners"))
        customers = partners.sudo().commercial_partner_id
        # invalid settings: a clear error for whoever asked
        self.env.company._segmentation_params()
        self.env["customer.segmentation.run"].sudo()._recompute_customers(
            self.env.company, customers.ids
        )
        return True

    @api.model
    def recompute_all_segments(self):
        """Recompute the segments of every customer of the current company.

        Customers are classified in committed batches against thresholds
        computed once for everyone (see ``customer.segmentation.run``), so the
        result is that of one statement over everyone, while users may go on
        editing contacts.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'recompute_all_segments', [])``; the current company is the user's,
        or the first of ``allowed_company_ids`` in the context. Requires the
        Customer Segmentation / Manager group. If other users keep changing
        the same customers so that a batch fails again and again, a
        ``UserError`` says so; the batches done are kept and the run is marked
        abandoned.

        :return: ``{'run_id': int, 'company_id': int, 'customers': int,
            'written': int, 'changes': {'value': int, 'lifecycle': int,
            'rfm': int, 'other': int}}``: customers (commercial entities the
            company classifies, archived ones included) processed, customers
            whose figures changed and, per dimension, how many customers
            changed segment
        """
        self._segmentation_check_group(MANAGER_GROUP)
        Run = self.env["customer.segmentation.run"].sudo()
        run = Run._start_committed("manual", self.env.company)
        try:
            run._process(batch_size=RECOMPUTE_BATCH_SIZE)
        except Exception:
            # nobody resumes a manual run: say it will not finish
            run._abandon()
            raise
        return run._summary()

    @api.model
    def apply_segment_strategies(self):
        """Apply every segment's management strategy in the current company
        now, as the nightly job does: account managers, shared pool, tags,
        pricelists, follow-up and churn early-warning activities.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'apply_segment_strategies', [])``. Requires the Customer Segmentation /
        Manager group.

        :return: ``{'assigned', 'returned_to_pool', 'tags_added',
            'tags_removed', 'pricelists_applied', 'pricelists_restored',
            'followups', 'churn_warnings', 'activities_left'}``: numbers of
            customers (tags: of customer-tag pairs); ``activities_left`` is 0
            here, as there is no time limit
        """
        self._segmentation_check_group(MANAGER_GROUP)
        return (
            self.env["customer.segmentation.strategy"].sudo()._apply(self.env.company)
        )

    @api.model
    def _cron_apply_segment_strategies(
        self, batch_size=STRATEGY_BATCH_SIZE, time_budget=240
    ):
        """Nightly: strategies after the recompute, company by company, in
        committed batches of ``batch_size`` customers with a resume point
        (see ``customer.segmentation.strategy.run``). When ``time_budget``
        seconds are spent, the job reports what is left and Odoo calls it
        again at once; the next call goes on after the last committed batch.
        """
        runs = self.env["customer.segmentation.strategy.run"]._cron_runs_committed()
        deadline = time.monotonic() + time_budget
        left = 0
        for index, run in enumerate(runs.sorted("id")):
            if index and time.monotonic() > deadline:
                # not started in this call: the next one goes on with it
                left += run.state == "running"
                continue
            left += run._process(batch_size, deadline)
        self.env["ir.cron"]._notify_progress(
            done=sum(runs.mapped("customers_done")), remaining=left
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
                        "(segmentation_pool_daily_claim_limit) is "
                        "%(limit)s: you claimed %(claimed)s customers today and "
                        "cannot claim %(count)s more.",
                        limit=limit,
                        claimed=claimed - len(customers),
                        count=len(customers),
                    )
                )
        customers.segmentation_figure_id.write(
            {"segmentation_in_pool": False, "segmentation_pool_date": False}
        )
        customers.write({"user_id": self.env.uid})
        self.env["customer.segmentation.pool.move"].sudo().create(
            [
                {
                    "partner_id": customer.id,
                    "company_id": self.env.company.id,
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
        others = self._segmentation_not_managed(customers)
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
        figures = customers.sudo().segmentation_figure_id
        for last_order_date, group in figures.grouped("last_order_date").items():
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

    def action_assign_salesperson(self, user_id):
        """Make ``user_id`` the account manager of these customers, tracked in
        their chatter and logged as pool moves.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_assign_salesperson', [[id, ...], user_id])``: ids of partners
        of the current company the caller may read (their customers get the
        salesperson), and the id of an active salesperson of the current
        company. A salesperson hands over only the customers he manages (he
        claims those of the pool); a segmentation manager assigns any
        customer of the current company, taking it out of the pool.

        :return: True
        """
        customers = self._segmentation_acting_customers(
            self.env._("assign a salesperson to")
        )
        user = self._segmentation_checked_salesperson(user_id)
        # those the salesperson manages already are left as they are: no
        # write, no pool move
        customers = customers.filtered(
            lambda customer: customer.user_id != user or customer.segmentation_in_pool
        )
        customers.segmentation_figure_id.write(
            {"segmentation_in_pool": False, "segmentation_pool_date": False}
        )
        customers.write({"user_id": user.id})
        reason = self.env._("Assigned by %(user)s", user=self.env.user.name)
        self.env["customer.segmentation.pool.move"].sudo().create(
            [
                {
                    "partner_id": customer.id,
                    "company_id": self.env.company.id,
                    "user_id": user.id,
                    "move": "hand",
                    "reason": reason,
                }
                for customer in customers
            ]
        )
        return True

    def action_return_to_pool(self, reason):
        """Put these customers in the company's shared pool, without an
        account manager, as the nightly job does with neglected ones: their
        former manager's open follow-ups go with them.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_return_to_pool', [[id, ...], 'reason'])``: ids of partners of
        the current company the caller may read, none of them in the pool,
        and a reason of at most ``arguments.MAX_TEXT_LENGTH`` characters. The
        company's shared pool must be enabled. A salesperson returns only the
        customers he manages; a segmentation manager any customer of the
        current company.

        :return: True
        """
        customers = self._segmentation_acting_customers(
            self.env._("return to the pool")
        )
        reason = checked_text(self.env, reason, "reason", self.env._("Reason"))
        if not self._segmentation_params()["pool_enabled"]:
            raise UserError(
                self.env._(
                    "Shared Customer Pool (segmentation_pool_enabled) is off in "
                    "the settings of %(company)s: no customer can return to "
                    "the pool.",
                    company=self.env.company.name,
                )
            )
        pooled = customers.filtered("segmentation_in_pool")
        if pooled:
            raise UserError(
                self.env._(
                    "These customers are in the customer pool already: %(names)s.",
                    names=caller_names(pooled.sudo(False)),
                )
            )
        self.env["customer.segmentation.strategy"].sudo()._pool_by_hand(
            self.env.company, customers, reason
        )
        return True

    def action_schedule_activity(self):
        """Odoo's activity scheduler, on these customers at once.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_schedule_activity', [[id, ...]])``: ids of partners of the
        current company the caller may read. A salesperson schedules
        activities on the customers he manages only.

        :return: a window action opening ``mail.activity.schedule`` on the
            customers
        """
        customers = self._segmentation_acting_customers(
            self.env._("schedule an activity on")
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Schedule Activity"),
            "res_model": "mail.activity.schedule",
            "view_mode": "form",
            "views": [[False, "form"]],
            "target": "new",
            "context": {
                "active_model": self._name,
                "active_ids": customers.ids,
                "default_res_model": self._name,
                # Odoo's scheduler takes the selection from active_ids up to
                # 500 records only
                "default_res_ids": repr(customers.ids),
            },
        }

    def _segmentation_acting_customers(self, doing):
        """The customers (commercial entities) of these partners that the
        caller may act on, in sudo, once the ids and the caller are checked.

        Only customers of the current company (or shared by every company);
        a salesperson acts on those he is the account manager of.

        :param doing: translated end of "you may not ... these customers"
        :raise UserError: bad ids, or customers of another company
        :raise AccessError: not a segmentation user, or others' customers
        """
        self._segmentation_check_group(SEGMENTATION_GROUP)
        partners = checked_records(self, "ids", self.env._("Customers"))
        customers = partners.sudo().commercial_partner_id
        company = self.env.company
        elsewhere = customers.filtered(
            lambda p: p.company_id and p.company_id != company
        )
        if elsewhere:
            raise UserError(
                self.env._(
                    "Customers (ids): these customers belong to another company "
                    "than %(company)s: %(names)s.",
                    company=company.name,
                    names=caller_names(elsewhere.sudo(False)),
                )
            )
        others = self._segmentation_not_managed(customers)
        if others:
            raise AccessError(
                self.env._(
                    "Only the account manager of a customer or a "
                    "segmentation manager may %(doing)s it; you are not the "
                    "account manager of %(names)s.",
                    doing=doing,
                    names=caller_names(others.sudo(False)),
                )
            )
        return customers.with_company(company)

    def _segmentation_not_managed(self, customers):
        """Those of ``customers`` the caller may not act on: those he is not
        the account manager of, unless he is a segmentation manager (or the
        superuser)."""
        if self.env.su or self.env.user.has_group(MANAGER_GROUP):
            return customers.browse()
        return customers.filtered(lambda p: p.user_id != self.env.user)

    @api.model
    def _segmentation_checked_salesperson(self, user_id):
        """The active internal salesperson of the current company whose id
        is ``user_id``.

        :raise UserError: naming the argument
        """
        label = self.env._("Salesperson")
        user = checked_record(self.env["res.users"].sudo(), user_id, "user_id", label)
        company = self.env.company
        if (
            not user.active
            or user.share
            or company not in user.company_ids
            or not user.has_group("sales_team.group_sale_salesman")
        ):
            raise UserError(
                self.env._(
                    "%(label)s (user_id): %(user)s is not an active salesperson "
                    "of %(company)s.",
                    label=label,
                    user=user.name,
                    company=company.name,
                )
            )
        return user

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
        return self._segmentation_domain_sql(
            self._segmentation_customer_domain(), alias
        )

    @api.model
    def _segmentation_domain_sql(self, domain, alias="res_partner"):
        """``domain`` as an SQL condition on the partner table aliased
        ``alias``, archived partners included."""
        Partner = self.with_context(active_test=False)
        query = Query(self.env, alias, SQL.identifier(self._table))
        condition = expression.expression(domain, Partner, alias, query)
        return condition.query.where_clause

    @api.model
    def _segmentation_figure_name(self, aggregate_spec):
        """The figure column that ``aggregate_spec`` (``field:function``)
        aggregates, if its field shows a figure of the current company."""
        fname = aggregate_spec.split(":", 1)[0]
        field = self._fields.get(fname)
        if not (field and field.related and field.related.startswith(FIGURE_PATH)):
            return None
        return field.related.removeprefix(FIGURE_PATH)

    @api.model
    def _segmentation_figure_join(self, query):
        """The alias of the current company's figures row of each partner's
        customer in ``query``, joined once (LEFT: a customer without figures
        keeps its row)."""
        Figure = self.env["customer.segmentation.figure"]
        alias = query.make_alias(self._table, "segmentation_figure")
        query.add_join(
            "LEFT JOIN",
            alias,
            Figure._table,
            SQL(
                "%s = %s AND %s = %s",
                SQL.identifier(alias, "partner_id"),
                self._field_to_sql(self._table, "commercial_partner_id", query),
                SQL.identifier(alias, "company_id"),
                self.env.company.id,
            ),
        )
        return alias

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
    def _cron_recompute_segments(
        self, batch_size=RECOMPUTE_BATCH_SIZE, time_budget=240
    ):
        """Nightly full recompute of every company, in committed batches (see
        the run model): a call going on with today's unfinished runs, or
        starting one per company. When ``time_budget`` seconds are spent, the
        job reports what is left and Odoo calls it again at once."""
        runs = self.env["customer.segmentation.run"]._cron_runs_committed()
        started = time.monotonic()
        for index, run in enumerate(runs):
            budget = time_budget - (time.monotonic() - started)
            if budget <= 0 and index:
                break
            # at least one batch per call, however short the budget
            run._process(batch_size=batch_size, time_budget=max(budget, 1e-9))
        self.env["ir.cron"]._notify_progress(
            done=sum(runs.mapped("customers_done")),
            remaining=sum(
                run.customers_total - run.customers_done
                for run in runs
                if run.state == "running"
            )
            or len(runs.filtered(lambda run: run.state == "running")),
        )

    # ------------------------------------------------------------------
    # Classification: settings, scopes, refreshes
    # ------------------------------------------------------------------

    @api.model
    def _segmentation_params(self, company=None):
        """The settings of ``company`` (default: the current one); a stored
        invalid value aborts with a UserError naming it."""
        return (company or self.env.company)._segmentation_params()

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
                    "dimension": dimension,
                    "old_segment_id": old.id,
                    "new_segment_id": new.id,
                    "date": fields.Datetime.now(),
                    "user_id": self.env.uid,
                    "cause": "manual",
                    "movement": _movement(old, new),
                    "reason_code": "manual",
                    "reason_values": {"user": self.env.user.name},
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
        write: the module's read-only stored fields, the figures shown from
        the company's row, and the fields of the custom dimensions classified
        by rule."""
        return frozenset(
            name
            for name, field in self._fields.items()
            if (field.related and field.related.startswith(FIGURE_PATH))
            or (
                field.store
                and field.readonly
                and not field.compute
                and not field.related
                and (
                    field._module == "customer_segmentation"
                    or (field.manual and name.startswith("x_cs_"))
                )
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
        """Reclassify these commercial partners after their purchases changed,
        in every company: queued, and done within seconds by the queue's
        scheduled action (sales never wait for the classification)."""
        if self.env.context.get("segmentation_skip_refresh"):
            return
        self.env["customer.segmentation.queue"]._enqueue_all_companies(self.ids)

    def _segmentation_reclassify(
        self, cause="rule", ended=(), expired=False, companies=None
    ):
        """Reclassify these partners' customers now, from their current
        figures, in ``companies`` (default: every company): their profile
        segments (address, job title, size, custom dimensions, needs), or
        after a pin.

        :param cause: history cause of the changes the rules make
        :param ended: ``{(partner_id, dimension)}`` whose pin just ended
        :param expired: the pins in ``ended`` expired (rather than being ended
            by a user)
        """
        if not self or self.env.context.get("segmentation_skip_refresh"):
            return
        customers = self.sudo().commercial_partner_id
        Run = self.env["customer.segmentation.run"].sudo()
        for company in companies or self.env["res.company"].sudo().search([]):
            Run.with_context(segmentation_pin_expired=expired)._reclassify(
                company, customers.ids, cause=cause, ended=ended
            )

    def _fields_sync(self, values):
        """After each write of a partner, Odoo walks its contacts, one by
        one and recursively, to sync its commercial and address fields,
        even when the write changed none of them. When the module's own
        write changes none of them (segments, salespeople, tags; not
        pricelists), there is nothing to sync."""
        if self.env.context.get(WRITING_CONTEXT_KEY) and not (
            values.keys()
            & {"parent_id", "type", *self._commercial_fields(), *self._address_fields()}
        ):
            return
        super()._fields_sync(values)

    # ------------------------------------------------------------------
    # Chatter: the tracked changes of many contacts logged together.
    # Odoo logs the tracked changes of each record in a mail.message
    # created on its own (_message_track calls _message_log per record: 1.4
    # to 3.9 ms a contact). The classification changes the segments of
    # thousands of customers in a night through the ORM, tracked as any edit
    # (issue 10): the same messages, with the same values, are created in
    # one create, and their tracking values in another.
    # ------------------------------------------------------------------

    def _track_prepare(self, fields_iter):
        """Before a write, mail reads every tracked field of every record
        written, to compare after it: on a contact, its e-mail, phone, VAT,
        salesperson and its whole address, formatted. The module's own writes
        (segments, salespeople, tags, in thousands of contacts a night) can
        change only what they write and nothing tracked is computed from it:
        only those fields are read (a night at 1M customers spent 50 s
        reading the others for its 56,000 changing customers), and in one
        query: mail reads them record by record, which fetched them one
        prefetch batch of 1,000 contacts at a time, with every field of the
        batch's prefetch group."""
        written = self.env.context.get(TRACKED_WRITE_KEY)
        if written is not None:
            fields_iter = written.intersection(fields_iter)
            tracked = self._track_get_fields().intersection(fields_iter)
            if tracked:
                self.fetch(list(tracked))
        return super()._track_prepare(fields_iter)

    def _message_track(self, fields_iter, initial_values_dict):
        if len(self) < 2:
            return super()._message_track(fields_iter, initial_values_dict)
        data = self.env.cr.precommit.data
        logs = data[TRACKING_LOGS_KEY] = []
        try:
            tracking = super()._message_track(fields_iter, initial_values_dict)
        finally:
            data.pop(TRACKING_LOGS_KEY, None)
        self._segmentation_log_batch(logs)
        return tracking

    def _message_log(self, **kwargs):
        """Kept for ``_segmentation_log_batch`` while the tracking of several
        contacts is computed: plain tracking logs only."""
        logs = self.env.cr.precommit.data.get(TRACKING_LOGS_KEY)
        if logs is None or kwargs.get("attachment_ids") or kwargs.get("partner_ids"):
            return super()._message_log(**kwargs)
        logs.append((self.id, kwargs))
        return self.env["mail.message"]

    def _segmentation_log_batch(self, logs):
        """The messages ``_message_log`` would have created for ``logs``
        (``[(partner id, its keyword arguments)]``), with the values of
        Odoo's ``_message_log_batch``, in one create, and their tracking
        values in another (as commands of each message, they would be
        inserted one by one)."""
        if not logs:
            return
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        authors = {}
        values_list = []
        for partner_id, kwargs in logs:
            key = (kwargs.get("author_id"), kwargs.get("email_from"))
            if key not in authors:
                author_id, email_from = self._message_compute_author(
                    *key, raise_on_email=False
                )
                reply_to = self.env["mail.thread"]._notify_get_reply_to(
                    default=email_from
                )[False]
                authors[key] = (author_id, email_from, reply_to)
            author_id, email_from, reply_to = authors[key]
            values_list.append(
                {
                    "author_id": author_id,
                    "email_from": email_from,
                    "model": self._name,
                    "res_id": partner_id,
                    "record_alias_domain_id": False,
                    "record_company_id": False,
                    "record_name": False,
                    "message_type": kwargs.get("message_type", "notification"),
                    "is_internal": True,
                    "subject": kwargs.get("subject", False),
                    "subtype_id": note,
                    "body": escape(kwargs.get("body") or ""),
                    "email_add_signature": False,
                    "message_id": generate_tracking_message_id("message-notify"),
                    "reply_to": reply_to,
                }
            )
        messages = self.sudo()._message_create(values_list)
        self.env["mail.tracking.value"].sudo().create(
            [
                dict(command[2], mail_message_id=message.id)
                for message, (_partner_id, kwargs) in zip(messages, logs, strict=True)
                for command in kwargs.get("tracking_value_ids") or ()
            ]
        )


def _segmentation_today():
    """Order dates are classified by their UTC date, so "today" is the UTC
    date too, whoever triggers the classification and wherever they are."""
    return fields.Date.today()


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
