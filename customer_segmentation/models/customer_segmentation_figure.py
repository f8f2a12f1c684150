import datetime

from odoo import api, fields, models
from odoo.tools import SQL

# Figures the purchases decide (the classification writes the scores).
PURCHASE_FIGURES = (
    "first_order_date",
    "last_order_date",
    "rfm_frequency",
    "rfm_monetary",
    "pending",
)
SCORES = ("rfm_recency_score", "rfm_frequency_score", "rfm_monetary_score")


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
        purchases and amount in the look-back window, and whether something
        is pending (a prospect signal). A customer gets its row when it first
        has something; a row whose purchases are gone is emptied, not
        deleted (it keeps the company's churn and pool state). Rows whose
        figures did not change are not written.

        :param scope: a ``Scope`` of the pipeline
        :return: number of rows written
        """
        Purchase = self.env["customer.segmentation.purchase"]
        window_start = day - datetime.timedelta(days=params["lookback_days"])
        self.env.flush_all()
        figures = SQL(", ").join(SQL.identifier(name) for name in PURCHASE_FIGURES)
        rows = self.env.execute_query(
            SQL(
                """
            WITH agg AS (
                SELECT customer_id,
                       min(date) FILTER (WHERE purchase) AS first_order_date,
                       max(date) FILTER (WHERE purchase) AS last_order_date,
                       count(*) FILTER (WHERE purchase AND date >= %(window)s)
                           AS rfm_frequency,
                       COALESCE(sum(amount) FILTER (WHERE date >= %(window)s), 0)
                           AS rfm_monetary,
                       bool_or(pending) AS pending
                  FROM (%(orders)s) o
              GROUP BY customer_id
            ),
            customer AS (%(customers)s),
            wanted AS (
                SELECT c.id AS partner_id, a.customer_id IS NOT NULL AS present,
                       a.first_order_date, a.last_order_date,
                       COALESCE(a.rfm_frequency, 0) AS rfm_frequency,
                       COALESCE(a.rfm_monetary, 0) AS rfm_monetary,
                       COALESCE(a.pending, false) AS pending
                  FROM customer c
                  LEFT JOIN agg a ON a.customer_id = c.id
            ),
            upserted AS (
                INSERT INTO customer_segmentation_figure AS f (
                       partner_id, company_id, %(figures)s,
                       create_uid, create_date, write_uid, write_date)
                SELECT w.partner_id, %(company)s, w.first_order_date,
                       w.last_order_date, w.rfm_frequency, w.rfm_monetary,
                       w.pending, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM wanted w
                 WHERE w.present
                ON CONFLICT (partner_id, company_id) DO UPDATE
                   SET first_order_date = EXCLUDED.first_order_date,
                       last_order_date = EXCLUDED.last_order_date,
                       rfm_frequency = EXCLUDED.rfm_frequency,
                       rfm_monetary = EXCLUDED.rfm_monetary,
                       pending = EXCLUDED.pending,
                       write_uid = EXCLUDED.write_uid,
                       write_date = EXCLUDED.write_date
                 WHERE (f.first_order_date, f.last_order_date, f.rfm_frequency,
                        f.rfm_monetary, f.pending)
                       IS DISTINCT FROM
                       (EXCLUDED.first_order_date, EXCLUDED.last_order_date,
                        EXCLUDED.rfm_frequency, EXCLUDED.rfm_monetary,
                        EXCLUDED.pending)
             RETURNING f.id, f.partner_id, f.xmax = 0 AS inserted
            ),
            emptied AS (
                UPDATE customer_segmentation_figure f
                   SET first_order_date = NULL, last_order_date = NULL,
                       rfm_frequency = 0, rfm_monetary = 0, pending = false,
                       rfm_recency_score = NULL, rfm_frequency_score = NULL,
                       rfm_monetary_score = NULL,
                       write_uid = %(uid)s, write_date = %(now)s
                  FROM wanted w
                 WHERE NOT w.present AND f.partner_id = w.partner_id
                   AND f.company_id = %(company)s AND %(bounds)s
                   AND (f.last_order_date IS NOT NULL OR f.pending
                        OR f.rfm_monetary <> 0)
             RETURNING f.id
            ),
            pointed AS (
                -- the contact shows its new row in this company
                UPDATE res_partner p
                   SET segmentation_figure_id =
                       COALESCE(p.segmentation_figure_id, '{}'::jsonb)
                       || jsonb_build_object(%(company_key)s, u.id)
                  FROM upserted u
                 WHERE u.inserted AND p.id = u.partner_id
            )
            SELECT (SELECT count(*) FROM upserted) + (SELECT count(*) FROM emptied)
                """,
                window=window_start,
                orders=Purchase._query_orders(
                    company, day, customers=scope.customer_ids_sql()
                ),
                customers=scope.customers_sql(),
                bounds=scope.bounds_sql(SQL("f.partner_id")),
                figures=figures,
                company=company.id,
                company_key=str(company.id),
                uid=self.env.uid,
                now=SQL("(now() AT TIME ZONE 'UTC')"),
            )
        )
        self.invalidate_model()
        self.env["res.partner"].invalidate_model()
        return rows[0][0]

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
        them share the better tier.

        :return: JSON-serialisable dict of thresholds (values as text)
        """
        self.flush_model()
        rows = self.env.execute_query(
            SQL(
                """
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
            SELECT 'total', count(*), NULL FROM purchase
                """,
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
