from odoo import api, fields, models, tools
from odoo.tools import SQL

KINDS = [
    ("held", "Customers Held"),
    ("followup_on_time", "Follow-up on Time"),
    ("followup_late", "Follow-up Done Late"),
    ("followup_overdue", "Follow-up Overdue"),
    ("upgrade", "Upgrade"),
    ("downgrade", "Downgrade"),
    ("churn", "Churn"),
    ("pool_claim", "Pool Claim"),
    ("revenue", "Revenue"),
]

# The dimensions a salesperson's customers are counted and moved on, with the
# partner column holding each one's current segment.
HELD_DIMENSIONS = (
    ("value", "segment_value_id"),
    ("lifecycle", "segment_lifecycle_id"),
    ("rfm", "segment_rfm_id"),
)

# Activity types shipped for follow-ups; the types that segments schedule their
# follow-ups with count too.
FOLLOWUP_ACTIVITY_TYPES = (
    "mail_activity_type_segment_followup",
    "mail_activity_type_churn_warning",
)

# Row ids: the id of the source row times ID_STRIDE plus the fact's branch,
# so that an id stays the same from one query to the next.
ID_STRIDE = 10


class CustomerSegmentationPerformanceReport(models.Model):
    """Staff performance (绩效考核): one row per fact about a salesperson.

    Facts are the customers a salesperson holds today (one row per customer
    and dimension: value, lifecycle, RFM), their follow-up activities done on
    time, done late or overdue, the upgrades, downgrades and churn of their
    customers, the customers they claimed from the pool, and the revenue of
    the purchases credited to them (orders, invoices or Point of Sale
    orders).
    """

    _name = "customer.segmentation.performance.report"
    _description = "Staff Performance"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "kind"
    # Flushed before the view is read.
    _depends = {
        "res.partner": [
            "active",
            "user_id",
            "is_company",
            "parent_id",
            "commercial_partner_id",
            "company_id",
            "segment_value_id",
            "segment_lifecycle_id",
            "segment_rfm_id",
        ],
        "customer.segmentation.figure": [
            "partner_id",
            "company_id",
            "segmentation_in_pool",
        ],
        "res.users": ["sale_team_id", "company_id"],
        "res.company": ["currency_id", "parent_path", "segmentation_purchase_source"],
        "res.currency.rate": ["rate", "name", "currency_id", "company_id"],
        "mail.activity": [
            "active",
            "date_done",
            "date_deadline",
            "user_id",
            "activity_type_id",
            "res_model",
            "res_id",
        ],
        "customer.segment": ["followup_activity_type_id"],
        "customer.segment.history": [
            "partner_id",
            "company_id",
            "dimension",
            "new_segment_id",
            "date",
            "movement",
        ],
        "customer.segmentation.pool.move": [
            "partner_id",
            "company_id",
            "user_id",
            "move",
            "date",
        ],
        "sale.order": [
            "state",
            "date_order",
            "user_id",
            "partner_id",
            "company_id",
            "amount_untaxed",
            "currency_id",
            "currency_rate",
            "name",
        ],
        "account.move": [
            "state",
            "move_type",
            "invoice_date",
            "invoice_user_id",
            "partner_id",
            "company_id",
            "amount_untaxed_signed",
        ],
    }

    date = fields.Date(
        readonly=True,
        help="Customers held: today. Follow-ups: done date, or deadline if "
        "still open. Movements: date of the change. Pool claims: date of the "
        "claim. Revenue: order date.",
    )
    kind = fields.Selection(KINDS, readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one(
        "crm.team",
        string="Sales Team",
        readonly=True,
        help="Main sales team of the salesperson.",
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    value_segment_id = fields.Many2one(
        "customer.segment",
        string="Value Tier",
        readonly=True,
        help="Current value tier of the customer.",
    )
    segment_id = fields.Many2one(
        "customer.segment",
        readonly=True,
        help="Customers held: the customer's current segment on the dimension. "
        "Movements: the segment the customer moved to. Revenue: the "
        "customer's current value tier.",
    )
    dimension = fields.Selection(selection="_selection_dimension", readonly=True)
    customer_count = fields.Integer(
        string="Customers",
        readonly=True,
        help="Customers held, upgraded, downgraded, churned or claimed. A "
        "customer held counts once on each dimension (value, lifecycle, RFM): "
        "group or filter by dimension to count each customer once.",
    )
    followup_count = fields.Integer(string="Follow-ups", readonly=True)
    revenue = fields.Monetary(
        readonly=True,
        help="Untaxed amount of the purchases, in the company currency: "
        "confirmed orders or posted invoices net of credit notes, as the company "
        "counts them, and paid Point of Sale orders net of refunds.",
    )

    @api.model
    def _selection_dimension(self):
        return self.env["customer.segment"]._selection_dimension()

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                self._query(),
            )
        )

    @api.model
    def _query(self):
        """Every fact, with the salesperson's team, the customer's value tier
        and the company currency."""
        facts = SQL(" UNION ALL ").join(
            [
                self._query_held(),
                self._query_followups(),
                self._query_movements(),
                self._query_pool_claims(),
                self._query_revenue(),
            ]
        )
        return SQL(
            """
            SELECT f.id, f.date, f.kind, f.user_id, u.sale_team_id AS team_id,
                   f.partner_id, f.company_id, c.currency_id,
                   (cp.segment_value_id ->> f.company_id::text)::int
                       AS value_segment_id, f.segment_id,
                   f.dimension, f.customer_count, f.followup_count, f.revenue
              FROM (%s) f
              JOIN res_partner cp ON cp.id = f.partner_id
              LEFT JOIN res_users u ON u.id = f.user_id
              LEFT JOIN res_company c ON c.id = f.company_id
            """,
            facts,
        )

    @api.model
    def _query_held(self):
        """Today's active commercial customers of each salesperson, outside the
        pool, once per dimension (with no segment if unclassified there)."""
        dimensions = SQL(", ").join(
            SQL("(%s, %s)", branch, code)
            for branch, (code, _column) in enumerate(HELD_DIMENSIONS)
        )
        segment = SQL(
            "CASE d.dimension %s END",
            SQL(" ").join(
                SQL(
                    "WHEN %s THEN (p.%s ->> co.id::text)::int",
                    code,
                    SQL.identifier(column),
                )
                for code, column in HELD_DIMENSIONS
            ),
        )
        return SQL(
            """
            SELECT (p.id::bigint * 1000 + co.id) * %(stride)s + d.branch AS id,
                   %(today)s AS date, 'held' AS kind, p.user_id,
                   p.id AS partner_id, co.id AS company_id,
                   %(segment)s AS segment_id,
                   d.dimension::varchar AS dimension, 1 AS customer_count,
                   0 AS followup_count, 0::numeric AS revenue
              FROM res_partner p
              JOIN res_company co ON p.company_id IS NULL OR p.company_id = co.id
              LEFT JOIN customer_segmentation_figure fi
                     ON fi.partner_id = p.id AND fi.company_id = co.id
             CROSS JOIN (VALUES %(dimensions)s) AS d(branch, dimension)
             -- a company holds its own customers, and the shared ones it has
             -- figures or segments of (bought, quoted or managed there)
             WHERE (p.company_id = co.id OR fi.id IS NOT NULL
                    OR p.segment_value_id ? co.id::text
                    OR p.segment_lifecycle_id ? co.id::text)
               AND p.active AND p.user_id IS NOT NULL AND %(customer)s
               AND fi.segmentation_in_pool IS NOT TRUE
            """,
            stride=ID_STRIDE,
            customer=self.env["res.partner"]._segmentation_customer_sql("p"),
            today=_today(),
            segment=segment,
            dimensions=dimensions,
        )

    @api.model
    def _query_followups(self):
        """Follow-up activities on customers: done ones dated by their done
        date, open ones only once past their deadline (overdue)."""
        return SQL(
            """
            SELECT a.id::bigint * %(stride)s + %(branch)s,
                   CASE WHEN a.active THEN a.date_deadline ELSE a.date_done END,
                   CASE WHEN a.active THEN 'followup_overdue'
                        WHEN a.date_done <= a.date_deadline
                            THEN 'followup_on_time'
                        ELSE 'followup_late' END,
                   a.user_id, p.commercial_partner_id,
                   -- a shared customer's follow-up: the salesperson's company
                   COALESCE(p.company_id, au.company_id), NULL::integer,
                   NULL::varchar, 0, 1, 0::numeric
              FROM mail_activity a
              JOIN res_partner p ON p.id = a.res_id
              LEFT JOIN res_users au ON au.id = a.user_id
             WHERE a.res_model = 'res.partner'
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
            stride=ID_STRIDE,
            branch=len(HELD_DIMENSIONS),
            types=FOLLOWUP_ACTIVITY_TYPES,
            today=_today(),
        )

    @api.model
    def _query_movements(self):
        """Upgrades, downgrades and churn of customers on the value, lifecycle
        and RFM dimensions, credited to the customer's current salesperson."""
        return SQL(
            """
            SELECT h.id::bigint * %(stride)s + %(branch)s, h.date::date,
                   h.movement, p.user_id, h.partner_id, h.company_id,
                   h.new_segment_id, h.dimension, 1, 0, 0::numeric
              FROM customer_segment_history h
              JOIN res_partner p ON p.id = h.partner_id
             WHERE h.movement IN ('upgrade', 'downgrade', 'churn')
               AND h.dimension IN %(dimensions)s
            """,
            stride=ID_STRIDE,
            branch=len(HELD_DIMENSIONS) + 1,
            dimensions=tuple(code for code, _column in HELD_DIMENSIONS),
        )

    @api.model
    def _query_pool_claims(self):
        """Customers claimed from the shared pool, by the claimer."""
        return SQL(
            """
            SELECT m.id::bigint * %(stride)s + %(branch)s, m.date::date,
                   'pool_claim', m.user_id, m.partner_id, m.company_id,
                   NULL::integer, NULL::varchar, 1, 0, 0::numeric
              FROM customer_segmentation_pool_move m
             WHERE m.move = 'claim'
            """,
            stride=ID_STRIDE,
            branch=len(HELD_DIMENSIONS) + 2,
        )

    @api.model
    def _query_revenue(self):
        """Purchases up to today in the company currency, by their
        salesperson, under the customer's current value tier."""
        return SQL(
            """
            SELECT (pu.order_id::bigint * 4 + %(source)s) * %(stride)s + %(branch)s,
                   pu.date,
                   'revenue', pu.user_id, pu.customer_id, pu.company_id,
                   (cp.segment_value_id ->> pu.company_id::text)::int,
                   'value', 0, 0, pu.amount
              FROM (%(purchases)s) pu
              JOIN res_partner cp ON cp.id = pu.customer_id
            """,
            stride=ID_STRIDE,
            branch=len(HELD_DIMENSIONS) + 3,
            source=SQL(
                "CASE pu.source WHEN 'sale' THEN 0 WHEN 'invoice' THEN 1 ELSE 2 END"
            ),
            purchases=self.env["customer.segmentation.purchase"]._query(None, _today()),
        )


def _today():
    """Today in UTC, the server's clock, as the rest of the module takes it."""
    return SQL("(now() AT TIME ZONE 'UTC')::date")
