import datetime

from odoo import api, fields, models
from odoo.tools import SQL

from .customer_segmentation_purchase import currency_round

# Figures the purchases decide (the classification writes the scores).
PURCHASE_FIGURES = (
    "first_order_date",
    "last_order_date",
    "rfm_frequency",
    "rfm_monetary",
    "pending",
    "purchase_days",
    "repeat_spend",
    "holdout_calibration_days",
    "holdout_calibration_last_date",
    "holdout_purchase_days",
    "window_first_date",
    "holdout_first_date",
    "pending_next_date",
)
# The churn early warning's usual gap between purchase days: the purchases
# decide it too.
CHURN_FIGURES = ("churn_typical_gap_days",)
# Figures of the refresh's day: written with the others, never compared with
# them (a row is not stale because days passed: the strategy job makes the
# churn risk grow every night, see _churn_risk_sql).
DATED_FIGURES = ("churn_risk_score",)
# Figures of a customer without purchases (the row is kept, emptied).
EMPTY_FIGURES = {
    "first_order_date": SQL("NULL"),
    "last_order_date": SQL("NULL"),
    "rfm_frequency": SQL("0"),
    "rfm_monetary": SQL("0"),
    "pending": SQL("false"),
    "purchase_days": SQL("0"),
    "repeat_spend": SQL("NULL"),
    "holdout_calibration_days": SQL("0"),
    "holdout_calibration_last_date": SQL("NULL"),
    "holdout_purchase_days": SQL("0"),
    "window_first_date": SQL("NULL"),
    "holdout_first_date": SQL("NULL"),
    "pending_next_date": SQL("NULL"),
    "churn_typical_gap_days": SQL("NULL"),
    "churn_risk_score": SQL("0"),
}
SCORES = ("rfm_recency_score", "rfm_frequency_score", "rfm_monetary_score")
# Days of the average last purchase are counted from this day (the R x F x M
# classes compare a customer's last purchase with the average).
RFM_EPOCH = "2000-01-01"
# Bands of the purchase model's figures, for grouping and searching.
ALIVE_BANDS = [
    ("low", "Below 30%"),
    ("medium", "30% to 70%"),
    ("high", "70% and more"),
]
PURCHASES_BANDS = [
    ("none", "Under 0.5"),
    ("some", "0.5 to 2"),
    ("many", "2 and more"),
]
VALUE_BANDS = [
    ("low", "Low"),
    ("medium", "Medium"),
    ("high", "High"),
]


# The figures of a batch of customers in one statement: their purchases
# aggregated per day (the purchase model counts days), then per customer; new
# and changed rows upserted, rows whose purchases are gone emptied (see
# CustomerSegmentationFigure._refresh). The customer is pointed at a new row
# when it is classified (customer.segmentation.change._point_figures).
REFRESH_SQL = """
WITH day_agg AS (
    -- one row per customer and day: the purchase model counts days
    SELECT customer_id, date, bool_or(purchase) AS purchase,
           count(*) FILTER (WHERE purchase) AS purchases,
           sum(amount) FILTER (WHERE purchase) AS spend,
           sum(amount) AS amount, bool_or(pending) AS pending
      FROM (%(orders)s) o
  GROUP BY customer_id, date
),
day_gap AS (
    -- days since the customer's previous purchase day, on purchase days
    SELECT *, CASE WHEN purchase THEN date - lag(date) OVER (
                  PARTITION BY customer_id, purchase ORDER BY date) END AS gap
      FROM day_agg
),
summary AS (
    SELECT customer_id,
           min(date) FILTER (WHERE purchase) AS first_order_date,
           max(date) FILTER (WHERE purchase) AS last_order_date,
           COALESCE(sum(purchases) FILTER (WHERE date >= %(window)s), 0)
               AS rfm_frequency,
           -- rounded to the company currency, as the ORM stores amounts
           %(monetary)s AS rfm_monetary,
           bool_or(pending) AS pending,
           count(*) FILTER (WHERE purchase) AS purchase_days,
           (sum(spend) FILTER (WHERE purchase)
            - (array_agg(spend ORDER BY date)
                   FILTER (WHERE purchase))[1])
           / NULLIF(count(*) FILTER (WHERE purchase) - 1, 0)
               AS repeat_spend,
           count(*) FILTER (WHERE purchase AND date <= %(calibration_end)s)
               AS holdout_calibration_days,
           max(date) FILTER (WHERE purchase AND date <= %(calibration_end)s)
               AS holdout_calibration_last_date,
           count(*) FILTER (WHERE purchase AND date > %(calibration_end)s)
               AS holdout_purchase_days,
           -- the dates after which these figures are stale (_stale_sql)
           min(date) FILTER (WHERE purchase AND date >= %(window)s)
               AS window_first_date,
           min(date) FILTER (WHERE purchase AND date > %(calibration_end)s)
               AS holdout_first_date,
           min(date) FILTER (WHERE pending AND date > %(day)s)
               AS pending_next_date,
           -- the usual gap: the median gap, none before a second purchase day
           CASE WHEN count(gap) > 0
                THEN GREATEST(1, round(percentile_cont(0.5)
                                       WITHIN GROUP (ORDER BY gap)))::int
           END AS churn_typical_gap_days
      FROM day_gap
  GROUP BY customer_id
),
agg AS (
    SELECT s.*, %(risk)s AS churn_risk_score FROM summary s
),
customer AS (%(customers)s),
wanted AS (
    SELECT c.id AS partner_id, %(agg_names)s
      FROM customer c
      JOIN agg a ON a.customer_id = c.id
),
upserted AS (
    INSERT INTO customer_segmentation_figure AS f (
           partner_id, company_id, %(names)s,
           create_uid, create_date, write_uid, write_date)
    SELECT w.partner_id, %(company)s, %(wanted_names)s,
           %(uid)s, %(now)s, %(uid)s, %(now)s
      FROM wanted w
    ON CONFLICT (partner_id, company_id) DO UPDATE
       SET %(updates)s,
           write_uid = EXCLUDED.write_uid,
           write_date = EXCLUDED.write_date
     WHERE (%(figure_names)s) IS DISTINCT FROM (%(excluded_names)s)
 RETURNING f.id
),
emptied AS (
    UPDATE customer_segmentation_figure f
       SET %(empty)s,
           rfm_recency_score = NULL, rfm_frequency_score = NULL,
           rfm_monetary_score = NULL,
           write_uid = %(uid)s, write_date = %(now)s
      FROM customer c
     WHERE f.partner_id = c.id AND f.company_id = %(company)s
       AND %(bounds)s
       AND NOT EXISTS (SELECT 1 FROM agg a WHERE a.customer_id = c.id)
       AND (f.last_order_date IS NOT NULL OR f.pending
            OR f.rfm_monetary <> 0)
 RETURNING f.id
)
SELECT (SELECT count(*) FROM upserted) + (SELECT count(*) FROM emptied)
"""


# The company's population thresholds in one statement: RFM score
# breakpoints, the value tiers' quantile cut-offs and the averages of the
# R x F x M classes (see CustomerSegmentationFigure._population_stats).
POPULATION_SQL = """
WITH purchase AS MATERIALIZED (
    SELECT last_order_date AS last_date, rfm_frequency AS frequency,
           rfm_monetary AS monetary
      FROM customer_segmentation_figure
     WHERE company_id = %(company)s AND rfm_frequency > 0
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
SELECT 'average_' || kind, 0, value FROM (
    SELECT avg(last_date - %(epoch)s::date)::text AS last_day,
           avg(frequency)::text AS frequency,
           avg(monetary)::text AS monetary
      FROM purchase
) a CROSS JOIN LATERAL (VALUES ('last_day', a.last_day),
                               ('frequency', a.frequency),
                               ('monetary', a.monetary)) v(kind, value)
UNION ALL
SELECT 'total', count(*), NULL FROM purchase
"""


class CustomerSegmentationFigure(models.Model):
    """What one company knows of one customer: its purchase figures and RFM
    scores, churn risk and warning, last interaction, and its place in the
    company's pool and pricelists.

    One row per (commercial partner, company) that has bought, been quoted or
    been managed in that company. Written by the classification and the
    strategy job only (set-based SQL on this narrow table, so that a night's
    figures do not rewrite the wide contact rows); users read them on the
    contact, through ``res.partner.segmentation_figure_id``, a company-
    dependent pointer: a user of company A sees A's row, in company B B's.
    """

    _name = "customer.segmentation.figure"
    _description = "Customer Figures per Company"
    _order = "company_id, partner_id"
    _rec_name = "partner_id"

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True, ondelete="cascade"
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    first_order_date = fields.Date(string="First Purchase", readonly=True)
    last_order_date = fields.Date(string="Last Purchase", readonly=True)
    rfm_frequency = fields.Integer(string="Frequency", readonly=True)
    rfm_monetary = fields.Monetary(
        string="Monetary", currency_field="currency_id", readonly=True
    )
    rfm_recency_score = fields.Integer(string="Recency Score", readonly=True)
    rfm_frequency_score = fields.Integer(string="Frequency Score", readonly=True)
    rfm_monetary_score = fields.Integer(string="Monetary Score", readonly=True)
    pending = fields.Boolean(
        readonly=True,
        help="Something not bought yet that makes a prospect: an open "
        "quotation, an open opportunity (with CRM), an order not invoiced yet "
        "when invoices are the purchases, or a purchase dated later.",
    )
    # The purchase model's summary of the customer (see
    # customer.segmentation.purchase.model): purchase days, not orders.
    purchase_days = fields.Integer(
        readonly=True, help="Distinct days with a purchase, whole history."
    )
    repeat_spend = fields.Monetary(
        string="Spend per Repeat Purchase Day",
        currency_field="currency_id",
        readonly=True,
        help="Mean amount of the purchase days after the first one.",
    )
    holdout_calibration_days = fields.Integer(
        readonly=True, help="Purchase days up to the start of the holdout period."
    )
    holdout_calibration_last_date = fields.Date(
        readonly=True, help="Last purchase up to the start of the holdout period."
    )
    holdout_purchase_days = fields.Integer(
        readonly=True, help="Purchase days within the holdout period."
    )
    # When these figures go stale as the days pass (see _stale_sql)
    window_first_date = fields.Date(
        string="First Purchase in Window",
        readonly=True,
        help="Earliest purchase in the look-back window: once it leaves the "
        "window, the figures are refreshed.",
    )
    holdout_first_date = fields.Date(
        string="First Purchase in Holdout",
        readonly=True,
        help="Earliest purchase after the start of the holdout period.",
    )
    pending_next_date = fields.Date(
        string="Next Dated Purchase",
        readonly=True,
        help="Earliest document dated after the day of the figures that "
        "will count once its day comes (a confirmed order dated later).",
    )
    model_alive_probability = fields.Float(
        string="Probability Active", readonly=True, aggregator="avg"
    )
    model_expected_purchases = fields.Float(
        string="Expected Purchases (90 days)", readonly=True
    )
    model_expected_value = fields.Monetary(
        string="Expected Value (12 months)", currency_field="currency_id", readonly=True
    )
    model_alive_band = fields.Selection(
        ALIVE_BANDS, string="Probability Active Band", readonly=True
    )
    model_purchases_band = fields.Selection(
        PURCHASES_BANDS, string="Expected Purchases Band", readonly=True
    )
    model_value_band = fields.Selection(
        VALUE_BANDS, string="Expected Value Band", readonly=True
    )
    segmentation_last_interaction = fields.Date(
        string="Last Interaction", readonly=True
    )
    churn_typical_gap_days = fields.Integer(string="Usual Gap (days)", readonly=True)
    churn_risk_score = fields.Integer(string="Churn Risk", readonly=True)
    churn_dismissed = fields.Boolean(string="Churn Warning Dismissed", readonly=True)
    churn_dismiss_reason = fields.Text(string="Dismissal Reason", readonly=True)
    churn_dismissed_order_date = fields.Date(
        string="Last Purchase When Dismissed", readonly=True
    )
    churn_warned_order_date = fields.Date(
        string="Last Purchase When Warned", readonly=True
    )
    segmentation_in_pool = fields.Boolean(
        string="In Customer Pool", readonly=True, index="btree_not_null"
    )
    segmentation_pool_date = fields.Datetime(string="In Pool Since", readonly=True)
    segmentation_pricelist_id = fields.Many2one(
        "product.pricelist", string="Pricelist from Segment", readonly=True
    )
    segmentation_previous_pricelist_id = fields.Many2one(
        "product.pricelist", string="Pricelist Before Segment", readonly=True
    )

    _sql_constraints = [
        (
            "partner_company_uniq",
            "UNIQUE(partner_id, company_id)",
            "A customer has one row of figures per company.",
        ),
    ]

    def init(self):
        # the pointer is set on the customer once its row exists
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS customer_segmentation_figure_company_partner
                   ON customer_segmentation_figure (company_id, partner_id)"""
        )

    # ------------------------------------------------------------------
    # Figures: purchases -> one row per customer and company
    # ------------------------------------------------------------------

    @api.model
    def _refresh(self, company, day, params, scope):
        """Write the purchase figures of the customers of ``scope`` in
        ``company`` as of ``day``: dates of the first and last purchase,
        purchases and amount in the look-back window, whether something is
        pending (a prospect signal), the purchase model's summary
        (purchase days, spend per repeat day, holdout figures), and the churn
        early warning's usual gap and risk on ``day``. A customer
        gets its row when it first has something; a row whose purchases are
        gone is emptied, not deleted (it keeps the company's churn and pool
        state). Rows whose figures did not change are not written.

        :param scope: a ``Scope`` of the pipeline
        :return: number of rows written
        """
        self.env.flush_all()
        rows = self.env.execute_query(self._refresh_query(company, day, params, scope))
        self.invalidate_model()
        self.env["res.partner"].invalidate_model()
        return rows[0][0]

    @api.model
    def _refresh_query(self, company, day, params, scope):
        """The statement of ``_refresh`` (``REFRESH_SQL``) with its values."""
        window_start = day - datetime.timedelta(days=params["lookback_days"])
        # the holdout period is the last N days: after day - N, up to day
        calibration_end = day - datetime.timedelta(days=params["model_holdout_days"])

        compared = PURCHASE_FIGURES + CHURN_FIGURES
        written = compared + DATED_FIGURES

        def names(prefix="", columns=written):
            return SQL(", ").join(
                SQL("%s%s", SQL(prefix), SQL.identifier(name)) for name in columns
            )

        return SQL(
            REFRESH_SQL,
            day=day,
            window=window_start,
            monetary=currency_round(
                SQL("COALESCE(sum(amount) FILTER (WHERE date >= %s), 0)", window_start),
                company.currency_id,
            ),
            calibration_end=calibration_end,
            orders=self.env["customer.segmentation.purchase"]._query_orders(
                company, day, customers=scope.customer_ids_sql()
            ),
            customers=scope.customers_sql(),
            bounds=scope.bounds_sql(SQL("f.partner_id")),
            agg_names=names("a."),
            names=names(),
            wanted_names=names("w."),
            figure_names=names("f.", compared),
            excluded_names=names("EXCLUDED.", compared),
            updates=SQL(", ").join(
                SQL("%s = EXCLUDED.%s", SQL.identifier(n), SQL.identifier(n))
                for n in written
            ),
            risk=self._churn_risk_sql(
                day,
                params,
                SQL("s.last_order_date"),
                SQL("s.churn_typical_gap_days"),
            ),
            empty=SQL(", ").join(
                SQL("%s = %s", SQL.identifier(n), value)
                for n, value in EMPTY_FIGURES.items()
            ),
            company=company.id,
            uid=self.env.uid,
            now=SQL("(now() AT TIME ZONE 'UTC')"),
        )

    @api.model
    def _churn_risk_sql(self, day, params, last_date, gap):
        """SQL of the churn risk on ``day`` of a customer whose last purchase
        is ``last_date`` and usual gap ``gap`` (SQL expressions): it grows
        from 0, when the last purchase is as old as the usual gap, to 100,
        when it is ``churn_full_risk_ratio`` gaps old; 0 without a usual
        gap."""
        return SQL(
            """CASE WHEN %(gap)s IS NULL OR %(last)s IS NULL THEN 0
                    ELSE LEAST(100, GREATEST(0, round(
                        100 * ((%(day)s::date - %(last)s)::numeric / %(gap)s - 1)
                        / (%(ratio)s::numeric - 1))))::int
               END""",
            gap=gap,
            last=last_date,
            day=day,
            ratio=str(params["churn_full_risk_ratio"]),
        )

    @api.model
    def _stale_sql(self, company, day, params):
        """SQL condition: the figures row ``f`` of ``company`` is stale on
        ``day``, with the settings ``params``, although none of its
        customer's documents changed (a change queues the customer, see
        ``customer.segmentation.queue``): a purchase it counts left the
        look-back window, a purchase crossed the start of the holdout period,
        or a document dated later than the row's day is now due.

        Figures computed on an earlier day and not stale equal those
        computed today, so a run refreshes only the stale rows and the
        queued customers (``customer.segmentation.run``)."""
        window_start = day - datetime.timedelta(days=params["lookback_days"])
        calibration_end = day - datetime.timedelta(days=params["model_holdout_days"])
        return SQL(
            """f.company_id = %(company)s
               AND (f.window_first_date < %(window)s
                    OR f.holdout_first_date <= %(calibration_end)s
                    OR f.pending_next_date <= %(day)s)""",
            company=company.id,
            window=window_start,
            calibration_end=calibration_end,
            day=day,
        )

    @api.model
    def _ensure(self, company, partner_ids):
        """Rows of ``company`` for these commercial partners, created empty
        where missing (for state the strategies and users set: pool, churn
        dismissal, pricelists).

        :return: ``{partner_id: figure id}``
        """
        if not partner_ids:
            return {}
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """
            WITH inserted AS (
                INSERT INTO customer_segmentation_figure
                       (partner_id, company_id, rfm_frequency, rfm_monetary,
                        pending, create_uid, create_date, write_uid, write_date)
                SELECT id, %(company)s, 0, 0, false,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(ids)s::int[]) AS id
                ON CONFLICT (partner_id, company_id) DO NOTHING
             RETURNING id, partner_id
            ),
            pointed AS (
                UPDATE res_partner p
                   SET segmentation_figure_id =
                       COALESCE(p.segmentation_figure_id, '{}'::jsonb)
                       || jsonb_build_object(%(company_key)s, i.id)
                  FROM inserted i
                 WHERE p.id = i.partner_id
            )
            SELECT partner_id, id FROM inserted
            UNION ALL
            SELECT partner_id, id FROM customer_segmentation_figure
             WHERE company_id = %(company)s AND partner_id = ANY(%(ids)s)
                """,
                company=company.id,
                company_key=str(company.id),
                ids=list(partner_ids),
                uid=self.env.uid,
                now=SQL("(now() AT TIME ZONE 'UTC')"),
            )
        )
        self.env["res.partner"].invalidate_model()
        return dict(rows)

    @api.model
    def _churn_warning_domain(self, params):
        """Rows whose customer gets the churn warning with the company's
        settings ``params``: where the purchase model scored it, a
        probability of being still active below the threshold, else a churn
        risk from the usual gap reaching its threshold; unless dismissed.
        The one definition, for the contact's flag, its search and the
        early-warning activities."""
        return [
            ("churn_dismissed", "!=", True),
            "|",
            "&",
            ("model_alive_band", "!=", False),
            ("model_alive_probability", "<", params["churn_alive_threshold"]),
            "&",
            ("model_alive_band", "=", False),
            ("churn_risk_score", ">=", params["churn_risk_threshold"]),
        ]

    # ------------------------------------------------------------------
    # Scores: the company's population thresholds
    # ------------------------------------------------------------------

    @api.model
    def _population_stats(self, company, params):
        """The thresholds among the company's customers with a purchase in
        the look-back window, from their figures, so that any subset of
        customers is scored exactly as in a full run.

        A score is ``ceil(5 * cume_dist)``, computed in integers; each score's
        breakpoint is the largest value that gets it, so the score of ``x`` is
        the smallest score whose breakpoint is at least ``x``. The quantile
        cut-offs are the amounts at the last high and medium ranks: ties with
        them share the better tier. ``averages`` holds the mean last purchase
        day (days since ``RFM_EPOCH``), frequency and monetary value, for the
        R x F x M classes.

        :return: JSON-serialisable dict of thresholds (values as text)
        """
        self.flush_model()
        rows = self.env.execute_query(
            SQL(
                POPULATION_SQL,
                epoch=RFM_EPOCH,
                company=company.id,
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
            "averages": {},
        }
        for kind, score, value in rows:
            if kind == "total":
                stats["total"] = score
            elif kind.startswith("average_"):
                stats["averages"][kind[len("average_") :]] = value
            elif kind in ("high", "medium"):
                stats[f"{kind}_cutoff"] = value
            else:
                stats[f"{kind}_breaks"].append((score, value))
        for kind in ("recency", "frequency", "monetary"):
            stats[f"{kind}_breaks"].sort()
        return stats
