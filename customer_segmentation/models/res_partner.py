import datetime
import logging

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from .segmentation_params import PARAM_PREFIX, PARAMS, parse_params

SEGMENTATION_GROUP = "customer_segmentation.group_segmentation_user"
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

_logger = logging.getLogger(__name__)

# The same rows as "id = commercial_partner_id", in a form PostgreSQL can
# estimate: with the id form it expected 0.5% of the partners and chose
# nested loops over the orders.
COMMERCIAL_ENTITY = SQL("(is_company OR parent_id IS NULL)")


class ResPartner(models.Model):
    _inherit = "res.partner"

    first_order_date = fields.Date(
        readonly=True,
        groups=SEGMENTATION_GROUP,
        help="Date of the first confirmed sale order of the customer.",
    )
    last_order_date = fields.Date(
        readonly=True,
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
        groups=SEGMENTATION_GROUP,
        help="Confirmed sale orders dated in the look-back window.",
    )
    rfm_monetary = fields.Monetary(
        string="Monetary",
        currency_field="segmentation_currency_id",
        readonly=True,
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
        string="Recency Score", readonly=True, groups=SEGMENTATION_GROUP
    )
    rfm_frequency_score = fields.Integer(
        string="Frequency Score", readonly=True, groups=SEGMENTATION_GROUP
    )
    rfm_monetary_score = fields.Integer(
        string="Monetary Score", readonly=True, groups=SEGMENTATION_GROUP
    )
    segment_value_id = fields.Many2one(
        "customer.segment",
        string="Value Tier",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "value")],
        group_expand="_read_group_segment_value_id",
        groups=SEGMENTATION_GROUP,
    )
    segment_lifecycle_id = fields.Many2one(
        "customer.segment",
        string="Lifecycle Stage",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "lifecycle")],
        group_expand="_read_group_segment_lifecycle_id",
        groups=SEGMENTATION_GROUP,
    )
    segment_rfm_id = fields.Many2one(
        "customer.segment",
        string="RFM Segment",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        domain=[("dimension", "=", "rfm")],
        group_expand="_read_group_segment_rfm_id",
        groups=SEGMENTATION_GROUP,
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
            )

    def _segmentation_explain(self, params, today):
        """Sentences telling why this partner is in its segments."""
        _ = self.env._
        lines = []
        if not self.last_order_date:
            if self.segment_lifecycle_id:
                lines.append(
                    _(
                        "%(stage)s: no confirmed order yet, but an open quotation "
                        "or opportunity.",
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

    def _segmentation_group_expand(self, segments, dimension):
        # Every segment of the dimension is a column, in segment order, even
        # when empty, so a kanban shows the whole ladder.
        return segments.search(
            ["|", ("id", "in", segments.ids), ("dimension", "=", dimension)],
            order=segments._order,
        )

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        # a new contact of a company shows the company's segments at once
        partners.filtered("parent_id").commercial_partner_id._segmentation_refresh()
        return partners

    def write(self, vals):
        if "parent_id" not in vals and "is_company" not in vals:
            return super().write(vals)
        customers_before = self.commercial_partner_id
        res = super().write(vals)
        # the orders of a moved contact now count for another customer
        (customers_before | self.commercial_partner_id)._segmentation_refresh()
        return res

    # ------------------------------------------------------------------
    # Actions (UI and XML-RPC)
    # ------------------------------------------------------------------

    def action_recompute_segments(self):
        """Recompute the segments of these partners' commercial entities.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'action_recompute_segments', [[id, ...]])``. Value tiers and RFM scores
        are still ranked against all customers. Requires the Customer
        Segmentation / User group and read access to the partners.

        :return: True
        """
        self._segmentation_check_group(SEGMENTATION_GROUP)
        bad_ids = [rid for rid in self._ids if not isinstance(rid, int)]
        if bad_ids:
            raise UserError(
                self.env._("Partner ids must be integers, got %(ids)s.", ids=bad_ids)
            )
        if not self:
            raise UserError(self.env._("Select the customers to recompute."))
        missing = self - self.exists()
        if missing:
            raise UserError(
                self.env._("These partners do not exist: %(ids)s.", ids=missing.ids)
            )
        self.check_access("read")
        customers = self.sudo().commercial_partner_id
        engine = self.env["res.partner"].sudo()
        params = engine._segmentation_params()
        today = _segmentation_today()
        stats = engine._segmentation_population_stats(params, today)
        engine._segmentation_apply(params, stats, today, customer_ids=customers.ids)
        return True

    @api.model
    def recompute_all_segments(self):
        """Recompute the segments of every customer, in one transaction.

        XML-RPC: ``execute_kw(db, uid, pwd, 'res.partner',
        'recompute_all_segments', [])``. Requires the Customer Segmentation /
        Manager group.

        :return: ``{'run_id': int, 'customers': int, 'written': int,
            'changes': {'value': int, 'lifecycle': int, 'rfm': int}}``:
            customers (commercial entities, archived ones included) processed,
            customers whose stored figures changed and, per dimension, how many
            customers changed segment.
        """
        self._segmentation_check_group(MANAGER_GROUP)
        run = self.env["customer.segmentation.run"].sudo()._start("manual")
        run._process(batch_size=None)
        return run._summary()

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
    def _cron_recompute_segments(self, batch_size=20000, time_budget=240):
        """Nightly full recompute in committed batches (see the run model)."""
        Run = self.env["customer.segmentation.run"]
        run = Run._resume_or_start("cron")
        run._process(batch_size=batch_size, time_budget=time_budget)

    # ------------------------------------------------------------------
    # Classification engine
    # ------------------------------------------------------------------

    @api.model
    def _segmentation_customer_domain(self):
        """Commercial entities: companies and individuals without a company."""
        return ["|", ("is_company", "=", True), ("parent_id", "=", False)]

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
                SELECT p.commercial_partner_id AS customer_id,
                       max(so.date_order)::date AS last_date,
                       count(*) AS frequency,
                       sum(so.amount_untaxed
                           / COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric
                       ) AS monetary
                  FROM sale_order so
                  JOIN res_partner p ON p.id = so.partner_id
                 WHERE so.state = 'sale' AND so.date_order >= %(window_start)s
              GROUP BY p.commercial_partner_id
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
                window_start=self._segmentation_window_start(params, today),
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
        self, params, stats, today, customer_ids=None, id_range=None
    ):
        """Classify customers and write the rows whose values changed.

        One statement for any number of customers: aggregate their orders,
        score them against ``stats``, update the customers and their child
        contacts where something differs.

        :param customer_ids: commercial partner ids, or None for all
        :param id_range: ``(low, high)``: commercial partners with
            ``low < id <= high`` (used by the batched nightly run)
        :return: ``{'customers': n, 'value': n, 'lifecycle': n, 'rfm': n}``
            where ``customers`` counts the customers written
        """
        self.env.flush_all()
        value_ids, lifecycle_ids, rfm_cells = self._segmentation_segment_ids()
        window_start = self._segmentation_window_start(params, today)
        scope = SQL("(c.is_company OR c.parent_id IS NULL)")
        if customer_ids is not None:
            scope = SQL("%s AND c.id = ANY(%s)", scope, list(customer_ids))
        if id_range is not None:
            scope = SQL("%s AND c.id > %s AND c.id <= %s", scope, *id_range)
        order_scope = SQL()
        if customer_ids is not None or id_range is not None:
            order_scope = SQL(
                "JOIN res_partner c ON c.id = p.commercial_partner_id AND %s",
                scope,
            )
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
        query = SQL(
            """
        WITH agg AS (
            SELECT p.commercial_partner_id AS customer_id,
                   min(so.date_order) FILTER (WHERE so.state = 'sale')::date
                       AS first_date,
                   max(so.date_order) FILTER (WHERE so.state = 'sale')::date
                       AS last_date,
                   count(*) FILTER (WHERE so.state = 'sale'
                                      AND so.date_order >= %(window_start)s)
                       AS frequency,
                   sum(so.amount_untaxed
                       / COALESCE(NULLIF(so.currency_rate, 0), 1)::numeric)
                       FILTER (WHERE so.state = 'sale'
                                 AND so.date_order >= %(window_start)s)
                       AS monetary,
                   bool_or(so.state IN ('draft', 'sent')) AS quoted
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
              %(order_scope)s
          GROUP BY p.commercial_partner_id
        ),
        metric AS (
            SELECT c.id AS customer_id,
                   c.segment_value_id AS old_value_id,
                   c.segment_lifecycle_id AS old_lifecycle_id,
                   c.segment_rfm_id AS old_rfm_id,
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
                   END AS value_id,
                   CASE
                       WHEN m.last_date IS NULL THEN
                           CASE WHEN m.quoted OR %(opportunity)s
                                THEN %(lc_prospect)s END
                       WHEN m.age_days <= %(new_days)s THEN %(lc_new)s
                       WHEN m.recency_days <= %(active_days)s THEN %(lc_active)s
                       WHEN m.recency_days <= %(churn_days)s THEN %(lc_at_risk)s
                       ELSE %(lc_churned)s
                   END AS lifecycle_id
              FROM metric m
        ),
        result AS (
            SELECT s.*,
                   (%(rfm_cells)s::int[])[(s.r_score - 1) * 5 + s.f_score]
                       AS rfm_id
              FROM scored s
        ),
        updated AS (
            UPDATE res_partner p
               SET first_order_date = r.first_date,
                   last_order_date = r.last_date,
                   rfm_frequency = r.frequency,
                   rfm_monetary = r.monetary,
                   rfm_recency_score = r.r_score,
                   rfm_frequency_score = r.f_score,
                   rfm_monetary_score = r.m_score,
                   segment_value_id = r.value_id,
                   segment_lifecycle_id = r.lifecycle_id,
                   segment_rfm_id = r.rfm_id
              FROM result r
             WHERE p.commercial_partner_id = r.customer_id
               AND (p.first_order_date, p.last_order_date, p.rfm_frequency,
                    p.rfm_monetary, p.rfm_recency_score, p.rfm_frequency_score,
                    p.rfm_monetary_score, p.segment_value_id,
                    p.segment_lifecycle_id, p.segment_rfm_id)
                   IS DISTINCT FROM
                   (r.first_date, r.last_date, r.frequency, r.monetary,
                    r.r_score, r.f_score, r.m_score, r.value_id,
                    r.lifecycle_id, r.rfm_id)
         RETURNING p.id = r.customer_id AS is_customer,
                   r.old_value_id IS DISTINCT FROM r.value_id AS value_changed,
                   r.old_lifecycle_id IS DISTINCT FROM r.lifecycle_id
                       AS lifecycle_changed,
                   r.old_rfm_id IS DISTINCT FROM r.rfm_id AS rfm_changed
        )
        SELECT count(*),
               count(*) FILTER (WHERE value_changed),
               count(*) FILTER (WHERE lifecycle_changed),
               count(*) FILTER (WHERE rfm_changed)
          FROM updated
         WHERE is_customer
            """,
            window_start=window_start,
            order_scope=order_scope,
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
        customers, value, lifecycle, rfm = self.env.execute_query(query)[0]
        self.invalidate_model(list(STORED_FIELDS))
        return {
            "customers": customers,
            "value": value,
            "lifecycle": lifecycle,
            "rfm": rfm,
        }

    def _segmentation_refresh(self):
        """Reclassify these commercial partners after their orders or
        contacts changed, in the current transaction.

        Dates, figures, lifecycle stages and fixed value tiers come out exact;
        quantile tiers and RFM scores are placed against the thresholds of the
        latest full run, and the next full run ranks everyone again. Costs a
        few queries whatever the number of customers. Bulk imports may pass
        the context key ``segmentation_skip_refresh`` and recompute once after.
        """
        if not self or self.env.context.get("segmentation_skip_refresh"):
            return
        engine = self.env["res.partner"].sudo()
        try:
            params = engine._segmentation_params()
        except UserError:
            # Invalid settings must not block sales: the full recompute
            # reports them, to the people who can fix them.
            _logger.warning(
                "Customer segments not refreshed: invalid settings", exc_info=True
            )
            return
        today = _segmentation_today()
        stats = self.env["customer.segmentation.run"].sudo()._latest_stats()
        if stats is None:
            stats = engine._segmentation_population_stats(params, today)
        engine._segmentation_apply(params, stats, today, customer_ids=self.ids)


def _segmentation_today():
    """Order dates are classified by their UTC date, so "today" is the UTC
    date too, whoever triggers the classification and wherever they are."""
    return fields.Date.today()


def _numeric(value):
    if value is None:
        return SQL("NULL::numeric")
    return SQL("%s::numeric", str(value))
