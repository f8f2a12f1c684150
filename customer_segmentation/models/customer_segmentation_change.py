"""Changes: what the rules and pins give against what partners hold, applied.

The rows that change reach the database through the ORM, one ``write`` per
dimension and new segment, with the company that classified them: Odoo's mail
tracking records them in the chatter and Automation Rules fire, as for any
edit. Two cases are written with SQL, on the module's own columns:

- the first full run of a company (its baseline), which would otherwise post
  a change for every customer of a new database;
- the copies of a customer's value tier, lifecycle stage and RFM segment on
  its contacts (the customer's own row is the one tracked).

Every change is also a row of the segment history, with its cause and its
reason as a code and figures (``customer_segmentation_reason``).
"""

from odoo import Command, api, fields, models
from odoo.tools import SQL

from .customer_segmentation_rule import COMPANY_DIMENSIONS, ENTITY_DIMENSIONS

# Keeps the write of a segment from reclassifying the partner it changes.
WRITING_CONTEXT_KEY = "segmentation_writing"


class CustomerSegmentationChange(models.AbstractModel):
    _name = "customer.segmentation.change"
    _description = "Customer Segmentation Changes"

    @api.model
    def _apply(self, scope, rules, run=None, cause="rule", ended=()):
        """Apply the changes of ``cs_classified`` for ``scope``'s company.

        :return: ``{dimension code: customers changed}``
        """
        company = scope.company
        codes = list(rules)
        counts = dict.fromkeys(codes, 0)
        baseline = not self.env["customer.segmentation.run"]._has_baseline(company)
        if not self.env.execute_query(SQL("SELECT 1 FROM cs_classified LIMIT 1")):
            # no partner may change (most batches of a normal night)
            counts["need"] = self._apply_needs(scope, run, logged=not baseline)
            return counts
        self._store_scores(scope)
        self._collect(company, codes, cause, ended)
        self._update_pins(company, codes)
        self._write_copies(company)
        if baseline:
            self._write_own_silently(company)
        else:
            self._point_figures(company)
            self._write_own(company)
        self._log(company, run, logged_rules=not baseline)
        counts.update(
            self.env.execute_query(
                SQL(
                    """SELECT dimension, count(DISTINCT partner_id) FROM cs_change
                        WHERE own GROUP BY dimension"""
                )
            )
        )
        counts["need"] = self._apply_needs(scope, run, logged=not baseline)
        return counts

    # ------------------------------------------------------------------
    # Changes
    # ------------------------------------------------------------------

    @api.model
    def _store_scores(self, scope):
        """The R, F and M scores of the scope's customers, in their
        figures."""
        self.env.execute_query(
            SQL(
                """
            UPDATE customer_segmentation_figure f
               SET rfm_recency_score = c.r_score,
                   rfm_frequency_score = c.f_score,
                   rfm_monetary_score = c.m_score
              FROM cs_classified c
             WHERE c.is_entity AND f.id = c.figure_id
               AND f.company_id = %s AND %s
               AND (f.rfm_recency_score, f.rfm_frequency_score, f.rfm_monetary_score)
                   IS DISTINCT FROM (c.r_score, c.f_score, c.m_score)
                """,
                scope.company.id,
                scope.bounds_sql(SQL("f.partner_id")),
            )
        )
        self.env["customer.segmentation.figure"].invalidate_model()
        self.env["res.partner"].invalidate_model()

    @api.model
    def _collect(self, company, codes, cause, ended):
        """Fill ``cs_change``: one row per partner and dimension whose
        segment changes, pinned segments first. ``own`` rows are the
        partner's own classification (a customer's, or a contact's on the
        dimensions of contacts); the others copy their customer's."""

        def pins_of(code):
            return "pe" if code in ENTITY_DIMENSIONS else "pn"

        changes = SQL(", ").join(
            SQL(
                """(%(code)s, c.%(old)s,
                    COALESCE(%(pins)s.%(pin)s, c.%(rule)s),
                    %(pins)s.%(pin)s IS NOT NULL, %(pins)s.%(pin_reason)s,
                    c.%(rule)s, c.%(reason)s, c.%(values)s,
                    %(own)s)""",
                code=code,
                old=SQL.identifier(f"old_{code}"),
                rule=SQL.identifier(f"rule_{code}"),
                reason=SQL.identifier(f"code_{code}"),
                values=SQL.identifier(f"values_{code}"),
                pins=SQL(pins_of(code)),
                pin=SQL.identifier(f"pin_{code}"),
                pin_reason=SQL.identifier(f"pin_reason_{code}"),
                own=SQL("c.is_entity") if code in ENTITY_DIMENSIONS else SQL("true"),
            )
            for code in codes
        )
        cr = self.env.cr
        cr.execute(SQL("DROP TABLE IF EXISTS cs_change"))
        cr.execute(
            SQL(
                """
            CREATE TEMPORARY TABLE cs_change ON COMMIT DROP AS
            WITH pins AS (%(pins)s)
            SELECT c.partner_id, c.entity_id, v.dimension, v.old_id, v.new_id,
                   v.rule_id, v.own,
                   CASE WHEN v.pinned THEN 'override'
                        WHEN concat(c.partner_id, ':', v.dimension) = ANY(%(ended)s)
                            THEN 'expiry'
                        ELSE %(cause)s END AS cause,
                   CASE WHEN v.pinned THEN 'pinned'
                        WHEN concat(c.partner_id, ':', v.dimension) = ANY(%(ended)s)
                            THEN 'pin_ended'
                        ELSE v.reason_code END AS reason_code,
                   CASE WHEN v.pinned THEN jsonb_build_object('reason', v.pin_reason)
                        WHEN concat(c.partner_id, ':', v.dimension) = ANY(%(ended)s)
                            THEN jsonb_build_object('rule_code', v.reason_code,
                                                    'rule_values', v.reason_values)
                        ELSE v.reason_values END AS reason_values
              FROM cs_classified c
              LEFT JOIN pins pn ON pn.partner_id = c.partner_id
              LEFT JOIN pins pe ON pe.partner_id = c.entity_id
             CROSS JOIN LATERAL (VALUES %(changes)s)
                   AS v(dimension, old_id, new_id, pinned, pin_reason, rule_id,
                        reason_code, reason_values, own)
             WHERE v.old_id IS DISTINCT FROM v.new_id
                """,
                pins=self._pins(company, codes),
                ended=[f"{partner_id}:{code}" for partner_id, code in ended],
                cause=cause,
                changes=changes,
            )
        )
        cr.execute(SQL("ANALYZE cs_change"))
        self._describe_ended(ended)

    @api.model
    def _pins(self, company, codes):
        """SQL of the active pins per partner: ``pin_<code>`` and
        ``pin_reason_<code>`` per dimension (company-dependent dimensions:
        the company's pins)."""
        columns = SQL(", ").join(
            SQL(
                """max(segment_id) FILTER (WHERE dimension = %(code)s) AS %(pin)s,
                   max(reason) FILTER (WHERE dimension = %(code)s) AS %(pin_reason)s""",
                code=code,
                pin=SQL.identifier(f"pin_{code}"),
                pin_reason=SQL.identifier(f"pin_reason_{code}"),
            )
            for code in codes
        )
        return SQL(
            """
            SELECT partner_id, %(columns)s
              FROM customer_segment_override
             WHERE active AND dimension IN %(codes)s
               AND (company_id = %(company)s OR dimension NOT IN %(company_codes)s)
          GROUP BY partner_id
            """,
            columns=columns,
            codes=tuple(codes),
            company=company.id,
            company_codes=COMPANY_DIMENSIONS,
        )

    @api.model
    def _describe_ended(self, ended):
        """Reasons of the changes made by ended pins: who ended it, or that
        it expired, then the rule's reason."""
        if not ended:
            return
        expired = self.env.context.get("segmentation_pin_expired")
        self.env.execute_query(
            SQL(
                """UPDATE cs_change
                      SET reason_code = %s,
                          reason_values =
                              reason_values || jsonb_build_object('user', %s)
                    WHERE reason_code = 'pin_ended'""",
                "pin_expired" if expired else "pin_ended",
                self.env.user.name,
            )
        )

    @api.model
    def _update_pins(self, company, codes):
        """What the rule says, on each active pin of the classified
        partners."""
        rule_by_dimension = SQL(
            "CASE o.dimension %s END",
            SQL(" ").join(
                SQL("WHEN %s THEN c.%s", code, SQL.identifier(f"rule_{code}"))
                for code in codes
            ),
        )
        self.env.execute_query(
            SQL(
                """
            UPDATE customer_segment_override o
               SET rule_segment_id = %(rule)s
              FROM cs_classified c
             WHERE o.active AND o.partner_id = c.partner_id
               AND o.dimension IN %(codes)s
               AND (o.company_id = %(company)s OR o.dimension NOT IN %(company_codes)s)
               AND o.rule_segment_id IS DISTINCT FROM %(rule)s
                """,
                rule=rule_by_dimension,
                codes=tuple(codes),
                company=company.id,
                company_codes=COMPANY_DIMENSIONS,
            )
        )
        self.env["customer.segment.override"].invalidate_model(["rule_segment_id"])

    # ------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------

    @api.model
    def _write_copies(self, company):
        """Contacts carry their customer's value tier, lifecycle stage and
        RFM segment (SQL: the customer's own row is tracked)."""
        self._write_sql(company, SQL("NOT c.own"))

    @api.model
    def _write_own_silently(self, company):
        """The baseline: every change in one statement, without tracking,
        with the customers' figures pointers (each contact row written
        once)."""
        self._write_sql(company, SQL("c.own"), pointers=True)

    @api.model
    def _point_figures(self, company):
        """Each customer of ``cs_classified`` shows its figures row in the
        company: the pointers of the customers that got a row (SQL, an
        internal link the users do not edit)."""
        self.env.execute_query(
            SQL(
                """
            UPDATE res_partner p
               SET segmentation_figure_id = %(pointer)s
              FROM cs_classified k
             WHERE p.id = k.partner_id AND %(pointing)s
                """,
                pointer=_company_value(
                    "segmentation_figure_id", company, SQL("k.figure_id")
                ),
                pointing=POINTING,
            )
        )
        self.env["res.partner"].invalidate_model(["segmentation_figure_id"])

    @api.model
    def _write_sql(self, company, condition, pointers=False):
        """One UPDATE of the partners of the ``cs_change`` rows matching
        ``condition``, and, with ``pointers``, of the customers whose figures
        pointer is missing (``_point_figures`` in the same statement)."""
        columns = self._columns()
        assignments = SQL(", ").join(
            SQL(
                "%(column)s = CASE WHEN x.%(changed)s THEN %(value)s "
                "ELSE p.%(column)s END",
                column=SQL.identifier(column),
                changed=SQL.identifier(f"changed_{code}"),
                value=_set_value(
                    code, column, company, SQL("x.%s", SQL.identifier(f"new_{code}"))
                ),
            )
            for code, column in columns.items()
        )
        pivot = SQL(", ").join(
            SQL(
                """bool_or(c.dimension = %(code)s) AS %(changed)s,
                   max(c.new_id) FILTER (WHERE c.dimension = %(code)s) AS %(new)s""",
                code=code,
                changed=SQL.identifier(f"changed_{code}"),
                new=SQL.identifier(f"new_{code}"),
            )
            for code in columns
        )
        changes = SQL(
            """SELECT c.partner_id, c.dimension, c.new_id, NULL::int AS figure_id
                 FROM cs_change c
                WHERE %s AND c.dimension IN %s""",
            condition,
            tuple(columns),
        )
        written = list(columns.values())
        if pointers:
            assignments = SQL(
                "%s, segmentation_figure_id = CASE WHEN x.figure_id IS NULL "
                "THEN p.segmentation_figure_id ELSE %s END",
                assignments,
                _company_value("segmentation_figure_id", company, SQL("x.figure_id")),
            )
            changes = SQL(
                """%s UNION ALL
               SELECT k.partner_id, NULL, NULL, k.figure_id
                 FROM cs_classified k WHERE %s""",
                changes,
                POINTING,
            )
            written.append("segmentation_figure_id")
        self.env.execute_query(
            SQL(
                """
            UPDATE res_partner p SET %(assignments)s
              FROM (SELECT c.partner_id, %(pivot)s, max(c.figure_id) AS figure_id
                      FROM (%(changes)s) c
                  GROUP BY c.partner_id) x
             WHERE p.id = x.partner_id
                """,
                assignments=assignments,
                pivot=pivot,
                changes=changes,
            )
        )
        self.env["res.partner"].invalidate_model(written)

    @api.model
    def _write_own(self, company):
        """Every own change through the ORM: one write per dimension and new
        segment, tracked in the chatter and seen by Automation Rules. Not
        tracked: a customer's first segment on a dimension (a classification,
        not a change), and a contact every company reads (shared, with several
        companies): its chatter is read in every company, its history only in
        this one."""
        columns = self._columns()
        rows = self.env.execute_query(
            SQL(
                """SELECT c.dimension, c.new_id, c.old_id IS NULL,
                          array_agg(c.partner_id ORDER BY c.partner_id)
                     FROM cs_change c
                    WHERE c.own AND c.dimension IN %s
                 GROUP BY c.dimension, c.new_id, c.old_id IS NULL""",
                tuple(columns),
            )
        )
        if not rows:
            return
        shared = self._shared_partner_ids(company)
        Partner = (
            self.env["res.partner"]
            .sudo()
            .with_company(company)
            .with_context(**{WRITING_CONTEXT_KEY: True})
        )
        for dimension, new_id, first, partner_ids in rows:
            values = {columns[dimension]: new_id or False}
            quiet = set(partner_ids) if first else shared & set(partner_ids)
            tracked = [pid for pid in partner_ids if pid not in quiet]
            if tracked:
                Partner.browse(tracked).write(values)
            if quiet:
                Partner.browse(sorted(quiet)).with_context(mail_notrack=True).write(
                    values
                )

    @api.model
    def _shared_partner_ids(self, company):
        """Partners of ``cs_change`` that other companies' users read too,
        when there are other companies."""
        if self.env["res.company"].sudo().search_count([]) < 2:
            return set()
        return {
            row[0]
            for row in self.env.execute_query(
                SQL(
                    """SELECT DISTINCT c.partner_id FROM cs_change c
                         JOIN res_partner p ON p.id = c.partner_id
                        WHERE c.own AND p.company_id IS NULL"""
                )
            )
        }

    @api.model
    def _columns(self):
        """``{dimension code: partner column}`` of the single-segment
        dimensions in ``cs_change``."""
        fields_by_dimension = self.env["res.partner"]._segmentation_dimension_fields()
        Partner = self.env["res.partner"]
        return {
            code: name
            for code, name in fields_by_dimension.items()
            if Partner._fields[name].type == "many2one"
        }

    @api.model
    def _log(self, company, run, logged_rules):
        """History rows of the own changes: the rules' once the company has
        its baseline, pins and ended pins always."""
        self.env.execute_query(
            SQL(
                """
            INSERT INTO customer_segment_history (
                partner_id, company_id, dimension, old_segment_id,
                new_segment_id, date, user_id, run_id, cause, movement,
                reason_code, reason_values,
                create_uid, create_date, write_uid, write_date)
            SELECT c.partner_id,
                   CASE WHEN c.dimension IN %(company_codes)s THEN %(company)s END,
                   c.dimension, c.old_id, c.new_id, %(now)s, %(uid)s, %(run)s,
                   c.cause, %(movement)s, c.reason_code, c.reason_values,
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM cs_change c
              LEFT JOIN customer_segment so ON so.id = c.old_id
              LEFT JOIN customer_segment sn ON sn.id = c.new_id
             WHERE c.own AND (c.cause != 'rule' OR %(logged_rules)s)
                """,
                company_codes=COMPANY_DIMENSIONS,
                company=company.id,
                now=SQL("(now() AT TIME ZONE 'UTC')"),
                uid=self.env.uid,
                run=run.id if run else None,
                movement=MOVEMENT,
                logged_rules=logged_rules,
            )
        )
        self.env["customer.segment.history"].invalidate_model()

    # ------------------------------------------------------------------
    # Needs (several per contact)
    # ------------------------------------------------------------------

    @api.model
    def _apply_needs(self, scope, run, logged):
        """Add the needs whose rule a contact matches and remove those it no
        longer matches, through the ORM (one write per need); needs without
        a rule are left to the users.

        :return: needs added and removed
        """
        changes = self._need_changes_sql(scope)
        if changes is None:
            return 0
        rows = self.env.execute_query(
            SQL(
                """SELECT segment_id, added, array_agg(partner_id ORDER BY partner_id)
                     FROM (%s) n
                 GROUP BY segment_id, added
                 ORDER BY added DESC, segment_id""",
                changes,
            )
        )
        Partner = (
            self.env["res.partner"].sudo().with_context(**{WRITING_CONTEXT_KEY: True})
        )
        history = []
        for need_id, added, partner_ids in rows:
            command = Command.link(need_id) if added else Command.unlink(need_id)
            Partner.browse(partner_ids).write({"segment_need_ids": [command]})
            history += [
                {
                    "partner_id": partner_id,
                    "dimension": "need",
                    "date": fields.Datetime.now(),
                    "old_segment_id": False if added else need_id,
                    "new_segment_id": need_id if added else False,
                    "user_id": self.env.uid,
                    "run_id": run.id if run else False,
                    "cause": "rule",
                    "movement": "entry" if added else "exit",
                    "reason_code": "need_added" if added else "need_removed",
                }
                for partner_id in partner_ids
            ]
        if logged and history:
            self.env["customer.segment.history"].sudo().create(history)
        return sum(len(partner_ids) for _n, _a, partner_ids in rows)

    @api.model
    def _need_changes_sql(self, scope):
        """SELECT of ``(partner_id, segment_id, added)``: the needs with a
        rule that a partner of the scope's customers matches and does not
        hold (added), or holds and no longer matches; None when no need has
        a rule."""
        rules = self.env["customer.segmentation.rule"]._need_rules(scope.company)
        if not rules:
            return None
        wanted = SQL(" UNION ALL ").join(
            SQL("SELECT id AS partner_id, %s AS segment_id FROM (%s) m", need_id, q)
            for need_id, q in rules
        )
        return SQL(
            """
            WITH scope AS (
                SELECT id FROM res_partner p WHERE %(partners)s
            ),
            wanted AS (
                SELECT w.partner_id, w.segment_id FROM (%(wanted)s) w
                 WHERE w.partner_id IN (SELECT id FROM scope)
            ),
            held AS (
                SELECT rel.partner_id, rel.segment_id
                  FROM res_partner_customer_segment_need_rel rel
                 WHERE rel.partner_id IN (SELECT id FROM scope)
                   AND rel.segment_id = ANY(%(need_ids)s)
            )
            SELECT partner_id, segment_id, true AS added
              FROM (SELECT * FROM wanted EXCEPT SELECT * FROM held) a
             UNION ALL
            SELECT partner_id, segment_id, false
              FROM (SELECT * FROM held EXCEPT SELECT * FROM wanted) r
            """,
            partners=scope.partners_sql("p"),
            wanted=wanted,
            need_ids=[need_id for need_id, _q in rules],
        )


# The customers of cs_classified (k) whose figures pointer in the company is
# missing or stale.
POINTING = SQL(
    """k.is_entity AND k.figure_id IS NOT NULL
       AND k.pointed_figure_id IS DISTINCT FROM k.figure_id"""
)

# How a change moves a customer, from the levels of its segments.
MOVEMENT = SQL(
    """CASE WHEN c.new_id IS NULL THEN 'exit'
            WHEN sn.is_churn THEN 'churn'
            WHEN c.old_id IS NULL THEN 'entry'
            WHEN sn.rank > so.rank THEN 'upgrade'
            WHEN sn.rank < so.rank THEN 'downgrade'
            ELSE 'lateral' END"""
)


def _set_value(code, column, company, value):
    """SQL of the new content of ``column`` for ``value``: the company's key
    of a company-dependent column, else the value."""
    if code in COMPANY_DIMENSIONS:
        return _company_value(column, company, value)
    return value


def _company_value(column, company, value):
    """SQL of the company-dependent column ``column`` of partner ``p`` with
    ``value`` as the company's."""
    return SQL(
        "COALESCE(p.%s, '{}'::jsonb) || jsonb_build_object(%s, %s)",
        SQL.identifier(column),
        str(company.id),
        value,
    )
