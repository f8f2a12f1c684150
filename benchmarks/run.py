#!/usr/bin/env python3
"""Time customer_segmentation's recompute paths on a generated database.

    python3 benchmarks/run.py -d cs_bench_100k

The module classifies the customers of one company (the database's main
company, ``env.company`` of the superuser) in two passes of committed batches
of 2,000 customers: their purchase figures into the narrow table
``customer_segmentation_figure``, then, against the company's population
thresholds, their segments, stored per company in the company-dependent
(jsonb) partner columns. Steps, each measured in its own transaction(s) and
committed, so every time includes the commits:

(o) old bare-SQL reference (issue 3), the yardstick of the targets: one
    aggregate of the confirmed orders per commercial partner (last order date;
    count and untaxed amount in the company currency over the module's
    look-back window) written by one UPDATE into three metric columns of
    every partner, and nothing else. The module no longer stores these
    figures on ``res_partner``, so the three columns are the benchmark's own
    (``benchmark_last_order_date``, ``benchmark_rfm_frequency``,
    ``benchmark_rfm_monetary``: the types of the module's former columns, not
    indexed, like them), added to ``res_partner`` by this script: the same
    statement writing the same wide rows as before.
(b) bare-SQL reference: the same result as the module in the least work the
    database can do: the orders aggregated once per commercial partner (into
    a temporary table), the population thresholds from that aggregate, the
    figure rows inserted with their scores, then one UPDATE writing every
    partner once with its segments for the company (jsonb) and its figures'
    pointer. No history, no chatter, no pins (the database has none), no
    guard against unchanged rows (after the reset every row changes).
(a) ``env['res.partner'].recompute_all_segments()`` after the same reset: the
    company's first full run, its baseline (bulk SQL, no history nor
    chatter); afterwards every partner's segments and figures are compared
    with what (b) wrote, and the figures with (o)'s definition.
(c) the same call right after (a): nothing changed, so it writes nothing
    (the run refreshes the figures of the queued and stale customers only:
    none here).
(n) a normal night: the latest purchase of ``--night-share`` of the customers
    (5% by default; customers not active, at risk or churned, chosen by a
    hash of their id) is re-dated to today and its customer queued, as the
    order's ``write`` would (SQL, not timed), so that each of them becomes
    active again; then the nightly cron (``_cron_recompute_segments``,
    called until its run is done) is timed: the changes go through the ORM,
    grouped per dimension and segment, tracked in the chatter, with their
    history rows. The dates are put back afterwards and the cron run again
    (timed too, as "(n) back": the same customers change back).
(f) optional (not in the default steps): every classified partner is first
    moved to the next lifecycle stage (not timed), then the full recompute
    puts them back: a night where every customer changes segment.
(d) order confirmation: ``--quotations`` quotations of distinct customers
    confirmed one by one (``action_confirm()``, flush, commit: one
    transaction each, as one click each), then ``--bulk-quotations`` others
    in one ``action_confirm()`` call; alternating with the same on other
    quotations with the module's hook switched off (``sale.order``'s
    ``_segmentation_pairs`` and ``_segmentation_enqueue``): what Odoo costs
    without the module. The hook only queues the customer
    (``customer.segmentation.queue``) and wakes the queue's cron; then the
    time that cron (``_cron_process``) takes to classify what was queued is
    measured apart ("queue drain"). Afterwards the orders, their lines,
    followers and messages are put back as they were, and their customers
    classified again (not timed).
(e) the nightly cron on a quiet night: ``_cron_recompute_segments(batch_size=,
    time_budget=)`` called again and again, as ``ir.cron`` does while
    progress remains, until its run is done.
(m) two companies (not in the default steps; rolled back): a second company
    is created and every tenth order moved to it, so that most customers
    buy in both; then the second company's full recompute runs (its batches
    as savepoints) and PostgreSQL's counters of the transaction
    (``pg_stat_xact_user_tables``) tell how many ``sale_order`` rows it read:
    none of the first company's is the claim. Everything is rolled back.
(s) optional, with ``--setu-addons-path DIR`` (a folder holding the
    third-party Setu "RFM Analysis" addon ``setu_rfm_analysis``, which you
    bring: it is not part of this repository nor of CI): the database is
    copied (``CREATE DATABASE <db>_setu TEMPLATE <db>``), the addon installed
    into the copy, every line of a confirmed order given a delivered stock
    move (Setu's purchases are deliveries, and the generated data has none),
    then on the copy, alternating: our first full run (after
    the reset) and Setu's ``update.customer.segment`` wizard's
    ``update_customer_segment()`` (its first run), then our no-change rerun
    and Setu's rerun. ``--keep-setu-db`` keeps the copy for the next time.

Before (o), (b) and (a) the module's state is emptied (not timed): figure
rows, the figures' pointers and rule-classified segments on every partner,
the runs and the queue; the tables are vacuumed, so that (a) and (b) write
the same rows into the same table state. The generated data stays; the
segments end recomputed, so the script can be run again at once.

Memory is this process's resident set (RSS): its growth over a step and the
step's peak (the kernel's high-water mark, reset before the step), plus the
peak of the whole process (``ru_maxrss``). The PostgreSQL server's memory is
not included.
"""

import contextlib
import datetime
import hashlib
import json
import os
import re
import statistics
import subprocess
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
# (s) Setu's purchases: a delivered move per line of each confirmed order.
SETU_MOVES = """
    INSERT INTO stock_move (company_id, product_id, product_uom, location_id,
                            location_dest_id, name, procure_method, product_uom_qty,
                            quantity, date, state, sale_line_id, partner_id,
                            create_uid, create_date, write_uid, write_date)
    SELECT so.company_id, sol.product_id, sol.product_uom, %(stock)s, %(customers)s,
           sol.name, 'make_to_stock', sol.product_uom_qty, sol.product_uom_qty,
           so.date_order, 'done', sol.id, so.partner_id, 1, now(), 1, now()
      FROM sale_order_line sol JOIN sale_order so ON so.id = sol.order_id
     WHERE so.state = 'sale'
"""
SETU_MOVE_LINES = """
    INSERT INTO stock_move_line (company_id, product_uom_id, location_id,
                                 location_dest_id, date, move_id, product_id, quantity,
                                 state, create_uid, create_date, write_uid, write_date)
    SELECT m.company_id, m.product_uom, m.location_id, m.location_dest_id, m.date, m.id,
           m.product_id, m.product_uom_qty, 'done', 1, now(), 1, now()
      FROM stock_move m
"""
# The original dates of the orders step (n) re-dates.
NIGHT_TABLE = "benchmark_restore_night"
# Engine methods timed in every step: (model or module, method).
ENGINE = "odoo.addons.customer_segmentation.models."
INSTRUMENTED = (
    ("customer.segmentation.pipeline", "_refresh"),
    ("customer.segmentation.figure", "_population_stats"),
    ("customer.segmentation.pipeline", "_classify"),
    ("customer.segmentation.pipeline", "_collect"),
    ("customer.segmentation.change", "_apply"),
    ("customer.segmentation.change", "_store_scores"),
    ("customer.segmentation.change", "_collect"),
    ("customer.segmentation.change", "_update_pins"),
    ("customer.segmentation.change", "_write_copies"),
    ("customer.segmentation.change", "_write_own_silently"),
    ("customer.segmentation.change", "_write_own"),
    ("customer.segmentation.change", "_log"),
    ("customer.segmentation.change", "_apply_needs"),
    ("customer.segmentation.change", "_point_figures"),
    ("res.partner", "_message_track"),
    ("customer.segmentation.run", "_next_scope"),
    ("customer.segmentation.run", "_end_phase"),
    ("customer.segmentation.purchase.model", "_fit"),
    ("customer.segmentation.purchase.model", "_score"),
    ("customer.segmentation.purchase.model", "_read_summaries"),
    ("customer.segmentation.purchase.model", "_fit_models"),
    ("customer.segmentation.purchase.model", "_score_company"),
    ("customer.segmentation.purchase.model", "_read_scoring"),
    ("customer.segmentation.purchase.model", "_write_scores"),
    ("customer.segmentation.purchase.model", "_write_value_bands"),
    (ENGINE + "customer_segmentation_run", "lock_customers"),
    (ENGINE + "customer_segmentation_run", "lock_customer_ids"),
    ("customer.segmentation.pipeline", "_customers_to_classify"),
    ("customer.segmentation.queue", "_enqueue"),
    ("customer.segmentation.queue", "_process_batch"),
    ("sale.order", "_segmentation_pairs"),
)
# What the module's hook on orders costs, within a confirmation.
HOOK_PARTS = ("sale.order._segmentation_pairs", "customer.segmentation.queue._enqueue")
# Tables the module's history and chatter go to: rows written are counted.
LOG_TABLES = ("customer_segment_history", "mail_message", "mail_tracking_value")
# The reference's result, kept to compare (a) with, column by column.
REFERENCE_TABLE = "benchmark_reference_result"
# (o)'s own metric columns on res_partner (the module's former ones).
OLD_REFERENCE_COLUMNS = {
    "benchmark_last_order_date": "date",
    "benchmark_rfm_frequency": "integer",
    "benchmark_rfm_monetary": "numeric",
}
# The rule-classified segments per company (jsonb) and everywhere (int).
COMPANY_SEGMENTS = (
    "segment_value_id",
    "segment_lifecycle_id",
    "segment_rfm_id",
    "segment_geo_id",
    "segment_scale_id",
)
GLOBAL_SEGMENTS = ("segment_job_level_id",)

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
# PostgreSQL from aggregating the others in parallel. The amount is rounded
# to the company currency's decimal places, as the module stores it.
ORDER_AGGREGATE = f"""
SELECT customer_id, min(first_date) AS first_date, max(last_date) AS last_date,
       sum(frequency)::bigint AS frequency,
       round(sum(monetary),
             (SELECT cur.decimal_places
                FROM res_company co
                JOIN res_currency cur ON cur.id = co.currency_id
               WHERE co.id = %(company)s)) AS monetary,
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

# (o): every partner gets its commercial partner's figures, three columns.
# The statement of issue 3, into the benchmark's own columns.
REFERENCE_UPDATE = (
    PURCHASE
    + """
UPDATE res_partner p
   SET benchmark_last_order_date = a.last_date,
       benchmark_rfm_frequency = COALESCE(a.frequency, 0),
       benchmark_rfm_monetary = COALESCE(a.monetary, 0)
  FROM res_partner c
  LEFT JOIN purchase a ON a.customer_id = c.id
 WHERE c.id = c.commercial_partner_id
   AND p.commercial_partner_id = c.id
"""
)

# The customers the company classifies: commercial entities of no other
# company (the module's scope).
CUSTOMER = """(c.is_company OR c.parent_id IS NULL)
   AND (c.company_id IS NULL OR c.company_id = %(company)s)"""

# Customers whose module figures (their row in the company) differ from
# (o)'s definition.
REFERENCE_MISMATCHES = (
    PURCHASE
    + f"""
SELECT count(*)
  FROM res_partner c
  LEFT JOIN purchase a ON a.customer_id = c.id
  LEFT JOIN customer_segmentation_figure f
         ON f.partner_id = c.id AND f.company_id = %(company)s
 WHERE {CUSTOMER}
   AND (f.last_order_date, COALESCE(f.rfm_frequency, 0),
        round(COALESCE(f.rfm_monetary, 0), 6))
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

# (b), third statement: a figure row per customer with something bought or
# pending in the company, with its scores.
FULL_FIGURES = f"""
INSERT INTO customer_segmentation_figure (
       partner_id, company_id, first_order_date, last_order_date,
       rfm_frequency, rfm_monetary, pending, rfm_recency_score,
       rfm_frequency_score, rfm_monetary_score,
       create_uid, create_date, write_uid, write_date)
SELECT x.customer_id, %(company)s, x.first_date, x.last_date, x.frequency,
       x.monetary, x.quoted,
       CASE WHEN x.frequency > 0 THEN {{r_score}} END,
       CASE WHEN x.frequency > 0 THEN {{f_score}} END,
       CASE WHEN x.frequency > 0 THEN {{m_score}} END,
       %(uid)s, %(now)s, %(uid)s, %(now)s
  FROM (SELECT a.customer_id, a.first_date, a.last_date,
               COALESCE(a.frequency, 0) AS frequency,
               COALESCE(a.monetary, 0) AS monetary, a.quoted
          FROM benchmark_purchase a
          JOIN res_partner c ON c.id = a.customer_id
         WHERE (a.first_date IS NOT NULL OR a.quoted) AND {CUSTOMER}) x
"""

# (b), fourth statement: every partner of the company's customers written
# once: its segments in the company (jsonb), its figures' pointer.
FULL_UPDATE = """
UPDATE res_partner p
   SET segmentation_figure_id = {pointer},
       segment_value_id = {value},
       segment_lifecycle_id = {lifecycle},
       segment_rfm_id = {rfm},
       segment_geo_id = {geo},
       segment_scale_id = {scale},
       segment_job_level_id = r.job_level_id
  FROM (
    SELECT x.id,
           CASE WHEN x.id = x.customer_id THEN x.figure_id END AS pointer,
           CASE WHEN x.last_date IS NULL THEN NULL
                WHEN x.frequency = 0 THEN %(low)s
                WHEN x.monetary >= %(high_cutoff)s::numeric THEN %(high)s
                WHEN x.monetary >= %(medium_cutoff)s::numeric THEN %(medium)s
                ELSE %(low)s END AS value_id,
           CASE WHEN x.last_date IS NULL
                    THEN CASE WHEN x.quoted THEN %(prospect)s END
                WHEN %(today)s::date - x.first_date <= %(new_days)s THEN %(new)s
                WHEN %(today)s::date - x.last_date <= %(active_days)s
                    THEN %(active)s
                WHEN %(today)s::date - x.last_date <= %(churn_days)s
                    THEN %(at_risk)s
                ELSE %(churned)s END AS lifecycle_id,
           CASE WHEN x.r_score IS NOT NULL
                THEN (%(rfm_cells)s::int[])[(x.r_score - 1) * 5 + x.f_score]
           END AS rfm_id,
           x.geo_id, x.scale_id, x.job_level_id
      FROM (
        SELECT q.id, e.id AS customer_id, f.id AS figure_id,
               f.first_order_date AS first_date, f.last_order_date AS last_date,
               COALESCE(f.rfm_frequency, 0) AS frequency,
               COALESCE(f.rfm_monetary, 0) AS monetary,
               COALESCE(f.pending, false) AS quoted,
               f.rfm_recency_score AS r_score, f.rfm_frequency_score AS f_score,
               CASE WHEN q.country_id IS NULL THEN NULL
                    WHEN q.country_id = %(home_country)s
                         AND q.state_id = %(home_state)s THEN %(local)s
                    WHEN q.country_id = %(home_country)s THEN %(domestic)s
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
          LEFT JOIN customer_segmentation_figure f
                 ON f.partner_id = e.id AND f.company_id = %(company)s
         WHERE (e.is_company OR e.parent_id IS NULL)
           AND (e.company_id IS NULL OR e.company_id = %(company)s)
      ) x
  ) r
 WHERE p.id = r.id
"""

# What the module (or (b)) left, per partner: its segments in the company,
# its customer's figures there, and whether a customer points to its row.
RESULT = """
SELECT p.id,
       (p.segment_value_id ->> %(company_key)s)::int AS value_id,
       (p.segment_lifecycle_id ->> %(company_key)s)::int AS lifecycle_id,
       (p.segment_rfm_id ->> %(company_key)s)::int AS rfm_id,
       (p.segment_geo_id ->> %(company_key)s)::int AS geo_id,
       (p.segment_scale_id ->> %(company_key)s)::int AS scale_id,
       p.segment_job_level_id AS job_level_id,
       f.first_order_date, f.last_order_date, f.rfm_frequency,
       round(f.rfm_monetary, 6) AS rfm_monetary, f.pending,
       f.rfm_recency_score, f.rfm_frequency_score, f.rfm_monetary_score,
       p.id <> p.commercial_partner_id
       OR (p.segmentation_figure_id ->> %(company_key)s)::int
          IS NOT DISTINCT FROM f.id AS pointer_ok
  FROM res_partner p
  LEFT JOIN customer_segmentation_figure f
         ON f.partner_id = p.commercial_partner_id AND f.company_id = %(company)s
"""
# Columns of RESULT compared after (a).
COMPARED_COLUMNS = (
    "value_id",
    "lifecycle_id",
    "rfm_id",
    "geo_id",
    "scale_id",
    "job_level_id",
    "first_order_date",
    "last_order_date",
    "rfm_frequency",
    "rfm_monetary",
    "pending",
    "rfm_recency_score",
    "rfm_frequency_score",
    "rfm_monetary_score",
    "pointer_ok",
)


def parse_args():
    arguments = parser(__doc__)
    add_common_arguments(arguments)
    arguments.add_argument(
        "--steps",
        default="obacnde",
        help="steps to run, among o, b, a, c, n, f, d, e, m, s (default: obacnde; "
        "c needs a; s needs --setu-addons-path)",
    )
    arguments.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run o, b, a, c (and n, f) this many times and report the medians",
    )
    arguments.add_argument(
        "--night-share",
        type=float,
        default=0.05,
        help="(n) share of the customers re-dated to make a normal night "
        "(default 0.05)",
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
        help="(e), (n) customers per batch (default: the nightly cron's)",
    )
    arguments.add_argument(
        "--time-budget",
        type=float,
        default=240,
        help="(e), (n) seconds per cron call before it yields (default 240)",
    )
    arguments.add_argument(
        "--setu-addons-path",
        help="(s) folder holding the Setu RFM Analysis addon (setu_rfm_analysis), "
        "installed into a copy of the database",
    )
    arguments.add_argument(
        "--setu-rounds",
        type=int,
        default=1,
        help="(s) rounds of the four timings (default 1)",
    )
    arguments.add_argument(
        "--keep-setu-db",
        action="store_true",
        help="(s) keep the copy with Setu installed (reused by the next run)",
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
        self.timings = {}  # "model.method" -> [seconds]
        self.reference_saved = False
        with environment(registry) as env:
            self.company_id = env.company.id

    # ------------------------------------------------------------------
    # Set-up and helpers
    # ------------------------------------------------------------------

    def log(self, message):
        if not self.args.json_only:
            print(message, flush=True)

    def describe(self):
        with environment(self.registry) as env:
            cr = env.cr
            cr.execute(
                f"SELECT count(*) FROM res_partner c WHERE {CUSTOMER}",  # noqa: S608
                {"company": self.company_id},
            )
            customers = cr.fetchone()[0]
            cr.execute("SELECT count(*) FROM res_partner")
            partners = cr.fetchone()[0]
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
                "company_id": self.company_id,
                "customers": customers,
                "partners": partners,
                "orders": orders,
                "confirmed_orders": confirmed,
                "window_start": str(self.purchase_bounds(env)["window_start"]),
                "pg": pg_settings(cr),
            }

    def repair(self):
        """Put back orders left changed by an interrupted step (d) or (n),
        abandon unfinished runs, add (o)'s columns if missing, so every step
        starts from the generated data."""
        with environment(self.registry) as env:
            cr = env.cr
            for column, kind in OLD_REFERENCE_COLUMNS.items():
                cr.execute(
                    f"ALTER TABLE res_partner ADD COLUMN IF NOT EXISTS {column} {kind}"
                )
            cr.execute("SELECT to_regclass(%s)", [RESTORE_TABLES["sale_order"]])
            if cr.fetchone()[0]:
                self.log("restoring the orders of an interrupted step (d)")
                self._restore(env)
            cr.execute("SELECT to_regclass(%s)", [NIGHT_TABLE])
            if cr.fetchone()[0]:
                self.log("restoring the order dates of an interrupted step (n)")
                self._restore_night(env)
            env["customer.segmentation.run"].search([("state", "=", "running")]).write(
                {"state": "abandoned"}
            )

    def warm_up(self):
        """Read the tables once and load the module's code paths (not timed)."""
        with environment(self.registry) as env:
            params = env.company._segmentation_params()
            env["customer.segmentation.rule"]._rules(
                env.company, params, self.empty_stats()
            )
            env.cr.execute(
                PURCHASE + "SELECT count(*) FROM purchase",
                self.purchase_bounds(env),
            )

    @staticmethod
    def empty_stats():
        return {
            "total": 0,
            "recency_breaks": [],
            "frequency_breaks": [],
            "monetary_breaks": [],
            "high_cutoff": None,
            "medium_cutoff": None,
        }

    def purchase_bounds(self, env):
        """Parameters of PURCHASE: the window's start, tomorrow (orders dated
        from then on are no purchases yet), the company."""
        today = self.today()
        params = env.company._segmentation_params()
        return {
            "window_start": today - datetime.timedelta(days=params["lookback_days"]),
            "tomorrow": today + datetime.timedelta(days=1),
            "company": self.company_id,
        }

    def reset(self):
        """Empty the module's state (figure rows, pointers, rule-classified
        segments, runs, queue) and (o)'s columns, and vacuum (not timed): the
        next full recompute is the company's first, its baseline."""
        columns = [
            "segmentation_figure_id",
            *COMPANY_SEGMENTS,
            *GLOBAL_SEGMENTS,
        ] + list(OLD_REFERENCE_COLUMNS)
        names = ", ".join(columns)
        nulls = ", ".join("NULL" for _name in columns)
        with Stopwatch() as watch:
            with environment(self.registry) as env:
                cr = env.cr
                cr.execute("DELETE FROM customer_segmentation_queue")
                cr.execute("DELETE FROM customer_segmentation_figure")
                cr.execute(
                    f"UPDATE res_partner SET ({names}) = ROW({nulls}) "  # noqa: S608
                    f"WHERE ({names}) IS DISTINCT FROM ({nulls})"
                )
                cr.execute("DELETE FROM customer_segmentation_run")
            with autocommit_cursor(self.registry) as cr:
                cr.execute("VACUUM res_partner, customer_segmentation_figure")
        return watch.seconds

    def instrument(self):
        """Time the module's engine methods (negligible overhead)."""
        import importlib

        undo = []
        for owner, method in INSTRUMENTED:
            if owner.startswith(ENGINE):
                target = importlib.import_module(owner)
                original = getattr(target, method, None)
                key = f"{owner.removeprefix(ENGINE)}.{method}"
            else:
                if owner not in self.registry:
                    continue
                target = self.registry[owner]
                original = getattr(target, method, None)
                key = f"{owner}.{method}"
            if original is None:
                continue
            bucket = self.timings.setdefault(key, [])

            def wrapper(*args, _original=original, _bucket=bucket, **kw):
                start = time.perf_counter()
                try:
                    return _original(*args, **kw)
                finally:
                    _bucket.append(time.perf_counter() - start)

            own = target.__dict__.get(method)
            setattr(target, method, wrapper)
            undo.append((target, method, own))
        return undo

    @staticmethod
    def uninstrument(undo):
        for target, method, own in reversed(undo):
            if own is None:
                delattr(target, method)
            else:
                setattr(target, method, own)

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

    @staticmethod
    def today():
        from odoo import fields

        # the module classifies orders by their UTC day
        return fields.Date.today()

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

    def result_parameters(self):
        return {"company": self.company_id, "company_key": str(self.company_id)}

    def step_reference(self):
        """(b): the module's result in four statements; their times, and a
        copy of the result (not timed) to compare (a) with."""
        parts = {}
        written, figures = self.measure(
            lambda env: self.full_reference(env, parts=parts)
        )
        figures["written"] = written
        figures.update(parts)
        with environment(self.registry) as env:
            env.cr.execute(f"DROP TABLE IF EXISTS {REFERENCE_TABLE}")
            env.cr.execute(
                f"CREATE UNLOGGED TABLE {REFERENCE_TABLE} AS {RESULT}",  # noqa: S608
                self.result_parameters(),
            )
        self.reference_saved = True
        return figures

    def full_reference(self, env, parts=None):
        """Run (b) in ``env``'s transaction; return the partners written."""
        parts = {} if parts is None else parts
        cr = env.cr
        company = env.company
        params = company._segmentation_params()
        bounds = self.purchase_bounds(env)
        today = self.today()
        with Stopwatch() as watch:
            cr.execute(FULL_AGGREGATE, bounds)
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
        with Stopwatch() as watch:
            cr.execute(
                FULL_FIGURES.format(
                    r_score=_score("x.last_date", breaks["recency"], "date"),
                    f_score=_score("x.frequency", breaks["frequency"], "int"),
                    m_score=_score("x.monetary", breaks["monetary"], "numeric"),
                ),
                {
                    "company": company.id,
                    "uid": env.uid,
                    "now": datetime.datetime.now(datetime.UTC).replace(tzinfo=None),
                },
            )
            parts["figures_written"] = cr.rowcount
        parts["figures_s"] = watch.seconds
        segments = self.reference_segments(cr)
        home = company.partner_id
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
            "home_country": home.country_id.id or None,
            "home_state": home.state_id.id or None,
            "company": company.id,
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
        key = f"'{int(company.id)}'"

        def in_company(column):
            return (
                f"CASE WHEN r.{column} IS NOT NULL "
                f"THEN jsonb_build_object({key}, r.{column}) END"
            )

        query = FULL_UPDATE.format(
            pointer=in_company("pointer"),
            value=in_company("value_id"),
            lifecycle=in_company("lifecycle_id"),
            rfm=in_company("rfm_id"),
            geo=in_company("geo_id"),
            scale=in_company("scale_id"),
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
        patterns, in priority order, read from ``customer_segment``."""
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
                keywords = [
                    w.strip() for w in re.split(r"[,，、]", words or "") if w.strip()
                ]
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

    def compare_with_reference(self, env):
        """Partners whose segments or figures differ from (b)'s result: in
        total and per column (None when (b) did not run in this process)."""
        if not self.reference_saved:
            return None
        checks = ", ".join(
            f"count(*) FILTER (WHERE m.{c} IS DISTINCT FROM r.{c})"
            for c in COMPARED_COLUMNS
        )
        row_module = ", ".join(f"m.{c}" for c in COMPARED_COLUMNS)
        row_reference = ", ".join(f"r.{c}" for c in COMPARED_COLUMNS)
        env.cr.execute(
            f"""WITH m AS ({RESULT})
                SELECT count(*) FILTER (WHERE ({row_module}) IS DISTINCT FROM
                                              ({row_reference})), {checks}
                  FROM m FULL JOIN {REFERENCE_TABLE} r ON r.id = m.id""",  # noqa: S608
            self.result_parameters(),
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

    def check(self, figures):
        """The module's result against (o)'s definition and (b)'s result."""
        with environment(self.registry) as env:
            env.cr.execute(REFERENCE_MISMATCHES, self.purchase_bounds(env))
            figures["mismatches_vs_reference"] = env.cr.fetchone()[0]
            differing = self.compare_with_reference(env)
            if differing is not None:
                figures["differing_from_b"] = differing["partners"]
                figures["differing_columns"] = differing["columns"]

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
        figures["parts"], figures["calls"] = self.take_timings()
        figures["customers"] = summary.get("customers")
        figures["written"] = summary.get("written")
        figures["changes"] = summary.get("changes")
        figures["customers_per_s"] = (summary.get("customers") or 0) / figures[
            "seconds"
        ]
        self.check(figures)
        with environment(self.registry) as env:
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
                      SET segment_lifecycle_id = segment_lifecycle_id
                          || jsonb_build_object(%(key)s, (%(ids)s::int[])[
                             array_position(%(ids)s::int[],
                                            (segment_lifecycle_id ->> %(key)s)::int)
                             %% cardinality(%(ids)s::int[]) + 1])
                    WHERE segment_lifecycle_id ->> %(key)s IS NOT NULL""",
                {"ids": ids, "key": str(self.company_id)},
            )
        with autocommit_cursor(self.registry) as cr:
            cr.execute("VACUUM res_partner")

    # ------------------------------------------------------------------
    # (n) a normal night, (e) a quiet one: the nightly cron
    # ------------------------------------------------------------------

    def run_cron(self):
        """Call the nightly cron until its run is done, as ``ir.cron`` does
        while the job reports progress; its time, batches and memory."""
        # imported late: the registry must be loaded first
        from odoo.addons.customer_segmentation.models import res_partner

        Run = "customer.segmentation.run"
        batch_size = self.args.batch_size or res_partner.RECOMPUTE_BATCH_SIZE
        with environment(self.registry) as env:
            env[Run].search([("state", "=", "running")]).write({"state": "abandoned"})
            logged_before = self.log_rows(env)
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
        batches = self.timings.get("customer.segmentation.pipeline._classify", [])
        batch_max = max(batches, default=0.0)
        parts, counts = self.take_timings()
        with environment(self.registry) as env:
            logged_after = self.log_rows(env)
            env.cr.execute(
                """SELECT count(DISTINCT h.partner_id)
                     FROM customer_segment_history h
                     JOIN res_partner p ON p.id = h.partner_id
                    WHERE h.run_id = %s AND p.id = p.commercial_partner_id""",
                [summary["run_id"]],
            )
            customers_changed = env.cr.fetchone()[0]
        figures = {
            "seconds": seconds,
            "state": state,
            "cron_calls": calls,
            "batches": counts.get("customer.segmentation.pipeline._classify", 0),
            "batch_size": batch_size,
            "time_budget": self.args.time_budget,
            "max_batch_s": batch_max,
            "parts": parts,
            "calls": counts,
            "customers": summary.get("customers"),
            "written": summary.get("written"),
            "changes": summary.get("changes"),
            "customers_changed": customers_changed,
            "customers_per_s": (summary.get("customers") or 0) / seconds,
            "rss_growth_mib": self.memory.rss_mib() - rss_before,
            "peak_rss_mib": self.memory.peak_mib(),
        }
        for table in LOG_TABLES:
            figures[f"rows_{table}"] = logged_after[table] - logged_before[table]
        return figures

    def step_cron(self):
        figures = self.run_cron()
        self.log(f"  (e) {figures['seconds']:.2f} s, changes {figures['changes']}")
        return figures

    def ensure_baseline(self):
        """A night logs changes once the company has a completed run."""
        with environment(self.registry) as env:
            if not env["customer.segmentation.run"].search_count(
                [("company_id", "=", self.company_id), ("state", "=", "done")]
            ):
                self.log("first full recompute (baseline, not timed)")
                env["res.partner"].recompute_all_segments()

    def make_night(self):
        """Re-date the latest purchase of ``--night-share`` of the customers,
        among those not active, to today (not timed); the originals are kept
        in NIGHT_TABLE."""
        with environment(self.registry) as env:
            params = env.company._segmentation_params()
            cr = env.cr
            cr.execute(
                f"SELECT count(*) FROM res_partner c WHERE {CUSTOMER}",  # noqa: S608
                {"company": self.company_id},
            )
            wanted = round(self.args.night_share * cr.fetchone()[0])
            today = self.today()
            cr.execute(
                f"""
                CREATE TABLE {NIGHT_TABLE} AS
                SELECT DISTINCT ON (f.partner_id) so.id, so.date_order,
                       f.partner_id AS customer_id
                  FROM (SELECT partner_id FROM customer_segmentation_figure
                         WHERE company_id = %(company)s
                           AND last_order_date < %(active_since)s
                      ORDER BY hashint4(partner_id), partner_id
                         LIMIT %(wanted)s) f
                  JOIN res_partner p ON p.commercial_partner_id = f.partner_id
                  JOIN sale_order so ON so.partner_id = p.id
                 WHERE so.state = 'sale' AND so.company_id = %(company)s
                   AND so.date_order < %(today)s
              ORDER BY f.partner_id, so.date_order DESC, so.id DESC
                """,  # noqa: S608
                {
                    "company": self.company_id,
                    "active_since": today
                    - datetime.timedelta(days=params["active_days"]),
                    "wanted": wanted,
                    "today": today,
                },
            )
            cr.execute(
                f"""UPDATE sale_order so SET date_order = %s
                      FROM {NIGHT_TABLE} n WHERE so.id = n.id""",  # noqa: S608
                [datetime.datetime.combine(today, datetime.time())],
            )
            redated = cr.rowcount
            self._queue_night(env)
            return redated

    def _queue_night(self, env):
        """Queue the customers of the re-dated orders, as ``sale.order``'s
        ``write`` of ``date_order`` does (SQL here, in one statement)."""
        env.cr.execute(
            f"""INSERT INTO customer_segmentation_queue (partner_id, company_id)
                SELECT DISTINCT customer_id, %s FROM {NIGHT_TABLE}
                ON CONFLICT DO NOTHING""",  # noqa: S608
            [self.company_id],
        )

    def _restore_night(self, env):
        env.cr.execute(
            f"""UPDATE sale_order so SET date_order = n.date_order
                  FROM {NIGHT_TABLE} n WHERE so.id = n.id"""  # noqa: S608
        )
        self._queue_night(env)
        env.cr.execute(f"DROP TABLE {NIGHT_TABLE}")
        env.invalidate_all()

    def step_night(self):
        """(n): a night where ``--night-share`` of the customers come back,
        then (not counted in it) the night they go back."""
        self.ensure_baseline()
        redated = self.make_night()
        with autocommit_cursor(self.registry) as cr:
            cr.execute("VACUUM sale_order")
        figures = self.run_cron()
        figures["redated_customers"] = redated
        with environment(self.registry) as env:
            self._restore_night(env)
        back = self.run_cron()
        figures["back"] = {
            key: back[key]
            for key in ("seconds", "customers_changed", "changes", "batches")
        }
        self.log(
            f"  (n) {figures['seconds']:.2f} s: {redated} customers re-dated, "
            f"{figures['customers_changed']} changed ({figures['changes']}); back "
            f"{back['seconds']:.2f} s"
        )
        return figures

    # ------------------------------------------------------------------
    # (d) order confirmation, and the queue it fills
    # ------------------------------------------------------------------

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
        added, queue their customers to be classified again, drop the
        snapshot."""
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
        cr.execute(
            f"""INSERT INTO customer_segmentation_queue (partner_id, company_id)
                SELECT DISTINCT p.commercial_partner_id, r.company_id
                  FROM {RESTORE_TABLES["sale_order"]} r
                  JOIN res_partner p ON p.id = r.partner_id
                ON CONFLICT DO NOTHING"""
        )
        for copy in RESTORE_TABLES.values():
            cr.execute(f"DROP TABLE {copy}")
        env.invalidate_all()

    def step_incremental(self):
        """Confirm quotations with the module's hook and (baseline) others with
        the hook switched off: the difference is what the module adds. Single
        confirmations alternate between the two, after one rolled-back warm-up
        confirmation each, so that both see the same conditions. Then the
        queue's cron classifies what the confirmations queued."""
        modes = (True,) if self.args.no_baseline else (True, False)
        wanted = len(modes) * (1 + self.args.quotations + self.args.bulk_quotations)
        order_ids = self.pick_quotations(wanted)
        self.drain_queue()  # whatever an earlier step left, not timed
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
            figures["drain_single"] = self.drain_queue(groups[True][1 : 1 + single])
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
            figures["drain_bulk"] = self.drain_queue(groups[True][1 + single :])
        finally:
            with Stopwatch() as watch, environment(self.registry) as env:
                self._restore(env)
            figures["restore_s"] = watch.seconds
            self.drain_queue()  # the customers as before, not timed
        return figures

    def drain_queue(self, order_ids=None):
        """Run the queue's cron (what ``ir.cron`` runs when woken) until the
        queue is empty: its time, and how many of the customers of
        ``order_ids`` then have today as their last purchase."""
        undo = self.instrument()
        try:
            with environment(self.registry) as env:
                env.cr.execute("SELECT count(*) FROM customer_segmentation_queue")
                queued = env.cr.fetchone()[0]
            processed, figures = self.measure(
                lambda env: env["customer.segmentation.queue"]._cron_process()
            )
        finally:
            self.uninstrument(undo)
        parts, counts = self.take_timings()
        figures.update(
            queued=queued,
            batches=counts.get("customer.segmentation.queue._process_batch", 0),
            ms_per_customer=1000 * figures["seconds"] / max(queued, 1),
            parts=parts,
        )
        if order_ids:
            with environment(self.registry) as env:
                env.cr.execute(
                    """SELECT count(DISTINCT f.partner_id)
                         FROM sale_order so
                         JOIN res_partner p ON p.id = so.partner_id
                         JOIN customer_segmentation_figure f
                           ON f.partner_id = p.commercial_partner_id
                          AND f.company_id = so.company_id
                        WHERE so.id = ANY(%s) AND f.last_order_date = %s""",
                    [list(order_ids), self.today()],
                )
                figures["fresh_customers"] = env.cr.fetchone()[0]
                figures["customers"] = len(order_ids)
        return figures

    def _disable_hook(self):
        """Switch the module's order hook off: what Odoo costs without it."""
        cls = self.registry["sale.order"]
        undo = []
        replacements = {
            "_segmentation_pairs": lambda records, *args, **kwargs: set(),
            "_segmentation_enqueue": lambda records, *args, **kwargs: None,
        }
        for method, replacement in replacements.items():
            if hasattr(cls, method):
                undo.append((cls, method, cls.__dict__.get(method)))
                setattr(cls, method, replacement)
        return undo

    def _confirm_one(self, order_id, hook, commit=True):
        """Confirm one quotation in its own transaction, as one click."""
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
                    "SELECT count(*) FROM customer_segmentation_queue "
                    "WHERE partner_id = %s",
                    [customer_id],
                )
                queued = bool(env.cr.fetchone()[0])
                return {
                    "seconds": end - start,
                    "before_commit": flushed - start,
                    "hook": sum(parts.get(name, 0.0) for name in HOOK_PARTS),
                    "queries": queries,
                    "queued": queued,
                }
        finally:
            self.uninstrument(undo)
            self.take_timings()

    def _confirm_bulk(self, order_ids, hook):
        """Confirm quotations in one ``action_confirm()`` call."""

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
                """SELECT count(*) FROM customer_segmentation_queue
                    WHERE partner_id = ANY(%s)""",
                [customer_ids],
            )
            queued = env.cr.fetchone()[0]
        figures.update(
            orders=len(order_ids),
            ms_per_order=1000 * figures["seconds"] / len(order_ids),
            ms_module_hook_total=1000 * sum(parts.get(n, 0.0) for n in HOOK_PARTS),
            module_hook_calls=counts.get("customer.segmentation.queue._enqueue", 0),
            queued_customers=queued,
        )
        return figures

    # ------------------------------------------------------------------
    # (s) against Setu "RFM Analysis", on a copy of the database
    # ------------------------------------------------------------------

    def step_companies(self):
        """(m): a second company's full recompute, counting the rows of
        ``sale_order`` it reads; rolled back."""
        import threading

        import odoo

        thread = threading.current_thread()
        testing = getattr(thread, "testing", False)
        # the run's batches become savepoints of this one transaction
        thread.testing = True
        try:
            with self.registry.cursor() as cr:
                env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                company_b = env["res.company"].create(
                    {
                        "name": "Benchmark Company B",
                        "currency_id": env.ref("base.EUR").id,
                    }
                )
                cr.execute(
                    "UPDATE sale_order SET company_id = %s WHERE id %% 10 = 0",
                    [company_b.id],
                )
                cr.execute(
                    """SELECT count(*) FILTER (WHERE company_id = %s),
                              count(*) FILTER (WHERE company_id <> %s),
                              count(DISTINCT partner_id) FILTER (WHERE company_id = %s)
                         FROM sale_order""",
                    [company_b.id] * 3,
                )
                orders_b, orders_a, partners_b = cr.fetchone()
                cr.execute("ANALYZE sale_order")

                def counters():
                    cr.execute(
                        """SELECT seq_scan, seq_tup_read, idx_scan, idx_tup_fetch
                             FROM pg_stat_xact_user_tables
                            WHERE relname = 'sale_order'"""
                    )
                    return cr.fetchone()

                # the plan of every statement, with its row counts (no timing)
                plans = PlanSink()
                cr._cnx.notices = plans
                cr.execute("LOAD 'auto_explain'")
                for name, value in (
                    ("auto_explain.log_min_duration", "0"),
                    ("auto_explain.log_analyze", "on"),
                    ("auto_explain.log_timing", "off"),
                    ("auto_explain.log_nested_statements", "on"),
                    ("auto_explain.log_level", "notice"),
                    ("client_min_messages", "notice"),
                ):
                    cr.execute(f"SET {name} = '{value}'")
                before = counters()
                env_b = env(context={"allowed_company_ids": [company_b.id]})
                start = time.perf_counter()
                summary = env_b["res.partner"].recompute_all_segments()
                seconds = time.perf_counter() - start
                after = counters()
                cr.rollback()
        finally:
            thread.testing = testing
        delta = [b - a for a, b in zip(before, after, strict=True)]
        scans = plans.sale_order_scans(company_b.id)
        figures = {
            "scans_by_index": scans,
            "rows_read_without_company_condition": sum(
                rows for (_index, by_company), rows in scans.items() if not by_company
            ),
            "orders_b": orders_b,
            "orders_a": orders_a,
            "order_partners_b": partners_b,
            "customers_b": summary["customers"],
            "seconds": seconds,
            "seq_scans": delta[0],
            "seq_rows_read": delta[1],
            "index_scans": delta[2],
            "index_rows_fetched": delta[3],
        }
        self.log(f"  (m) {figures}")
        return figures

    def setu_database(self):
        """The copy of the database with Setu's addon installed: made
        (``CREATE DATABASE ... TEMPLATE``) and installed when missing."""
        import odoo

        copy = f"{self.registry.db_name}_setu"
        with environment(self.registry) as env:
            env.cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [copy])
            exists = bool(env.cr.fetchone())
        if exists:
            self.log(f"  (s) reusing {copy}")
            return copy
        # a template database may have no other connection: close ours
        odoo.sql_db.close_db(self.registry.db_name)
        with autocommit_cursor_to("postgres") as cr:
            cr.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{self.registry.db_name}"')
        self.log(f"  (s) installing setu_rfm_analysis into {copy}")
        command = [
            sys.executable,
            "-m",
            "odoo",
            f"--addons-path={odoo.tools.config['addons_path']}",
            "-d",
            copy,
            "-i",
            "setu_rfm_analysis",
            "--stop-after-init",
            "--no-http",
            "--without-demo=all",
            "--log-level=warn",
        ]
        with Stopwatch() as watch:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"installing setu_rfm_analysis failed:\n{done.stderr[-3000:]}")
        self.log(f"  (s) installed in {watch.seconds:.0f} s")
        return copy

    def setu_deliveries(self, registry):
        """Setu counts the delivered stock moves of confirmed orders, not the
        orders: give every line of a confirmed order one delivered move (and
        move line) from the main warehouse's stock to the customers, at the
        order's date, once (the generated data has no deliveries)."""
        with environment(registry) as env:
            env.cr.execute("SELECT 1 FROM stock_move LIMIT 1")
            if env.cr.fetchone():
                return
            stock = env["stock.warehouse"].search([], limit=1).lot_stock_id.id
            customers = env.ref("stock.stock_location_customers").id
            with Stopwatch() as watch:
                env.cr.execute(SETU_MOVES, {"stock": stock, "customers": customers})
                moves = env.cr.rowcount
                env.cr.execute(SETU_MOVE_LINES)
        with autocommit_cursor(registry) as cr:
            cr.execute("VACUUM ANALYZE stock_move, stock_move_line")
        self.log(f"  (s) {moves:,} delivered moves added in {watch.seconds:.0f} s")

    @staticmethod
    def reset_setu(registry):
        """Forget Setu's results (partners' and orders' segments, history),
        so that its next run is a first one (not timed)."""
        with environment(registry) as env:
            env.cr.execute(
                "UPDATE sale_order SET rfm_segment_id = NULL "
                "WHERE rfm_segment_id IS NOT NULL"
            )
            env.cr.execute(
                "UPDATE res_partner SET rfm_segment_id = NULL "
                "WHERE rfm_segment_id IS NOT NULL"
            )
            env.cr.execute("DELETE FROM rfm_partner_history")
        with autocommit_cursor(registry) as cr:
            cr.execute("VACUUM sale_order, res_partner, rfm_partner_history")

    def step_setu(self):
        """(s): on the copy, ours and Setu's first run, then ours and Setu's
        no-change rerun, ``--setu-rounds`` times; medians and ratios."""
        import odoo

        copy = self.setu_database()
        registry = odoo.modules.registry.Registry(copy)
        self.setu_deliveries(registry)
        ours = Benchmark(registry, self.args)
        ours.repair()

        def setu(env):
            admin = env.ref("base.user_admin")
            wizard = env(user=admin.id)["update.customer.segment"].create({})
            wizard.update_customer_segment()

        samples = {"a": [], "c": [], "setu_first": [], "setu_rerun": []}
        for _round in range(self.args.setu_rounds):
            ours.reset()
            samples["a"].append(ours.step_full("s: ours, first run"))
            self.reset_setu(registry)
            _result, figures = ours.measure(setu)
            samples["setu_first"].append(figures)
            self.log(f"  (s) Setu first run {figures['seconds']:.2f} s")
            samples["c"].append(ours.step_full("s: ours, rerun"))
            _result, figures = ours.measure(setu)
            samples["setu_rerun"].append(figures)
            self.log(f"  (s) Setu rerun {figures['seconds']:.2f} s")
        with environment(registry) as env:
            env.cr.execute(
                """SELECT count(*) FILTER (WHERE rfm_segment_id IS NOT NULL),
                          count(DISTINCT rfm_segment_id)
                     FROM res_partner"""
            )
            segmented, segments = env.cr.fetchone()
        figures = {key: _median_figures(values) for key, values in samples.items()}
        figures["db"] = copy
        figures["setu_partners_segmented"] = segmented
        figures["setu_distinct_segments"] = segments
        figures["ratio_first"] = (
            figures["a"]["seconds"] / figures["setu_first"]["seconds"]
        )
        figures["ratio_rerun"] = (
            figures["c"]["seconds"] / figures["setu_rerun"]["seconds"]
        )
        odoo.sql_db.close_db(copy)
        if not self.args.keep_setu_db:
            with autocommit_cursor_to("postgres") as cr:
                cr.execute(f'DROP DATABASE "{copy}"')
        return figures


class PlanSink:
    """Collects the plans ``auto_explain`` sends as notices (psycopg2 keeps
    only the last 50 in its default list)."""

    SCAN = re.compile(
        r"(Index Only Scan|Index Scan|Bitmap Heap Scan|Seq Scan)"
        r"(?: Backward)?(?: using (\S+))? on sale_order \w+.*"
        r"actual rows=(\d+) loops=(\d+)"
    )

    def __init__(self):
        self.plans = []

    def append(self, message):
        self.plans.append(message)

    def sale_order_scans(self, company_id):
        """``{"index, company condition": rows}`` of every scan of
        ``sale_order``: the index used (or the scan), whether the company
        is in its index condition (or its recheck, for a bitmap scan), and
        the rows it fetched from the table."""
        scans = {}
        company = f"company_id = {company_id})"
        for plan in self.plans:
            lines = plan.splitlines()
            for number, line in enumerate(lines):
                match = self.SCAN.search(line)
                if not match:
                    continue
                details = []
                for following in lines[number + 1 :]:
                    if "->" in following:
                        break
                    details.append(following)
                by_company = any(
                    ("Index Cond" in d or "Recheck Cond" in d) and company in d
                    for d in details
                )
                key = (match[2] or match[1], by_company)
                rows = int(match[3]) * int(match[4])
                scans[key] = scans.get(key, 0) + rows
        return scans


@contextlib.contextmanager
def autocommit_cursor_to(dbname):
    """A cursor on ``dbname`` outside any transaction (CREATE/DROP DATABASE)."""
    import odoo

    cr = odoo.sql_db.db_connect(dbname).cursor()
    try:
        cr._cnx.autocommit = True
        yield cr
    finally:
        cr._cnx.autocommit = False
        cr.close()


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
        "queued_customers": sum(result["queued"] for result in results),
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
    check_steps(args, steps)
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
    medians, reset_s = run_rounds(bench, steps)
    results = {"info": info, "steps": medians}
    if reset_s is not None:
        results["reset_s"] = reset_s
    if steps & set("ob") and not steps & set("acnf"):
        # (o), (b) and the resets leave the module's state empty
        bench.log("recomputing every customer (not timed)")
        with environment(registry) as env:
            env["res.partner"].recompute_all_segments()
    single_steps = {
        "d": bench.step_incremental,
        "e": bench.step_cron,
        "m": bench.step_companies,
        "s": bench.step_setu,
    }
    for key, step in single_steps.items():
        if key in steps:
            results["steps"][key] = step()
    results["process_peak_rss_mib"] = Memory.process_peak_mib()
    # other work on the machine skews every figure: keep a trace of it
    results["load_average_start"] = load_start
    results["load_average_end"] = os.getloadavg()
    add_ratios(results)
    if not args.json_only:
        print_table(results)
    print("BENCH_JSON " + json.dumps(results, default=str, sort_keys=True))


def check_steps(args, steps):
    """Refuse impossible step sets; add Setu's folder to the addons path."""
    if "c" in steps and "a" not in steps:
        sys.exit("step c measures the recompute right after a: add a")
    if "s" in steps and not args.setu_addons_path:
        sys.exit("step s needs --setu-addons-path")
    if args.setu_addons_path:
        from benchlib import default_addons_path

        setu = os.path.abspath(args.setu_addons_path)
        if not os.path.isfile(
            os.path.join(setu, "setu_rfm_analysis", "__manifest__.py")
        ):
            sys.exit(f"no setu_rfm_analysis addon in {setu}")
        args.addons_path = f"{args.addons_path or default_addons_path()},{setu}"


def run_rounds(bench, steps):
    """(o), (b), (a), (c), (n), (f), ``--repeat`` times: their medians."""
    samples = {key: [] for key in "obacnf"}
    resets = []
    for round_ in range(bench.args.repeat):
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
        if "n" in steps:
            samples["n"].append(bench.step_night())
        if "f" in steps:
            bench.shift_lifecycle()
            samples["f"].append(bench.step_full("f"))
        if bench.args.repeat > 1:
            bench.log(f"round {round_ + 1}/{bench.args.repeat} done ({_load()})")
    medians = {
        key: _median_figures(values) for key, values in samples.items() if values
    }
    return medians, statistics.median(resets) if resets else None


def _load():
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# The targets of issue 10, against (o), at 1M customers.
TARGETS = {"a": 2.0, "n": 1.2, "c": 1.0}


def add_ratios(results):
    steps = results["steps"]
    for reference in ("b", "o"):
        seconds = steps.get(reference, {}).get("seconds")
        if seconds:
            for key in ("a", "c", "n", "f", "e"):
                if key in steps:
                    results[f"ratio_{key}_{reference}"] = (
                        steps[key]["seconds"] / seconds
                    )
    d = steps.get("d", {})
    for series in ("single", "bulk"):
        ours = d.get(series, {}).get("ms_per_order")
        odoo_only = d.get("baseline", {}).get(series, {}).get("ms_per_order")
        if ours and odoo_only:
            results[f"ratio_confirm_{series}"] = ours / odoo_only
        ours = d.get(series, {}).get("ms_median")
        odoo_only = d.get("baseline", {}).get(series, {}).get("ms_median")
        if ours and odoo_only:
            results[f"ratio_confirm_{series}_median"] = ours / odoo_only


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
            f"{label:<48}"
            f"{s['ms_per_order']:>7.1f} ms/order (median {s['ms_median']:.1f}, "
            f"p95 {s['ms_p95']:.1f}; in module hook {s['ms_module_hook']:.2f}; "
            f"{s['queries_per_order']:.0f} queries; queued "
            f"{s['queued_customers']}/{s['orders']})"
        )
    if "bulk" in d:
        s = d["bulk"]
        print(
            f"{'(d) confirm ' + str(s['orders']) + ' in one call' + suffix:<48}"
            f"{s['ms_per_order']:>7.2f} ms/order ({s['seconds']:.2f} s; module "
            f"hook {s['ms_module_hook_total'] / 1000:.3f} s in "
            f"{s['module_hook_calls']} call(s); {s['queries']:.0f} queries; queued "
            f"{s['queued_customers']}/{s['orders']})"
        )


# Where a recompute spends its time: (label, instrumented keys summed). A run
# works on two batches at once (segmentation_batch.SecondConnection): the
# parts of its batches add up the time of both connections, so they may add
# up to more than the step's wall-clock seconds.
PARTS = (
    ("figures", ("customer.segmentation.pipeline._refresh",)),
    ("thresholds", ("customer.segmentation.figure._population_stats",)),
    ("model fit", ("customer.segmentation.purchase.model._fit",)),
    ("classify", ("customer.segmentation.pipeline._classify",)),
    ("  model scores", ("customer.segmentation.purchase.model._score",)),
    ("  facts+rules", ("customer.segmentation.pipeline._collect",)),
    ("  scores", ("customer.segmentation.change._store_scores",)),
    ("  changes", ("customer.segmentation.change._collect",)),
    (
        "  SQL writes",
        (
            "customer.segmentation.change._write_copies",
            "customer.segmentation.change._write_own_silently",
            "customer.segmentation.change._point_figures",
        ),
    ),
    ("  ORM writes", ("customer.segmentation.change._write_own",)),
    ("chatter at commit", ("res.partner._message_track",)),
    ("  history", ("customer.segmentation.change._log",)),
    ("  needs", ("customer.segmentation.change._apply_needs",)),
    (
        "batches and locks",
        (
            "customer.segmentation.run._next_scope",
            "customer_segmentation_run.lock_customers",
            "customer_segmentation_run.lock_customer_ids",
        ),
    ),
    ("  search", ("customer.segmentation.pipeline._customers_to_classify",)),
)


def describe_parts(figures):
    parts = figures.get("parts") or {}
    shown = []
    for label, keys in PARTS:
        seconds = sum(parts.get(key, 0.0) for key in keys)
        if seconds:
            shown.append(f"{label.strip()} {seconds:.2f}")
    return ", ".join(shown)


def print_parts(steps):
    """Where (b), (a), (c), (n), (f), (e) spent their time, and the checks."""
    if "b" in steps:
        b = steps["b"]
        print(
            f"(b) aggregate {b['aggregate_s']:.2f} s, thresholds "
            f"{b['stats_s']:.2f} s, figures {b['figures_s']:.2f} s, UPDATE "
            f"{b['update_s']:.2f} s"
        )
    for key in ("a", "c", "n", "f", "e"):
        if key not in steps:
            continue
        s = steps[key]
        print(
            f"({key}) seconds (both connections' batches added up): "
            f"{describe_parts(s)}; written: history "
            f"{s['rows_customer_segment_history']:,.0f}, messages "
            f"{s['rows_mail_message']:,.0f}, tracking values "
            f"{s['rows_mail_tracking_value']:,.0f}"
            + (
                f"; Python allocations peak {s['traced_peak_mib']:.1f} MiB"
                if "traced_peak_mib" in s
                else ""
            )
        )
        if "customers_changed" in s:
            print(
                f"({key}) customers changing segment: {s['customers_changed']:,.0f}"
                f" ({s['changes']})"
                + (
                    f"; {s['redated_customers']:,.0f} re-dated; back: "
                    f"{s['back']['seconds']:.2f} s, "
                    f"{s['back']['customers_changed']:,} changed"
                    if "back" in s
                    else ""
                )
            )
        if "mismatches_vs_reference" in s:
            print(
                f"({key}) figures differing from (o)'s definition: "
                f"{s['mismatches_vs_reference']:.0f}"
                + (
                    f"; partners differing from (b): {s['differing_from_b']:.0f}"
                    f" {s.get('differing_columns') or ''}"
                    if "differing_from_b" in s
                    else ""
                )
            )


def row(label, figures, seconds=None):
    """One line of the table."""
    seconds = figures.get("seconds") if seconds is None else seconds
    written = figures.get("written")
    rate = figures.get("customers_per_s")
    queries = figures.get("queries")
    print(
        f"{label:<48}{seconds:>9.2f}"
        f"{'' if written is None else f'{written:,.0f}':>11}"
        f"{'' if not rate else f'{rate:,.0f}':>10}"
        f"{'' if queries is None else f'{queries:.0f}':>9}"
        f"{figures.get('peak_rss_mib', 0):>7.0f} MiB"
        f"{figures.get('rss_growth_mib', 0):>+5.0f} MiB"
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
        f"{'step':<48}{'seconds':>9}{'written':>11}{'cust/s':>10}"
        f"{'queries':>9}{'peak RSS':>10}{'RSS +':>8}"
    )
    print(header)
    print("-" * len(header))

    if "o" in steps:
        row("(o) old reference: 3 figures", steps["o"])
    if "b" in steps:
        row("(b) bare SQL: aggregate, stats, figures, UPDATE", steps["b"])
    if "a" in steps:
        row("(a) recompute_all_segments(), first (baseline)", steps["a"])
    if "c" in steps:
        row("(c) recompute_all_segments() again, no change", steps["c"])
    if "n" in steps:
        n = steps["n"]
        row(f"(n) nightly cron, {n['customers_changed']:,.0f} customers change", n)
    if "f" in steps:
        row("(f) recompute, every customer changed", steps["f"])
    print_single_steps(steps)
    print()
    print_parts(steps)
    print_verdicts(results, steps)


def print_single_steps(steps):
    """(d), (e), (m), (s): rows and notes."""
    if "d" in steps:
        d = steps["d"]
        print_incremental(d, "")
        if "baseline" in d:
            print_incremental(d["baseline"], ", no module hook")
        for key, label in (("drain_single", "singles"), ("drain_bulk", "bulk")):
            if key in d:
                q = d[key]
                row(
                    f"(d) queue cron after the {label}: {q['queued']:,} customers",
                    q,
                )
                print(
                    f"{'':<4}{q['ms_per_customer']:.1f} ms a customer, "
                    f"{q['batches']} batch(es); fresh afterwards "
                    f"{q.get('fresh_customers', '-')}/{q.get('customers', '-')}"
                )
    if "e" in steps:
        e = steps["e"]
        row(
            f"(e) quiet night: {e['batches']} batches of {e['batch_size']:,}, "
            f"{e['cron_calls']} call(s)",
            e,
        )
    if "m" in steps:
        m = steps["m"]
        print(
            f"(m) company B (every tenth order, {m['orders_b']:,} orders of "
            f"{m['order_partners_b']:,} partners; company A keeps "
            f"{m['orders_a']:,}): B's full recompute of {m['customers_b']:,} "
            f"customers in {m['seconds']:.2f} s read {m['index_rows_fetched']:,} "
            f"sale_order rows through indexes and {m['seq_rows_read']:,} by "
            f"sequential scans ({m['seq_scans']} scans)"
        )
        for (index, by_company), rows in sorted(m["scans_by_index"].items()):
            condition = (
                "company B in the index condition"
                if by_company
                else "NO company condition"
            )
            print(f"    {rows:>12,} rows by {index} ({condition})")
        print(
            f"    rows read by scans without company B in their condition: "
            f"{m['rows_read_without_company_condition']:,}"
        )
    if "s" in steps:
        s = steps["s"]
        row("(s) ours, first run (on the copy)", s["a"])
        row("(s) Setu update_customer_segment(), first", s["setu_first"])
        row("(s) ours, no-change rerun", s["c"])
        row("(s) Setu update_customer_segment(), rerun", s["setu_rerun"])
        print(
            f"(s) ours / Setu: first run {s['ratio_first']:.3f}, rerun "
            f"{s['ratio_rerun']:.3f}; Setu segmented "
            f"{s['setu_partners_segmented']:,} partners"
        )


def print_verdicts(results, steps):
    """The ratios against their targets; memory and load."""
    for key, target in TARGETS.items():
        ratio = results.get(f"ratio_{key}_o")
        if ratio is not None:
            verdict = "met" if ratio <= target else "NOT met"
            print(f"({key})/(o) = {ratio:.2f}  (target at 1M <= {target}: {verdict})")
    for key in ("a", "c", "n"):
        ratio = results.get(f"ratio_{key}_b")
        if ratio is not None:
            print(f"({key})/(b) = {ratio:.2f}")
    for series in ("single", "bulk"):
        ratio = results.get(f"ratio_confirm_{series}")
        if ratio is not None:
            median = results.get(f"ratio_confirm_{series}_median")
            print(
                f"confirmation {series}: {ratio:.3f} x without the hook (mean)"
                + (f", {median:.3f} (median)" if median else "")
                + ("  (target <= 1.10)" if series == "single" else "")
            )
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
