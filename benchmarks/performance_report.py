#!/usr/bin/env python3
"""Time the Staff Performance pivot as it opens, on a benchmark database.

    python3 benchmarks/performance_report.py -d cs_bench_100k [--rounds 3]

Reads the report's default pivot view (rows, columns, measures) and its
action's default filters, then makes the ``read_group`` calls the web client's
pivot makes to draw it: one per combination of the row and column group-bys
(the total, the rows, the columns, the cells), with every measure. Each set of
calls runs ``--rounds`` times as the database's administrator (a sales
manager, who sees every salesperson), and the script prints the server time
of each call and of the whole pivot (best round), and how many rows the
report's table or view holds.

If the report is stored (``_refresh`` exists), it first times the refresh of
every company's figures (what the end of a full recompute does) and of
today's (the hourly job) and commits them, unless ``--no-refresh``; otherwise
nothing is written. ``--filter this_year`` (any filter of the search view,
repeatable) replaces the action's default filters.

Salespeople: ``generate.py`` gives every customer and order one of its eight
salespeople. On a database whose customers have none, ``--assign-salespeople``
spreads the customers over that many users of the Sales / User group first
(one UPDATE, committed).
"""

import itertools
import statistics

from benchlib import Stopwatch, add_common_arguments, environment, open_registry, parser

ACTION = "customer_segmentation.customer_segmentation_performance_report_action"
MODEL = "customer.segmentation.performance.report"


def pivot_layout(env):
    """``(rows, cols, measure specs)`` of the report's default pivot view."""
    from lxml import etree

    Report = env[MODEL]
    arch = etree.fromstring(
        Report.get_views([(False, "pivot")])["views"]["pivot"]["arch"]
    )
    rows, cols, measures = [], [], []
    for node in arch.iter("field"):
        kind = node.get("type")
        name = node.get("name")
        if kind == "row":
            rows.append(
                name + (f":{node.get('interval')}" if node.get("interval") else "")
            )
        elif kind == "col":
            cols.append(
                name + (f":{node.get('interval')}" if node.get("interval") else "")
            )
        elif kind == "measure":
            measures.append(f"{name}:{Report._fields[name].aggregator}")
    return rows, cols, [*measures, "__count"]


def default_domain(env, filters=None):
    """The domain of the action's ``search_default_*`` filters, or of the
    search view's ``filters`` (names) if given."""
    from lxml import etree

    from odoo.tools.safe_eval import datetime, dateutil, safe_eval, time

    action = env.ref(ACTION)
    context = safe_eval(action.context or "{}")
    defaults = filters or {
        key.removeprefix("search_default_")
        for key, value in context.items()
        if key.startswith("search_default_") and value
    }
    arch = etree.fromstring(
        env[MODEL].get_views([(False, "search")])["views"]["search"]["arch"]
    )
    evaluation = {
        "context_today": lambda: datetime.date.today(),
        "relativedelta": dateutil.relativedelta.relativedelta,
        "datetime": datetime,
        "time": time,
        "uid": env.uid,
    }
    domain = []
    for node in arch.iter("filter"):
        if node.get("name") in defaults and node.get("domain"):
            domain += safe_eval(node.get("domain"), evaluation)
    return domain


def group_bys(rows, cols):
    """The group-bys the pivot reads as it opens, every level expanded: the
    prefixes of the rows crossed with the prefixes of the columns."""
    row_prefixes = [rows[:n] for n in range(len(rows) + 1)]
    col_prefixes = [cols[:n] for n in range(len(cols) + 1)]
    return [r + c for r, c in itertools.product(row_prefixes, col_prefixes)]


def assign_salespeople(env, count):
    """Spread the customers without a salesperson over ``count`` salespeople."""
    users = env["res.users"].search(
        [
            ("groups_id", "in", env.ref("sales_team.group_sale_salesman").ids),
            ("share", "=", False),
        ],
        limit=count,
        order="id",
    )
    from odoo.tools import SQL

    env.cr.execute(
        SQL(
            """UPDATE res_partner
                  SET user_id = (%s::int[])[1 + mod(id, %s)]
                WHERE user_id IS NULL AND id = commercial_partner_id
                  AND id NOT IN (SELECT partner_id FROM res_users)""",
            users.ids,
            len(users),
        )
    )
    print(f"customers given one of {len(users)} salespeople: {env.cr.rowcount}")


def main():
    arguments = parser(__doc__)
    add_common_arguments(arguments)
    arguments.add_argument("--rounds", type=int, default=3)
    arguments.add_argument("--assign-salespeople", type=int, metavar="N")
    arguments.add_argument(
        "--filter",
        action="append",
        metavar="NAME",
        help="search filter instead of the action's defaults, e.g. this_year "
        "(repeatable)",
    )
    arguments.add_argument(
        "--no-refresh", action="store_true", help="do not refresh the figures first"
    )
    args = arguments.parse_args()
    registry = open_registry(args)
    if args.assign_salespeople:
        with environment(registry) as env:
            assign_salespeople(env, args.assign_salespeople)
    with environment(registry) as env:
        Report = env[MODEL]
        if hasattr(Report, "_refresh") and not args.no_refresh:
            companies = env["res.company"].search([])
            with Stopwatch() as watch:
                Report._refresh(companies)
            print(f"refresh of every company's figures: {watch.seconds:.2f} s")
            with Stopwatch() as watch:
                Report._refresh(companies, today_only=True)
            print(f"refresh of today's figures (hourly): {watch.seconds:.2f} s")
    with environment(registry) as env:
        admin = env.ref("base.user_admin")
        Report = (
            env[MODEL]
            .with_user(admin)
            .with_context(allowed_company_ids=admin.company_ids.ids)
        )
        env.cr.execute(f'SELECT count(*) FROM "{Report._table}"')  # noqa: SQL102 - fixed name
        print(f"rows of {Report._table}: {env.cr.fetchone()[0]:,}")
        rows, cols, measures = pivot_layout(Report.env)
        domain = default_domain(Report.env, args.filter)
        print(
            f"pivot: rows {rows}, columns {cols}, {len(measures)} measures, "
            f"domain {domain}"
        )
        timings = {tuple(groupby): [] for groupby in group_bys(rows, cols)}
        for _round in range(args.rounds):
            for groupby, seconds in timings.items():
                env.invalidate_all()
                with Stopwatch() as watch:
                    result = Report.read_group(
                        domain, measures, list(groupby), lazy=False
                    )
                seconds.append(watch.seconds)
                groups = len(result)
        for groupby, seconds in timings.items():
            print(
                f"read_group {list(groupby)!s:30} best {min(seconds):7.3f} s"
                f"  median {statistics.median(seconds):7.3f} s"
            )
        totals = [sum(round_) for round_ in zip(*timings.values(), strict=True)]
        print(
            f"whole pivot ({len(timings)} calls, {groups} groups in the last): "
            f"best {min(totals):.3f} s, median {statistics.median(totals):.3f} s"
        )
        env.cr.rollback()


if __name__ == "__main__":
    main()
