#!/usr/bin/env python3
"""Time customer_segmentation's recompute paths on a generated database.

    python3 benchmarks/run.py -d cs_bench_100k

Steps, each measured in its own transaction and committed, so every time
includes the commit:

(o) old bare-SQL reference (issue 3): one aggregate of the confirmed orders
    per commercial partner (last order date; count and untaxed amount in the
    company currency over the module's look-back window) written by one UPDATE
    into ``last_order_date``, ``rfm_frequency`` and ``rfm_monetary`` of every
    partner, and nothing else.
(b) bare-SQL reference: the same result as the module, in the least work the
    database can do: the orders aggregated once per commercial partner (into a
    temporary table), the population thresholds computed from that aggregate,
    then one UPDATE writing every partner once with all the columns the module
    computes: dates, figures, R/F/M scores, value tier, lifecycle stage and RFM
    segment of its commercial entity, and its own geography, business scale
    (of its commercial entity) and job level. No history, no chatter, no pins
    (the benchmark database has none), no guard against unchanged rows (after
    the reset every row changes).
(a) ``env['res.partner'].recompute_all_segments()`` after the same reset,
    history and chatter included; afterwards every partner's columns are
    compared with what (b) wrote.
(c) the same call right after (a): nothing changed, so it writes nothing.
(f) optional (not in the default steps): every classified partner is first
    moved to the next lifecycle stage (not timed), then the full recompute
    puts them back: a night where every customer changes segment, with its
    history, chatter messages and tracking values.
(d) incremental path: ``--quotations`` quotations of distinct customers
    confirmed one by one (``action_confirm()``, flush, commit: one transaction
    each, as one click each), then ``--bulk-quotations`` others in one
    ``action_confirm()`` call; then the same again on other quotations with
    the module's hook (``res.partner._segmentation_refresh``) switched off:
    the baseline, what Odoo costs without the module. Afterwards the orders,
    their lines, followers and messages are put back as they were. "In module
    hook" is the time spent inside ``_segmentation_refresh``, including the
    flush of the order's pending writes it starts with.
(e) the nightly cron path: ``_cron_recompute_segments(batch_size=,
    time_budget=)`` called again and again, as ``ir.cron`` does while
    progress remains, until its run is done.

Before (o), (b) and (a) the module's classified columns (``STORED_FIELDS`` and
``PROFILE_FIELDS``) are emptied on every partner and the table vacuumed (not
timed), so that (a) and (b) write the same rows into the same table state.
The history rows, chatter messages and tracking values (a) writes are counted
and kept. The generated data stays; the segment
columns end recomputed, by (e) or else by a last untimed full recompute, so
the script can be run again at once.

Memory is this process's resident set (RSS): its growth over a step and the
step's peak (the kernel's high-water mark, reset before the step), plus the
peak of the whole process (``ru_maxrss``). The PostgreSQL server's memory is
not included.
"""

import datetime
import hashlib
import json
import os
import re
import statistics
import sys
import time
import tracemalloc

from benchlib import (
    ORDER_PREFIX,
    Memory,
    Stopwatch,
    add_common_arguments,
    autocommit_cursor,
    environment,
    open_registry,
    parser,
    pg_settings,
)

# Copies of the orders confirmed by step (d), to put them back (kept until
# then, so an interrupted run is repaired by the next one).
RESTORE_TABLES = {
    "sale_order": "benchmark_restore_sale_order",
    "sale_order_line": "benchmark_restore_sale_order_line",
}
INSTRUMENTED = (
    ("res.partner", "_segmentation_population_stats"),
    ("res.partner", "_segmentation_apply"),
    ("res.partner", "_segmentation_apply_profile"),
    # both in one statement (benchmarks/README.md, suggestions)
    ("res.partner", "_segmentation_apply_all"),
    ("res.partner", "_segmentation_refresh"),
)
# Tables the module's history and chatter go to: rows written are counted.
LOG_TABLES = ("customer_segment_history", "mail_message", "mail_tracking_value")
# The reference's result, kept to compare (a) with, column by column.
REFERENCE_TABLE = "benchmark_reference_result"

# The orders, each with the rate dividing its untaxed amount into the company
# currency, by the module's rule, and whether it is a purchase: confirmed,
# dated (UTC day) up to today, with a rate. The rate is the order's
# currency_rate when positive and finite; else (the few orders of
# FALLBACK_RATE_ORDERS) 1 in the company currency, else the ratio of the
# latest rates on or before the order's day of its currency and of the
# company's (the company's own rates before the shared ones; the company
# currency without one counts as 1, or its first rate); NULL, and the order
# is no purchase, when its currency has no such rate. The generated orders
# all have a usable rate.
OWN_RATE_ORDERS = """(
    SELECT so.partner_id, so.state, so.date_order, so.amount_untaxed,
           so.currency_rate AS rate,
           so.state = 'sale' AND so.date_order < %(tomorrow)s AS purchase
      FROM sale_order so
     WHERE so.state <> 'sale'
        OR (so.currency_rate > 0 AND so.currency_rate < 'Infinity'::numeric)
)"""
FALLBACK_RATE_ORDERS = """(
    SELECT x.*, x.state = 'sale' AND x.date_order < %(tomorrow)s
                AND x.rate IS NOT NULL AS purchase
      FROM (
        SELECT bad.partner_id, bad.state, bad.date_order, bad.amount_untaxed,
               CASE WHEN bad.currency_id = co.currency_id THEN 1::numeric
                    ELSE own.rate / COALESCE(home.rate, home_first.rate, 1)
               END AS rate
          FROM sale_order bad
          JOIN res_company co ON co.id = bad.company_id
          JOIN res_company root
            ON root.id = split_part(co.parent_path, '/', 1)::int
          LEFT JOIN LATERAL (
              SELECT r.rate FROM res_currency_rate r
               WHERE r.currency_id = bad.currency_id
                 AND r.name <= bad.date_order::date
                 AND (r.company_id IS NULL OR r.company_id = root.id)
            ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1) own ON true
          LEFT JOIN LATERAL (
              SELECT r.rate FROM res_currency_rate r
               WHERE r.currency_id = co.currency_id
                 AND r.name <= bad.date_order::date
                 AND (r.company_id IS NULL OR r.company_id = root.id)
            ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1) home ON true
          LEFT JOIN LATERAL (
              SELECT r.rate FROM res_currency_rate r
               WHERE r.currency_id = co.currency_id
                 AND (r.company_id IS NULL OR r.company_id = root.id)
            ORDER BY r.company_id NULLS LAST, r.name LIMIT 1) home_first ON true
         WHERE bad.state = 'sale'
           AND (bad.currency_rate IS NULL OR bad.currency_rate <= 0
                OR bad.currency_rate >= 'Infinity'::numeric)
      ) x
)"""


def _per_customer(orders):
    """Per commercial partner, over ``orders``: first and last purchase date,
    count and amount of the purchases in the window, and whether an open
    quotation or a confirmed order dated later makes a prospect."""
    return f"""
    SELECT p.commercial_partner_id AS customer_id,
           min(so.date_order) FILTER (WHERE so.purchase)::date AS first_date,
           max(so.date_order) FILTER (WHERE so.purchase)::date AS last_date,
           count(*) FILTER (WHERE so.purchase
                              AND so.date_order >= %(window_start)s) AS frequency,
           sum(so.amount_untaxed / so.rate)
               FILTER (WHERE so.purchase
                         AND so.date_order >= %(window_start)s) AS monetary,
           bool_or(so.state IN ('draft', 'sent')
                   OR (so.state = 'sale' AND so.date_order >= %(tomorrow)s))
               AS quoted
      FROM {orders} so
      JOIN res_partner p ON p.id = so.partner_id
  GROUP BY p.commercial_partner_id"""


# The orders aggregated once per commercial partner, in two parts combined:
# the few orders needing a rate lookup apart, so that the lookups keep
# PostgreSQL from aggregating the others in parallel.
ORDER_AGGREGATE = f"""
SELECT customer_id, min(first_date) AS first_date, max(last_date) AS last_date,
       sum(frequency)::bigint AS frequency, sum(monetary) AS monetary,
       bool_or(quoted) AS quoted
  FROM ({_per_customer(OWN_RATE_ORDERS)}
        UNION ALL {_per_customer(FALLBACK_RATE_ORDERS)}) parts
 GROUP BY customer_id
"""

# Per commercial partner: last purchase date, and count and untaxed amount in
# company currency of the purchases in the window (and what (b) needs).
PURCHASE = f"""
WITH purchase AS ({ORDER_AGGREGATE})
"""

# Every partner gets its commercial partner's figures: the old reference of
# issue 3, three columns.
REFERENCE_UPDATE = (
    PURCHASE
    + """
UPDATE res_partner p
   SET last_order_date = a.last_date,
       rfm_frequency = COALESCE(a.frequency, 0),
       rfm_monetary = COALESCE(a.monetary, 0)
  FROM res_partner c
  LEFT JOIN purchase a ON a.customer_id = c.id
 WHERE c.id = c.commercial_partner_id
   AND p.commercial_partner_id = c.id
"""
)

# Partners whose module figures differ from the reference definition.
REFERENCE_MISMATCHES = (
    PURCHASE
    + """
SELECT count(*)
  FROM res_partner p
  JOIN res_partner c ON c.id = p.commercial_partner_id
  LEFT JOIN purchase a ON a.customer_id = c.id
 WHERE c.id = c.commercial_partner_id
   AND (p.last_order_date, p.rfm_frequency, round(p.rfm_monetary, 6))
       IS DISTINCT FROM
       (a.last_date, COALESCE(a.frequency, 0), round(COALESCE(a.monetary, 0), 6))
"""
)


# (b), first statement: the orders aggregated once per commercial partner.
FULL_AGGREGATE = (
    "CREATE TEMP TABLE benchmark_purchase ON COMMIT DROP AS" + ORDER_AGGREGATE
)

# (b), second statement: the population thresholds, from the aggregate. A
# score is ceil(5 * cume_dist) among the customers buying in the window; the
# breakpoint of a score is the largest value getting it; the quantile
# cut-offs are the amounts at the last high and medium ranks.
FULL_STATS = """
WITH buyer AS (
    SELECT last_date, frequency, monetary, count(*) OVER () AS total
      FROM benchmark_purchase WHERE frequency > 0
),
ranked AS (
    SELECT last_date, frequency, monetary, total,
           (5 * count(*) OVER (ORDER BY last_date) + total - 1) / total AS r,
           (5 * count(*) OVER (ORDER BY frequency) + total - 1) / total AS f,
           (5 * count(*) OVER (ORDER BY monetary) + total - 1) / total AS m,
           row_number() OVER (ORDER BY monetary DESC) AS m_rank
      FROM buyer
)
SELECT 'recency', r, max(last_date)::text FROM ranked GROUP BY r
UNION ALL SELECT 'frequency', f, max(frequency)::text FROM ranked GROUP BY f
UNION ALL SELECT 'monetary', m, max(monetary)::text FROM ranked GROUP BY m
UNION ALL SELECT 'high', 0, max(monetary)::text FROM ranked
           WHERE m_rank = ceil(round(%(high_share)s::numeric * total, 9))
UNION ALL SELECT 'medium', 0, max(monetary)::text FROM ranked
           WHERE m_rank = ceil(round(%(medium_share)s::numeric * total, 9))
"""

# (b), third statement: every partner written once with every column.
FULL_UPDATE = """
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
       segment_rfm_id = (%(rfm_cells)s::int[])[(r.r_score - 1) * 5 + r.f_score],
       segment_geo_id = r.geo_id,
       segment_scale_id = r.scale_id,
       segment_job_level_id = r.job_level_id
  FROM (
    SELECT x.*,
           CASE WHEN x.frequency > 0 THEN {r_score} END AS r_score,
           CASE WHEN x.frequency > 0 THEN {f_score} END AS f_score,
           CASE WHEN x.frequency > 0 THEN {m_score} END AS m_score,
           CASE WHEN x.last_date IS NULL THEN NULL
                WHEN x.window_monetary >= %(high_cutoff)s::numeric THEN %(high)s
                WHEN x.window_monetary >= %(medium_cutoff)s::numeric THEN %(medium)s
                ELSE %(low)s END AS value_id,
           CASE WHEN x.last_date IS NULL
                    THEN CASE WHEN x.quoted OR {opportunity} THEN %(prospect)s END
                WHEN %(today)s::date - x.first_date <= %(new_days)s THEN %(new)s
                WHEN %(today)s::date - x.last_date <= %(active_days)s
                    THEN %(active)s
                WHEN %(today)s::date - x.last_date <= %(churn_days)s
                    THEN %(at_risk)s
                ELSE %(churned)s END AS lifecycle_id
      FROM (
        SELECT q.id, e.id AS customer_id, a.first_date, a.last_date,
               COALESCE(a.frequency, 0) AS frequency,
               COALESCE(a.monetary, 0) AS monetary,
               a.monetary AS window_monetary,
               COALESCE(a.quoted, false) AS quoted,
               CASE WHEN q.country_id IS NULL THEN NULL
                    WHEN q.country_id = cp.country_id
                         AND q.state_id = cp.state_id THEN %(local)s
                    WHEN q.country_id = cp.country_id THEN %(domestic)s
                    ELSE %(international)s END AS geo_id,
               CASE WHEN NOT e.is_company THEN NULL
                    WHEN e.segmentation_employee_count >= %(large_employees)s
                      OR e.segmentation_annual_revenue >= %(large_revenue)s::numeric
                        THEN %(large)s
                    WHEN e.segmentation_employee_count >= %(medium_employees)s
                      OR e.segmentation_annual_revenue >= %(medium_revenue)s::numeric
                        THEN %(medium_scale)s
                    WHEN e.segmentation_employee_count > 0
                      OR e.segmentation_annual_revenue > 0 THEN %(small)s
               END AS scale_id,
               CASE WHEN q.is_company OR COALESCE(q.function, '') = '' THEN NULL
                    {job_levels} END AS job_level_id
          FROM res_partner q
          JOIN res_partner e ON e.id = q.commercial_partner_id
          LEFT JOIN benchmark_purchase a ON a.customer_id = e.id
          LEFT JOIN res_company co ON co.id = COALESCE(q.company_id, %(main_company)s)
          LEFT JOIN res_partner cp ON cp.id = co.partner_id
      ) x
  ) r
 WHERE p.id = r.id
"""

# Columns every partner gets from (a) and (b), compared after (a).
COMPARED_COLUMNS = (
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
    "segment_geo_id",
    "segment_scale_id",
    "segment_job_level_id",
)


def parse_args():
    arguments = parser(__doc__)
    add_common_arguments(arguments)
    arguments.add_argument(
        "--steps",
        default="obacde",
        help="steps to run, among o, b, a, c, f, d, e (default: obacde; c needs a)",
    )
    arguments.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run o, b, a, c this many times and report the medians",
    )
    arguments.add_argument(
        "--quotations",
        type=int,
        default=100,
        help="(d) quotations confirmed one by one (default 100)",
    )
    arguments.add_argument(
        "--bulk-quotations",
        type=int,
        default=1000,
        help="(d) quotations confirmed in one call (default 1000)",
    )
    arguments.add_argument(
        "--no-baseline",
        action="store_true",
        help="(d) skip the baseline: the same confirmations without the module's hook",
    )
    arguments.add_argument(
        "--batch-size",
        type=int,
        help="(e) customers per batch (default: the nightly cron's)",
    )
    arguments.add_argument(
        "--time-budget",
        type=float,
        default=240,
        help="(e) seconds per cron call before it yields (default 240)",
    )
    arguments.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python allocations during (a) and (c); slows them",
    )
    arguments.add_argument(
        "--json-only", action="store_true", help="print only the JSON line"
    )
    return arguments.parse_args()


class Benchmark:
    def __init__(self, registry, args):
        self.registry = registry
        self.args = args
        self.memory = Memory()
        self.timings = {}  # instrumented method name -> [seconds]
        self.stored_fields = self._stored_fields()

    # ------------------------------------------------------------------
    # Set-up and helpers
    # ------------------------------------------------------------------

    @staticmethod
    def _stored_fields():
        """The columns the module classifies: emptied before (o), (b), (a)."""
        # imported late: the registry must be loaded first
        from odoo.addons.customer_segmentation.models import res_partner

        return tuple(res_partner.STORED_FIELDS) + tuple(
            getattr(res_partner, "PROFILE_FIELDS", ())
        )

    def log(self, message):
        if not self.args.json_only:
            print(message, flush=True)

    def describe(self):
        with environment(self.registry) as env:
            cr = env.cr
            cr.execute(
                """
                SELECT count(*) FILTER (WHERE id = commercial_partner_id),
                       count(*)
                  FROM res_partner
                """
            )
            customers, partners = cr.fetchone()
            cr.execute(
                "SELECT count(*), count(*) FILTER (WHERE state = 'sale') "
                "FROM sale_order"
            )
            orders, confirmed = cr.fetchone()
            cr.execute(
                "SELECT count(*) FROM sale_order WHERE name LIKE %s",
                [ORDER_PREFIX + "%"],
            )
            if not cr.fetchone()[0]:
                sys.exit("no generated orders: run benchmarks/generate.py first")
            return {
                "db": self.registry.db_name,
                "module": module_fingerprint(),
                "customers": customers,
                "partners": partners,
                "orders": orders,
                "confirmed_orders": confirmed,
                "window_start": str(self.window_start(env)),
                "pg": pg_settings(cr),
            }

    def repair(self):
        """Put back orders left confirmed by an interrupted step (d), and
        abandon unfinished runs, so every step starts from the generated data."""
        with environment(self.registry) as env:
            cr = env.cr
            cr.execute("SELECT to_regclass(%s)", [RESTORE_TABLES["sale_order"]])
            if cr.fetchone()[0]:
                self.log("restoring the orders of an interrupted step (d)")
                self._restore(env)
            env["customer.segmentation.run"].search([("state", "=", "running")]).write(
                {"state": "abandoned"}
            )

    def warm_up(self):
        """Read the tables once and load the module's code paths (not timed)."""
        with environment(self.registry) as env:
            Partner = env["res.partner"]
            params = Partner._segmentation_params()
            Partner._segmentation_segment_ids()
            env.cr.execute(
                PURCHASE + "SELECT count(*) FROM purchase",
                self.purchase_bounds(env, params),
            )

    @classmethod
    def purchase_bounds(cls, env, params=None):
        """Parameters of PURCHASE: the window's start, and tomorrow (orders
        dated from then on are no purchases yet)."""
        return {
            "window_start": cls.window_start(env, params),
            "tomorrow": cls.today(env) + datetime.timedelta(days=1),
        }

    @staticmethod
    def window_start(env, params=None):
        from odoo import fields

        Partner = env["res.partner"]
        params = params or Partner._segmentation_params()
        return Partner._segmentation_window_start(
            params, fields.Date.context_today(Partner)
        )

    def reset(self):
        """Empty the module's stored columns, forget the runs, and vacuum (not
        timed): the next full recompute is the installation's first, the
        baseline, which logs no rule changes."""
        columns = ", ".join(self.stored_fields)
        nulls = ", ".join("NULL" for _name in self.stored_fields)
        with Stopwatch() as watch:
            with environment(self.registry) as env:
                env.cr.execute(
                    f"UPDATE res_partner SET ({columns}) = ROW({nulls}) "
                    f"WHERE ({columns}) IS DISTINCT FROM ({nulls})"
                )
                env.cr.execute("DELETE FROM customer_segmentation_run")
            with autocommit_cursor(self.registry) as cr:
                cr.execute("VACUUM res_partner")
        return watch.seconds

    def instrument(self):
        """Time the module's engine methods (negligible overhead)."""
        undo = []
        for model, method in INSTRUMENTED:
            cls = self.registry[model]
            original = getattr(cls, method, None)
            if original is None:
                continue
            bucket = self.timings.setdefault(method, [])

            def wrapper(record, *args, _original=original, _bucket=bucket, **kw):
                start = time.perf_counter()
                try:
                    return _original(record, *args, **kw)
                finally:
                    _bucket.append(time.perf_counter() - start)

            own = cls.__dict__.get(method)
            setattr(cls, method, wrapper)
            undo.append((cls, method, own))
        return undo

    @staticmethod
    def uninstrument(undo):
        for cls, method, own in undo:
            if own is None:
                delattr(cls, method)
            else:
                setattr(cls, method, own)

    def take_timings(self):
        taken = {name: sum(values) for name, values in self.timings.items()}
        counts = {name: len(values) for name, values in self.timings.items()}
        # the instrumented wrappers keep appending to these same lists
        for values in self.timings.values():
            values.clear()
        return taken, counts

    def measure(self, function, trace=False):
        """Run ``function(env)`` in a new transaction, commit, and return
        (result, figures): seconds including the commit, queries, memory."""
        self.memory.reset_peak()
        rss_before = self.memory.rss_mib()
        if trace:
            tracemalloc.start()
        with environment(self.registry) as env:
            queries_before = env.cr.sql_log_count
            start = time.perf_counter()
            result = function(env)
            env.cr.commit()
            seconds = time.perf_counter() - start
            queries = env.cr.sql_log_count - queries_before
        figures = {
            "seconds": seconds,
            "queries": queries,
            "rss_before_mib": rss_before,
            "rss_growth_mib": self.memory.rss_mib() - rss_before,
            "peak_rss_mib": self.memory.peak_mib(),
        }
        if trace:
            figures["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        return result, figures

    # ------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------

    def step_old_reference(self):
        def reference(env):
            env.cr.execute(REFERENCE_UPDATE, self.purchase_bounds(env))
            return env.cr.rowcount

        written, figures = self.measure(reference)
        figures["written"] = written
        return figures

    def step_reference(self):
        """(b): the module's result in three statements; their times, and a
        copy of the result (not timed) to compare (a) with."""
        parts = {}
        written, figures = self.measure(
            lambda env: self.full_reference(env, parts=parts)
        )
        figures["written"] = written
        figures.update(parts)
        columns = ", ".join(COMPARED_COLUMNS)
        with environment(self.registry) as env:
            env.cr.execute(f"DROP TABLE IF EXISTS {REFERENCE_TABLE}")
            env.cr.execute(
                f"CREATE UNLOGGED TABLE {REFERENCE_TABLE} AS "  # noqa: S608
                f"SELECT id, {columns} FROM res_partner"
            )
        self.reference_saved = True
        return figures

    def full_reference(self, env, parts=None):
        """Run (b) in ``env``'s transaction; return the rows written."""
        parts = {} if parts is None else parts
        cr = env.cr
        Partner = env["res.partner"]
        params = Partner._segmentation_params()
        today = self.today(env)
        window_start = Partner._segmentation_window_start(params, today)
        with Stopwatch() as watch:
            cr.execute(
                FULL_AGGREGATE,
                {
                    "window_start": window_start,
                    "tomorrow": today + datetime.timedelta(days=1),
                },
            )
            cr.execute("ANALYZE benchmark_purchase")
        parts["aggregate_s"] = watch.seconds
        with Stopwatch() as watch:
            cr.execute(
                FULL_STATS,
                {
                    "high_share": str(params["value_high_share"]),
                    "medium_share": str(
                        params["value_high_share"] + params["value_medium_share"]
                    ),
                },
            )
            breaks = {"recency": [], "frequency": [], "monetary": []}
            cutoffs = {}
            for kind, score, value in cr.fetchall():
                if kind in breaks:
                    breaks[kind].append((score, value))
                else:
                    cutoffs[kind] = value
        parts["stats_s"] = watch.seconds
        if params["value_method"] == "fixed":
            cutoffs = {
                "high": params["value_high_amount"],
                "medium": params["value_medium_amount"],
            }
        segments = self.reference_segments(cr)
        values = {
            **segments["codes"],
            "rfm_cells": segments["rfm_cells"],
            "high_cutoff": _text(cutoffs.get("high")),
            "medium_cutoff": _text(cutoffs.get("medium")),
            "today": today,
            "new_days": params["new_days"],
            "active_days": params["active_days"],
            "churn_days": params["churn_days"],
            "large_employees": params["scale_large_employees"],
            "medium_employees": params["scale_medium_employees"],
            "large_revenue": _text(params["scale_large_revenue"]),
            "medium_revenue": _text(params["scale_medium_revenue"]),
            "main_company": Partner._segmentation_main_company_id(),
        }
        job_levels = []
        for index, (segment_id, regex, patterns) in enumerate(segments["job_levels"]):
            job_levels.append(
                f"WHEN q.function ~* %(job_regex_{index})s "
                f"OR q.function ILIKE ANY(%(job_{index})s::text[]) "
                f"THEN {int(segment_id)}"
            )
            values[f"job_{index}"] = patterns
            values[f"job_regex_{index}"] = regex
        cr.execute("SELECT to_regclass('crm_lead') IS NOT NULL")
        opportunity = "false"
        if cr.fetchone()[0]:
            opportunity = """EXISTS (
                SELECT 1 FROM crm_lead l
                  JOIN res_partner lp ON lp.id = l.partner_id
                  LEFT JOIN crm_stage st ON st.id = l.stage_id
                 WHERE lp.commercial_partner_id = x.customer_id AND l.active
                   AND l.type = 'opportunity' AND NOT COALESCE(st.is_won, false))"""
        query = FULL_UPDATE.format(
            r_score=_score("x.last_date", breaks["recency"], "date"),
            f_score=_score("x.frequency", breaks["frequency"], "int"),
            m_score=_score("x.monetary", breaks["monetary"], "numeric"),
            opportunity=opportunity,
            job_levels=" ".join(job_levels),
        )
        with Stopwatch() as watch:
            cr.execute(query, values)
            written = cr.rowcount
        parts["update_s"] = watch.seconds
        return written

    @staticmethod
    def reference_segments(cr):
        """Segment ids by dimension and code, the RFM map (25 cells, R-major,
        the first segment by sequence winning a cell) and the job levels'
        ILIKE patterns, in priority order, read from ``customer_segment``."""
        cr.execute(
            """
            SELECT id, dimension, code, rfm_recency_min, rfm_recency_max,
                   rfm_frequency_min, rfm_frequency_max, job_title_keywords
              FROM customer_segment
             WHERE active
          ORDER BY sequence, id
            """
        )
        ids, cells, job_levels = {}, [None] * 25, []
        for row in cr.fetchall():
            segment_id, dimension, code, r_min, r_max, f_min, f_max, words = row
            ids.setdefault((dimension, code), segment_id)
            if dimension == "rfm":
                for r in range(max(r_min or 1, 1), min(r_max or 5, 5) + 1):
                    for f in range(max(f_min or 1, 1), min(f_max or 5, 5) + 1):
                        if cells[(r - 1) * 5 + f - 1] is None:
                            cells[(r - 1) * 5 + f - 1] = segment_id
            elif dimension == "job_level":
                # as the module: Latin keywords match whole words, others
                # (Chinese) anywhere in the title
                keywords = [w.strip() for w in (words or "").split(",") if w.strip()]
                latin = [re.escape(w) for w in keywords if w.isascii()]
                patterns = [
                    "%"
                    + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    + "%"
                    for w in keywords
                    if not w.isascii()
                ]
                if keywords:
                    regex = r"\m(" + "|".join(latin) + r")\M" if latin else "$^"
                    job_levels.append((segment_id, regex, patterns))
        names = {
            "high": ("value", "high"),
            "medium": ("value", "medium"),
            "low": ("value", "low"),
            "prospect": ("lifecycle", "prospect"),
            "new": ("lifecycle", "new"),
            "active": ("lifecycle", "active"),
            "at_risk": ("lifecycle", "at_risk"),
            "churned": ("lifecycle", "churned"),
            "local": ("geo", "local"),
            "domestic": ("geo", "domestic"),
            "international": ("geo", "international"),
            "large": ("scale", "large"),
            "medium_scale": ("scale", "medium"),
            "small": ("scale", "small"),
        }
        return {
            "codes": {name: ids.get(key) for name, key in names.items()},
            "rfm_cells": cells,
            "job_levels": job_levels,
        }

    @staticmethod
    def today(env):
        from odoo import fields

        return fields.Date.context_today(env["res.partner"])

    def compare_with_reference(self, env):
        """Partners whose columns differ from (b)'s result: in total and per
        column (None when (b) did not run in this process)."""
        if not getattr(self, "reference_saved", False):
            return None
        checks = ", ".join(
            f"count(*) FILTER (WHERE p.{c} IS DISTINCT FROM r.{c})"
            if c != "rfm_monetary"
            else "count(*) FILTER (WHERE round(p.rfm_monetary, 6) "
            "IS DISTINCT FROM round(r.rfm_monetary, 6))"
            for c in COMPARED_COLUMNS
        )

        def row(alias):
            return ", ".join(
                f"round({alias}.{c}, 6)" if c == "rfm_monetary" else f"{alias}.{c}"
                for c in COMPARED_COLUMNS
            )

        row_old, row_ref = row("p"), row("r")
        env.cr.execute(
            f"""SELECT count(*) FILTER (WHERE ({row_old}) IS DISTINCT FROM
                                        ({row_ref})), {checks}
                  FROM res_partner p
                  FULL JOIN {REFERENCE_TABLE} r ON r.id = p.id"""  # noqa: S608
        )
        total, *per_column = env.cr.fetchone()
        return {
            "partners": total,
            "columns": {
                c: n for c, n in zip(COMPARED_COLUMNS, per_column, strict=True) if n
            },
        }

    def log_rows(self, env):
        counts = {}
        for table in LOG_TABLES:
            env.cr.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")  # noqa: S608
            counts[table] = env.cr.fetchone()[0]
        return counts

    def step_full(self, label):
        with environment(self.registry) as env:
            logged_before = self.log_rows(env)
        undo = self.instrument()
        try:
            summary, figures = self.measure(
                lambda env: env["res.partner"].recompute_all_segments(),
                trace=self.args.tracemalloc,
            )
        finally:
            self.uninstrument(undo)
        parts, _counts = self.take_timings()
        figures["customers"] = summary.get("customers")
        figures["written"] = summary.get("written")
        figures["changes"] = summary.get("changes")
        figures["population_stats_s"] = parts.get("_segmentation_population_stats")
        figures["apply_s"] = parts.get("_segmentation_apply")
        figures["profile_s"] = parts.get("_segmentation_apply_profile")
        if "_segmentation_apply_all" in parts:
            # one statement does both: no split
            figures["apply_s"] = parts["_segmentation_apply_all"]
            figures["profile_s"] = 0.0
        figures["customers_per_s"] = (summary.get("customers") or 0) / figures[
            "seconds"
        ]
        with environment(self.registry) as env:
            env.cr.execute(REFERENCE_MISMATCHES, self.purchase_bounds(env))
            figures["mismatches_vs_reference"] = env.cr.fetchone()[0]
            differing = self.compare_with_reference(env)
            if differing is not None:
                figures["differing_from_b"] = differing["partners"]
                figures["differing_columns"] = differing["columns"]
            logged_after = self.log_rows(env)
        for table in LOG_TABLES:
            figures[f"rows_{table}"] = logged_after[table] - logged_before[table]
        self.log(f"  ({label}) {figures['seconds']:.2f} s, summary {summary}")
        return figures

    def shift_lifecycle(self):
        """Move every classified partner to the next lifecycle stage (not
        timed), so that the next recompute changes everyone back."""
        with environment(self.registry) as env:
            env.cr.execute(
                """SELECT array_agg(id ORDER BY sequence, id) FROM customer_segment
                    WHERE dimension = 'lifecycle' AND active"""
            )
            ids = env.cr.fetchone()[0]
            env.cr.execute(
                """UPDATE res_partner
                      SET segment_lifecycle_id = (%(ids)s::int[])[
                          array_position(%(ids)s::int[], segment_lifecycle_id)
                          %% cardinality(%(ids)s::int[]) + 1]
                    WHERE segment_lifecycle_id IS NOT NULL""",
                {"ids": ids},
            )
        with autocommit_cursor(self.registry) as cr:
            cr.execute("VACUUM res_partner")

    def pick_quotations(self, count):
        """Generated quotations of ``count`` distinct active customers, in a
        fixed pseudo-random order."""
        with environment(self.registry) as env:
            env.cr.execute(
                """
                SELECT id FROM (
                    SELECT DISTINCT ON (p.commercial_partner_id)
                           so.id, p.commercial_partner_id AS customer_id
                      FROM sale_order so
                      JOIN res_partner p ON p.id = so.partner_id
                      JOIN res_partner c ON c.id = p.commercial_partner_id
                     WHERE so.state IN ('draft', 'sent') AND so.name LIKE %s
                       AND p.active AND c.active
                  ORDER BY p.commercial_partner_id, so.id
                ) q
                ORDER BY hashint4(customer_id), customer_id
                LIMIT %s
                """,
                [ORDER_PREFIX + "%", count],
            )
            return [row[0] for row in env.cr.fetchall()]

    def _snapshot(self, env, order_ids):
        cr = env.cr
        cr.execute("SELECT COALESCE(max(id), 0) FROM mail_message")
        message_max = cr.fetchone()[0]
        cr.execute("SELECT COALESCE(max(id), 0) FROM mail_followers")
        follower_max = cr.fetchone()[0]
        cr.execute(
            f"""CREATE TABLE {RESTORE_TABLES["sale_order"]} AS
                SELECT *, %s::int AS bench_message_max,
                       %s::int AS bench_follower_max
                  FROM sale_order WHERE id = ANY(%s)""",
            [message_max, follower_max, order_ids],
        )
        cr.execute(
            f"""CREATE TABLE {RESTORE_TABLES["sale_order_line"]} AS
                SELECT * FROM sale_order_line WHERE order_id = ANY(%s)""",
            [order_ids],
        )

    def _restore(self, env):
        """Put the snapshot rows back, remove the chatter the confirmations
        added, drop the snapshot."""
        cr = env.cr
        for table, copy in RESTORE_TABLES.items():
            cr.execute(
                """SELECT column_name FROM information_schema.columns
                    WHERE table_name = %s AND column_name <> 'id'
                    ORDER BY ordinal_position""",
                [table],
            )
            columns = [row[0] for row in cr.fetchall()]
            target = ", ".join(f'"{c}"' for c in columns)
            source = ", ".join(f'r."{c}"' for c in columns)
            cr.execute(
                f"UPDATE {table} t SET ({target}) = ROW({source}) "
                f"FROM {copy} r WHERE t.id = r.id"
            )
        cr.execute(
            f"""
            DELETE FROM mail_message m
             USING (SELECT min(bench_message_max) AS max_id, array_agg(id) AS ids
                      FROM {RESTORE_TABLES["sale_order"]}) s
             WHERE m.id > s.max_id AND m.model = 'sale.order'
               AND m.res_id = ANY(s.ids)
            """
        )
        cr.execute(
            f"""
            DELETE FROM mail_followers f
             USING (SELECT min(bench_follower_max) AS max_id, array_agg(id) AS ids
                      FROM {RESTORE_TABLES["sale_order"]}) s
             WHERE f.id > s.max_id AND f.res_model = 'sale.order'
               AND f.res_id = ANY(s.ids)
            """
        )
        for copy in RESTORE_TABLES.values():
            cr.execute(f"DROP TABLE {copy}")
        env.invalidate_all()

    def step_incremental(self):
        """Confirm quotations with the module's hook and (baseline) others with
        the hook switched off: the difference is what the module adds. Single
        confirmations alternate between the two, after one rolled-back warm-up
        confirmation each, so that both see the same conditions."""
        modes = (True,) if self.args.no_baseline else (True, False)
        wanted = len(modes) * (1 + self.args.quotations + self.args.bulk_quotations)
        order_ids = self.pick_quotations(wanted)
        with environment(self.registry) as env:
            self._snapshot(env, order_ids)
        size = len(order_ids) // len(modes)
        groups = {
            hook: order_ids[index * size : (index + 1) * size]
            for index, hook in enumerate(modes)
        }
        single = min(self.args.quotations, size - 1)
        figures = {"picked": len(order_ids)}
        try:
            for hook in modes:
                self._confirm_one(groups[hook][0], hook, commit=False)
            singles = {hook: [] for hook in modes}
            self.memory.reset_peak()
            rss_before = self.memory.rss_mib()
            for index in range(1, 1 + single):
                for hook in modes:
                    singles[hook].append(self._confirm_one(groups[hook][index], hook))
            memory = {
                "rss_growth_mib": self.memory.rss_mib() - rss_before,
                "peak_rss_mib": self.memory.peak_mib(),
            }
            for hook in modes:
                series = {}
                if singles[hook]:
                    series["single"] = _summarize_singles(singles[hook]) | memory
                bulk_ids = groups[hook][1 + single :]
                if bulk_ids:
                    series["bulk"] = self._confirm_bulk(bulk_ids, hook)
                if hook:
                    figures.update(series)
                else:
                    figures["baseline"] = series
        finally:
            with Stopwatch() as watch, environment(self.registry) as env:
                self._restore(env)
            figures["restore_s"] = watch.seconds
        return figures

    def _disable_hook(self):
        cls = self.registry["res.partner"]
        if not hasattr(cls, "_segmentation_refresh"):
            return []
        own = cls.__dict__.get("_segmentation_refresh")
        cls._segmentation_refresh = lambda records, *args, **kwargs: None
        return [(cls, "_segmentation_refresh", own)]

    def _confirm_one(self, order_id, hook, commit=True):
        """Confirm one quotation in its own transaction, as one click."""
        from odoo import fields

        undo = self.instrument() if hook else self._disable_hook()
        try:
            with environment(self.registry) as env:
                order = env["sale.order"].browse(order_id)
                customer_id = order.partner_id.commercial_partner_id.id
                queries_before = env.cr.sql_log_count
                start = time.perf_counter()
                order.action_confirm()
                env.flush_all()
                flushed = time.perf_counter()
                if not commit:
                    env.cr.rollback()
                    return None
                env.cr.commit()
                end = time.perf_counter()
                queries = env.cr.sql_log_count - queries_before
                parts, _counts = self.take_timings()
                env.cr.execute(
                    "SELECT last_order_date FROM res_partner WHERE id = %s",
                    [customer_id],
                )
                fresh = env.cr.fetchone()[0] == fields.Date.context_today(order)
                return {
                    "seconds": end - start,
                    "before_commit": flushed - start,
                    "hook": parts.get("_segmentation_refresh", 0.0),
                    "queries": queries,
                    "fresh": fresh,
                }
        finally:
            self.uninstrument(undo)
            self.take_timings()

    def _confirm_bulk(self, order_ids, hook):
        """Confirm quotations in one ``action_confirm()`` call."""
        from odoo import fields

        def confirm_all(env):
            orders = env["sale.order"].browse(order_ids)
            orders.action_confirm()
            env.flush_all()
            return orders.partner_id.commercial_partner_id.ids

        undo = self.instrument() if hook else self._disable_hook()
        try:
            customer_ids, figures = self.measure(confirm_all)
            parts, counts = self.take_timings()
        finally:
            self.uninstrument(undo)
        with environment(self.registry) as env:
            env.cr.execute(
                """SELECT count(*) FROM res_partner
                    WHERE id = ANY(%s) AND last_order_date = %s""",
                [customer_ids, fields.Date.context_today(env.user)],
            )
            fresh = env.cr.fetchone()[0]
        figures.update(
            orders=len(order_ids),
            ms_per_order=1000 * figures["seconds"] / len(order_ids),
            ms_module_hook_total=1000 * parts.get("_segmentation_refresh", 0.0),
            module_hook_calls=counts.get("_segmentation_refresh", 0),
            fresh_customers=fresh,
        )
        return figures

    def step_cron(self):
        # imported late: the registry must be loaded first
        from odoo.addons.customer_segmentation.models import res_partner

        Run = "customer.segmentation.run"
        batch_size = self.args.batch_size or getattr(
            res_partner, "RECOMPUTE_BATCH_SIZE", 20000
        )
        with environment(self.registry) as env:
            env[Run].search([("state", "=", "running")]).write({"state": "abandoned"})
        undo = self.instrument()
        calls = 0
        self.memory.reset_peak()
        rss_before = self.memory.rss_mib()
        try:
            start = time.perf_counter()
            while True:
                with environment(self.registry) as env:
                    env["res.partner"]._cron_recompute_segments(
                        batch_size=batch_size,
                        time_budget=self.args.time_budget,
                    )
                    env.cr.commit()
                    calls += 1
                    run = env[Run].search([("trigger", "=", "cron")], limit=1)
                    if run.state != "running" or calls >= 10000:
                        summary = run._summary()
                        state = run.state
                        break
            seconds = time.perf_counter() - start
        finally:
            self.uninstrument(undo)
        core_times = list(self.timings.get("_segmentation_apply", []))
        profile_times = list(self.timings.get("_segmentation_apply_profile", []))
        if self.timings.get("_segmentation_apply_all"):
            core_times = list(self.timings["_segmentation_apply_all"])
            profile_times = []
        batch_times = [
            core + profile
            for core, profile in zip(
                core_times,
                profile_times + [0.0] * (len(core_times) - len(profile_times)),
                strict=True,
            )
        ]
        self.take_timings()
        return {
            "seconds": seconds,
            "state": state,
            "cron_calls": calls,
            "batches": len(batch_times),
            "batch_size": batch_size,
            "time_budget": self.args.time_budget,
            "max_batch_s": max(batch_times, default=0.0),
            "mean_batch_s": statistics.mean(batch_times) if batch_times else 0.0,
            "batches_core_s": sum(core_times),
            "batches_profile_s": sum(profile_times),
            "customers": summary.get("customers"),
            "written": summary.get("written"),
            "customers_per_s": (summary.get("customers") or 0) / seconds,
            "rss_growth_mib": self.memory.rss_mib() - rss_before,
            "peak_rss_mib": self.memory.peak_mib(),
        }


def module_fingerprint():
    """Version and a digest of the module's Python code, to tell which code a
    result was measured on (the module changes between runs)."""
    from odoo.modules.module import get_module_path, load_manifest

    path = get_module_path("customer_segmentation")
    digest = hashlib.sha1()
    for folder, _dirs, files in sorted(os.walk(path)):
        for name in sorted(files):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as source:
                    digest.update(source.read())
    version = load_manifest("customer_segmentation")["version"]
    return f"{version} ({digest.hexdigest()[:10]})"


def _summarize_singles(results):
    seconds = [result["seconds"] for result in results]
    return {
        "orders": len(results),
        "ms_per_order": 1000 * statistics.mean(seconds),
        "ms_median": 1000 * statistics.median(seconds),
        "ms_p95": 1000 * _percentile(seconds, 0.95),
        "ms_before_commit": 1000
        * statistics.mean(result["before_commit"] for result in results),
        "ms_module_hook": 1000 * statistics.mean(result["hook"] for result in results),
        "queries_per_order": statistics.mean(result["queries"] for result in results),
        "fresh_customers": sum(result["fresh"] for result in results),
    }


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _median_figures(samples):
    """Median of each numeric figure over repeated samples."""
    if len(samples) == 1:
        return samples[0]
    merged = dict(samples[0])
    for key, value in samples[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [sample[key] for sample in samples if sample.get(key) is not None]
            merged[key] = statistics.median(values)
    merged["samples_s"] = [sample["seconds"] for sample in samples]
    return merged


def main():
    args = parse_args()
    steps = set(args.steps)
    if "c" in steps and "a" not in steps:
        sys.exit("step c measures the recompute right after a: add a")
    registry = open_registry(args)
    bench = Benchmark(registry, args)
    bench.repair()
    info = bench.describe()
    bench.log(
        f"{info['db']}: {info['customers']:,} customers, {info['partners']:,} "
        f"partners, {info['orders']:,} orders ({info['confirmed_orders']:,} "
        f"confirmed); window from {info['window_start']}"
    )
    load_start = os.getloadavg()
    bench.warm_up()
    results = {"info": info, "steps": {}}
    samples = {"o": [], "a": [], "b": [], "c": [], "f": []}
    resets = []
    for round_ in range(args.repeat):
        if "o" in steps:
            resets.append(bench.reset())
            samples["o"].append(bench.step_old_reference())
            bench.log(f"  (o) {samples['o'][-1]['seconds']:.2f} s")
        if "b" in steps:
            resets.append(bench.reset())
            samples["b"].append(bench.step_reference())
            bench.log(f"  (b) {samples['b'][-1]['seconds']:.2f} s")
        if "a" in steps:
            resets.append(bench.reset())
            samples["a"].append(bench.step_full("a"))
        if "c" in steps:
            samples["c"].append(bench.step_full("c"))
        if "f" in steps:
            bench.shift_lifecycle()
            samples["f"].append(bench.step_full("f"))
        if args.repeat > 1:
            bench.log(f"round {round_ + 1}/{args.repeat} done")
    for key, values in samples.items():
        if values:
            results["steps"][key] = _median_figures(values)
    if resets:
        results["reset_s"] = statistics.median(resets)
    if "d" in steps:
        results["steps"]["d"] = bench.step_incremental()
    if "e" in steps:
        results["steps"]["e"] = bench.step_cron()
    elif "d" in steps or (steps & set("ob") and not steps & set("af")):
        # (b) and the resets leave the segments empty (unless a recompute ran
        # after them in each round), (d) leaves the hook's refresh of orders
        # since put back: recompute, so that the database is again as a
        # nightly run leaves it
        bench.log("recomputing every customer (not timed)")
        with environment(registry) as env:
            env["res.partner"].recompute_all_segments()
    results["process_peak_rss_mib"] = Memory.process_peak_mib()
    # other work on the machine skews every figure: keep a trace of it
    results["load_average_start"] = load_start
    results["load_average_end"] = os.getloadavg()
    add_ratios(results)
    if not args.json_only:
        print_table(results)
    print("BENCH_JSON " + json.dumps(results, default=str, sort_keys=True))


def add_ratios(results):
    steps = results["steps"]
    for reference in ("b", "o"):
        seconds = steps.get(reference, {}).get("seconds")
        if seconds:
            for key in ("a", "c", "f"):
                if key in steps:
                    results[f"ratio_{key}_{reference}"] = (
                        steps[key]["seconds"] / seconds
                    )


def _text(value):
    """A threshold as exact text for a ``::numeric`` cast, or None."""
    return None if value is None else str(value)


def _score(column, breaks, cast):
    """``CASE`` giving the smallest score whose breakpoint is >= ``column``."""
    if not breaks:
        return "NULL::int"
    cases = " ".join(
        f"WHEN {column} <= '{value}'::{cast} THEN {int(score)}"
        for score, value in sorted(breaks)
    )
    return f"CASE {cases} ELSE 5 END"


def print_incremental(d, suffix):
    if "single" in d:
        s = d["single"]
        label = f"(d) confirm 1 by 1 ({s['orders']} orders{suffix})"
        print(
            f"{label:<44}"
            f"{s['ms_per_order']:>7.1f} ms/order (median {s['ms_median']:.1f}, "
            f"p95 {s['ms_p95']:.1f}; in module hook {s['ms_module_hook']:.1f}; "
            f"{s['queries_per_order']:.0f} queries; fresh "
            f"{s['fresh_customers']}/{s['orders']})"
        )
    if "bulk" in d:
        s = d["bulk"]
        print(
            f"{'(d) confirm ' + str(s['orders']) + ' in one call' + suffix:<44}"
            f"{s['ms_per_order']:>7.2f} ms/order ({s['seconds']:.2f} s; module "
            f"hook {s['ms_module_hook_total'] / 1000:.2f} s in "
            f"{s['module_hook_calls']} call(s); {s['queries']:.0f} queries; fresh "
            f"{s['fresh_customers']}/{s['orders']})"
        )


def print_parts(steps):
    """Where (b), (a), (c) and (f) spent their time, and the checks."""
    if "b" in steps:
        b = steps["b"]
        print(
            f"(b) aggregate {b['aggregate_s']:.2f} s, thresholds "
            f"{b['stats_s']:.2f} s, UPDATE {b['update_s']:.2f} s"
        )
    for key in ("a", "c", "f"):
        if key in steps:
            s = steps[key]
            stats, apply = s["population_stats_s"] or 0, s["apply_s"] or 0
            profile = s.get("profile_s") or 0
            print(
                f"({key}) population stats {stats:.2f} s, core classify+write "
                f"{apply:.2f} s, profile {profile:.2f} s, rest "
                f"{s['seconds'] - stats - apply - profile:.2f} s; "
                f"written: history {s['rows_customer_segment_history']:,.0f}, "
                f"messages {s['rows_mail_message']:,.0f}, tracking values "
                f"{s['rows_mail_tracking_value']:,.0f}"
                + (
                    f"; Python allocations peak {s['traced_peak_mib']:.1f} MiB"
                    if "traced_peak_mib" in s
                    else ""
                )
            )
            print(
                f"({key}) figures differing from the old reference's definition: "
                f"{s['mismatches_vs_reference']:.0f}"
                + (
                    f"; partners differing from (b): {s['differing_from_b']:.0f}"
                    f" {s.get('differing_columns') or ''}"
                    if "differing_from_b" in s
                    else ""
                )
            )


def print_table(results):
    info, steps = results["info"], results["steps"]
    pg = info["pg"]
    print()
    print(
        f"customer_segmentation benchmark on {info['db']}: "
        f"{info['customers']:,} customers, {info['partners']:,} partners, "
        f"{info['orders']:,} orders"
    )
    print(f"customer_segmentation {info['module']}")
    print(
        f"PostgreSQL {pg['server_version']}: shared_buffers {pg['shared_buffers']}, "
        f"work_mem {pg['work_mem']}, jit {pg['jit']}"
    )
    header = (
        f"{'step':<44}{'seconds':>9}{'written':>11}{'cust/s':>10}"
        f"{'queries':>9}{'peak RSS':>10}{'RSS +':>8}"
    )
    print(header)
    print("-" * len(header))

    def row(label, figures, seconds=None):
        seconds = figures.get("seconds") if seconds is None else seconds
        written = figures.get("written")
        rate = figures.get("customers_per_s")
        queries = figures.get("queries")
        print(
            f"{label:<44}{seconds:>9.2f}"
            f"{'' if written is None else f'{written:,.0f}':>11}"
            f"{'' if not rate else f'{rate:,.0f}':>10}"
            f"{'' if queries is None else f'{queries:.0f}':>9}"
            f"{figures.get('peak_rss_mib', 0):>7.0f} MiB"
            f"{figures.get('rss_growth_mib', 0):>+5.0f} MiB"
        )

    if "o" in steps:
        row("(o) old reference: 3 figures", steps["o"])
    if "b" in steps:
        row("(b) bare SQL: aggregate, stats, 1 UPDATE", steps["b"])
    if "a" in steps:
        row("(a) recompute_all_segments()", steps["a"])
    if "c" in steps:
        row("(c) recompute_all_segments() again", steps["c"])
    if "f" in steps:
        row("(f) recompute, every customer changed", steps["f"])
    if "d" in steps:
        print_incremental(steps["d"], "")
        if "baseline" in steps["d"]:
            print_incremental(steps["d"]["baseline"], ", no module hook")
    if "e" in steps:
        e = steps["e"]
        row(
            f"(e) cron: {e['batches']} batches of {e['batch_size']:,}, "
            f"{e['cron_calls']} call(s)",
            e,
        )
        print(
            f"{'':<4}batch (core + profile): mean {e['mean_batch_s']:.2f} s, max "
            f"{e['max_batch_s']:.2f} s; core {e['batches_core_s']:.1f} s, profile "
            f"{e['batches_profile_s']:.1f} s in all"
        )
    print()
    print_parts(steps)
    for key, target in (("a", 2.0), ("c", 1.2)):
        ratio = results.get(f"ratio_{key}_b")
        if ratio is not None:
            verdict = "met" if ratio <= target else "NOT met"
            print(f"({key})/(b) = {ratio:.2f}  (target <= {target}: {verdict})")
        ratio = results.get(f"ratio_{key}_o")
        if ratio is not None:
            print(f"({key})/(o) = {ratio:.2f}  (against the old reference)")
    if "c" in steps and steps["c"].get("written"):
        print(f"warning: (c) wrote {steps['c']['written']} customers, expected 0")
    print(f"peak RSS of this process: {results['process_peak_rss_mib']:.0f} MiB")
    print(
        "load average (1, 5, 15 min) at start "
        + " ".join(f"{x:.2f}" for x in results["load_average_start"])
        + ", at end "
        + " ".join(f"{x:.2f}" for x in results["load_average_end"])
        + f" ({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
