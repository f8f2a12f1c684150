#!/usr/bin/env python3
"""Time customer_segmentation's recompute paths on a generated database.

    python3 benchmarks/run.py -d cs_bench_100k

Steps, each measured in its own transaction and committed, so every time
includes the commit:

(b) bare-SQL reference: one aggregate of the confirmed orders per commercial
    partner (last order date; count and untaxed amount in the company currency
    over the module's look-back window) written by one UPDATE into
    ``last_order_date``, ``rfm_frequency`` and ``rfm_monetary`` of every
    partner: the rows the module writes after a reset, and nothing else.
(a) ``env['res.partner'].recompute_all_segments()`` after the same reset.
(c) the same call right after (a): nothing changed, so it writes nothing.
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

Before (b) and before (a) the module's stored columns are emptied on every
partner and the table vacuumed (not timed), so that (a) and (b) write the
same rows into the same table state. The generated data stays; the segment
columns end recomputed, by (e) or else by a last untimed full recompute, so
the script can be run again at once.

Memory is this process's resident set (RSS): its growth over a step and the
step's peak (the kernel's high-water mark, reset before the step), plus the
peak of the whole process (``ru_maxrss``). The PostgreSQL server's memory is
not included.
"""

import hashlib
import json
import os
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
    ("res.partner", "_segmentation_refresh"),
)

# Per commercial partner: last confirmed order date, and count and untaxed
# amount in company currency of the confirmed orders in the window.
PURCHASE = """
WITH purchase AS (
    SELECT p.commercial_partner_id AS customer_id,
           max(so.date_order)::date AS last_date,
           count(*) FILTER (WHERE so.date_order >= %(window_start)s) AS frequency,
           sum(so.amount_untaxed / COALESCE(NULLIF(so.currency_rate, 0), 1))
               FILTER (WHERE so.date_order >= %(window_start)s) AS monetary
      FROM sale_order so
      JOIN res_partner p ON p.id = so.partner_id
     WHERE so.state = 'sale'
  GROUP BY p.commercial_partner_id
)
"""

# Every partner gets its commercial partner's figures: the rows the module
# writes after a reset.
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


def parse_args():
    arguments = parser(__doc__)
    add_common_arguments(arguments)
    arguments.add_argument(
        "--steps",
        default="abcde",
        help="steps to run, among a, b, c, d, e (default: abcde; c needs a)",
    )
    arguments.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run b, a, c this many times and report the medians",
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
        "--batch-size", type=int, default=20000, help="(e) customers per batch"
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
        # imported late: the registry must be loaded first
        from odoo.addons.customer_segmentation.models.res_partner import (
            STORED_FIELDS,
        )

        return tuple(STORED_FIELDS)

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
                {"window_start": self.window_start(env, params)},
            )

    @staticmethod
    def window_start(env, params=None):
        from odoo import fields

        Partner = env["res.partner"]
        params = params or Partner._segmentation_params()
        return Partner._segmentation_window_start(
            params, fields.Date.context_today(Partner)
        )

    def reset(self):
        """Empty the module's stored columns and vacuum (not timed)."""
        columns = ", ".join(self.stored_fields)
        nulls = ", ".join("NULL" for _name in self.stored_fields)
        with Stopwatch() as watch:
            with environment(self.registry) as env:
                env.cr.execute(
                    f"UPDATE res_partner SET ({columns}) = ROW({nulls}) "
                    f"WHERE ({columns}) IS DISTINCT FROM ({nulls})"
                )
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

    def step_reference(self):
        def reference(env):
            env.cr.execute(REFERENCE_UPDATE, {"window_start": self.window_start(env)})
            return env.cr.rowcount

        written, figures = self.measure(reference)
        figures["written"] = written
        return figures

    def step_full(self, label):
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
        figures["customers_per_s"] = (summary.get("customers") or 0) / figures[
            "seconds"
        ]
        with environment(self.registry) as env:
            env.cr.execute(
                REFERENCE_MISMATCHES, {"window_start": self.window_start(env)}
            )
            figures["mismatches_vs_reference"] = env.cr.fetchone()[0]
        self.log(f"  ({label}) {figures['seconds']:.2f} s, summary {summary}")
        return figures

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
        Run = "customer.segmentation.run"
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
                        batch_size=self.args.batch_size,
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
        batch_times = list(self.timings.get("_segmentation_apply", []))
        self.take_timings()
        return {
            "seconds": seconds,
            "state": state,
            "cron_calls": calls,
            "batches": len(batch_times),
            "batch_size": self.args.batch_size,
            "time_budget": self.args.time_budget,
            "max_batch_s": max(batch_times, default=0.0),
            "mean_batch_s": statistics.mean(batch_times) if batch_times else 0.0,
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
    samples = {"a": [], "b": [], "c": []}
    resets = []
    for round_ in range(args.repeat):
        if "b" in steps:
            resets.append(bench.reset())
            samples["b"].append(bench.step_reference())
            bench.log(f"  (b) {samples['b'][-1]['seconds']:.2f} s")
        if "a" in steps:
            resets.append(bench.reset())
            samples["a"].append(bench.step_full("a"))
        if "c" in steps:
            samples["c"].append(bench.step_full("c"))
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
    elif steps & set("abd"):
        # (b) and the resets leave the segments empty, (d) leaves the hook's
        # refresh of orders since put back: recompute, so that the database
        # is again as a nightly run leaves it
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
    b = steps.get("b", {}).get("seconds")
    if b:
        for key in ("a", "c"):
            if key in steps:
                results[f"ratio_{key}_b"] = steps[key]["seconds"] / b


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

    if "b" in steps:
        row("(b) bare SQL: 1 aggregate + 1 UPDATE", steps["b"])
    if "a" in steps:
        row("(a) recompute_all_segments()", steps["a"])
    if "c" in steps:
        row("(c) recompute_all_segments() again", steps["c"])
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
    print()
    for key in ("a", "c"):
        if key in steps:
            s = steps[key]
            stats, apply = s["population_stats_s"] or 0, s["apply_s"] or 0
            print(
                f"({key}) population stats {stats:.2f} s, classify+write "
                f"{apply:.2f} s, rest {s['seconds'] - stats - apply:.2f} s; "
                f"figures differing from (b)'s definition: "
                f"{s['mismatches_vs_reference']:.0f}"
                + (
                    f"; Python allocations peak {s['traced_peak_mib']:.1f} MiB"
                    if "traced_peak_mib" in s
                    else ""
                )
            )
    for key, target in (("a", 2.0), ("c", 1.2)):
        ratio = results.get(f"ratio_{key}_b")
        if ratio is not None:
            verdict = "met" if ratio <= target else "NOT met"
            print(f"({key})/(b) = {ratio:.2f}  (target <= {target}: {verdict})")
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
