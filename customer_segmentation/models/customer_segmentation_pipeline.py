"""The classification, stage by stage, for one company and some customers.

purchases (customer.segmentation.purchase) -> figures and their population
thresholds (customer.segmentation.figure) -> segments and reasons
(customer.segmentation.rule) -> changes (customer.segmentation.change) ->
history, chatter, automation rules; the strategies come after
(customer.segmentation.strategy).
"""

import datetime
from typing import NamedTuple

from odoo import api, fields, models
from odoo.tools import SQL

from .customer_segmentation_rule import COMPANY_DIMENSIONS, dimension_column


class Scope(NamedTuple):
    """Which customers a stage works on: the commercial partners ``company``
    classifies (its own and the shared ones), all of them, or those of
    ``customer_ids``, or those with ``low < id <= high`` (``id_range``)."""

    env: object
    company: object
    customer_ids: tuple = None
    id_range: tuple = None

    @property
    def whole(self):
        return self.customer_ids is None and self.id_range is None

    def customers_sql(self):
        """SQL selecting the ids (column ``id``) of the customers."""
        Partner = self.env["res.partner"]
        conditions = [
            Partner._segmentation_customer_sql("c"),
            SQL("(c.company_id IS NULL OR c.company_id = %s)", self.company.id),
        ]
        if self.customer_ids is not None:
            conditions.append(SQL("c.id = ANY(%s)", list(self.customer_ids)))
        if self.id_range is not None:
            conditions.append(SQL("c.id > %s AND c.id <= %s", *self.id_range))
        return SQL(
            "SELECT c.id FROM res_partner c WHERE %s", SQL(" AND ").join(conditions)
        )

    def narrowing_sql(self, column):
        """SQL condition keeping the values of ``column`` (partner ids) of
        the scope's ids or id range, TRUE for the whole scope: with it, an
        index narrows a large table to a batch before ``customers_sql``
        filters it (else PostgreSQL scans the whole table for each batch)."""
        if self.customer_ids is not None:
            return SQL("%s = ANY(%s)", column, list(self.customer_ids))
        if self.id_range is not None:
            return SQL(
                "%s > %s AND %s <= %s",
                column,
                self.id_range[0],
                column,
                self.id_range[1],
            )
        return SQL("TRUE")

    def customer_ids_sql(self):
        """``customers_sql``, or None when the scope is every customer (a
        source then reads all the company's documents)."""
        return None if self.whole else self.customers_sql()

    def partners_sql(self, alias):
        """SQL condition: the partner aliased ``alias`` is one of the
        customers or one of their contacts."""
        column = SQL.identifier(alias, "commercial_partner_id")
        return SQL(
            "%s IN (%s) AND %s",
            column,
            self.customers_sql(),
            self.bounds_sql(column),
        )

    def bounds_sql(self, column):
        """SQL condition: ``column`` (SQL), holding customer ids, is within
        the batch's ids (or id range); TRUE for a whole company.

        Added next to a join with the batch's customers, it lets PostgreSQL
        read only the batch's rows through an index on ``column``: it does
        not carry the ids over from a subquery, and would otherwise read the
        whole table (every partner, every figure) for each batch, so that a
        run costs the square of its customers."""
        conditions = []
        if self.customer_ids is not None:
            conditions.append(SQL("%s = ANY(%s)", column, list(self.customer_ids)))
        if self.id_range is not None:
            low, high = self.id_range
            conditions.append(SQL("%s > %s AND %s <= %s", column, low, column, high))
        return SQL(" AND ").join(conditions) if conditions else SQL("TRUE")


class CustomerSegmentationPipeline(models.AbstractModel):
    _name = "customer.segmentation.pipeline"
    _description = "Customer Segmentation Pipeline"

    @api.model
    def _scope(self, company, customer_ids=None, id_range=None):
        return Scope(
            self.env,
            company,
            tuple(customer_ids) if customer_ids is not None else None,
            id_range,
        )

    @api.model
    def _batches(self, company, size):
        """Scopes of ``size`` customers of ``company`` each, by ascending id
        ranges (the order every batch of every job locks them in)."""
        self.env["res.partner"].flush_model(["is_company", "parent_id", "company_id"])
        uppers = [
            row[0]
            for row in self.env.execute_query(
                SQL(
                    """SELECT id FROM (
                           SELECT id, row_number() OVER (ORDER BY id) AS n,
                                  count(*) OVER () AS total
                             FROM (%s) c
                       ) numbered
                        WHERE mod(n, %s) = 0 OR n = total
                     ORDER BY id""",
                    self._scope(company).customers_sql(),
                    size,
                )
            )
        ]
        lower = 0
        for upper in uppers:
            yield self._scope(company, id_range=(lower, upper))
            lower = upper

    @api.model
    def _refresh(self, scope, day, params):
        """Stage 1, purchases to figures, for ``scope``.

        :return: rows of figures written
        """
        return self.env["customer.segmentation.figure"]._refresh(
            scope.company, day, params, scope
        )

    @api.model
    def _classify(self, scope, day, params, stats, run=None, cause="rule", ended=()):
        """Stages 2 to 4 for ``scope``, whose figures are up to date: the
        purchase model's scores, the RFM scores, segments and reasons by
        rule, pins, then the changes written.

        :param stats: the company's population thresholds
        :param cause: history cause of the rules' changes
        :param ended: ``{(partner_id, dimension)}`` whose pin just ended
        :return: ``{dimension code: customers changed}``
        """
        self.env["customer.segmentation.purchase.model"]._score(scope, day, stats)
        rules = self.env["customer.segmentation.rule"]._rules(
            scope.company, params, stats
        )
        self._collect(scope, day, rules, stats)
        Change = self.env["customer.segmentation.change"]
        return Change._apply(scope, rules, run=run, cause=cause, ended=ended)

    @api.model
    def _collect(self, scope, day, rules, stats):
        """Fill the temporary table ``cs_classified``: per partner of the
        scope's customers (the customers and their contacts) that something
        may change for (``_moving``), its scores, and the figures row it
        points at (``pointed_figure_id``), and per dimension its current
        segment (``old_<code>``), the rule's (``rule_<code>``) and the rule's
        reason (``code_<code>``, ``values_<code>``)."""
        self.env.flush_all()
        columns = [SQL("x.%s", SQL.identifier(name)) for name in FACT_COLUMNS]
        # the figures row the partner points at in the company
        columns.append(
            SQL(
                "%s AS pointed_figure_id",
                company_segment_sql("p", "segmentation_figure_id", scope.company),
            )
        )
        for code, rule in rules.items():
            columns += [
                SQL(
                    "%s AS %s",
                    self._old_segment(code, scope.company),
                    _ident("old", code),
                ),
                SQL("%s AS %s", rule.segment, _ident("rule", code)),
                SQL("%s AS %s", rule.code, _ident("code", code)),
                SQL("%s AS %s", rule.values, _ident("values", code)),
            ]
        cr = self.env.cr
        cr.execute(SQL("DROP TABLE IF EXISTS cs_classified"))
        cr.execute(
            SQL(
                "CREATE TEMPORARY TABLE cs_classified ON COMMIT DROP AS %s",
                self._moving_sql(scope, day, rules, stats, SQL(", ").join(columns)),
            )
        )
        if cr.rowcount:
            # a batch's few rows: without statistics PostgreSQL would expect
            # thousands and scan whole tables to join them. Only the columns
            # joined on: the statistics of the reasons (jsonb) would cost
            # more than the statement itself
            cr.execute(SQL("ANALYZE cs_classified (partner_id, entity_id, figure_id)"))

    @api.model
    def _moving_sql(self, scope, day, rules, stats, columns):
        """SELECT of ``columns`` (SQL) of the partners of the scope's
        customers that something may change for (``_moving``): their facts
        ``x``, with their scores, and their ``res_partner`` row ``p``."""
        scores = self.env["customer.segmentation.rule"]._scores(stats)
        return SQL(
            """
            SELECT %(columns)s
              FROM (SELECT x.*, %(scores)s FROM (%(facts)s) x) x
              JOIN res_partner p ON p.id = x.partner_id
             WHERE %(moving)s
            """,
            columns=columns,
            scores=SQL(", ").join(
                SQL("%s AS %s", expression, SQL.identifier(name))
                for name, expression in scores.items()
            ),
            facts=self._facts(scope, day),
            moving=self._moving(scope.company, rules),
        )

    @api.model
    def _customers_to_classify(self, scope, day, params, stats, limit):
        """The ids of the scope's customers, ascending, for whom a batch of
        the classification would find something to do (at most ``limit`` +
        1, so that the caller knows when there are more): a partner of
        theirs that ``_moving`` keeps, figures the purchase model has to
        score (``_score``) or a need to add or remove (``_apply_needs``).

        One read of the whole scope, without locks: on a normal night most
        customers hold their segments already, and the batches then lock and
        classify the others only. A customer edited meanwhile is classified
        by its edit."""
        self.env.flush_all()
        rules = self.env["customer.segmentation.rule"]._rules(
            scope.company, params, stats
        )
        parts = [
            self._moving_sql(scope, day, rules, stats, SQL("x.entity_id")),
            self.env["customer.segmentation.purchase.model"]._to_score_sql(
                scope, day, stats
            ),
        ]
        needs = self.env["customer.segmentation.change"]._need_changes_sql(scope)
        if needs is not None:
            parts.append(
                SQL(
                    """SELECT p.commercial_partner_id FROM (%s) n
                         JOIN res_partner p ON p.id = n.partner_id""",
                    needs,
                )
            )
        # PostgreSQL's JIT would compile this one large statement for
        # longer than it saves (1M customers: 10.2 s with it, 7.0 s without)
        [(jit,)] = self.env.execute_query(SQL("SELECT current_setting('jit')"))
        self.env.execute_query(SQL("SELECT set_config('jit', 'off', true)"))
        rows = self.env.execute_query(
            SQL(
                "SELECT id FROM (%s) m(id) ORDER BY id LIMIT %s",
                SQL(" UNION ").join(parts),
                limit + 1,
            )
        )
        self.env.execute_query(SQL("SELECT set_config('jit', %s, true)", jit))
        return [row[0] for row in rows]

    @api.model
    def _moving(self, company, rules):
        """SQL condition on a row of facts ``x`` with its scores and its
        partner ``p``: the row may change something, so it is kept in
        ``cs_classified``. The others (on most nights, nearly every partner)
        hold the rules' segments, the scores and the figures pointer already,
        and no pin: what follows would find nothing to do with them, and
        storing their reasons would cost more than the classification.

        Kept: a segment differing from the rule's, scores differing from
        those stored, a customer not pointing at its figures row, a partner
        or customer with an active pin (its pin may differ from the rule, or
        hold a stale rule segment)."""
        pointed = company_segment_sql("p", "segmentation_figure_id", company)
        return SQL(" OR ").join(
            [
                SQL(
                    "%s IS DISTINCT FROM %s",
                    self._old_segment(code, company),
                    rule.segment,
                )
                for code, rule in rules.items()
            ]
            + [
                SQL(
                    """(x.is_entity AND x.figure_id IS NOT NULL
                        AND ((x.stored_r_score, x.stored_f_score, x.stored_m_score)
                             IS DISTINCT FROM (x.r_score, x.f_score, x.m_score)
                             OR %s IS DISTINCT FROM x.figure_id))""",
                    pointed,
                ),
                SQL(
                    """(x.partner_id IN %(pinned)s OR x.entity_id IN %(pinned)s)""",
                    pinned=SQL(
                        "(SELECT partner_id FROM customer_segment_override "
                        "WHERE active)"
                    ),
                ),
            ]
        )

    @api.model
    def _reasons(self, company, customer_ids, dimensions=("value", "lifecycle", "rfm")):
        """What the rules say of these customers in ``company`` today, with
        the thresholds of its latest run, without writing anything.

        :return: ``{customer id: {dimension: (reason code, reason values)}}``
        """
        if not customer_ids:
            return {}
        Run = self.env["customer.segmentation.run"]
        params = company._segmentation_params()
        stats = Run._latest_stats(company, params)
        rules = self.env["customer.segmentation.rule"]._rules(company, params, stats)
        scope = self._scope(company, customer_ids=customer_ids)
        scores = self.env["customer.segmentation.rule"]._scores(stats)
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """
            SELECT x.partner_id, %(reasons)s
              FROM (SELECT x.*, %(scores)s FROM (%(facts)s) x) x
             WHERE x.is_entity
                """,
                reasons=SQL(", ").join(
                    SQL("%s, %s", rules[code].code, rules[code].values)
                    for code in dimensions
                ),
                scores=SQL(", ").join(
                    SQL("%s AS %s", expression, SQL.identifier(name))
                    for name, expression in scores.items()
                ),
                facts=self._facts(scope, self._today()),
            )
        )
        return {
            row[0]: {
                code: (row[1 + 2 * index], row[2 + 2 * index])
                for index, code in enumerate(dimensions)
            }
            for row in rows
        }

    @api.model
    def _facts(self, scope, day):
        """SQL of one row of facts per partner of the scope's customers: its
        customer's figures in the company, its address and the company's, its
        job title, its company's size."""
        company = scope.company
        return SQL(
            """
            SELECT p.id AS partner_id, p.commercial_partner_id AS entity_id,
                   p.id = p.commercial_partner_id AS is_entity,
                   p.is_company, p.function, p.country_id, p.state_id,
                   f.id AS figure_id,
                   f.first_order_date AS first_date,
                   f.last_order_date AS last_date,
                   COALESCE(f.rfm_frequency, 0) AS frequency,
                   COALESCE(f.rfm_monetary, 0) AS monetary,
                   COALESCE(f.pending, false) AS pending,
                   f.model_alive_probability AS alive,
                   f.model_expected_value AS expected_value,
                   f.rfm_recency_score AS stored_r_score,
                   f.rfm_frequency_score AS stored_f_score,
                   f.rfm_monetary_score AS stored_m_score,
                   %(day)s::date - f.first_order_date AS age_days,
                   %(day)s::date - f.last_order_date AS recency_days,
                   pc.code AS country_code, ps.code AS state_code,
                   cp.country_id AS company_country_id,
                   cp.state_id AS company_state_id,
                   cc.code AS company_country_code, cs.code AS company_state_code,
                   e.is_company AS entity_is_company,
                   NULLIF(e.segmentation_employee_count, 0) AS employees,
                   NULLIF(e.segmentation_annual_revenue, 0) AS revenue,
                   ep.segment_id AS entity_scale_pin
              FROM res_partner p
              JOIN res_partner e ON e.id = p.commercial_partner_id
              LEFT JOIN customer_segmentation_figure f
                     ON f.partner_id = e.id AND f.company_id = %(company)s
              LEFT JOIN customer_segment_override ep
                     ON ep.partner_id = e.id AND e.id <> p.id AND ep.active
                    AND ep.dimension = 'scale' AND ep.company_id = %(company)s
              JOIN res_company co ON co.id = %(company)s
              LEFT JOIN res_partner cp ON cp.id = co.partner_id
              LEFT JOIN res_country pc ON pc.id = p.country_id
              LEFT JOIN res_country_state ps ON ps.id = p.state_id
              LEFT JOIN res_country cc ON cc.id = cp.country_id
              LEFT JOIN res_country_state cs ON cs.id = cp.state_id
             WHERE %(partners)s
            """,
            day=day,
            company=company.id,
            partners=scope.partners_sql("p"),
        )

    @api.model
    def _old_segment(self, code, company):
        """SQL of the current segment of partner ``p`` on ``code`` (in
        ``company`` for the dimensions classified per company)."""
        if code in COMPANY_DIMENSIONS:
            return company_segment_sql("p", dimension_column(code), company)
        field_name = self.env["res.partner"]._segmentation_dimension_fields()[code]
        return SQL("p.%s", SQL.identifier(field_name))

    @api.model
    def _today(self):
        """Order dates are classified by their UTC date, so "today" is the
        UTC date too, whoever triggers the classification and wherever they
        are."""
        return fields.Date.today()

    @api.model
    def _window_start(self, params, day):
        return day - datetime.timedelta(days=params["lookback_days"])


# Columns of the facts kept in cs_classified.
FACT_COLUMNS = (
    "partner_id",
    "entity_id",
    "is_entity",
    "figure_id",
    "r_score",
    "f_score",
    "m_score",
)


def _ident(prefix, code):
    return SQL.identifier(f"{prefix}_{code}")


def company_segment_sql(alias, column, company):
    """SQL of the segment id held for ``company`` in the company-dependent
    partner column ``column`` of the partner aliased ``alias``."""
    return SQL("(%s ->> %s)::int", SQL.identifier(alias, column), str(company.id))
