"""Segments and reasons: one place per dimension decides both.

Each rule is three SQL expressions over a row of facts (``x``, see
``customer.segmentation.pipeline._facts``): the segment the rule gives, the
code of its reason and the reason's figures (JSON), all from the same cases,
so that a reason can never disagree with its segment. The texts of the reasons
live in ``customer_segmentation_reason``.
"""

import re
from typing import NamedTuple

from odoo import api, models
from odoo.tools import SQL

from .customer_segment_dimension import SHIPPED_FIELDS
from .customer_segmentation_figure import RFM_EPOCH

# The dimensions each company classifies on its own (company-dependent
# partner fields); the others are the same in every company.
COMPANY_DIMENSIONS = ("value", "lifecycle", "rfm", "geo", "scale")
# Classified on the commercial entity, which its contacts follow (copies).
ENTITY_DIMENSIONS = ("value", "lifecycle", "rfm", "scale")
# The eight R x F x M classes by (recency, frequency, monetary above the
# average), in the order of their index r * 4 + f * 2 + m.
RFM8_CODES = (
    "general_winback",
    "important_winback",
    "general_retention",
    "important_retention",
    "general_development",
    "important_development",
    "general_value",
    "important_value",
)


class Rule(NamedTuple):
    segment: SQL  # segment id (NULL: none)
    code: SQL  # reason code (text)
    values: SQL  # reason figures (jsonb)


class Case(NamedTuple):
    when: SQL  # condition over x (None: the ELSE branch)
    segment: object  # segment id or SQL
    code: str
    values: SQL


def _rule(cases):
    """A ``Rule`` from ``Case``s tried in order; the last one has no
    condition."""

    def case(attribute, cast):
        branches = [
            SQL("WHEN %s THEN %s", c.when, _value(getattr(c, attribute), cast))
            for c in cases[:-1]
        ]
        last = _value(getattr(cases[-1], attribute), cast)
        if not branches:
            return last
        return SQL("CASE %s ELSE %s END", SQL(" ").join(branches), last)

    return Rule(case("segment", "int"), case("code", "text"), case("values", "jsonb"))


def _value(value, cast):
    if isinstance(value, SQL):
        return value
    return SQL("%s::%s", value, SQL(cast))


def _json(**values):
    """SQL of a JSON object of these SQL expressions or plain values."""
    if not values:
        return SQL("'{}'::jsonb")
    return SQL(
        "jsonb_build_object(%s)",
        SQL(", ").join(
            SQL("%s, %s", name, value if isinstance(value, SQL) else SQL("%s", value))
            for name, value in values.items()
        ),
    )


class CustomerSegmentationRule(models.AbstractModel):
    _name = "customer.segmentation.rule"
    _description = "Customer Segmentation Rules"

    @api.model
    def _rules(self, company, params, stats):
        """``{dimension code: Rule}`` of every dimension classified by rules,
        for ``company`` with its settings and thresholds."""
        segments = self._segment_ids()
        if params["value_basis"] == "expected" and stats.get("model"):
            value = self._rule_expected_value(
                segments["value"], stats["model"]["value_cutoffs"]
            )
        else:
            value = self._rule_value(
                segments["value"], params, self._value_cutoffs(params, stats)
            )
        if params["rfm_preset"] == "rfm8":
            rfm = self._rule_rfm8(segments["rfm8"], params, stats.get("averages", {}))
        else:
            rfm = self._rule_rfm(segments["rfm"], params)
        rules = {
            "value": value,
            "lifecycle": self._rule_lifecycle(segments["lifecycle"], params),
            "rfm": rfm,
            "geo": self._rule_geo(segments["geo"]),
            "scale": self._rule_scale(segments["scale"], params),
            "job_level": self._rule_job_level(segments["job_level"]),
        }
        for code, segment_rules in self._custom_rules(company).items():
            rules[code] = self._rule_custom(segment_rules)
        return rules

    @api.model
    def _scores(self, stats):
        """SQL of the R, F and M scores of a row of facts against ``stats``
        (NULL without a purchase in the window)."""

        def score(column, breaks, cast):
            if not breaks:
                return SQL("NULL::int")
            cases = [
                SQL("WHEN %s <= %s::%s THEN %s", column, value, SQL(cast), s)
                for s, value in breaks
            ]
            return SQL(
                "CASE WHEN x.frequency > 0 THEN CASE %s ELSE 5 END END",
                SQL(" ").join(cases),
            )

        return {
            "r_score": score(SQL("x.last_date"), stats["recency_breaks"], "date"),
            "f_score": score(SQL("x.frequency"), stats["frequency_breaks"], "int"),
            "m_score": score(SQL("x.monetary"), stats["monetary_breaks"], "numeric"),
        }

    # ------------------------------------------------------------------
    # Purchases: value, lifecycle, RFM
    # ------------------------------------------------------------------

    @api.model
    def _value_cutoffs(self, params, stats):
        if params["value_method"] == "fixed":
            return params["value_high_amount"], params["value_medium_amount"]
        return stats["high_cutoff"], stats["medium_cutoff"]

    @api.model
    def _rule_value(self, segments, params, cutoffs):
        """Amount bought in the window against the company's cut-offs; no
        purchase in the window is low value, no purchase at all none."""
        high, medium = (_numeric(cutoff) for cutoff in cutoffs)
        window = params["lookback_days"]
        spent = _json(amount=SQL("x.monetary"), window=window, high=high, medium=medium)
        return _rule(
            [
                Case(SQL("x.last_date IS NULL"), None, "value_no_purchase", _json()),
                Case(
                    SQL("x.frequency = 0"),
                    segments.get("low"),
                    "value_no_window",
                    _json(window=window),
                ),
                *_tiers(
                    segments, SQL("x.monetary"), high, medium, "value_spent", spent
                ),
            ]
        )

    @api.model
    def _rule_expected_value(self, segments, cutoffs):
        """The purchase model's expected value over the next 12 months
        against the company's cut-offs of expected value (the value tier
        basis ``expected``, where the company has a fitted model)."""
        high, medium = (_numeric(cutoff) for cutoff in cutoffs)
        expected = _json(amount=SQL("x.expected_value"), high=high, medium=medium)
        return _rule(
            [
                Case(SQL("x.last_date IS NULL"), None, "value_no_purchase", _json()),
                *_tiers(
                    segments,
                    SQL("x.expected_value"),
                    high,
                    medium,
                    "value_expected",
                    expected,
                ),
            ]
        )

    @api.model
    def _rule_lifecycle(self, segments, params):
        """New, active, at risk or churned from the dates of the first and
        last purchase; a prospect has none but something pending."""
        new, active, churn = (
            params["new_days"],
            params["active_days"],
            params["churn_days"],
        )
        return _rule(
            [
                Case(
                    SQL("x.last_date IS NULL AND x.pending"),
                    segments.get("prospect"),
                    "lifecycle_prospect",
                    _json(),
                ),
                Case(SQL("x.last_date IS NULL"), None, "lifecycle_none", _json()),
                Case(
                    SQL("x.age_days <= %s", new),
                    segments.get("new"),
                    "lifecycle_new",
                    _json(age=SQL("x.age_days"), days=new),
                ),
                Case(
                    SQL("x.recency_days <= %s", active),
                    segments.get("active"),
                    "lifecycle_active",
                    _json(recency=SQL("x.recency_days"), days=active),
                ),
                Case(
                    SQL("x.recency_days <= %s", churn),
                    segments.get("at_risk"),
                    "lifecycle_at_risk",
                    _json(recency=SQL("x.recency_days"), active=active, churn=churn),
                ),
                Case(
                    None,
                    segments.get("churned"),
                    "lifecycle_churned",
                    _json(recency=SQL("x.recency_days"), days=churn),
                ),
            ]
        )

    @api.model
    def _rule_rfm(self, cells, params):
        """The segment of the (recency, frequency) scores' cell."""
        return _rule(
            [
                Case(
                    SQL("x.r_score IS NULL"),
                    None,
                    "rfm_no_window",
                    _json(window=params["lookback_days"]),
                ),
                Case(
                    None,
                    SQL("(%s::int[])[(x.r_score - 1) * 5 + x.f_score]", cells),
                    "rfm_scores",
                    _json(
                        r=SQL("x.r_score"),
                        recency=SQL("x.recency_days"),
                        f=SQL("x.f_score"),
                        purchases=SQL("x.frequency"),
                        m=SQL("x.m_score"),
                    ),
                ),
            ]
        )

    @api.model
    def _rule_rfm8(self, classes, params, averages):
        """The R x F x M class: each of the last purchase, the purchases and
        the amount in the window above or below the average of the company's
        customers buying in the window."""
        if not averages.get("last_day"):
            return self._rule_rfm([None] * 25, params)
        epoch = SQL("%s::date", RFM_EPOCH)
        last_day = _numeric(averages["last_day"])
        frequency = _numeric(averages["frequency"])
        monetary = _numeric(averages["monetary"])
        index = SQL(
            """(CASE WHEN x.last_date - %s > %s THEN 4 ELSE 0 END
              + CASE WHEN x.frequency > %s THEN 2 ELSE 0 END
              + CASE WHEN x.monetary > %s THEN 1 ELSE 0 END + 1)""",
            epoch,
            last_day,
            frequency,
            monetary,
        )
        return _rule(
            [
                Case(
                    SQL("x.r_score IS NULL"),
                    None,
                    "rfm_no_window",
                    _json(window=params["lookback_days"]),
                ),
                Case(
                    None,
                    SQL("(%s::int[])[%s]", classes, index),
                    "rfm_classes",
                    _json(
                        recency=SQL("x.recency_days"),
                        average_recency=SQL(
                            "round(x.recency_days + (x.last_date - %s) - %s)",
                            epoch,
                            last_day,
                        ),
                        purchases=SQL("x.frequency"),
                        average_purchases=SQL("round(%s, 1)", frequency),
                        amount=SQL("x.monetary"),
                        average_amount=SQL("round(%s, 2)", monetary),
                    ),
                ),
            ]
        )

    # ------------------------------------------------------------------
    # Profile: geography, business scale, job level, custom dimensions
    # ------------------------------------------------------------------

    @api.model
    def _rule_geo(self, segments):
        """The address against the classifying company's: same country and
        state is local, same country domestic, else international."""
        address = _json(
            address=SQL("concat_ws('/', x.country_code, x.state_code)"),
            company=SQL("concat_ws('/', x.company_country_code, x.company_state_code)"),
        )
        return _rule(
            [
                Case(SQL("x.country_id IS NULL"), None, "geo_no_country", _json()),
                Case(
                    SQL(
                        "x.country_id = x.company_country_id "
                        "AND x.state_id = x.company_state_id"
                    ),
                    segments.get("local"),
                    "geo_address",
                    address,
                ),
                Case(
                    SQL("x.country_id = x.company_country_id"),
                    segments.get("domestic"),
                    "geo_address",
                    address,
                ),
                Case(None, segments.get("international"), "geo_address", address),
            ]
        )

    @api.model
    def _rule_scale(self, segments, params):
        """The company's size from its employees or its annual revenue,
        whichever gives the larger; contacts share their company's scale,
        pinned or not."""
        large_employees = params["scale_large_employees"]
        medium_employees = params["scale_medium_employees"]
        large_revenue = _numeric(params["scale_large_revenue"])
        medium_revenue = _numeric(params["scale_medium_revenue"])
        figures = _json(
            employees=SQL("COALESCE(x.employees, 0)"),
            revenue=SQL("COALESCE(x.revenue, 0)"),
            large_employees=large_employees,
            large_revenue=large_revenue,
            medium_employees=medium_employees,
            medium_revenue=medium_revenue,
        )
        return _rule(
            [
                Case(SQL("NOT x.entity_is_company"), None, "scale_none", _json()),
                Case(
                    SQL("x.entity_scale_pin IS NOT NULL"),
                    SQL("x.entity_scale_pin"),
                    "scale_figures",
                    figures,
                ),
                Case(
                    SQL(
                        "x.employees >= %s OR x.revenue >= %s",
                        large_employees,
                        large_revenue,
                    ),
                    segments.get("large"),
                    "scale_figures",
                    figures,
                ),
                Case(
                    SQL(
                        "x.employees >= %s OR x.revenue >= %s",
                        medium_employees,
                        medium_revenue,
                    ),
                    segments.get("medium"),
                    "scale_figures",
                    figures,
                ),
                Case(
                    SQL("x.employees > 0 OR x.revenue > 0"),
                    segments.get("small"),
                    "scale_figures",
                    figures,
                ),
                Case(None, None, "scale_none", _json()),
            ]
        )

    @api.model
    def _rule_job_level(self, levels):
        """The first level, by priority, with a keyword in the job title."""
        title = _json(title=SQL("x.function"))
        cases = [
            Case(
                SQL("x.is_company OR COALESCE(x.function, '') = ''"),
                None,
                "job_level_none",
                _json(),
            )
        ]
        cases += [
            Case(
                SQL(
                    "x.function ~* %s OR x.function ILIKE ANY(%s::text[])",
                    words,
                    patterns,
                ),
                segment_id,
                "job_level_keyword",
                title,
            )
            for segment_id, words, patterns in levels
        ]
        cases.append(Case(None, None, "job_level_none", _json()))
        return _rule(cases)

    @api.model
    def _rule_custom(self, segment_rules):
        """The first segment, by priority, whose domain the contact matches."""
        cases = [
            Case(
                SQL("x.partner_id IN (%s)", subquery),
                segment_id,
                "custom_match",
                _json(),
            )
            for segment_id, subquery in segment_rules
        ]
        cases.append(Case(None, None, "custom_none", _json()))
        return _rule(cases)

    # ------------------------------------------------------------------
    # Segments
    # ------------------------------------------------------------------

    @api.model
    def _segment_ids(self):
        """Active segment ids: ``{code: id}`` for value, lifecycle, geo and
        scale, the RFM map as 25 cells (R-major, the first segment by
        sequence winning a cell), the eight R x F x M classes in the order of
        ``RFM8_CODES``, and the job levels' keyword patterns in priority
        order."""
        Segment = self.env["customer.segment"].sudo()
        segments = Segment.search(
            [
                (
                    "dimension",
                    "in",
                    ("value", "lifecycle", "rfm", "geo", "scale", "job_level"),
                )
            ],
            order="sequence, id",
        )
        result = {code: {} for code in ("value", "lifecycle", "geo", "scale")} | {
            "rfm": [None] * 25,
            "rfm8": [None] * len(RFM8_CODES),
            "job_level": [],
        }
        for segment in segments:
            if segment.dimension == "rfm" and segment.rfm_preset == "rfm8":
                if segment.code in RFM8_CODES:
                    index = RFM8_CODES.index(segment.code)
                    result["rfm8"][index] = result["rfm8"][index] or segment.id
            elif segment.dimension == "rfm":
                _fill_cells(result["rfm"], segment)
            elif segment.dimension == "job_level":
                pattern = _job_title_patterns(segment.job_title_keywords)
                if pattern:
                    result["job_level"].append((segment.id, *pattern))
            else:
                result[segment.dimension].setdefault(segment.code, segment.id)
        return result

    @api.model
    def _custom_rules(self, company):
        """``{dimension code: [(segment id, SQL subquery of partner ids)]}``
        of the dimensions classified by segment domains, in priority order.
        The domains are evaluated in ``company`` (they may read its
        segments), with every partner and archived ones."""
        Partner = self.env["res.partner"]
        fields_by_dimension = Partner._segmentation_dimension_fields()
        dimensions = (
            self.env["customer.segment.dimension"]
            .sudo()
            .search([("rule_type", "=", "domain")])
        )
        rules = {
            d.code: []
            for d in dimensions
            if d.code in fields_by_dimension
            and Partner._fields[fields_by_dimension[d.code]].type == "many2one"
        }
        if not rules:
            return rules
        Searched = Partner.sudo().with_company(company).with_context(active_test=False)
        segments = (
            self.env["customer.segment"]
            .sudo()
            .search(
                [
                    ("dimension", "in", list(rules)),
                    ("rule_domain", "not in", (False, "")),
                ],
                order="sequence, id",
            )
        )
        for segment in segments:
            query = Searched._search(segment._segmentation_rule_domain())
            rules[segment.dimension].append((segment.id, query.subselect()))
        return rules

    @api.model
    def _need_rules(self, company):
        """``[(need segment id, SQL subquery of partner ids)]`` of the needs
        set by rule."""
        Searched = (
            self.env["res.partner"]
            .sudo()
            .with_company(company)
            .with_context(active_test=False)
        )
        needs = (
            self.env["customer.segment"]
            .sudo()
            .search(
                [("dimension", "=", "need"), ("rule_domain", "not in", (False, ""))],
                order="sequence, id",
            )
        )
        return [
            (need.id, Searched._search(need._segmentation_rule_domain()).subselect())
            for need in needs
        ]


def dimension_column(code):
    """The partner column of a shipped dimension (the custom ones are named
    after their code, see ``partner_field_name``)."""
    return SHIPPED_FIELDS[code]


def _fill_cells(cells, segment):
    for r in range(
        max(segment.rfm_recency_min, 1), min(segment.rfm_recency_max, 5) + 1
    ):
        for f in range(
            max(segment.rfm_frequency_min, 1), min(segment.rfm_frequency_max, 5) + 1
        ):
            cell = (r - 1) * 5 + (f - 1)
            if cells[cell] is None:
                cells[cell] = segment.id


def _job_title_patterns(keywords_text):
    """``(regex of the Latin keywords as whole words, LIKE patterns of the
    others)``, or None without keywords. Commas as typed in English or
    Chinese separate keywords: , ， 、. Latin words match whole words ("COO"
    is not in "Coordinator"); Chinese has no spaces, so its keywords match
    anywhere in the title."""
    keywords = [
        k.strip() for k in re.split(r"[,，、]", keywords_text or "") if k.strip()
    ]
    if not keywords:
        return None
    latin = [_regex_escape(k) for k in keywords if k.isascii()]
    words = r"\m(" + "|".join(latin) + r")\M" if latin else "$^"
    patterns = ["%" + _like_escape(k) + "%" for k in keywords if not k.isascii()]
    return words, patterns


def _numeric(value):
    if value is None:
        return SQL("NULL::numeric")
    return SQL("%s::numeric", str(value))


def _tiers(segments, measure, high, medium, code, values):
    """The value tier cases of a ``measure`` against the ``high`` and
    ``medium`` cut-offs, each with reason ``code`` and its ``values``."""
    return [
        Case(SQL("%s >= %s", measure, high), segments.get("high"), code, values),
        Case(SQL("%s >= %s", measure, medium), segments.get("medium"), code, values),
        Case(None, segments.get("low"), code, values),
    ]


def _regex_escape(text):
    """Escape ``text`` for a PostgreSQL regular expression."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", text)


def _like_escape(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
