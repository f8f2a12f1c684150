from odoo import api, fields, models, tools
from odoo.tools import SQL

from ..models.customer_segmentation_purchase import currency_round
from ..models.res_partner import _segmentation_today

# The dimensions on which a customer's upgrades, downgrades and churn count.
MOVEMENT_DIMENSIONS = ("value", "lifecycle", "rfm")

# Activity types shipped for follow-ups; the types that segments schedule their
# follow-ups with count too.
FOLLOWUP_ACTIVITY_TYPES = (
    "mail_activity_type_segment_followup",
    "mail_activity_type_churn_warning",
)

# Measure column: the SQL aggregate over the facts (see ``_query_facts``)
# that fills it. Each fact is a row (date, kind, salesperson, customer,
# company, revenue); movements count a customer once a day even when it moved
# on several dimensions.
MEASURES = {
    "customer_count": "count(*) FILTER (WHERE f.kind = 'held')",
    "high_value_count": "count(*) FILTER (WHERE f.kind = 'held' AND f.high_value)",
    "followup_on_time_count": "count(*) FILTER (WHERE f.kind = 'followup_on_time')",
    "followup_late_count": "count(*) FILTER (WHERE f.kind = 'followup_late')",
    "followup_overdue_count": "count(*) FILTER (WHERE f.kind = 'followup_overdue')",
    "upgrade_count": "count(DISTINCT f.partner_id) FILTER (WHERE f.kind = 'upgrade')",
    "downgrade_count": (
        "count(DISTINCT f.partner_id) FILTER (WHERE f.kind = 'downgrade')"
    ),
    "churn_count": "count(DISTINCT f.partner_id) FILTER (WHERE f.kind = 'churn')",
    "pool_claim_count": "count(*) FILTER (WHERE f.kind = 'pool_claim')",
    "revenue": "COALESCE(sum(f.revenue), 0)",
}

# Measures of a state rather than events: they hold on the day of the last
# refresh only, so that a period counts each customer or activity once.
STATE_MEASURES = ("customer_count", "high_value_count", "followup_overdue_count")


class CustomerSegmentationPerformanceReport(models.Model):
    """Staff performance (绩效考核): one row per day, salesperson, company and
    value tier, with each figure a measure of its own.

    The rows are stored, not a view: the facts behind them (every customer,
    follow-up, segment change, pool claim and purchase) run into millions at
    scale, so they are aggregated per company by ``_refresh`` at the end of
    each full recompute (the nightly job, or a manager's "recompute all"), and
    today's rows again every hour (``_cron_refresh_today``); a pivot reads a
    few thousand rows.

    Customers held, high-value customers held and follow-ups overdue are a
    state, dated the day of the refresh, each customer or activity once; the
    other figures are dated by their event.
    """

    _name = "customer.segmentation.performance.report"
    _description = "Staff Performance"
    _order = "date desc, id desc"
    _rec_name = "date"
    _log_access = False

    date = fields.Date(
        readonly=True,
        index=True,
        help="Customers held and follow-ups overdue: the day the figures were "
        "refreshed. Follow-ups done: done date. Movements: date of the change. "
        "Pool claims: date of the claim. Revenue: purchase date.",
    )
    user_id = fields.Many2one(
        "res.users", string="Salesperson", readonly=True, ondelete="cascade"
    )
    team_id = fields.Many2one(
        "crm.team",
        string="Sales Team",
        readonly=True,
        ondelete="set null",
        help="Main sales team of the salesperson when the figures were refreshed.",
    )
    company_id = fields.Many2one(
        "res.company", readonly=True, index=True, ondelete="cascade"
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    value_segment_id = fields.Many2one(
        "customer.segment",
        string="Value Tier",
        readonly=True,
        ondelete="set null",
        help="The customer's value tier when the figures were refreshed.",
    )
    customer_count = fields.Integer(
        string="Customers Held",
        readonly=True,
        help="Active customers of the salesperson outside the pool, each once, "
        "on the day the figures were refreshed.",
    )
    high_value_count = fields.Integer(
        string="High-Value Customers Held",
        readonly=True,
        help="Customers held in the highest value tier.",
    )
    followup_on_time_count = fields.Integer(string="Follow-ups on Time", readonly=True)
    followup_late_count = fields.Integer(string="Follow-ups Done Late", readonly=True)
    followup_overdue_count = fields.Integer(
        string="Follow-ups Overdue",
        readonly=True,
        help="Follow-ups still open past their deadline on the day the figures "
        "were refreshed.",
    )
    upgrade_count = fields.Integer(
        string="Upgrades",
        readonly=True,
        help="Customers moved to a higher value tier, lifecycle stage or RFM "
        "segment, each once a day.",
    )
    downgrade_count = fields.Integer(
        string="Downgrades",
        readonly=True,
        help="Customers moved to a lower value tier, lifecycle stage or RFM "
        "segment, each once a day.",
    )
    churn_count = fields.Integer(string="Churned", readonly=True)
    pool_claim_count = fields.Integer(string="Pool Claims", readonly=True)
    revenue = fields.Monetary(
        readonly=True,
        help="Untaxed amount of the purchases, in the company currency: "
        "confirmed orders or posted invoices net of credit notes, as the company "
        "counts them, and paid Point of Sale orders net of refunds.",
    )

    def _auto_init(self):
        # Up to 18.0.3.0.0 the report was a view of the same name.
        tools.drop_view_if_exists(self.env.cr, self._table)
        return super()._auto_init()

    def init(self):
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS %s ON %s (company_id, date)",
                SQL.identifier(f"{self._table}_company_date_idx"),
                SQL.identifier(self._table),
            )
        )
        # a new table (installation, or upgrade from the view): fill it now
        # rather than after the next night
        self.env.cr.execute(
            SQL("SELECT 1 FROM %s LIMIT 1", SQL.identifier(self._table))
        )
        if not self.env.cr.rowcount:
            self._refresh(self.env["res.company"].search([]))

    # ------------------------------------------------------------------
    # Refresh
    # ------------------------------------------------------------------

    @api.model
    def refresh_figures(self):
        """Rebuild the figures of the current company now, rather than at the
        end of the next full recompute.

        XML-RPC: ``execute_kw(db, uid, pwd,
        'customer.segmentation.performance.report', 'refresh_figures', [])``;
        the current company is the user's, or the first of
        ``allowed_company_ids`` in the context. Requires the Sales / Manager
        group.

        :return: ``True``
        """
        self.env["res.partner"]._segmentation_check_group(
            "sales_team.group_sale_manager"
        )
        self.sudo()._refresh(self.env.company)
        return True

    @api.model
    def _cron_refresh_today(self):
        """Scheduled action: every company's rows of today, so that the
        follow-ups, movements, claims and purchases of the day show within
        the hour; earlier days are rebuilt by the next full recompute."""
        self._refresh(self.env["res.company"].search([]), today_only=True)

    @api.model
    def _refresh(self, companies, today_only=False):
        """Replace the rows of ``companies`` by the aggregate of their facts
        as of today, or only the rows dated today if ``today_only``: one
        DELETE and one INSERT per company."""
        self.env.flush_all()
        today = _segmentation_today()
        since = today if today_only else None
        columns = SQL(", ").join(SQL.identifier(name) for name in MEASURES)
        for company in companies:
            aggregates = self._aggregates_sql(company)
            # two refreshes of a company at once (the nightly run's end and a
            # manager's) would each insert the figures after the other's
            # delete: the second waits for the first to commit
            self.env.execute_query(
                SQL(
                    "SELECT pg_advisory_xact_lock(%s::regclass::oid::int, %s)",
                    self._table,
                    company.id,
                )
            )
            if since:
                self._forget_states(company, since)
            self.env.execute_query(
                SQL(
                    "DELETE FROM %s WHERE company_id = %s AND %s",
                    SQL.identifier(self._table),
                    company.id,
                    SQL("date >= %s", since) if since else SQL("TRUE"),
                )
            )
            self.env.execute_query(
                SQL(
                    """
                    INSERT INTO %(table)s (date, user_id, team_id, company_id,
                                           currency_id, value_segment_id, %(columns)s)
                    SELECT f.date, f.user_id, u.sale_team_id, %(company)s,
                           %(currency)s, f.value_segment_id, %(aggregates)s
                      FROM (%(facts)s) f
                      JOIN res_users u ON u.id = f.user_id
                     GROUP BY f.date, f.user_id, u.sale_team_id, f.value_segment_id
                    """,
                    table=SQL.identifier(self._table),
                    columns=columns,
                    company=company.id,
                    currency=company.currency_id.id,
                    aggregates=aggregates,
                    facts=self._query_facts(company, today, since),
                )
            )
        self.invalidate_model()

    @api.model
    def _aggregates_sql(self, company):
        """The ``MEASURES`` of ``company``'s rows, in their order; the
        revenue rounded to the company currency, as the ORM stores an amount
        (orders converted from another currency leave fractions of a cent):
        a pivot then adds up the amounts its rows show."""
        return SQL(", ").join(
            currency_round(SQL(expression), company.currency_id)
            if name == "revenue"
            else SQL(expression)
            for name, expression in MEASURES.items()
        )

    @api.model
    def _forget_states(self, company, before):
        """Zero the state measures of ``company``'s rows dated before
        ``before`` (they were the state of an earlier refresh), and drop the
        rows left without any figure."""
        table = SQL.identifier(self._table)
        self.env.execute_query(
            SQL(
                "UPDATE %s SET %s WHERE company_id = %s AND date < %s AND (%s)",
                table,
                SQL(", ").join(
                    SQL("%s = 0", SQL.identifier(name)) for name in STATE_MEASURES
                ),
                company.id,
                before,
                SQL(" OR ").join(
                    SQL("%s <> 0", SQL.identifier(name)) for name in STATE_MEASURES
                ),
            )
        )
        self.env.execute_query(
            SQL(
                "DELETE FROM %s WHERE company_id = %s AND date < %s AND %s",
                table,
                company.id,
                before,
                SQL(" AND ").join(
                    SQL("%s = 0", SQL.identifier(name)) for name in MEASURES
                ),
            )
        )

    # ------------------------------------------------------------------
    # Facts
    # ------------------------------------------------------------------

    @api.model
    def _query_facts(self, company, today, since=None):
        """Every fact of ``company`` up to ``today`` (from ``since`` if set),
        with the customer's value tier: columns date, kind, user_id,
        partner_id, value_segment_id, high_value and revenue."""
        facts = SQL(" UNION ALL ").join(
            [
                self._query_held(company, today),
                self._query_followups(company, today),
                self._query_movements(company),
                self._query_pool_claims(company),
                self._query_revenue(company, today, since),
            ]
        )
        return SQL(
            """
            SELECT f.date, f.kind, f.user_id, f.partner_id, vs.id AS value_segment_id,
                   COALESCE(vs.rank = top.rank, false) AS high_value, f.revenue
              FROM (%(facts)s) f
              JOIN res_partner cp ON cp.id = f.partner_id
              LEFT JOIN customer_segment vs
                     ON vs.id = (cp.segment_value_id ->> %(company)s)::int
              -- the highest value tier
              CROSS JOIN (SELECT max(rank) AS rank FROM customer_segment
                           WHERE dimension = 'value' AND active) top
             WHERE f.user_id IS NOT NULL AND %(since)s
            """,
            facts=facts,
            company=str(company.id),
            since=SQL("f.date >= %s", since) if since else SQL("TRUE"),
        )

    @api.model
    def _query_held(self, company, today):
        """Today's active commercial customers of each salesperson in
        ``company``, outside the pool."""
        Partner = self.env["res.partner"]
        return SQL(
            """
            SELECT %(today)s::date AS date, 'held' AS kind, p.user_id,
                   p.id AS partner_id, 0::numeric AS revenue
              FROM res_partner p
              LEFT JOIN customer_segmentation_figure fi
                     ON fi.partner_id = p.id AND fi.company_id = %(company)s
             -- a company holds its own customers, and the shared ones it has
             -- figures or segments of (bought, quoted or managed there)
             WHERE (p.company_id = %(company)s
                    OR (p.company_id IS NULL
                        AND (fi.id IS NOT NULL
                             OR p.segment_value_id ? %(key)s
                             OR p.segment_lifecycle_id ? %(key)s)))
               AND p.active AND p.user_id IS NOT NULL AND %(customer)s
               AND fi.segmentation_in_pool IS NOT TRUE
               -- not the companies of the database nor the contacts of
               -- internal users, whom no customer view lists: a
               -- salesperson's own contact is its own salesperson
               AND %(not_own)s
            """,
            company=company.id,
            key=str(company.id),
            customer=Partner._segmentation_customer_sql("p"),
            not_own=Partner._segmentation_domain_sql(
                [("segmentation_own_contact", "=", False)], "p"
            ),
            today=today,
        )

    @api.model
    def _query_followups(self, company, today):
        """Follow-up activities on customers: done ones dated by their done
        date, open ones past their deadline (overdue) dated today."""
        return SQL(
            """
            SELECT CASE WHEN a.active THEN %(today)s::date ELSE a.date_done END,
                   CASE WHEN a.active THEN 'followup_overdue'
                        WHEN a.date_done <= a.date_deadline
                            THEN 'followup_on_time'
                        ELSE 'followup_late' END,
                   a.user_id, p.commercial_partner_id, 0::numeric
              FROM mail_activity a
              JOIN res_partner p ON p.id = a.res_id
              LEFT JOIN res_users au ON au.id = a.user_id
             WHERE a.res_model = 'res.partner'
               -- a shared customer's follow-up: the salesperson's company
               AND COALESCE(p.company_id, au.company_id) = %(company)s
               AND a.activity_type_id IN (
                       SELECT res_id FROM ir_model_data
                        WHERE module = 'customer_segmentation'
                          AND model = 'mail.activity.type' AND name IN %(types)s
                        UNION
                       -- the types segments schedule follow-ups with, in
                       -- any company (a company-dependent field)
                       SELECT (j.value #>> '{}')::int
                         FROM customer_segment s,
                              jsonb_each(s.followup_activity_type_id) j
                        WHERE jsonb_typeof(j.value) = 'number')
               AND CASE WHEN a.active THEN a.date_deadline < %(today)s
                        ELSE a.date_done IS NOT NULL END
            """,
            company=company.id,
            types=FOLLOWUP_ACTIVITY_TYPES,
            today=today,
        )

    @api.model
    def _query_movements(self, company):
        """Upgrades, downgrades and churn of customers, credited to the
        customer's current salesperson."""
        return SQL(
            """
            SELECT h.date::date, h.movement, p.user_id, h.partner_id, 0::numeric
              FROM customer_segment_history h
              JOIN res_partner p ON p.id = h.partner_id
             WHERE h.company_id = %s
               AND h.movement IN ('upgrade', 'downgrade', 'churn')
               AND h.dimension IN %s
            """,
            company.id,
            MOVEMENT_DIMENSIONS,
        )

    @api.model
    def _query_pool_claims(self, company):
        """Customers claimed from the shared pool, by the claimer."""
        return SQL(
            """
            SELECT m.date::date, 'pool_claim', m.user_id, m.partner_id, 0::numeric
              FROM customer_segmentation_pool_move m
             WHERE m.company_id = %s AND m.move = 'claim'
            """,
            company.id,
        )

    @api.model
    def _query_revenue(self, company, today, since=None):
        """Purchases up to today (from ``since`` if set) in the company
        currency, by their salesperson."""
        return SQL(
            "SELECT pu.date, 'revenue', pu.user_id, pu.customer_id, pu.amount"
            " FROM (%s) pu",
            self.env["customer.segmentation.purchase"]._query(company, today, since),
        )
