import heapq
import logging
from collections import defaultdict
from functools import partial

from odoo import Command, api, models
from odoo.tools import SQL

from .customer_segment import render_summary
from .customer_segmentation_pipeline import company_segment_sql
from .customer_segmentation_rule import COMPANY_DIMENSIONS
from .res_partner import STRATEGY_BATCH_SIZE, WRITING_CONTEXT_KEY, _segmentation_today
from .segmentation_batch import lock_customer_ids, lock_customers, run_batch

_logger = logging.getLogger(__name__)

FOLLOWUP_TYPE = "customer_segmentation.mail_activity_type_segment_followup"
CHURN_TYPE = "customer_segmentation.mail_activity_type_churn_warning"
# Activities created per call of mail.activity's create.
ACTIVITY_BATCH = 1000
# Counters of those steps, summed over the batches.
BATCH_COUNTERS = (
    "assigned",
    "returned_to_pool",
    "tags_added",
    "tags_removed",
    "pricelists_applied",
    "pricelists_restored",
    "followups",
    "churn_warnings",
)
# The messages that are an interaction with the customer (``m``): an e-mail,
# a note or a logged activity, not the chatter's tracking of a change.
INTERACTION_SQL = SQL(
    "(m.message_type IN ('comment', 'email') OR m.mail_activity_type_id IS NOT NULL)"
)
# The strategy of a segment in one company (company-dependent fields).
STRATEGY_COLUMNS = (
    "id",
    "strategy_priority",
    "manager_policy",
    "manager_team_id",
    "followup_days",
    "followup_activity_type_id",
    "pricelist_id",
)


class CustomerSegmentationStrategy(models.AbstractModel):
    """Applies the management strategy of each customer's segments, in one
    company, with that company's strategies, pool and pricelists.

    Every step works on all the company's customers (or the given ones) at
    once: the customers to change are selected with one SQL statement, then
    changed through the ORM, one call per group of identical changes, so that
    the chatter records a new salesperson and Automation Rules see it. When
    several segments of a customer set the same thing, the segment with the
    highest strategy priority wins (ties: the oldest segment); tags add up.
    """

    _name = "customer.segmentation.strategy"
    _description = "Customer Segmentation Strategy Engine"

    @api.model
    def _apply(self, company, customer_ids=None, figures=True):
        """Apply ``company``'s strategies to these commercial partners (None:
        all its customers), batch by batch, each batch one transaction (see
        ``segmentation_batch``): figures, account managers, pool, tags,
        pricelists, then the follow-up and early-warning activities of the
        batch's customers.

        :param figures: recompute last interactions and churn risks first
        :return: dict of counters, see ``res.partner.apply_segment_strategies``
        """
        params = company._segmentation_params()
        today = _segmentation_today()
        # customers whose purchases changed since: their figures first
        self.env["customer.segmentation.queue"]._process(company=company)
        Pipeline = self.env["customer.segmentation.pipeline"]
        result = dict.fromkeys(BATCH_COUNTERS, 0)
        if customer_ids is not None:
            scopes = [Pipeline._scope(company, customer_ids=customer_ids)]
        else:
            scopes = Pipeline._batches(company, STRATEGY_BATCH_SIZE)
        for scope in scopes:
            batch = partial(self._apply_batch, company, params, today, scope, figures)
            counts = run_batch(self.env, batch, self._job_name())
            for key in BATCH_COUNTERS:
                result[key] += counts[key]
        # kept for XML-RPC callers: a call without time limit leaves none
        result["activities_left"] = 0
        return result

    def _apply_batch(self, company, params, today, scope, figures):
        """Every strategy for the customers of ``scope``, their rows locked
        first: figures, account managers, pool, tags, pricelists, then
        activities, so that a batch's customers are done once committed.

        :return: counters of ``BATCH_COUNTERS`` and ``customers``, the number
            of customers of the batch
        """
        if scope.id_range:
            lock_customers(self.env, *scope.id_range)
        elif scope.customer_ids:
            lock_customer_ids(self.env, scope.customer_ids)
        self.env.flush_all()
        customers = scope.customers_sql()
        if figures:
            self._update_interactions(company, customers)
            self._update_churn_risk(company, params, today, customers)
        result = {"assigned": self._assign_managers(company, customers)}
        # each step reads with SQL what the ORM wrote in the one before
        self.env.flush_all()
        result["returned_to_pool"] = (
            self._return_to_pool(company, params, today, customers)
            if params["pool_enabled"]
            else 0
        )
        self.env.flush_all()
        result.update(self._apply_tags(customers))
        self.env.flush_all()
        result.update(self._apply_pricelists(company, customers))
        self.env.flush_all()
        result["followups"] = self._schedule_followups(company, today, customers)
        self.env.flush_all()
        result["churn_warnings"] = self._schedule_churn_warnings(
            company, params, today, customers
        )
        self.env.flush_all()
        result["customers"] = self.env.execute_query(
            SQL("SELECT count(*) FROM (%s) c", customers)
        )[0][0]
        self.env["res.partner"].invalidate_model()
        self.env["customer.segmentation.figure"].invalidate_model()
        return result

    def _night_customers_sql(self, company, params, today, since, message_id, after):
        """SQL of the ids (ascending) of the customers of ``company`` after
        ``after`` that a night's run goes through: those written since
        ``since`` (the customer or a contact, or its figures), with a message
        above ``message_id``, and those the calendar made due: without an
        account manager, neglected, a follow-up or a churn warning due."""
        customers = SQL(
            "SELECT id FROM (%s) c WHERE c.id > %s",
            self.env["customer.segmentation.pipeline"]._scope(company).customers_sql(),
            after,
        )
        due = [
            self._unassigned_sql(company, customers),
            self._neglected_sql(company, params, today, customers),
            self._due_followups_sql(company, today, customers),
            self._due_warnings_sql(company, params, customers),
        ]
        if not params["pool_enabled"]:
            due.pop(1)
        return SQL(
            """
        WITH customer AS (%(customers)s)
        -- a union joined to the customers, not OR-ed IN (...): at 1M the
        -- written figures do not fit a hashed subplan, which PostgreSQL then
        -- scans once per customer
        SELECT c.id FROM customer c
          JOIN (SELECT commercial_partner_id AS id FROM res_partner
                 WHERE write_date >= %(since)s
                 UNION
                SELECT partner_id FROM customer_segmentation_figure
                 WHERE company_id = %(company)s AND write_date >= %(since)s
                 UNION
                SELECT p.commercial_partner_id
                  FROM mail_message m JOIN res_partner p ON p.id = m.res_id
                 WHERE m.id > %(message)s AND m.model = 'res.partner'
                   AND %(interaction)s) changed ON changed.id = c.id
        UNION
        %(due)s
        ORDER BY 1
            """,
            customers=customers,
            since=since,
            company=company.id,
            message=message_id,
            interaction=INTERACTION_SQL,
            due=SQL(" UNION ").join(
                SQL("SELECT d.partner_id FROM (%s) d", query) for query in due
            ),
        )

    @api.model
    def _job_name(self):
        return self.env._("The segment strategy job")

    # ------------------------------------------------------------------
    # Figures
    # ------------------------------------------------------------------

    def _update_interactions(self, company, scope):
        """Latest done activity, message or e-mail on the customer or its
        contacts, or its latest purchase in the company."""
        self.env.execute_query(
            SQL(
                """
            WITH customer AS (%(scope)s),
            messaged AS (
                SELECT p.commercial_partner_id AS id, max(m.date)::date AS date
                  FROM mail_message m
                  JOIN res_partner p ON p.id = m.res_id
                 WHERE m.model = 'res.partner' AND %(interaction)s
                   AND p.commercial_partner_id IN (SELECT id FROM customer)
              GROUP BY p.commercial_partner_id
            )
            UPDATE customer_segmentation_figure f
               SET segmentation_last_interaction =
                       GREATEST(f.last_order_date, m.date)
              FROM customer c
              LEFT JOIN messaged m ON m.id = c.id
             WHERE f.partner_id = c.id AND f.company_id = %(company)s
               AND f.segmentation_last_interaction
                   IS DISTINCT FROM GREATEST(f.last_order_date, m.date)
                """,
                scope=scope,
                company=company.id,
                interaction=INTERACTION_SQL,
            )
        )

    def _update_churn_risk(self, company, params, today, scope):
        """The churn risks on ``today``, from the usual gaps the figures
        store (``customer.segmentation.figure._churn_risk_sql``): the nightly
        job updates every risk at once, as they grow with the days. A
        dismissal holds until the customer buys again."""
        self.env.execute_query(
            SQL(
                """
            WITH scored AS (
                SELECT f.id, %(risk)s AS risk,
                       COALESCE(f.churn_dismissed, false)
                           AND f.churn_dismissed_order_date
                               IS NOT DISTINCT FROM f.last_order_date
                           AS dismissed
                  FROM (%(scope)s) c
                  -- joined, not filtered by IN: one index probe a customer
                  JOIN customer_segmentation_figure f
                    ON f.partner_id = c.id AND f.company_id = %(company)s
            )
            UPDATE customer_segmentation_figure f
               SET churn_risk_score = s.risk, churn_dismissed = s.dismissed
              FROM scored s
             WHERE f.id = s.id
               AND (f.churn_risk_score, f.churn_dismissed)
                   IS DISTINCT FROM (s.risk, s.dismissed)
                """,
                scope=scope,
                company=company.id,
                risk=self.env["customer.segmentation.figure"]._churn_risk_sql(
                    today,
                    params,
                    SQL("f.last_order_date"),
                    SQL("f.churn_typical_gap_days"),
                ),
            )
        )

    # ------------------------------------------------------------------
    # Winning segments
    # ------------------------------------------------------------------

    def _strategies(self, company):
        """SQL of the segments' strategies in ``company`` (``s``), one row
        per active segment: company-dependent fields, read by the ORM."""
        segments = self.env["customer.segment"].sudo().with_company(company).search([])
        rows = [
            SQL(
                "(%s::int, %s::int, %s::varchar, %s::int, %s::int, %s::int, %s::int)",
                segment.id,
                segment.strategy_priority or 0,
                segment.manager_policy or "keep",
                segment.manager_team_id.id or None,
                segment.followup_days or 0,
                segment.followup_activity_type_id.id or None,
                segment.pricelist_id.id or None,
            )
            for segment in segments
        ] or [
            SQL("(NULL::int, 0, 'keep'::varchar, NULL::int, 0, NULL::int, NULL::int)")
        ]
        return SQL(
            "(SELECT * FROM (VALUES %s) AS v(%s) WHERE id IS NOT NULL)",
            SQL(", ").join(rows),
            SQL(", ").join(SQL.identifier(name) for name in STRATEGY_COLUMNS),
        )

    def _segment_columns(self, company):
        """SQL of the segment of customer ``c`` on every single-segment
        dimension (the company's on the dimensions it classifies alone)."""
        Partner = self.env["res.partner"]
        columns = []
        for code, name in Partner._segmentation_dimension_fields().items():
            if Partner._fields[name].type != "many2one":
                continue
            if code in COMPANY_DIMENSIONS:
                columns.append(company_segment_sql("c", name, company))
            else:
                columns.append(SQL("c.%s", SQL.identifier(name)))
        return columns

    def _winners(self, company, condition, scope, extra=None):
        """SQL selecting, per customer in ``scope``, its segment of highest
        strategy priority among those matching ``condition`` (on ``s``, the
        company's strategies), with ``f`` its figures in the company."""
        return SQL(
            """
            SELECT DISTINCT ON (c.id) c.id AS partner_id, s.id AS segment_id,
                   c.user_id
              FROM res_partner c
              LEFT JOIN customer_segmentation_figure f
                     ON f.partner_id = c.id AND f.company_id = %(company)s
             CROSS JOIN LATERAL unnest(ARRAY[%(columns)s]::int[]) AS m(segment_id)
              JOIN %(strategies)s s ON s.id = m.segment_id
             WHERE c.id IN (%(scope)s) AND %(condition)s %(extra)s
          ORDER BY c.id, s.strategy_priority DESC, s.id
            """,
            company=company.id,
            columns=SQL(", ").join(self._segment_columns(company)),
            strategies=self._strategies(company),
            scope=scope,
            condition=condition,
            extra=extra or SQL(),
        )

    # ------------------------------------------------------------------
    # Account managers and the pool
    # ------------------------------------------------------------------

    def _assign_managers(self, company, scope):
        """Give customers without an account manager one from the sales team
        of their winning segment: in turn, or the member holding the fewest
        customers."""
        rows = self.env.execute_query(self._unassigned_sql(company, scope))
        if not rows:
            return 0
        by_team = defaultdict(list)
        for partner_id, team_id, policy in rows:
            by_team[team_id, policy].append(partner_id)
        assignments = self._choose_managers(by_team)
        self._set_managers(
            company,
            assignments,
            self.env._("Account manager policy of the customer's segment"),
        )
        return len(assignments)

    def _unassigned_sql(self, company, scope):
        """SQL of ``(partner_id, team id, policy)`` of the customers without
        an account manager whose winning segment assigns one."""
        return SQL(
            """SELECT w.partner_id, s.manager_team_id, s.manager_policy
                 FROM (%s) w JOIN %s s ON s.id = w.segment_id
                ORDER BY w.partner_id""",
            self._winners(
                company,
                SQL("s.manager_policy != 'keep' AND s.manager_team_id IS NOT NULL"),
                scope,
                SQL(
                    "AND c.user_id IS NULL "
                    "AND NOT COALESCE(f.segmentation_in_pool, false)"
                ),
            ),
            self._strategies(company),
        )

    def _choose_managers(self, by_team):
        """``{partner_id: user_id}`` for ``{(team id, policy): [partner
        ids]}``: members in turn, or the least loaded first."""
        teams = self.env["crm.team"].sudo().browse({team for team, _p in by_team})
        loads = self._manager_loads(teams.member_ids)
        assignments = {}
        for (team_id, policy), partner_ids in by_team.items():
            team = teams.browse(team_id)
            members = team.member_ids.filtered("active").sorted("id")
            if not members:
                continue
            if policy == "round_robin":
                last = team.segmentation_last_assigned_user_id
                start = (members.ids.index(last.id) + 1) if last in members else 0
                for index, partner_id in enumerate(partner_ids):
                    user_id = members.ids[(start + index) % len(members)]
                    assignments[partner_id] = user_id
                team.segmentation_last_assigned_user_id = user_id
            else:
                heap = [(loads.get(uid, 0), uid) for uid in members.ids]
                heapq.heapify(heap)
                for partner_id in partner_ids:
                    load, user_id = heapq.heappop(heap)
                    assignments[partner_id] = user_id
                    loads[user_id] = load + 1
                    heapq.heappush(heap, (load + 1, user_id))
        return assignments

    def _set_managers(self, company, assignments, reason):
        """Give the customers of ``{partner_id: user_id}`` their salesperson
        through the ORM (tracked in the chatter), one write per salesperson,
        and log the assignments."""
        by_user = defaultdict(list)
        for partner_id, user_id in assignments.items():
            by_user[user_id].append(partner_id)
        Partner = (
            self.env["res.partner"]
            .sudo()
            .with_company(company)
            .with_context(**{WRITING_CONTEXT_KEY: True})
        )
        for user_id, partner_ids in by_user.items():
            Partner.browse(partner_ids).write({"user_id": user_id})
        self.env["customer.segmentation.pool.move"].sudo().create(
            [
                {
                    "partner_id": partner_id,
                    "company_id": company.id,
                    "user_id": user_id,
                    "move": "assign",
                    "reason": reason,
                }
                for partner_id, user_id in assignments.items()
            ]
        )

    def _manager_loads(self, users):
        """Customers (commercial entities) held per salesperson."""
        if not users:
            return {}
        rows = self.env.execute_query(
            SQL(
                """SELECT user_id, count(*) FROM res_partner
                    WHERE %s AND active AND user_id = ANY(%s) GROUP BY user_id""",
                self.env["res.partner"]._segmentation_customer_sql(),
                users.ids,
            )
        )
        return dict(rows)

    def _return_to_pool(self, company, params, today, scope):
        """Customers without an account manager, or whose manager has not
        interacted with them within their segment's follow-up cadence plus
        the grace period, go to the company's shared pool."""
        rows = self.env.execute_query(
            self._neglected_sql(company, params, today, scope)
        )
        if rows:
            self._pool(company, rows, params)
        return len(rows)

    def _neglected_sql(self, company, params, today, scope):
        """SQL of ``(partner_id, follow-up days or None, user id)`` of the
        customers going to the pool (see ``_return_to_pool``)."""
        return SQL(
            """
            SELECT w.partner_id, s.followup_days, w.user_id
              FROM (%(neglected)s) w
              JOIN %(strategies)s s ON s.id = w.segment_id
              JOIN res_partner c ON c.id = w.partner_id
              LEFT JOIN customer_segmentation_figure f
                     ON f.partner_id = c.id AND f.company_id = %(company)s
             -- the clock starts when the manager got the customer
             WHERE GREATEST(COALESCE(f.segmentation_last_interaction,
                                     c.create_date::date),
                            c.segmentation_manager_since)
                   < %(today)s::date - (s.followup_days + %(grace)s)
            UNION ALL
            SELECT c.id, NULL, NULL
              FROM res_partner c
              JOIN customer_segmentation_figure f
                ON f.partner_id = c.id AND f.company_id = %(company)s
             WHERE c.id IN (%(scope)s) AND c.active AND c.user_id IS NULL
               AND NOT COALESCE(f.segmentation_in_pool, false)
               AND (%(value)s IS NOT NULL OR %(lifecycle)s IS NOT NULL)
            """,
            neglected=self._winners(
                company,
                SQL("s.followup_days > 0"),
                scope,
                SQL("AND c.user_id IS NOT NULL"),
            ),
            strategies=self._strategies(company),
            company=company.id,
            scope=scope,
            today=today,
            grace=params["pool_grace_days"],
            value=company_segment_sql("c", "segment_value_id", company),
            lifecycle=company_segment_sql("c", "segment_lifecycle_id", company),
        )

    def _pool(self, company, rows, params):
        """Put ``[(partner_id, follow-up days or None, former user id)]`` in
        the company's pool, for want of an account manager or of
        interactions."""
        grace = params["pool_grace_days"]
        self._put_in_pool(
            company,
            [
                (
                    partner_id,
                    old_user,
                    self.env._("No account manager")
                    if days is None
                    else self.env._(
                        "No interaction within the follow-up cadence of %(days)s "
                        "days plus %(grace)s days of grace",
                        days=days,
                        grace=grace,
                    ),
                )
                for partner_id, days, old_user in rows
            ],
        )

    def _pool_by_hand(self, company, customers, reason):
        """Put ``customers`` (none in the pool) in ``company``'s pool because
        a user said so (``reason``)."""
        self._put_in_pool(
            company,
            [(customer.id, customer.user_id.id, reason) for customer in customers],
        )

    def _put_in_pool(self, company, entries):
        """Put ``[(partner_id, former user id or False, reason)]`` in the
        company's pool: their former manager's open follow-ups go with them,
        and each is logged as a pool move."""
        Figure = self.env["customer.segmentation.figure"].sudo()
        figure_ids = Figure._ensure(company, [entry[0] for entry in entries])
        Figure.browse(figure_ids.values()).write(
            {"segmentation_in_pool": True, "segmentation_pool_date": self._now()}
        )
        Partner = (
            self.env["res.partner"]
            .sudo()
            .with_company(company)
            .with_context(**{WRITING_CONTEXT_KEY: True})
        )
        former = {(partner_id, user) for partner_id, user, _r in entries if user}
        Partner.browse([partner_id for partner_id, _u in former]).write(
            {"user_id": False}
        )
        followup_types = [self.env.ref(FOLLOWUP_TYPE).id] + (
            self.env["customer.segment"]
            .sudo()
            .with_company(company)
            .search([])
            .followup_activity_type_id.ids
        )
        activities = (
            self.env["mail.activity"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", [partner_id for partner_id, _u in former]),
                    ("activity_type_id", "in", followup_types),
                ]
            )
            .filtered(lambda activity: (activity.res_id, activity.user_id.id) in former)
        )
        activities.unlink()
        self.env["customer.segmentation.pool.move"].sudo().create(
            [
                {
                    "partner_id": partner_id,
                    "company_id": company.id,
                    "user_id": old_user or False,
                    "move": "return",
                    "reason": reason,
                }
                for partner_id, old_user, reason in entries
            ]
        )

    def _now(self):
        return self.env.cr.now()

    @api.model
    def _preview(self, company, customer_ids):
        """What ``_apply`` would change for these commercial partners now,
        without changing anything: the same steps, activities included,
        rolled back.

        :return: the counters of ``_apply`` but ``activities_left``
        """
        params = company._segmentation_params()
        today = _segmentation_today()
        scope = self.env["customer.segmentation.pipeline"]._scope(
            company, customer_ids=customer_ids
        )
        # rolled back, with the cache and the pending tracking of its writes
        with self.env.cr.savepoint() as savepoint:
            result = self._apply_batch(company, params, today, scope, True)
            # (rolling back clears the cursor's cache too)
            savepoint.close(rollback=True)
        return result

    # ------------------------------------------------------------------
    # Tags and pricelists
    # ------------------------------------------------------------------

    def _apply_tags(self, scope):
        """Add the tags of a customer's segments (in any company: tags are
        shared), and remove those the segments added once the customer has
        left them. A tag the customer already had is left to the users.
        Through the ORM, one write per tag."""
        rows = self.env.execute_query(
            SQL(
                """
            WITH customer AS (%(scope)s),
            membership AS (
                %(company_membership)s
                UNION ALL
                SELECT c.id AS partner_id, m.segment_id
                  FROM res_partner c
                 CROSS JOIN LATERAL unnest(ARRAY[%(columns)s]::int[]) AS m(segment_id)
                 WHERE c.id IN (SELECT id FROM customer) AND m.segment_id IS NOT NULL
                UNION ALL
                SELECT n.partner_id, n.segment_id
                  FROM res_partner_customer_segment_need_rel n
                 WHERE n.partner_id IN (SELECT id FROM customer)
            ),
            desired AS (
                SELECT DISTINCT m.partner_id, t.category_id
                  FROM membership m
                  JOIN customer_segment s ON s.id = m.segment_id AND s.active
                  JOIN customer_segment_partner_tag_rel t ON t.segment_id = s.id
            ),
            held AS (
                SELECT r.partner_id, r.category_id
                  FROM res_partner_segmentation_tag_rel r
                 WHERE r.partner_id IN (SELECT id FROM customer)
            )
            SELECT d.category_id, true, array_agg(d.partner_id ORDER BY d.partner_id)
              FROM desired d
             WHERE NOT EXISTS (SELECT 1 FROM held h
                                WHERE h.partner_id = d.partner_id
                                  AND h.category_id = d.category_id)
               AND NOT EXISTS (SELECT 1 FROM res_partner_res_partner_category_rel r
                                WHERE r.partner_id = d.partner_id
                                  AND r.category_id = d.category_id)
          GROUP BY d.category_id
            UNION ALL
            SELECT h.category_id, false, array_agg(h.partner_id ORDER BY h.partner_id)
              FROM held h
             WHERE NOT EXISTS (SELECT 1 FROM desired d
                                WHERE d.partner_id = h.partner_id
                                  AND d.category_id = h.category_id)
          GROUP BY h.category_id
                """,
                scope=scope,
                company_membership=self._company_membership(),
                columns=SQL(", ").join(self._global_columns()),
            )
        )
        Partner = (
            self.env["res.partner"].sudo().with_context(**{WRITING_CONTEXT_KEY: True})
        )
        added = removed = 0
        for category_id, add, partner_ids in rows:
            command = Command.link(category_id) if add else Command.unlink(category_id)
            Partner.browse(partner_ids).write(
                {"category_id": [command], "segmentation_tag_ids": [command]}
            )
            if add:
                added += len(partner_ids)
            else:
                removed += len(partner_ids)
        return {"tags_added": added, "tags_removed": removed}

    def _company_membership(self):
        """SQL of ``(partner_id, segment_id)`` of the customers on the
        company-dependent dimensions, in every company."""
        return SQL(" UNION ALL ").join(
            SQL(
                """SELECT c.id AS partner_id, (j.value #>> '{}')::int AS segment_id
                     FROM res_partner c
                    CROSS JOIN LATERAL jsonb_each(c.%s) j
                    WHERE c.id IN (SELECT id FROM customer)
                      AND jsonb_typeof(j.value) = 'number'""",
                SQL.identifier(column),
            )
            for column in (
                "segment_value_id",
                "segment_lifecycle_id",
                "segment_rfm_id",
                "segment_geo_id",
                "segment_scale_id",
            )
        )

    def _global_columns(self):
        """SQL of the segments of ``c`` on the dimensions shared by every
        company."""
        Partner = self.env["res.partner"]
        return [
            SQL("c.%s", SQL.identifier(name))
            for code, name in Partner._segmentation_dimension_fields().items()
            if code not in COMPANY_DIMENSIONS
            and Partner._fields[name].type == "many2one"
        ] or [SQL("NULL::int")]

    def _apply_pricelists(self, company, scope):
        """Give customers the exclusive pricelist of their winning segment in
        the company, and their previous one back when they leave it (unless a
        user changed it meanwhile)."""
        winners = dict(
            self.env.execute_query(
                SQL(
                    """SELECT w.partner_id, s.pricelist_id FROM (%s) w
                         JOIN %s s ON s.id = w.segment_id""",
                    self._winners(company, SQL("s.pricelist_id IS NOT NULL"), scope),
                    self._strategies(company),
                )
            )
        )
        holders = self.env["res.partner"].browse(
            row[0]
            for row in self.env.execute_query(
                SQL(
                    """SELECT f.partner_id FROM customer_segmentation_figure f
                        WHERE f.company_id = %s AND f.partner_id IN (%s)
                          AND f.segmentation_pricelist_id IS NOT NULL
                          AND NOT f.partner_id = ANY(%s)""",
                    company.id,
                    scope,
                    list(winners),
                )
            )
        )
        applied = self._set_pricelists(company, winners)
        self._restore_pricelists(company, holders)
        return {"pricelists_applied": applied, "pricelists_restored": len(holders)}

    def _set_pricelists(self, company, winners):
        Partner = self.env["res.partner"].sudo().with_company(company)
        Figure = self.env["customer.segmentation.figure"].sudo()
        figure_ids = Figure._ensure(company, list(winners))
        changes = defaultdict(list)
        for partner in Partner.browse(list(winners)):
            wanted = winners[partner.id]
            if partner.segmentation_pricelist_id.id == wanted and (
                partner.specific_property_product_pricelist.id == wanted
            ):
                continue
            previous = (
                partner.segmentation_previous_pricelist_id
                if partner.segmentation_pricelist_id
                else partner.specific_property_product_pricelist
            )
            changes[wanted, previous.id].append(partner.id)
        for (wanted, previous_id), ids in changes.items():
            Figure.browse(figure_ids[i] for i in ids).write(
                {
                    "segmentation_pricelist_id": wanted,
                    "segmentation_previous_pricelist_id": previous_id,
                }
            )
            # the pricelist is a commercial field: the contacts share it
            self._with_contacts(Partner.browse(ids)).write(
                {"specific_property_product_pricelist": wanted}
            )
        return sum(len(ids) for ids in changes.values())

    def _restore_pricelists(self, company, holders):
        Partner = self.env["res.partner"].sudo().with_company(company)
        restores = defaultdict(list)
        for partner in Partner.browse(holders.ids):
            still_ours = (
                partner.specific_property_product_pricelist
                == partner.segmentation_pricelist_id
            )
            restores[
                partner.segmentation_previous_pricelist_id.id if still_ours else None,
                still_ours,
            ].append(partner.id)
        for (previous_id, still_ours), ids in restores.items():
            customers = Partner.browse(ids)
            customers.segmentation_figure_id.write(
                {
                    "segmentation_pricelist_id": False,
                    "segmentation_previous_pricelist_id": False,
                }
            )
            if still_ours:
                self._with_contacts(customers).write(
                    {"specific_property_product_pricelist": previous_id or False}
                )

    def _with_contacts(self, customers):
        return customers.with_context(active_test=False).search(
            [("commercial_partner_id", "in", customers.ids)]
        )

    # ------------------------------------------------------------------
    # Activities
    # ------------------------------------------------------------------

    def _schedule_followups(self, company, today, scope):
        """One follow-up activity for the account manager of each customer
        whose last interaction is older than its segment's cadence, unless
        one of the same type is open already; in the manager's language.

        :return: number of activities created
        """
        rows = self.env.execute_query(self._due_followups_sql(company, today, scope))
        names = self._names([(row[0], row[1]) for row in rows])
        return self._create_activities(
            [self._followup_values(row, today, names) for row in rows]
        )

    def _due_followups_sql(self, company, today, scope):
        """SQL of ``(partner_id, user id, segment id, activity type id, days
        since the last interaction)`` of the follow-ups due."""
        default_type = self.env.ref(FOLLOWUP_TYPE)
        return SQL(
            """
            SELECT w.partner_id, w.user_id, s.id,
                   COALESCE(s.followup_activity_type_id, %(default_type)s),
                   %(today)s::date - f.segmentation_last_interaction
              FROM (%(winners)s) w
              JOIN %(strategies)s s ON s.id = w.segment_id
              LEFT JOIN customer_segmentation_figure f
                     ON f.partner_id = w.partner_id AND f.company_id = %(company)s
              JOIN res_users u ON u.id = w.user_id AND u.active
             WHERE (f.segmentation_last_interaction IS NULL
                    OR f.segmentation_last_interaction
                       < %(today)s::date - s.followup_days)
               AND NOT EXISTS (
                   SELECT 1 FROM mail_activity a
                    WHERE a.res_model = 'res.partner' AND a.res_id = w.partner_id
                      AND a.active
                      AND a.activity_type_id
                          = COALESCE(s.followup_activity_type_id, %(default_type)s))
          ORDER BY w.partner_id
            """,
            winners=self._winners(
                company,
                SQL("s.followup_days > 0"),
                scope,
                SQL("AND c.user_id IS NOT NULL"),
            ),
            strategies=self._strategies(company),
            company=company.id,
            default_type=default_type.id,
            today=today,
        )

    def _names(self, pairs):
        """``{(partner id, user id): customer name in the user's language}``
        for ``[(partner id, user id)]``, one read per language."""
        Users = self.env["res.users"].sudo()
        by_lang = defaultdict(list)
        for partner_id, user_id in pairs:
            by_lang[Users.browse(user_id).lang or "en_US"].append(partner_id)
        names = {}
        for lang, partner_ids in by_lang.items():
            partners = self.env["res.partner"].sudo().with_context(lang=lang)
            for partner in partners.browse(partner_ids):
                names[partner.id, lang] = partner.display_name
        return {
            (partner_id, user_id): names[
                partner_id, Users.browse(user_id).lang or "en_US"
            ]
            for partner_id, user_id in pairs
        }

    def _followup_values(self, row, today, names):
        partner_id, user_id, segment_id, type_id, days = row
        user = self.env["res.users"].sudo().browse(user_id)
        env = self.with_context(lang=user.lang or "en_US").env
        segment = env["customer.segment"].sudo().browse(segment_id)
        values = {
            "customer": names[partner_id, user_id],
            "segment": segment.name,
            "days": str(days) if days is not None else "-",
        }
        summary = None
        if segment.followup_summary:
            summary = render_summary(segment.followup_summary, **values)
            if summary is None:
                # stored before templates were checked, or forced with SQL
                _logger.warning(
                    "Segment %s: invalid follow-up summary template, the default "
                    "summary is used",
                    segment.id,
                )
        if summary is None:
            summary = render_summary(
                env._("Follow up {customer} ({segment})"), **values
            )
        return {
            "res_id": partner_id,
            "user_id": user_id,
            "activity_type_id": type_id,
            "date_deadline": today,
            "summary": summary,
        }

    def _schedule_churn_warnings(self, company, params, today, scope):
        """An early-warning activity for the account manager of each
        customer with the churn warning (see ``_churn_warning_domain``),
        unless one is open already; in the manager's language.

        :return: number of activities created
        """
        churn_type = self.env.ref(CHURN_TYPE)
        rows = self.env.execute_query(self._due_warnings_sql(company, params, scope))
        Users = self.env["res.users"].sudo()
        by_lang = defaultdict(list)
        for partner_id, user_id, _figure_id in rows:
            by_lang[Users.browse(user_id).lang or "en_US"].append(partner_id)
        texts = {}
        for lang, partner_ids in by_lang.items():
            partners = (
                self.env["res.partner"]
                .sudo()
                .with_company(company)
                .with_context(lang=lang)
                .browse(partner_ids)
            )
            for partner in partners:
                texts[partner.id, lang] = (
                    partner.churn_signal,
                    partner.churn_risk_explanation,
                )
        vals_list = []
        for partner_id, user_id, _figure_id in rows:
            summary, note = texts[partner_id, Users.browse(user_id).lang or "en_US"]
            vals_list.append(
                {
                    "res_id": partner_id,
                    "user_id": user_id,
                    "activity_type_id": churn_type.id,
                    "date_deadline": today,
                    "summary": summary,
                    "note": note,
                }
            )
        return self._create_activities(vals_list, [row[2] for row in rows])

    def _due_warnings_sql(self, company, params, scope):
        """SQL of ``(partner_id, user id, figure id)`` of the churn warnings
        due."""
        Figure = self.env["customer.segmentation.figure"].sudo()
        warned = Figure._search(
            [("company_id", "=", company.id), *Figure._churn_warning_domain(params)]
        ).subselect()
        return SQL(
            """
            SELECT c.id AS partner_id, c.user_id, f.id
              FROM res_partner c
              JOIN customer_segmentation_figure f
                ON f.partner_id = c.id AND f.company_id = %(company)s
              JOIN res_users u ON u.id = c.user_id AND u.active
             WHERE c.id IN (%(scope)s)
               AND f.id IN %(warned)s
               -- one warning per lapse: none again before a new purchase
               AND f.churn_warned_order_date IS DISTINCT FROM f.last_order_date
               AND NOT EXISTS (
                   SELECT 1 FROM mail_activity a
                    WHERE a.res_model = 'res.partner' AND a.res_id = c.id
                      AND a.active AND a.activity_type_id = %(type)s)
          ORDER BY c.id
            """,
            company=company.id,
            scope=scope,
            warned=warned,
            type=self.env.ref(CHURN_TYPE).id,
        )

    def _create_activities(self, vals_list, warned_figure_ids=None):
        """Create activities ``ACTIVITY_BATCH`` at a time, in the caller's
        transaction; return how many.

        :param warned_figure_ids: figure row ids, one per activity, to mark
            as warned with their activity
        """
        for start in range(0, len(vals_list), ACTIVITY_BATCH):
            end = start + ACTIVITY_BATCH
            self._create_activity_batch(
                vals_list[start:end], (warned_figure_ids or [])[start:end]
            )
        return len(vals_list)

    def _create_activity_batch(self, vals_list, warned_figure_ids):
        model_id = self.env["ir.model"]._get_id("res.partner")
        Activity = (
            self.env["mail.activity"]
            .sudo()
            .with_context(mail_activity_quick_update=True)
        )
        # An activity reads its customer's name on its own, one query each:
        # read the batch's names at once (1,000 activities: 29 queries, not
        # 1,043).
        Activity.env["res.partner"].browse(
            [vals["res_id"] for vals in vals_list]
        ).mapped("display_name")
        Activity.create([dict(vals, res_model_id=model_id) for vals in vals_list])
        if warned_figure_ids:
            # one warning per lapse: none again before a new purchase
            self.env.execute_query(
                SQL(
                    """UPDATE customer_segmentation_figure
                          SET churn_warned_order_date = last_order_date
                        WHERE id = ANY(%s)""",
                    list(warned_figure_ids),
                )
            )
