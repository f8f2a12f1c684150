import heapq
import logging
import time
from collections import defaultdict
from functools import partial

from odoo import api, models
from odoo.tools import SQL

from .customer_segment import render_summary
from .res_partner import _segmentation_today, _sql_text
from .segmentation_batch import lock_customers, next_batch, run_batch

_logger = logging.getLogger(__name__)

# Customers a policy may give an account manager (not those in the pool).
UNASSIGNED = SQL(
    "AND c.user_id IS NULL AND NOT COALESCE(c.segmentation_in_pool, false)"
)
FOLLOWUP_TYPE = "customer_segmentation.mail_activity_type_segment_followup"
CHURN_TYPE = "customer_segmentation.mail_activity_type_churn_warning"
# Activities created per transaction.
ACTIVITY_BATCH = 1000
# Customers per transaction of the per-customer steps (figures, account
# managers, pool, tags, pricelists): see benchmarks/README.md.
STRATEGY_BATCH_SIZE = 2000
# Counters of those steps, summed over the batches.
BATCH_COUNTERS = (
    "assigned",
    "returned_to_pool",
    "tags_added",
    "tags_removed",
    "pricelists_applied",
    "pricelists_restored",
)


class CustomerSegmentationStrategy(models.AbstractModel):
    """Applies the management strategy of each customer's segments.

    Every step works on a batch of customers at once: one SQL statement, or
    one ORM call per group of identical changes. When several segments of a
    customer set the same thing, the segment with the highest strategy
    priority wins (ties: the oldest segment); tags add up.
    """

    _name = "customer.segmentation.strategy"
    _description = "Customer Segmentation Strategy Engine"

    @api.model
    def _apply(self, figures=True):
        """Apply the strategies to every customer.

        Figures, account managers, pool, tags and pricelists are applied per
        batch of customers, each batch one transaction (see
        ``segmentation_batch``); then activities are scheduled, most valuable
        customers first, in transactions of ``ACTIVITY_BATCH`` activities.

        :param figures: recompute last interactions and churn risks first
            (the nightly job skips them when it resumes the same day)

        :return: dict of counters, see ``res.partner.apply_segment_strategies``
        """
        Partner = self.env["res.partner"].sudo()
        params = Partner._segmentation_params()
        today = _segmentation_today()
        result = dict.fromkeys(BATCH_COUNTERS, 0)
        last = 0
        while True:
            upper, _count = next_batch(self.env, last, STRATEGY_BATCH_SIZE)
            if upper is None:
                break
            batch = partial(self._apply_batch, params, today, (last, upper), figures)
            counts = run_batch(self.env, batch, self._job_name())
            for key, count in counts.items():
                result[key] += count
            last = upper
        scope = self._scope()
        result["followups"], followups_left = self._schedule_followups(today, scope)
        result["churn_warnings"], warnings_left = self._schedule_churn_warnings(
            params, today, scope
        )
        result["activities_left"] = followups_left + warnings_left
        Partner.invalidate_model()
        return result

    def _apply_batch(self, params, today, id_range, figures):
        """Figures, account managers, pool, tags and pricelists of the
        customers with ``low < id <= high``, their rows locked first."""
        Partner = self.env["res.partner"].sudo()
        lock_customers(self.env, *id_range)
        self.env.flush_all()
        scope = self._scope(id_range)
        # the SQL steps write partners behind the ORM's back: forget them
        if figures:
            self._update_interactions(scope)
            self._update_churn_risk(params, today, scope)
        result = {"assigned": self._assign_managers(scope)}
        result["returned_to_pool"] = (
            self._return_to_pool(params, today, scope) if params["pool_enabled"] else 0
        )
        result.update(self._apply_tags(scope))
        Partner.invalidate_model()
        domain = [("id", ">", id_range[0]), ("id", "<=", id_range[1])]
        result.update(self._apply_pricelists(scope, domain))
        Partner.invalidate_model()
        return result

    @api.model
    def _scope(self, id_range=None):
        """SQL selecting the customers (with ``low < id <= high``) in
        ``res_partner``."""
        customer = self.env["res.partner"]._segmentation_customer_sql()
        if id_range is None:
            return customer
        return SQL("%s AND id > %s AND id <= %s", customer, *id_range)

    @api.model
    def _job_name(self):
        return self.env._("The segment strategy job")

    # ------------------------------------------------------------------
    # Figures
    # ------------------------------------------------------------------

    def _update_interactions(self, scope):
        """Latest done activity, message or e-mail on the customer or its
        contacts, or its latest confirmed order."""
        self.env.execute_query(
            SQL(
                """
            WITH customer AS (SELECT id, last_order_date FROM res_partner WHERE %s),
            messaged AS (
                SELECT p.commercial_partner_id AS id, max(m.date)::date AS date
                  FROM mail_message m
                  JOIN res_partner p ON p.id = m.res_id
                 WHERE m.model = 'res.partner'
                   AND (m.message_type IN ('comment', 'email')
                        OR m.mail_activity_type_id IS NOT NULL)
                   AND p.commercial_partner_id IN (SELECT id FROM customer)
              GROUP BY p.commercial_partner_id
            )
            UPDATE res_partner p
               SET segmentation_last_interaction = x.date
              FROM (SELECT c.id, GREATEST(c.last_order_date, m.date) AS date
                      FROM customer c LEFT JOIN messaged m ON m.id = c.id) x
             WHERE p.id = x.id
               AND p.segmentation_last_interaction IS DISTINCT FROM x.date
                """,
                scope,
            )
        )

    def _update_churn_risk(self, params, today, scope):
        """The usual gap is the median of the days between consecutive order
        dates; the risk grows from 0, when the last order is as old as that
        gap, to 100, when it is ``churn_full_risk_ratio`` gaps old. A
        dismissal holds until the customer orders again."""
        self.env.execute_query(
            SQL(
                """
            WITH customer AS (SELECT id FROM res_partner WHERE %(scope)s),
            dates AS (
                SELECT DISTINCT customer_id AS id, date FROM (%(purchases)s) pu
            ),
            gaps AS (
                SELECT id, date - lag(date) OVER (PARTITION BY id ORDER BY date)
                           AS gap
                  FROM dates
            ),
            usual AS (
                SELECT id,
                       GREATEST(1, round(percentile_cont(0.5)
                                         WITHIN GROUP (ORDER BY gap)))::int AS gap
                  FROM gaps WHERE gap IS NOT NULL GROUP BY id
            ),
            scored AS (
                SELECT c.id, u.gap,
                       CASE WHEN u.gap IS NULL OR p.last_order_date IS NULL THEN 0
                            ELSE LEAST(100, GREATEST(0, round(
                                100 * ((%(today)s::date - p.last_order_date)::numeric
                                       / u.gap - 1)
                                / (%(ratio)s::numeric - 1))))::int
                       END AS risk,
                       p.churn_dismissed
                           AND p.churn_dismissed_order_date
                               IS NOT DISTINCT FROM p.last_order_date
                           AS dismissed
                  FROM customer c
                  JOIN res_partner p ON p.id = c.id
                  LEFT JOIN usual u ON u.id = c.id
            )
            UPDATE res_partner p
               SET churn_typical_gap_days = s.gap,
                   churn_risk_score = s.risk,
                   churn_dismissed = s.dismissed
              FROM scored s
             WHERE p.id = s.id
               AND (p.churn_typical_gap_days, p.churn_risk_score, p.churn_dismissed)
                   IS DISTINCT FROM (s.gap, s.risk, s.dismissed)
                """,
                scope=scope,
                purchases=self.env["customer.segmentation.purchase"]._query(
                    today, customers=SQL("SELECT id FROM customer")
                ),
                today=today,
                ratio=str(params["churn_full_risk_ratio"]),
            )
        )

    # ------------------------------------------------------------------
    # Strategies
    # ------------------------------------------------------------------

    def _segment_columns(self):
        """``c.<field>`` of every single-segment dimension of the partner."""
        Partner = self.env["res.partner"]
        return [
            SQL("c.%s", SQL.identifier(name))
            for name in Partner._segmentation_dimension_fields().values()
            if name in Partner._fields and Partner._fields[name].type == "many2one"
        ]

    def _winners(self, condition, scope, extra=None):
        """SQL selecting, per customer in ``scope``, its segment of highest
        strategy priority among those matching ``condition`` (on ``s``)."""
        columns = self._segment_columns()
        return SQL(
            """
            SELECT DISTINCT ON (c.id) c.id AS partner_id, s.id AS segment_id,
                   c.user_id, c.company_id
              FROM res_partner c
             CROSS JOIN LATERAL unnest(ARRAY[%(columns)s]::int[]) AS m(segment_id)
              JOIN customer_segment s ON s.id = m.segment_id AND s.active
             WHERE %(scope)s AND %(condition)s %(extra)s
          ORDER BY c.id, s.strategy_priority DESC, s.id
            """,
            columns=SQL(", ").join(columns),
            scope=SQL("c.id IN (SELECT id FROM res_partner WHERE %s)", scope),
            condition=condition,
            extra=extra or SQL(),
        )

    def _assign_managers(self, scope):
        """Give customers without an account manager one from the sales team
        of their winning segment: in turn, or the member holding the fewest
        customers."""
        rows = self.env.execute_query(
            SQL(
                """SELECT w.partner_id, s.manager_team_id, s.manager_policy
                     FROM (%s) w JOIN customer_segment s ON s.id = w.segment_id
                    ORDER BY w.partner_id""",
                self._winners(
                    SQL("s.manager_policy != 'keep' AND s.manager_team_id IS NOT NULL"),
                    scope,
                    UNASSIGNED,
                ),
            )
        )
        if not rows:
            return 0
        by_team = defaultdict(list)
        for partner_id, team_id, policy in rows:
            by_team[team_id, policy].append(partner_id)
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
        if assignments:
            self.env.execute_query(
                SQL(
                    """
                WITH assigned AS (
                    UPDATE res_partner p
                       SET user_id = a.user_id,
                           segmentation_manager_since = %(today)s
                      FROM unnest(%(partners)s::int[], %(users)s::int[])
                           AS a(partner_id, user_id)
                     WHERE p.id = a.partner_id
                 RETURNING p.id, p.company_id, a.user_id
                )
                INSERT INTO customer_segmentation_pool_move
                       (partner_id, company_id, user_id, move, date, reason,
                        create_uid, create_date, write_uid, write_date)
                SELECT id, company_id, user_id, 'assign', %(now)s, %(reason)s,
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM assigned
                    """,
                    partners=list(assignments),
                    users=list(assignments.values()),
                    today=_segmentation_today(),
                    now=SQL("(now() AT TIME ZONE 'UTC')"),
                    reason=self.env._(
                        "Account manager policy of the customer's segment"
                    ),
                    uid=self.env.uid,
                )
            )
        return len(assignments)

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

    def _return_to_pool(self, params, today, scope):
        """Customers without an account manager, or whose manager has not
        interacted with them within their segment's follow-up cadence plus
        the grace period, go to the shared pool."""
        neglected = self._winners(
            SQL("s.followup_days > 0"),
            scope,
            SQL("AND c.user_id IS NOT NULL"),
        )
        rows = self.env.execute_query(
            SQL(
                """
            WITH neglected AS (
                SELECT w.partner_id, s.followup_days, w.user_id AS old_user
                  FROM (%(neglected)s) w
                  JOIN customer_segment s ON s.id = w.segment_id
                  JOIN res_partner c ON c.id = w.partner_id
                 -- the clock starts when the manager got the customer
                 WHERE GREATEST(COALESCE(c.segmentation_last_interaction,
                                         c.create_date::date),
                                c.segmentation_manager_since)
                       < %(today)s::date - (s.followup_days + %(grace)s)
            ),
            orphan AS (
                SELECT id AS partner_id, NULL::int AS followup_days,
                       NULL::int AS old_user
                  FROM res_partner
                 WHERE %(scope)s AND active AND user_id IS NULL
                   AND NOT COALESCE(segmentation_in_pool, false)
                   AND (segment_value_id IS NOT NULL
                        OR segment_lifecycle_id IS NOT NULL)
            ),
            moved AS (
                UPDATE res_partner p
                   SET user_id = NULL, segmentation_in_pool = true,
                       segmentation_pool_date = %(now)s
                  FROM (SELECT * FROM neglected UNION ALL SELECT * FROM orphan) x
                 WHERE p.id = x.partner_id
             RETURNING p.id, p.company_id, x.followup_days, x.old_user
            ),
            cancelled AS (
                -- the former manager's open follow-ups go with the customer
                DELETE FROM mail_activity a
                 USING moved m
                 WHERE a.res_model = 'res.partner' AND a.res_id = m.id
                   AND a.active AND a.user_id = m.old_user
                   AND a.activity_type_id IN (
                       SELECT %(types)s::int UNION
                       SELECT followup_activity_type_id FROM customer_segment)
            )
            INSERT INTO customer_segmentation_pool_move
                   (partner_id, company_id, user_id, move, date, reason,
                    create_uid, create_date, write_uid, write_date)
            SELECT id, company_id, old_user, 'return', %(now)s,
                   CASE WHEN followup_days IS NULL THEN %(orphan_reason)s
                        ELSE %(neglect_reason)s END,
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM moved
         RETURNING 1
                """,
                neglected=neglected,
                scope=scope,
                today=today,
                grace=params["pool_grace_days"],
                now=SQL("(now() AT TIME ZONE 'UTC')"),
                orphan_reason=self.env._("No account manager"),
                neglect_reason=_sql_text(
                    self.env._(
                        "No interaction within the follow-up cadence of %(days)s "
                        "days plus %(grace)s days of grace"
                    ),
                    days=SQL("followup_days"),
                    grace=SQL("%s", params["pool_grace_days"]),
                ),
                uid=self.env.uid,
                types=self.env.ref(FOLLOWUP_TYPE).id,
            )
        )
        return len(rows)

    def _apply_tags(self, scope):
        """Add the tags of a customer's segments, and remove those the
        segments added once the customer has left them. A tag the customer
        already had is left to the users."""
        columns = self._segment_columns()
        added, removed = self.env.execute_query(
            SQL(
                """
            WITH customer AS (SELECT * FROM res_partner WHERE %(scope)s),
            membership AS (
                SELECT c.id AS partner_id, m.segment_id
                  FROM customer c
                 CROSS JOIN LATERAL unnest(ARRAY[%(columns)s]::int[]) AS m(segment_id)
                 WHERE m.segment_id IS NOT NULL
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
            removed AS (
                DELETE FROM res_partner_segmentation_tag_rel r
                 WHERE r.partner_id IN (SELECT id FROM customer)
                   AND NOT EXISTS (SELECT 1 FROM desired d
                                    WHERE d.partner_id = r.partner_id
                                      AND d.category_id = r.category_id)
             RETURNING r.partner_id, r.category_id
            ),
            untagged AS (
                DELETE FROM res_partner_res_partner_category_rel r
                 USING removed x
                 WHERE r.partner_id = x.partner_id AND r.category_id = x.category_id
            ),
            added AS (
                INSERT INTO res_partner_segmentation_tag_rel (partner_id, category_id)
                SELECT d.partner_id, d.category_id FROM desired d
                 WHERE NOT EXISTS (SELECT 1 FROM res_partner_segmentation_tag_rel r
                                    WHERE r.partner_id = d.partner_id
                                      AND r.category_id = d.category_id)
                   AND NOT EXISTS (SELECT 1 FROM res_partner_res_partner_category_rel r
                                    WHERE r.partner_id = d.partner_id
                                      AND r.category_id = d.category_id)
             RETURNING partner_id, category_id
            ),
            tagged AS (
                INSERT INTO res_partner_res_partner_category_rel
                       (partner_id, category_id)
                SELECT partner_id, category_id FROM added
            )
            SELECT (SELECT count(*) FROM added), (SELECT count(*) FROM removed)
                """,
                scope=scope,
                columns=SQL(", ").join(columns),
            )
        )[0]
        return {"tags_added": added, "tags_removed": removed}

    def _apply_pricelists(self, scope, domain):
        """Give customers the exclusive pricelist of their winning segment,
        and their previous one back when they leave it (unless a user changed
        it meanwhile).

        :param domain: the customers of ``scope``, as a domain
        """
        Partner = self.env["res.partner"].sudo()
        winners = dict(
            self.env.execute_query(
                SQL(
                    """SELECT w.partner_id, s.pricelist_id FROM (%s) w
                         JOIN customer_segment s ON s.id = w.segment_id""",
                    self._winners(SQL("s.pricelist_id IS NOT NULL"), scope),
                )
            )
        )
        holders = Partner.with_context(active_test=False).search(
            [
                *domain,
                ("segmentation_pricelist_id", "!=", False),
                ("id", "not in", list(winners)),
            ]
        )
        partners = Partner.browse(list(winners))
        changes = defaultdict(list)
        for partner in partners:
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
        applied = 0
        for (wanted, previous_id), ids in changes.items():
            pricelist = self.env["product.pricelist"].browse(wanted)
            customers = Partner.browse(ids).with_company(
                pricelist.company_id or self.env.company
            )
            customers.write(
                {
                    "segmentation_pricelist_id": wanted,
                    "segmentation_previous_pricelist_id": previous_id,
                }
            )
            # the pricelist is a commercial field: the contacts share it
            self._with_contacts(customers).write(
                {"specific_property_product_pricelist": wanted}
            )
            applied += len(ids)
        restores = defaultdict(list)
        for partner in holders:
            still_ours = (
                partner.specific_property_product_pricelist
                == partner.segmentation_pricelist_id
            )
            restores[
                partner.segmentation_previous_pricelist_id.id if still_ours else None,
                still_ours,
            ].append(partner.id)
        for (previous_id, still_ours), ids in restores.items():
            values = {
                "segmentation_pricelist_id": False,
                "segmentation_previous_pricelist_id": False,
            }
            customers = Partner.browse(ids)
            customers.write(values)
            if still_ours:
                self._with_contacts(customers).write(
                    {"specific_property_product_pricelist": previous_id or False}
                )
        return {"pricelists_applied": applied, "pricelists_restored": len(holders)}

    def _with_contacts(self, customers):
        return customers.with_context(active_test=False).search(
            [("commercial_partner_id", "in", customers.ids)]
        )

    def _schedule_followups(self, today, scope):
        """One follow-up activity for the account manager of each customer
        whose last interaction is older than its segment's cadence, unless
        one of the same type is open already."""
        default_type = self.env.ref(FOLLOWUP_TYPE)
        rows = self.env.execute_query(
            SQL(
                """
            SELECT w.partner_id, w.user_id, s.id,
                   COALESCE(s.followup_activity_type_id, %(default_type)s),
                   %(today)s::date - c.segmentation_last_interaction
              FROM (%(winners)s) w
              JOIN customer_segment s ON s.id = w.segment_id
              JOIN res_partner c ON c.id = w.partner_id
              JOIN res_users u ON u.id = w.user_id AND u.active
             WHERE (c.segmentation_last_interaction IS NULL
                    OR c.segmentation_last_interaction
                       < %(today)s::date - s.followup_days)
               AND NOT EXISTS (
                   SELECT 1 FROM mail_activity a
                    WHERE a.res_model = 'res.partner' AND a.res_id = w.partner_id
                      AND a.active
                      AND a.activity_type_id
                          = COALESCE(s.followup_activity_type_id, %(default_type)s))
          -- most valuable customers first, in case time runs out
          ORDER BY c.rfm_monetary DESC NULLS LAST, w.partner_id
                """,
                winners=self._winners(
                    SQL("s.followup_days > 0"), scope, SQL("AND c.user_id IS NOT NULL")
                ),
                default_type=default_type.id,
                today=today,
            )
        )
        segments = self.env["customer.segment"].browse({row[2] for row in rows})
        partners = self.env["res.partner"].sudo().browse([row[0] for row in rows])
        names = dict(zip(partners.ids, partners.mapped("display_name"), strict=True))
        default_template = self.env._("Follow up {customer} ({segment})")
        vals_list = []
        refused = set()
        for partner_id, user_id, segment_id, type_id, days in rows:
            segment = segments.browse(segment_id)
            values = {
                "customer": names[partner_id],
                "segment": segment.name,
                "days": str(days) if days is not None else "-",
            }
            summary = None
            if segment.followup_summary:
                summary = render_summary(segment.followup_summary, **values)
                if summary is None and segment not in refused:
                    # stored before templates were checked, or forced with SQL
                    refused.add(segment)
                    _logger.warning(
                        "Segment %s: invalid follow-up summary template, the "
                        "default summary is used",
                        segment.id,
                    )
            if summary is None:
                summary = render_summary(default_template, **values)
            vals_list.append(
                {
                    "res_id": partner_id,
                    "user_id": user_id,
                    "activity_type_id": type_id,
                    "date_deadline": today,
                    "summary": summary,
                }
            )
        return self._create_activities(vals_list)

    def _schedule_churn_warnings(self, params, today, scope):
        """An early-warning activity for the account manager of each
        customer whose churn risk reaches the threshold, unless dismissed or
        one is open already."""
        churn_type = self.env.ref(CHURN_TYPE)
        partners = (
            self.env["res.partner"]
            .sudo()
            .browse(
                row[0]
                for row in self.env.execute_query(
                    SQL(
                        """
                SELECT c.id FROM res_partner c
                  JOIN res_users u ON u.id = c.user_id AND u.active
                 WHERE c.id IN (SELECT id FROM res_partner WHERE %(scope)s)
                   AND c.churn_risk_score >= %(threshold)s
                   AND NOT COALESCE(c.churn_dismissed, false)
                   -- one warning per lapse: none again before a new order
                   AND c.churn_warned_order_date IS DISTINCT FROM c.last_order_date
                   AND NOT EXISTS (
                       SELECT 1 FROM mail_activity a
                        WHERE a.res_model = 'res.partner' AND a.res_id = c.id
                          AND a.active AND a.activity_type_id = %(type)s)
              ORDER BY c.rfm_monetary DESC NULLS LAST, c.id
                        """,
                        scope=scope,
                        threshold=params["churn_risk_threshold"],
                        type=churn_type.id,
                    )
                )
            )
        )
        vals_list = [
            {
                "res_id": partner.id,
                "user_id": partner.user_id.id,
                "activity_type_id": churn_type.id,
                "date_deadline": today,
                "summary": self.env._(
                    "Churn risk %(risk)s/100", risk=partner.churn_risk_score
                ),
                "note": partner.churn_risk_explanation,
            }
            for partner in partners
        ]
        return self._create_activities(vals_list, mark_warned=True)

    def _create_activities(self, vals_list, mark_warned=False):
        """Create activities in batches, each one transaction (the nightly job
        keeps what it scheduled if it is stopped), and return ``(created,
        left)``; with the context key ``segmentation_deadline`` (a
        ``time.monotonic()`` value), stop when it is passed: the next run
        schedules the rest, as they are still missing.

        :param mark_warned: the activities are churn warnings: record on
            their customers, in the same transaction, that they were warned
        """
        deadline = self.env.context.get("segmentation_deadline")
        created = 0
        for start in range(0, len(vals_list), ACTIVITY_BATCH):
            if deadline and time.monotonic() > deadline:
                break
            batch = vals_list[start : start + ACTIVITY_BATCH]
            run_batch(
                self.env,
                partial(self._create_activity_batch, batch, mark_warned),
                self._job_name(),
            )
            created += len(batch)
        return created, len(vals_list) - created

    def _create_activity_batch(self, vals_list, mark_warned):
        model_id = self.env["ir.model"]._get_id("res.partner")
        self.env["mail.activity"].sudo().with_context(
            mail_activity_quick_update=True
        ).create([dict(vals, res_model_id=model_id) for vals in vals_list])
        if mark_warned:
            self.env.execute_query(
                SQL(
                    """UPDATE res_partner
                          SET churn_warned_order_date = last_order_date
                        WHERE id = ANY(%s)""",
                    [vals["res_id"] for vals in vals_list],
                )
            )
