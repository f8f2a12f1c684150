import ast
import functools
import re
import string

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression

from .arguments import checked_records
from .input_bounds import (
    MAX_DAYS,
    TYPED,
    Bound,
    Text,
    check_records,
    check_vals,
    shown,
)

# The placeholders of a follow-up summary, replaced by plain text: nothing a
# manager types is run as a format string or a template.
SUMMARY_PLACEHOLDERS = ("customer", "segment", "days")
MAX_SUMMARY_TEMPLATE = 200
# A summary longer than this (a customer's name is not bounded) is cut.
MAX_SUMMARY = 300
CODE_PATTERN = r"[a-z][a-z0-9_]{0,39}"
# What managers may type into a segment.
SEGMENT_LIMITS = {
    "name": Text(100),
    "code": Text(40),
    "sequence": Bound(0, 1_000_000),
    "rank": Bound(-1000, 1000),
    "color": Bound(0, 11),
    "rule_domain": Text(5000),
    "job_title_keywords": Text(2000),
    "description": Text(5000),
    "rfm_recency_min": Bound(1, 5),
    "rfm_recency_max": Bound(1, 5),
    "rfm_frequency_min": Bound(1, 5),
    "rfm_frequency_max": Bound(1, 5),
    "strategy_priority": Bound(0, 1000),
    "followup_days": Bound(0, MAX_DAYS),
    "followup_summary": Text(MAX_SUMMARY_TEMPLATE),
    "dimension": TYPED,
    "rfm_preset": TYPED,
    "is_churn": TYPED,
    "active": TYPED,
    "service_level": TYPED,
    "manager_policy": TYPED,
    "manager_team_id": TYPED,
    "followup_activity_type_id": TYPED,
    "pricelist_id": TYPED,
}


# Strategy fields that any company may share: a new company starts with
# these values of the segment (see _segmentation_copy_strategies).
STRATEGY_COPIED_FIELDS = (
    "service_level",
    "strategy_priority",
    "followup_days",
    "followup_activity_type_id",
)


class CustomerSegment(models.Model):
    _name = "customer.segment"
    _description = "Customer Segment"
    _order = "dimension_id, sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Stable technical key used by the classification rules and by "
        "XML-RPC clients.",
    )
    dimension = fields.Selection(
        selection="_selection_dimension",
        string="Dimension Code",
        required=True,
        index=True,
        help="Code of the dimension this segment belongs to.",
    )
    dimension_id = fields.Many2one(
        "customer.segment.dimension",
        compute="_compute_dimension_id",
        store=True,
        index=True,
        ondelete="cascade",
    )
    dimension_rule_type = fields.Selection(related="dimension_id.rule_type")
    sequence = fields.Integer(
        string="Priority",
        default=10,
        aggregator=None,
        help="Segments are listed in this order; for rules by domain, the first "
        "segment whose domain matches wins.",
    )
    rank = fields.Integer(
        string="Level",
        aggregator=None,
        help="Higher is better: a customer moving to a segment of a higher level "
        "is an upgrade, to a lower level a downgrade (movement report).",
    )
    is_churn = fields.Boolean(
        string="Counts as Churn",
        help="Customers entering this segment count as churned in the movement report.",
    )
    rule_domain = fields.Char(
        string="Rule",
        help="Contacts matching this domain belong to the segment (dimensions "
        "classified by segment domains, and needs set by rule).",
    )
    job_title_keywords = fields.Char(
        help="Words separated by commas (, ， or 、); a contact whose job title "
        "contains one of them, in any case, gets this job level: whole words "
        "for Latin keywords, anywhere for Chinese ones. Levels are tried in "
        "priority order.",
    )
    color = fields.Integer(
        aggregator=None, help="Colour of the segment's tags and kanban badges."
    )
    description = fields.Text(
        translate=True,
        help="How to manage the customers of this segment.",
    )
    active = fields.Boolean(default=True)
    rfm_preset = fields.Selection(
        [("rf", "Recency x frequency scores"), ("rfm8", "R x F x M classes")],
        string="RFM Preset",
        help="RFM segments: of the ten recency x frequency segments (their "
        "score ranges below), or one of the eight R x F x M classes, chosen by "
        "its code, when the company's settings use those.",
    )
    rfm_recency_min = fields.Integer(string="Recency Score From", default=1)
    rfm_recency_max = fields.Integer(string="Recency Score To", default=5)
    rfm_frequency_min = fields.Integer(string="Frequency Score From", default=1)
    rfm_frequency_max = fields.Integer(string="Frequency Score To", default=5)
    customer_count = fields.Integer(compute="_compute_customer_count")

    # Management strategy of the segment's customers
    service_level = fields.Selection(
        [
            ("dedicated", "Dedicated account manager"),
            ("periodic", "Periodic care"),
            ("automated", "Automated handling"),
        ],
        help="How much personal attention the segment's customers get.",
        company_dependent=True,
    )
    strategy_priority = fields.Integer(
        default=10,
        aggregator=None,
        help="When several segments of a customer set the same thing (account "
        "manager, follow-up, pricelist), the segment with the highest strategy "
        "priority wins; tags of all its segments add up.",
        company_dependent=True,
    )
    manager_policy = fields.Selection(
        [
            ("keep", "Keep the current account manager"),
            ("round_robin", "Assign in turn in a sales team"),
            ("least_loaded", "Assign the least loaded of a sales team"),
        ],
        string="Account Manager Policy",
        default="keep",
        help="For customers of the segment without an account manager (salesperson).",
        company_dependent=True,
    )
    manager_team_id = fields.Many2one(
        "crm.team",
        string="Assign From Team",
        help="Account managers are chosen among this team's members.",
        company_dependent=True,
    )
    followup_days = fields.Integer(
        string="Follow-up Every (days)",
        aggregator=None,
        help="The nightly job schedules a follow-up for the account manager of "
        "each customer whose last interaction (done activity, message, order) "
        "is older than this. 0: no follow-up.",
        company_dependent=True,
    )
    followup_activity_type_id = fields.Many2one(
        "mail.activity.type",
        string="Follow-up Activity",
        domain="['|', ('res_model', '=', False), ('res_model', '=', 'res.partner')]",
        company_dependent=True,
    )
    followup_summary = fields.Char(
        string="Follow-up Summary",
        translate=True,
        help="Summary of the scheduled activities; {customer}, {segment} and "
        "{days} are replaced by the customer's name, the segment and the days "
        "since the last interaction.",
    )
    pricelist_id = fields.Many2one(
        "product.pricelist",
        string="Exclusive Pricelist",
        help="Applied to the segment's customers while they are in it; their "
        "previous pricelist comes back when they leave.",
        company_dependent=True,
    )
    partner_tag_ids = fields.Many2many(
        "res.partner.category",
        relation="customer_segment_partner_tag_rel",
        column1="segment_id",
        column2="category_id",
        string="Customer Tags",
        help="Added to the segment's customers while they are in it, removed "
        "when they leave.",
    )

    _sql_constraints = [
        (
            "dimension_code_uniq",
            "UNIQUE(dimension, code)",
            "A segment code must be unique within its dimension.",
        ),
    ]

    @api.model
    def _selection_dimension(self):
        dimensions = (
            self.env["customer.segment.dimension"]
            .sudo()
            .with_context(active_test=False)
            .search_fetch([], ["code", "name"])
        )
        return [(d.code, d.name) for d in dimensions]

    @api.depends("dimension")
    def _compute_dimension_id(self):
        dimensions = {
            d.code: d
            for d in self.env["customer.segment.dimension"]
            .sudo()
            .with_context(active_test=False)
            .search([("code", "in", list(set(self.mapped("dimension"))))])
        }
        for segment in self:
            segment.dimension_id = dimensions.get(segment.dimension)

    def _compute_customer_count(self):
        counts = {}
        Partner = self.env["res.partner"]
        fields_by_dimension = Partner._segmentation_dimension_fields()
        for dimension in set(self.mapped("dimension")):
            field_name = fields_by_dimension.get(dimension)
            if not field_name:
                continue
            domain = [
                *Partner._segmentation_customer_domain(),
                (field_name, "in", self.ids),
            ]
            for segment, count in Partner._read_group(
                domain, [field_name], ["__count"]
            ):
                counts[segment.id] = count
        for segment in self:
            segment.customer_count = counts.get(segment.id, 0)

    @api.constrains(
        "dimension",
        "rfm_recency_min",
        "rfm_recency_max",
        "rfm_frequency_min",
        "rfm_frequency_max",
    )
    def _check_rfm_ranges(self):
        for segment in self.filtered(lambda s: s.dimension == "rfm"):
            for label, low, high in (
                (
                    self.env._("Recency Score"),
                    segment.rfm_recency_min,
                    segment.rfm_recency_max,
                ),
                (
                    self.env._("Frequency Score"),
                    segment.rfm_frequency_min,
                    segment.rfm_frequency_max,
                ),
            ):
                if not 1 <= low <= high <= 5:
                    raise ValidationError(
                        self.env._(
                            "Segment %(segment)s: %(field)s must be a range "
                            "within 1..5 (got %(low)s to %(high)s).",
                            segment=segment.name,
                            field=label,
                            low=low,
                            high=high,
                        )
                    )

    @api.constrains("manager_policy", "manager_team_id", "followup_days")
    def _check_strategy(self):
        for segment in self:
            policy = segment.manager_policy or "keep"
            if policy != "keep" and not segment.manager_team_id:
                raise ValidationError(
                    self.env._(
                        "Segment %(segment)s: Assign From Team is required by the "
                        "account manager policy.",
                        segment=segment.display_name,
                    )
                )

    @api.constrains(*SEGMENT_LIMITS)
    def _check_bounds(self):
        check_records(self, SEGMENT_LIMITS, self.env._("Segment"))

    @api.constrains("code")
    def _check_code(self):
        for segment in self:
            if not re.fullmatch(CODE_PATTERN, segment.code or ""):
                raise ValidationError(
                    self.env._(
                        "Segment %(segment)s: Code (code): %(code)s must start "
                        "with a lower-case letter and hold only lower-case "
                        "letters, digits and underscores (at most 40).",
                        segment=segment.display_name,
                        code=shown(segment.code),
                    )
                )

    @api.constrains("followup_activity_type_id")
    def _check_followup_activity_type(self):
        for segment in self:
            res_model = segment.followup_activity_type_id.res_model
            if res_model and res_model != "res.partner":
                raise ValidationError(
                    self.env._(
                        "Segment %(segment)s: Follow-up Activity "
                        "(followup_activity_type_id): %(type)s is an activity of "
                        "another kind of document, not of contacts.",
                        segment=segment.display_name,
                        type=segment.followup_activity_type_id.display_name,
                    )
                )

    @api.constrains("followup_summary")
    def _check_followup_summary(self):
        for segment in self.filtered("followup_summary"):
            segment._check_summary_template(segment.followup_summary)

    def _check_summary_template(self, template, lang=None):
        problem = summary_template_problem(template, self.env)
        if problem:
            lang = f" [{lang}]" if lang else ""
            raise ValidationError(
                self.env._(
                    "Segment %(segment)s: Follow-up Summary (followup_summary)"
                    "%(lang)s: %(problem)s",
                    segment=self.display_name,
                    lang=lang,
                    problem=problem,
                )
            )

    @api.constrains("rule_domain", "dimension")
    def _check_rule_domain(self):
        for segment in self.filtered("rule_domain"):
            # as the user saving it: the classification runs as superuser,
            # and membership would tell what the rule reads
            segment._segmentation_rule_domain(as_user=True)

    def _segmentation_rule_domain(self, as_user=False):
        """The segment's rule as a domain on partners; a ValidationError naming
        the segment and the field if it is not a valid domain, or, with
        ``as_user``, if it reads what the current user may not read."""
        self.ensure_one()
        Partner = self.env["res.partner"].with_context(active_test=False)
        try:
            domain = ast.literal_eval(self.rule_domain or "[]")
            if not isinstance(domain, (list, tuple)):
                raise ValueError(self.env._("a domain is a list"))
            domain = expression.normalize_domain(list(domain))
            (Partner if as_user else Partner.sudo())._search(domain)
        except AccessError as error:
            raise ValidationError(
                self.env._(
                    "Segment %(segment)s: the field Rule reads data you may not "
                    "read: %(error)s",
                    segment=self.display_name,
                    error=error,
                )
            ) from error
        except Exception as error:  # noqa: BLE001 - any failure means invalid
            raise ValidationError(
                self.env._(
                    "Segment %(segment)s: the field Rule is not a valid domain on "
                    "contacts (%(domain)s): %(error)s",
                    segment=self.display_name,
                    domain=shown(self.rule_domain),
                    error=error,
                )
            ) from error
        return domain

    @api.ondelete(at_uninstall=False)
    def _unlink_except_in_use(self):
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        fields_by_dimension = Partner._segmentation_dimension_fields()
        for dimension in set(self.mapped("dimension")):
            field_name = fields_by_dimension.get(dimension)
            if not field_name:
                continue
            in_use = (
                Partner.search([(field_name, "in", self.ids)], limit=1)[field_name]
                & self
            )[:1]
            if in_use:
                raise UserError(
                    self.env._(
                        "Segment %(segment)s is in use by customers and cannot "
                        "be deleted; archive it instead.",
                        segment=in_use.display_name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        check_vals(self.browse(), vals_list, SEGMENT_LIMITS, self.env._("Segment"))
        dimension_ids = [v["dimension_id"] for v in vals_list if v.get("dimension_id")]
        if dimension_ids:
            codes = {
                d.id: d.code
                for d in self.env["customer.segment.dimension"]
                .sudo()
                .with_context(active_test=False)
                .browse(dimension_ids)
            }
            for vals in vals_list:
                if vals.get("dimension_id") and not vals.get("dimension"):
                    vals["dimension"] = codes[vals["dimension_id"]]
        segments = super().create(vals_list)
        if any(vals.get("rule_domain") for vals in vals_list):
            self.env.registry.clear_cache()  # _segmentation_rule_fields
        return segments

    def write(self, vals):
        check_vals(self, [vals], SEGMENT_LIMITS, self.env._("Segment"))
        res = super().write(vals)
        if "rule_domain" in vals or "active" in vals:
            self.env.registry.clear_cache()  # _segmentation_rule_fields
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()  # _segmentation_rule_fields
        return res

    @api.model
    def _segmentation_copy_strategies(self, companies, source):
        """Give ``companies`` the strategies the segments have in ``source``
        (a company created later, or one that existed when the module was
        installed, starts with the shipped strategies, not with none).

        Only what fits any company is copied: a sales team or a pricelist
        belongs to one company, so the copies keep the current account
        manager and no exclusive pricelist until a manager sets them.
        """
        segments = self.sudo().with_context(active_test=False).search([])
        for segment in segments.with_company(source):
            values = segment._convert_to_write(
                {name: segment[name] for name in STRATEGY_COPIED_FIELDS}
            )
            for company in companies:
                segment.with_company(company).write(values)

    def _update_field_translations(
        self, field_name, translations, digest=None, source_lang=None
    ):
        # the translation dialog writes the other languages behind write()
        if field_name in SEGMENT_LIMITS:
            check_vals(
                self,
                [{field_name: value} for value in translations.values()],
                SEGMENT_LIMITS,
                self.env._("Segment"),
            )
        if field_name == "followup_summary":
            for lang, value in translations.items():
                if value:
                    self._check_summary_template(value, lang=lang)
        return super()._update_field_translations(
            field_name, translations, digest=digest, source_lang=source_lang
        )

    def action_view_customers(self):
        """The customers of this segment.

        XML-RPC: ``execute_kw(db, uid, pwd, 'customer.segment',
        'action_view_customers', [[id]])``: one segment id.

        :return: a window action on the customers
        """
        segment = checked_records(self, "ids", self.env._("Segment"), single=True)
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "customer_segmentation.res_partner_action_customers"
        )
        field_name = (
            self.env["res.partner"]
            ._segmentation_dimension_fields()
            .get(segment.dimension)
        )
        # the customers of the action (not the contacts sharing their
        # company's segments, nor the company's own contacts) in the segment
        action["domain"] = (
            expression.AND(
                [ast.literal_eval(action["domain"]), [(field_name, "=", segment.id)]]
            )
            if field_name
            else expression.FALSE_DOMAIN
        )
        action["context"] = {}
        action["display_name"] = segment.display_name
        return action


@functools.lru_cache(maxsize=256)
def _summary_pieces(template):
    """``(pieces, problem)`` of a follow-up summary template: its pieces as
    ``(text, placeholder or None)``, or the first problem as ``(kind,
    detail)``. Parsing only: nothing of the template is evaluated."""
    if len(template) > MAX_SUMMARY_TEMPLATE:
        return None, ("length", len(template))
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None, ("braces", None)
    pieces = []
    for text, name, spec, conversion in parsed:
        if name is not None and name not in SUMMARY_PLACEHOLDERS:
            return None, ("unknown", name)
        if spec or conversion:
            return None, ("format", name)
        pieces.append((text, name))
    return pieces, None


def summary_template_problem(template, env):
    """Why a follow-up summary template is refused, or ``None``."""
    _pieces, problem = _summary_pieces(template)
    if not problem:
        return None
    kind, detail = problem
    if kind == "length":
        return Text(MAX_SUMMARY_TEMPLATE).problem(template, env)
    if kind == "braces":
        return env._(
            "a brace is not closed or not opened; write {{ or }} for a brace "
            "in the text."
        )
    if kind == "unknown":
        return env._(
            "%(placeholder)s is not a placeholder: use {customer}, {segment} or "
            "{days}.",
            placeholder="{"
            + (detail if len(detail) <= 40 else detail[:37] + "...")
            + "}",
        )
    return env._(
        "{%(name)s} takes no format nor conversion: write {%(name)s}.",
        name=detail,
    )


def render_summary(template, **values):
    """The template with its placeholders replaced by ``values`` (texts),
    cut to ``MAX_SUMMARY`` characters; ``None`` if the template is refused."""
    pieces, problem = _summary_pieces(template)
    if problem:
        return None
    summary = "".join(text + (values[name] if name else "") for text, name in pieces)
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    return summary
