"""Time the overview (issue 12): storing a company's figures of the day, and
each panel of the dashboard as the web client loads it.

    python3 benchmarks/overview.py -d cs_bench_100k [--repeat 3]
        [--movements N] [--keep-movements] [--past-days N]

Steps, each on a fresh cursor:

- ``store``: ``customer.segmentation.snapshot._store`` of the main company for
  today (what the end of a full recompute adds), committed.
- one line per panel of the overview (the ``<action>`` nodes of its board):
  ``get_views`` of the panel's view, then the grouped read its view sends
  (``read_group`` with the view's measures and groupbys, lazy=False), as a
  user of the Customer Segmentation / Manager group (record rules applied).
  Server time, the median of ``--repeat`` runs after one warm-up.
- ``live: movements this month``: for comparison, the same movements counted
  live from the segment history (``read_group`` on customer.segment.history
  this month by dimension and movement), what a dashboard without stored
  figures would run.

``--movements N`` first adds N segment changes dated this month to the
history (SQL, rolled back at the end unless ``--keep-movements``), spread over
the customers, so that the month's statement reads a busy month: a
generated database has no history of its own (its first recompute is the
baseline).

``--past-days N`` copies the day stored by ``store`` onto the N days before
(SQL, removed at the end), so that the panels read a table holding N days of
history, as after N nights (the table grows with days and segments, never
with customers).
"""

import argparse
import datetime
import statistics
import sys
import time

from benchlib import add_common_arguments, environment, open_registry
from dateutil.relativedelta import relativedelta
from lxml import etree

CUSTOMERS_ACTION = "customer_segmentation.res_partner_action_customers"
OVERVIEW_ACTION = "customer_segmentation.customer_segmentation_overview_action"
MANAGER_GROUP = "customer_segmentation.group_segmentation_manager"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--movements", type=int, default=0)
    parser.add_argument("--keep-movements", action="store_true")
    parser.add_argument("--past-days", type=int, default=0)
    args = parser.parse_args()
    registry = open_registry(args)

    added = 0
    if args.movements:
        with environment(registry) as env:
            added = add_movements(env, args.movements)
            print(f"added {added:,} segment changes dated this month")
    try:
        results = measure(registry, args.repeat, args.past_days)
    finally:
        if args.past_days:
            with environment(registry) as env:
                env.cr.execute(
                    "DELETE FROM customer_segmentation_snapshot WHERE date < %s",
                    [datetime.date.today()],
                )
                env["customer.segmentation.snapshot"]._mark_days(env.company)
        if added and not args.keep_movements:
            with environment(registry) as env:
                env.cr.execute(
                    "DELETE FROM customer_segment_history WHERE reason_code = %s",
                    ["benchmark_overview"],
                )
    width = max(len(name) for name, _times in results)
    print()
    print(f"{'step':<{width}}  {'median ms':>10}  {'min ms':>8}  {'max ms':>8}")
    for name, times in results:
        print(
            f"{name:<{width}}  {statistics.median(times) * 1000:>10.1f}  "
            f"{min(times) * 1000:>8.1f}  {max(times) * 1000:>8.1f}"
        )


def measure(registry, repeat, past_days):
    results = []
    with environment(registry) as env:
        env.cr.execute("SELECT count(*) FROM res_partner")
        partners = env.cr.fetchone()[0]
        env.cr.execute(
            "SELECT count(*) FROM customer_segment_history WHERE date >= %s",
            [datetime.date.today().replace(day=1)],
        )
        moves = env.cr.fetchone()[0]
        print(
            f"database {registry.db_name}: {partners:,} partners, "
            f"{moves:,} segment changes this month"
        )
    times = []
    for _ in range(repeat):
        with environment(registry) as env:
            started = time.perf_counter()
            rows = env["customer.segmentation.snapshot"]._store(
                env.company, datetime.date.today()
            )
            env.cr.commit()
            times.append(time.perf_counter() - started)
    print(f"store: {rows} rows per day")
    results.append(("store (end of a full recompute)", times))
    if past_days:
        with environment(registry) as env:
            add_past_days(env, past_days)

    with environment(registry) as env:
        user = manager(env)
        panels = overview_panels(env, user)
    for title, model, view_id, mode, domain in panels:
        times = []
        for index in range(repeat + 1):
            with environment(registry) as env:
                started = time.perf_counter()
                load_panel(env(user=user), model, view_id, mode, domain)
                if index:  # the first run warms the caches
                    times.append(time.perf_counter() - started)
        results.append((f"panel: {title}", times))

    for groupby in ("segment_value_id", "segment_lifecycle_id"):
        times = {part: [] for part in KANBAN_PARTS}
        for index in range(repeat + 1):
            with environment(registry) as env:
                seconds = load_kanban(env(user=user), groupby)
                if index:
                    for part, value in seconds.items():
                        times[part].append(value)
        for part, label in KANBAN_PARTS.items():
            results.append((f"kanban: customers by {groupby}, {label}", times[part]))

    times = []
    for index in range(repeat + 1):
        with environment(registry) as env:
            History = env["customer.segment.history"].with_user(user)
            start = datetime.date.today().replace(day=1)
            started = time.perf_counter()
            History.read_group(
                [("date", ">=", start)],
                ["__count"],
                ["dimension", "movement"],
                lazy=False,
            )
            if index:
                times.append(time.perf_counter() - started)
    results.append(("live: movements this month (history)", times))
    return results


def manager(env):
    """A user of the manager group in the main company (created once)."""
    Users = env["res.users"].with_context(no_reset_password=True)
    user = Users.search([("login", "=", "cs_bench_overview")])
    if not user:
        user = Users.create(
            {
                "name": "Overview Benchmark",
                "login": "cs_bench_overview",
                "groups_id": [(4, env.ref(MANAGER_GROUP).id)],
            }
        )
        env.cr.commit()
    return user.id


def overview_panels(env, uid):
    """``[(title, model, view id, view mode, domain)]`` of the overview's
    panels, read as the web client does."""
    from odoo.tools.safe_eval import safe_eval

    Actions = env["ir.actions.act_window"].sudo()
    action = Actions.browse(env.ref(OVERVIEW_ACTION).id)._get_action_dict()
    arch = env["board.board"].with_user(uid).get_view(action["views"][0][0], "form")
    context = {
        "context_today": datetime.date.today,
        "relativedelta": relativedelta,
    }
    panels = []
    for node in etree.fromstring(arch["arch"]).xpath("//action"):
        loaded = Actions.browse(int(node.get("name")))._get_action_dict()
        mode = node.get("view_mode")
        view_id = dict((m, v) for v, m in loaded["views"])[mode]
        panels.append(
            (
                node.get("string"),
                loaded["res_model"],
                view_id,
                mode,
                safe_eval(node.get("domain") or "[]", context),
            )
        )
    return panels


# The server calls of the customers' kanban as the web client opens it, in
# seconds each: the client sends the first two together, then one
# web_search_read per open column.
KANBAN_PARTS = {
    "columns": "columns and revenue (web_read_group)",
    "bar": "churn bar (read_progress_bar)",
    "records": "each open column's first cards (web_search_read)",
    "sum": "all these calls one after the other",
}
# Odoo 18's web client: 40 cards a kanban column, counted up to 10,000.
KANBAN_LIMIT = 40
KANBAN_COUNT_LIMIT = 10_000


def load_kanban(env, groupby):
    """The customers' kanban grouped by ``groupby`` as the web client opens
    it: its columns with their 12-month revenue, the churn progress bar, and
    the first cards of each open column (the column of customers without a
    segment opens folded). Returns the seconds of each part (KANBAN_PARTS)."""
    from odoo.tools.safe_eval import safe_eval

    Partner = env["res.partner"]
    action = env.ref(CUSTOMERS_ACTION).sudo()
    domain = safe_eval(action.domain or "[]")
    arch = etree.fromstring(
        Partner.get_views([(False, "kanban")])["views"]["kanban"]["arch"]
    )
    specification = {
        name: {}
        for name in {node.get("name") for node in arch.iter("field")}
        if name in Partner._fields
    }
    seconds = {}
    started = time.perf_counter()
    groups = Partner.web_read_group(
        domain, ["segmentation_revenue:sum"], [groupby], lazy=True
    )["groups"]
    seconds["columns"] = time.perf_counter() - started
    started = time.perf_counter()
    Partner.read_progress_bar(
        domain,
        groupby,
        {
            "field": "segmentation_churn_state",
            "colors": {"warning": "danger", "none": "success"},
            "sum_field": "segmentation_revenue",
        },
    )
    seconds["bar"] = time.perf_counter() - started
    started = time.perf_counter()
    for group in groups:
        if group[groupby]:
            Partner.web_search_read(
                group["__domain"],
                specification,
                limit=KANBAN_LIMIT,
                count_limit=KANBAN_COUNT_LIMIT + 1,
            )
    seconds["records"] = time.perf_counter() - started
    seconds["sum"] = seconds["columns"] + seconds["bar"] + seconds["records"]
    return seconds


def load_panel(env, model, view_id, mode, domain):
    Model = env[model]
    views = Model.get_views([(view_id, mode), (False, "search")])
    arch = etree.fromstring(views["views"][mode]["arch"])
    measures = [f"{n.get('name')}:sum" for n in arch.xpath("//field[@type='measure']")]
    groupby = [
        n.get("name") + (f":{n.get('interval')}" if n.get("interval") else "")
        for n in arch.xpath("//field[not(@type='measure')]")
    ]
    # the pivot also reads the totals: the grand total, then each level
    Model.read_group(domain, measures, [], lazy=False)
    return Model.read_group(domain, measures, groupby, lazy=False)


def add_past_days(env, days):
    """Today's rows copied onto the ``days`` days before, flags set."""
    env.cr.execute(
        """
        INSERT INTO customer_segmentation_snapshot
               (company_id, date, dimension_id, segment_id, customers, revenue,
                warned_customers, value_at_stake, upgrades, downgrades, churned,
                won_back, is_latest, is_month_end, create_uid, create_date,
                write_uid, write_date)
        SELECT company_id, date - n, dimension_id, segment_id, customers, revenue,
               warned_customers, value_at_stake, upgrades, downgrades, churned,
               won_back, false, false, create_uid, create_date, write_uid,
               write_date
          FROM customer_segmentation_snapshot, generate_series(1, %s) n
         WHERE company_id = %s AND date = %s
        """,
        [days, env.company.id, datetime.date.today()],
    )
    env["customer.segmentation.snapshot"]._mark_days(env.company)
    env.cr.execute("ANALYZE customer_segmentation_snapshot")
    env.cr.execute("SELECT count(*) FROM customer_segmentation_snapshot")
    print(f"snapshot table: {env.cr.fetchone()[0]:,} rows ({days} past days)")


def add_movements(env, count):
    """``count`` segment changes dated this month, on the value, lifecycle
    and RFM dimensions, spread over the customers and the segments."""
    today = datetime.date.today()
    start = datetime.datetime.combine(today.replace(day=1), datetime.time.min)
    seconds = max(int((datetime.datetime.now() - start).total_seconds()), 1)
    env.cr.execute(
        """
        WITH customer AS (
            SELECT id, row_number() OVER (ORDER BY id) AS n
              FROM res_partner WHERE is_company OR parent_id IS NULL
        ),
        segment AS (
            SELECT id, dimension,
                   row_number() OVER (PARTITION BY dimension ORDER BY id) AS n,
                   count(*) OVER (PARTITION BY dimension) AS total
              FROM customer_segment
             WHERE dimension IN ('value', 'lifecycle', 'rfm')
        ),
        change AS (
            SELECT g, (ARRAY['value', 'lifecycle', 'rfm'])[1 + g %% 3] AS dimension,
                   1 + (g * 7919) %% (SELECT count(*) FROM customer) AS customer_n
              FROM generate_series(1::bigint, %(count)s) g
        )
        INSERT INTO customer_segment_history
               (partner_id, company_id, dimension, old_segment_id, new_segment_id,
                date, cause, movement, reason_code, create_uid, create_date,
                write_uid, write_date)
        SELECT c.id, %(company)s, ch.dimension, old.id, new.id,
               %(start)s::timestamp
                   + make_interval(secs => ((ch.g * 104729) %% %(seconds)s)::int),
               'rule',
               (ARRAY['upgrade', 'downgrade', 'churn', 'lateral'])[1 + ch.g %% 4],
               'benchmark_overview', 1, now(), 1, now()
          FROM change ch
          JOIN customer c ON c.n = ch.customer_n
          JOIN LATERAL (
                SELECT s.id FROM segment s
                 WHERE s.dimension = ch.dimension AND s.n = 1 + ch.g %% s.total
          ) old ON true
          JOIN LATERAL (
                SELECT s.id FROM segment s
                 WHERE s.dimension = ch.dimension
                   AND s.n = 1 + (ch.g + 1) %% s.total
          ) new ON true
        """,
        {
            "count": count,
            "company": env.company.id,
            "start": start,
            "seconds": seconds,
        },
    )
    added = env.cr.rowcount
    env.cr.execute("ANALYZE customer_segment_history")
    return added


if __name__ == "__main__":
    sys.exit(main())
