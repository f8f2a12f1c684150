#!/usr/bin/env python3
"""Show where a full recompute spends its time, statement by statement.

    python3 benchmarks/explain.py -d cs_bench_100k > explain-100k.txt

Runs the same sequence as run.py's (b), (a) and (c): empty the module's
state, the bare-SQL reference (aggregate, thresholds, figures, one UPDATE);
empty it again,
``recompute_all_segments()``, then ``recompute_all_segments()`` again. During
each, every SQL statement the process sends is timed (Odoo's ``odoo.sql_db``
debug log), and PostgreSQL's ``auto_explain`` (loaded in this session only,
which needs a superuser role) reports the plan of every statement slower than
``--min-ms`` as ``EXPLAIN (ANALYZE, BUFFERS)`` would, with the parameters the
module actually sent. Plans are exact but their timings are inflated by the
per-node instrumentation: use run.py for timings.

Each step is committed, like in run.py; the generated data stays. Last, (d)
confirms one generated quotation the same way (the module only queues its
customer), rolled back, and (q) queues the customers of ``--bulk-quotations``
quotations and runs the queue's cron, which classifies them in committed
batches (their orders unchanged, it writes nothing).
"""

import logging
import re
import time

from benchlib import (
    add_common_arguments,
    environment,
    open_registry,
    parser,
    pg_settings,
)
from run import Benchmark


class StatementLog(logging.Handler):
    """Collects Odoo's "[12.345 ms] query: ..." debug lines."""

    PATTERN = re.compile(r"^\[(?P<ms>[\d.]+) ms\] query: (?P<sql>.*)$", re.S)

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements = []

    def emit(self, record):
        match = self.PATTERN.match(record.getMessage())
        if match:
            self.statements.append((float(match["ms"]), match["sql"]))


class Notices:
    """psycopg2 notice sink without the default 50-message cap."""

    def __init__(self):
        self.messages = []

    def append(self, message):
        self.messages.append(message)


def parse_args():
    arguments = parser(__doc__)
    add_common_arguments(arguments)
    arguments.add_argument(
        "--min-ms",
        type=int,
        default=20,
        help="explain statements slower than this (default 20 ms)",
    )
    arguments.add_argument(
        "--top", type=int, default=8, help="statements listed per step"
    )
    arguments.add_argument(
        "--bulk-quotations",
        type=int,
        default=1000,
        help="customers refreshed at once in the last step (default 1000)",
    )
    arguments.add_argument(
        "--sql-chars",
        type=int,
        default=160,
        help="characters of each statement shown in the list",
    )
    return arguments.parse_args()


def profiled(registry, args, label, title, function, commit=True):
    handler = StatementLog()
    sql_logger = logging.getLogger("odoo.sql_db")
    level, propagate = sql_logger.level, sql_logger.propagate
    sql_logger.addHandler(handler)
    sql_logger.setLevel(logging.DEBUG)
    sql_logger.propagate = False
    notices = Notices()
    try:
        with environment(registry) as env:
            cr = env.cr
            cr._cnx.notices = notices
            cr.execute("LOAD 'auto_explain'")
            for name, value in (
                ("log_min_duration", args.min_ms),
                ("log_analyze", "on"),
                ("log_buffers", "on"),
                ("log_timing", "on"),
                ("log_verbose", "off"),
                ("log_nested_statements", "on"),
                ("log_triggers", "on"),
                ("log_level", "notice"),
            ):
                cr.execute(f"SET auto_explain.{name} = '{value}'")
            start = time.perf_counter()
            summary = function(env)
            if commit:
                cr.commit()
            else:
                env.flush_all()
            seconds = time.perf_counter() - start
            cr.execute("SET auto_explain.log_min_duration = -1")
            if not commit:
                cr.rollback()
    finally:
        sql_logger.removeHandler(handler)
        sql_logger.setLevel(level)
        sql_logger.propagate = propagate
    total_ms = sum(ms for ms, _sql in handler.statements)
    print(f"=== ({label}) {title}: {seconds:.2f} s (profiled) ===")
    print(f"result: {summary}")
    print(
        f"{len(handler.statements)} statements, {total_ms / 1000:.2f} s in SQL "
        f"(client-side); slowest:"
    )
    ranked = sorted(handler.statements, key=lambda item: -item[0])
    for ms, sql in ranked[: args.top]:
        text = " ".join(sql.split())
        print(f"  {ms:10.1f} ms  {text[: args.sql_chars]}")
    print()
    for message in notices.messages:
        text = message.strip()
        if "duration:" not in text:
            continue
        print(text.removeprefix("NOTICE:").strip())
        print()


def main():
    args = parse_args()
    registry = open_registry(args)
    args.tracemalloc = False
    args.json_only = False
    bench = Benchmark(registry, args)
    bench.repair()
    info = bench.describe()
    print(
        f"{info['db']}: {info['customers']:,} customers, {info['partners']:,} "
        f"partners, {info['orders']:,} orders; window from {info['window_start']}"
    )
    with environment(registry) as env:
        print(f"PostgreSQL settings: {pg_settings(env.cr)}")
    bench.warm_up()

    def reference(env):
        return f"{bench.full_reference(env)} rows written"

    def recompute(env):
        return env["res.partner"].recompute_all_segments()

    bench.reset()
    profiled(registry, args, "b", "bare SQL reference", reference)
    bench.reset()
    profiled(registry, args, "a", "recompute_all_segments()", recompute)
    profiled(registry, args, "c", "recompute_all_segments() again", recompute)

    # The incremental path: what confirming one quotation adds, rolled back.
    quotation_id = bench.pick_quotations(1)[0]

    def confirm(env):
        order = env["sale.order"].browse(quotation_id)
        order.action_confirm()
        return f"confirmed {order.name} (rolled back)"

    profiled(registry, args, "d", "action_confirm() of one quotation", confirm, False)

    # The queue's cron classifying the customers of --bulk-quotations
    # quotations, as confirming them in one call queues them.
    with environment(registry) as env:
        orders = env["sale.order"].browse(bench.pick_quotations(args.bulk_quotations))
        pairs = {
            (order.partner_id.commercial_partner_id.id, order.company_id.id)
            for order in orders
        }

    def drain(env):
        env["customer.segmentation.queue"]._enqueue(pairs)
        count = env["customer.segmentation.queue"]._process()
        return f"classified {count} queued customers"

    profiled(
        registry,
        args,
        "q",
        f"the queue's cron on {len(pairs)} customers",
        drain,
    )


if __name__ == "__main__":
    main()
