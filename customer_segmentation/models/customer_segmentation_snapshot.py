import datetime

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .customer_segmentation_pipeline import company_segment_sql
from .customer_segmentation_rule import COMPANY_DIMENSIONS, dimension_column
from .segmentation_params import PARAMS

# The figures of a snapshot row, in the order the statement writes them.
MEASURES = (
    "customers",
    "revenue",
    "warned_customers",
    "value_at_stake",
    "upgrades",
    "downgrades",
    "churned",
    "won_back",
)


class CustomerSegmentationSnapshot(models.Model):
    """What a company's segments held on one day: per dimension and segment,
    its customers and their revenue, the value at stake among those with a
    churn warning, and the movements into it since the start of the month.

    Written by the full recompute when it finishes (one statement per company,
    see ``_store``), so the overview reads a few hundred rows whatever the
    number of customers, and past days stay for the trend. One row per
    (company, day, dimension, segment); storing a day again replaces it.
    """

    _name = "customer.segmentation.snapshot"
    _description = "Customer Segments on a Day"
    _order = "date desc, company_id, dimension_id, segment_id"
    _rec_name = "segment_id"

    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True, ondelete="cascade"
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(required=True, readonly=True, index=True)
    dimension_id = fields.Many2one(
        "customer.segment.dimension",
        required=True,
        readonly=True,
        ondelete="cascade",
    )
    segment_id = fields.Many2one(
        "customer.segment",
        required=True,
        readonly=True,
        ondelete="cascade",
    )
    customers = fields.Integer(
        readonly=True,
        help="Customers of the company in the segment that day (commercial "
        "entities: companies and individuals, not their contacts).",
    )
    revenue = fields.Monetary(
        readonly=True,
        help="Their purchases in the look-back window of the settings (the "
        "last 365 days by default), untaxed, in the company currency: the "
        "amount that ranks the value tiers.",
    )
    warned_customers = fields.Integer(
        string="Churn Warnings",
        readonly=True,
        help="Customers of the segment whose churn risk reached the warning "
        "threshold and whose warning nobody dismissed (churn risk of the "
        "latest strategy job).",
    )
    value_at_stake = fields.Monetary(
        string="Value at Stake",
        readonly=True,
        help="Revenue of the customers with a churn warning: what the company "
        "loses if they do not buy again.",
    )
    upgrades = fields.Integer(
        readonly=True,
        help="Customers who came into the segment from one of a lower level, "
        "from the first of the month to that day.",
    )
    downgrades = fields.Integer(
        readonly=True,
        help="Customers who came into the segment from one of a higher level, "
        "from the first of the month to that day.",
    )
    churned = fields.Integer(
        readonly=True,
        help="Customers who came into the segment, one counting as churn, from "
        "the first of the month to that day.",
    )
    won_back = fields.Integer(
        readonly=True,
        help="Customers who came into the segment from one counting as churn, "
        "from the first of the month to that day.",
    )
    is_latest = fields.Boolean(
        string="Latest",
        readonly=True,
        help="Of the company's most recent day: the current figures.",
    )
    is_month_end = fields.Boolean(
        string="Last of its Month",
        readonly=True,
        help="Of the company's last day stored in its month: the points of the "
        "monthly trend.",
    )

    _sql_constraints = [
        (
            "company_date_segment_uniq",
            "UNIQUE(company_id, date, dimension_id, segment_id)",
            "A segment has one row per company and day.",
        ),
    ]

    @api.model
    def _store(self, company, day, params=None):
        """Store ``company``'s segments as they are now under the date
        ``day`` (replacing what that day held), and mark the company's
        latest day and the last day of each month.

        One statement over the company's customers and one over the month's
        segment history, set-based: called at the end of a full recompute, or
        for a day being replayed.

        :param params: the company's settings (read if not given)
        :return: rows written
        """
        threshold = self._churn_threshold(company, params)
        dimensions = self._dimensions()
        self.env.flush_all()
        self.env.execute_query(
            SQL(
                "DELETE FROM customer_segmentation_snapshot "
                "WHERE company_id = %s AND date = %s",
                company.id,
                day,
            )
        )
        rows = 0
        if dimensions:
            rows = self.env.execute_query(
                SQL(
                    """
                WITH customer AS MATERIALIZED (%(customers)s),
                size AS (%(sizes)s),
                moved AS (%(movements)s),
                inserted AS (
                    INSERT INTO customer_segmentation_snapshot (
                           company_id, date, dimension_id, segment_id, %(measures)s,
                           is_latest, is_month_end,
                           create_uid, create_date, write_uid, write_date)
                    SELECT %(company)s, %(day)s,
                           COALESCE(s.dimension_id, m.dimension_id),
                           COALESCE(s.segment_id, m.segment_id),
                           COALESCE(s.customers, 0), COALESCE(s.revenue, 0),
                           COALESCE(s.warned_customers, 0),
                           COALESCE(s.value_at_stake, 0),
                           COALESCE(m.upgrades, 0), COALESCE(m.downgrades, 0),
                           COALESCE(m.churned, 0), COALESCE(m.won_back, 0),
                           false, false, %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM size s
                      FULL JOIN moved m
                        ON m.dimension_id = s.dimension_id
                       AND m.segment_id = s.segment_id
                    RETURNING 1
                )
                SELECT count(*) FROM inserted
                    """,
                    customers=self._customers_sql(company, dimensions, threshold),
                    sizes=self._sizes_sql(dimensions),
                    movements=self._movements_sql(company, day, dimensions),
                    measures=SQL(", ").join(SQL.identifier(m) for m in MEASURES),
                    company=company.id,
                    day=day,
                    uid=self.env.uid,
                    now=SQL("(now() AT TIME ZONE 'UTC')"),
                )
            )[0][0]
        self._mark_days(company)
        self.invalidate_model()
        return rows

    @api.model
    def _store_companies(self, day=None):
        """``_store`` today's segments (or ``day``'s) of every company whose
        settings are valid, e.g. after the demo data changed them.

        :return: rows written
        """
        day = day or fields.Date.today()
        rows = 0
        for company in self.env["res.company"].sudo().search([]):
            if not company._segmentation_param_errors():
                rows += self._store(company, day)
        return rows

    # ------------------------------------------------------------------
    # The statement's pieces
    # ------------------------------------------------------------------

    @api.model
    def _churn_threshold(self, company, params):
        if params is None:
            try:
                params = company._segmentation_params()
            except UserError:
                return PARAMS["churn_risk_threshold"].default
        return params["churn_risk_threshold"]

    @api.model
    def _dimensions(self):
        """``[(dimension, partner field)]`` of the active dimensions whose
        field exists, in the order of the dimensions."""
        fields_by_code = self.env["res.partner"]._segmentation_dimension_fields()
        dimensions = (
            self.env["customer.segment.dimension"]
            .sudo()
            .search([("code", "in", list(fields_by_code))])
        )
        return [(d, fields_by_code[d.code]) for d in dimensions]

    @api.model
    def _customers_sql(self, company, dimensions, threshold):
        """One row per active customer of the company: its segment on each
        many-to-one dimension (``s<index>``), its revenue, and whether it has
        a churn warning there (the definition of ``res.partner.churn_alert``)."""
        Partner = self.env["res.partner"]
        segments = [
            SQL(
                "%s AS %s",
                self._segment_sql(company, dimension, field_name),
                SQL.identifier(f"s{index}"),
            )
            for index, (dimension, field_name) in enumerate(dimensions)
            if Partner._fields[field_name].type == "many2one"
        ]
        return SQL(
            """
            SELECT c.id, %(segments)s,
                   COALESCE(f.rfm_monetary, 0) AS revenue,
                   COALESCE(f.churn_risk_score >= %(threshold)s
                            AND NOT f.churn_dismissed, false) AS warned
              FROM res_partner c
              LEFT JOIN customer_segmentation_figure f
                     ON f.partner_id = c.id AND f.company_id = %(company)s
             WHERE %(is_customer)s AND c.active
               AND (c.company_id IS NULL OR c.company_id = %(company)s)
            """,
            segments=SQL(", ").join([SQL("NULL AS s"), *segments]),
            threshold=threshold,
            company=company.id,
            is_customer=Partner._segmentation_customer_sql("c"),
        )

    @api.model
    def _segment_sql(self, company, dimension, field_name):
        if dimension.code in COMPANY_DIMENSIONS:
            return company_segment_sql("c", dimension_column(dimension.code), company)
        return SQL.identifier("c", field_name)

    @api.model
    def _sizes_sql(self, dimensions):
        """Customers, revenue and churn warnings per (dimension, segment)."""
        Partner = self.env["res.partner"]
        members = []
        single = [
            SQL("(%s, c.%s)", dimension.id, SQL.identifier(f"s{index}"))
            for index, (dimension, field_name) in enumerate(dimensions)
            if Partner._fields[field_name].type == "many2one"
        ]
        if single:
            members.append(
                SQL(
                    """
                SELECT d.dimension_id, d.segment_id, c.revenue, c.warned
                  FROM customer c
                 CROSS JOIN LATERAL (VALUES %s) AS d(dimension_id, segment_id)
                 WHERE d.segment_id IS NOT NULL
                    """,
                    SQL(", ").join(single),
                )
            )
        for dimension, field_name in dimensions:
            field = Partner._fields[field_name]
            if field.type != "many2many":
                continue
            members.append(
                SQL(
                    """
                SELECT %s, r.%s, c.revenue, c.warned
                  FROM customer c
                  JOIN %s r ON r.%s = c.id
                    """,
                    dimension.id,
                    SQL.identifier(field.column2),
                    SQL.identifier(field.relation),
                    SQL.identifier(field.column1),
                )
            )
        return SQL(
            """
            SELECT dimension_id, segment_id, count(*) AS customers,
                   sum(revenue) AS revenue,
                   count(*) FILTER (WHERE warned) AS warned_customers,
                   COALESCE(sum(revenue) FILTER (WHERE warned), 0) AS value_at_stake
              FROM (%s) member
          GROUP BY dimension_id, segment_id
            """,
            SQL(" UNION ALL ").join(members),
        )

    @api.model
    def _movements_sql(self, company, day, dimensions):
        """Per (dimension, segment), the customers' movements into it from
        the first of ``day``'s month to the end of ``day`` (UTC, as the
        history), in the company and in the dimensions every company shares.
        Upgrades, downgrades and churn are the history's own movements; won
        back is out of a segment counting as churn into one that does not."""
        month_start = day.replace(day=1)
        return SQL(
            """
            SELECT s.dimension_id, h.new_segment_id AS segment_id,
                   count(*) FILTER (WHERE h.movement = 'upgrade') AS upgrades,
                   count(*) FILTER (WHERE h.movement = 'downgrade') AS downgrades,
                   count(*) FILTER (WHERE h.movement = 'churn') AS churned,
                   count(*) FILTER (WHERE o.is_churn AND s.is_churn IS NOT TRUE)
                       AS won_back
              FROM customer_segment_history h
              JOIN customer_segment s ON s.id = h.new_segment_id
              LEFT JOIN customer_segment o ON o.id = h.old_segment_id
              JOIN res_partner c ON c.id = h.partner_id
             WHERE h.date >= %(start)s AND h.date < %(end)s
               AND (h.company_id = %(company)s OR h.company_id IS NULL)
               AND s.dimension_id = ANY(%(dimensions)s)
               AND %(is_customer)s
               AND (c.company_id IS NULL OR c.company_id = %(company)s)
          GROUP BY s.dimension_id, h.new_segment_id
            HAVING count(*) FILTER (WHERE h.movement IN ('upgrade', 'downgrade',
                                                         'churn')
                                       OR (o.is_churn AND s.is_churn IS NOT TRUE)) > 0
            """,
            start=datetime.datetime.combine(month_start, datetime.time.min),
            end=datetime.datetime.combine(
                day + datetime.timedelta(days=1), datetime.time.min
            ),
            company=company.id,
            dimensions=[dimension.id for dimension, _field in dimensions],
            is_customer=self.env["res.partner"]._segmentation_customer_sql("c"),
        )

    @api.model
    def _mark_days(self, company):
        """Flag the company's latest day, and the last day stored in each
        month (a few hundred days: the table holds one row per segment and
        day, whatever the number of customers)."""
        self.env.execute_query(
            SQL(
                """
            UPDATE customer_segmentation_snapshot s
               SET is_latest = s.date = d.latest,
                   is_month_end = s.date = d.month_end
              FROM (SELECT date, max(date) OVER () AS latest,
                           max(date) OVER (PARTITION BY date_trunc('month', date))
                               AS month_end
                      FROM (SELECT DISTINCT date
                              FROM customer_segmentation_snapshot
                             WHERE company_id = %(company)s) days) d
             WHERE s.company_id = %(company)s AND s.date = d.date
               AND (s.is_latest, s.is_month_end) IS DISTINCT FROM
                   (s.date = d.latest, s.date = d.month_end)
                """,
                company=company.id,
            )
        )
