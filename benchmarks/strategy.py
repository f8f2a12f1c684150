"""Time the strategy job (issue 12, point 8): its first run on a classified
database, as the cron's consecutive calls, and a normal night.

    python3 benchmarks/strategy.py -d cs_bench_st_100k [--steps fn]
        [--time-budget 240] [--night-share 0.03] [--reset] [--json-only]

Steps, each call on a fresh cursor, committed, as Odoo's cron worker runs it
(``ir.cron.progress`` in the context; the job is called again while it
reports work remaining):

- ``f``: the first run: ``res.partner._cron_apply_segment_strategies(
  time_budget=)`` until it reports nothing left. Per call: seconds, customers
  processed, activities created. Checked afterwards: every customer of the
  company was processed once (the scopes of the job's batches, recorded as
  they commit, never overlap), and no customer holds two open activities of
  one type, nor two pool moves of one kind from this run.
  The database must be fresh (no follow-up nor churn activity yet); ``--reset``
  deletes those activities and the job's resume point first (what the job
  wrote otherwise stays: tags, pricelists, managers, pool).
- ``n``: a normal night, the next day (the clock is moved on ``--day-offset``
  days with freezegun): ``--night-share`` of the customers get an order of
  that day (their latest order re-dated and their customer queued, as the
  order's ``write`` does; not timed), the nightly recompute runs (not
  timed), then the strategy job is timed as in ``f``, with the
  customers it processed and the activities it created.

Peak RSS: the high-water mark of each step (``/proc/self/status``).
Prints a table and a ``BENCH_JSON`` line.
"""

import array
import datetime
import json
import time

from benchlib import Memory, Stopwatch, add_common_arguments, environment, open_registry
from benchlib import parser as make_parser

STRATEGY = "customer.segmentation.strategy"
RUN = "customer.segmentation.strategy.run"
QUEUE = "customer.segmentation.queue"
# The job's steps, timed when the module has them: per batch (strategy), and
# once per call over the whole company (run: a night's churn risks and its
# selection of customers; queue: the figures of the customers who bought).
TIMED = (
    (STRATEGY, "_apply_batch"),
    (STRATEGY, "_update_interactions"),
    (STRATEGY, "_update_churn_gaps"),
    (STRATEGY, "_update_churn_risk"),
    (STRATEGY, "_assign_managers"),
    (STRATEGY, "_return_to_pool"),
    (STRATEGY, "_apply_tags"),
    (STRATEGY, "_apply_pricelists"),
    (STRATEGY, "_schedule_followups"),
    (STRATEGY, "_schedule_churn_warnings"),
    (STRATEGY, "_create_activity_batch"),
    (RUN, "_update_churn_risks"),
    (RUN, "_pending_ids"),
    (QUEUE, "_process"),
)
ACTIVITY_TYPES = (
    "customer_segmentation.mail_activity_type_segment_followup",
    "customer_segmentation.mail_activity_type_churn_warning",
)
MAX_CALLS = 1000
CRON = "customer_segmentation.ir_cron_apply_segment_strategies"


def main():
    parser = make_parser(__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--steps", default="fn", help="f: first run, n: a night")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=240,
        help="seconds per call (default: the cron's own, 240)",
    )
    parser.add_argument("--night-share", type=float, default=0.03)
    parser.add_argument("--day-offset", type=int, default=1)
    parser.add_argument("--reset", action="store_true")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    bench = StrategyBenchmark(open_registry(args), args)
    results = {"db": args.db, "time_budget": args.time_budget}
    results.update(bench.describe())
    bench.log(
        f"{results['db']}: {results['customers']:,} customers, module "
        f"{results['module']}, budget {args.time_budget:g} s a call"
    )
    if "f" in args.steps:
        results["first_run"] = bench.first_run()
    if "n" in args.steps:
        results["night"] = bench.night()
    results["process_peak_rss_mib"] = Memory.process_peak_mib()
    print_table(results, bench.log)
    print("BENCH_JSON " + json.dumps(results, default=str, sort_keys=True))


class StrategyBenchmark:
    def __init__(self, registry, args):
        self.registry = registry
        self.args = args
        self.memory = Memory()
        self.timings = {}
        self.processed = array.array("i")
        with environment(registry) as env:
            self.company_id = env.company.id
            self.type_ids = [env.ref(xmlid).id for xmlid in ACTIVITY_TYPES]

    def log(self, message):
        if not self.args.json_only:
            print(message, flush=True)

    def describe(self):
        from run import module_fingerprint

        with environment(self.registry) as env:
            scope = env["customer.segmentation.pipeline"]._scope(env.company)
            customers = env.execute_query(_count(scope))[0][0]
            return {"customers": customers, "module": module_fingerprint()}

    # ------------------------------------------------------------------
    # Instrumentation
    # ------------------------------------------------------------------

    def instrument(self):
        undo = []
        for model_name, method in TIMED:
            model = self.registry.get(model_name)
            original = getattr(model, method, None)
            if original is None:
                continue
            short = model_name.rsplit(".", 1)[-1]
            name = method if model_name == STRATEGY else f"{short}.{method}"
            bucket = self.timings.setdefault(name, [])
            record = method == "_apply_batch"

            def wrapper(
                this, *args, _original=original, _bucket=bucket, _record=record, **kw
            ):
                start = time.perf_counter()
                try:
                    return _original(this, *args, **kw)
                finally:
                    _bucket.append(time.perf_counter() - start)
                    if _record:
                        self.record_scope(this, args)

            undo.append((model, method, model.__dict__.get(method)))
            setattr(model, method, wrapper)
        return undo

    def record_scope(self, strategy, args):
        """The customers of the batch just processed (its scope argument),
        read in its transaction, before it commits."""
        scope = next(arg for arg in args if hasattr(arg, "customers_sql"))
        ids = strategy.env.execute_query(_ids_of(scope))[0][0] or []
        self.processed.extend(ids)

    @staticmethod
    def uninstrument(undo):
        for model, method, own in reversed(undo):
            if own is None:
                delattr(model, method)
            else:
                setattr(model, method, own)

    # ------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------

    def first_run(self):
        with environment(self.registry) as env:
            existing = self.open_activities(env)
            if existing and not self.args.reset:
                raise SystemExit(
                    f"{existing} follow-up or churn activities exist already: "
                    "not a first run (--reset deletes them)"
                )
            if self.args.reset:
                env.cr.execute(
                    """DELETE FROM mail_activity WHERE res_model = 'res.partner'
                        AND activity_type_id = ANY(%s)""",
                    [self.type_ids],
                )
                env.cr.execute(
                    """DELETE FROM ir_config_parameter
                        WHERE key LIKE 'customer_segmentation.strategy%%'"""
                )
        figures = self.run_job()
        self.log_run("(f) first run", figures)
        return figures

    def night(self):
        from freezegun import freeze_time

        with environment(self.registry) as env:
            day = env["res.partner"].env.cr.now().date() + datetime.timedelta(
                days=self.args.day_offset
            )
        with freeze_time(datetime.datetime.combine(day, datetime.time(3)), tick=True):
            redated = self.make_night(day)
            with Stopwatch() as recompute:
                self.recompute()
            self.log(
                f"    night of {day}: {redated:,} customers bought, recompute "
                f"{recompute.seconds:.1f} s (not counted)"
            )
            figures = self.run_job()
        figures.update(
            {"day": str(day), "redated": redated, "recompute_s": recompute.seconds}
        )
        self.log_run("(n) normal night", figures)
        return figures

    def make_night(self, day):
        """Re-date the latest order of ``--night-share`` of the customers to
        ``day`` and queue their customers, as ``sale.order``'s ``write`` of
        ``date_order`` does (the nightly recompute refreshes the figures of
        the queued and stale customers only)."""
        with environment(self.registry) as env:
            cr = env.cr
            cr.execute(
                """
                WITH chosen AS (
                    SELECT partner_id FROM customer_segmentation_figure
                     WHERE company_id = %(company)s AND last_order_date IS NOT NULL
                  ORDER BY hashint4(partner_id + %(seed)s), partner_id
                     LIMIT (SELECT round(count(*) * %(share)s) FROM
                            customer_segmentation_figure WHERE company_id = %(company)s)
                ),
                latest AS (
                    SELECT DISTINCT ON (c.partner_id) so.id, c.partner_id
                      FROM chosen c
                      JOIN res_partner p ON p.commercial_partner_id = c.partner_id
                      JOIN sale_order so ON so.partner_id = p.id
                     WHERE so.state = 'sale' AND so.company_id = %(company)s
                  ORDER BY c.partner_id, so.date_order DESC, so.id DESC
                )
                UPDATE sale_order so SET date_order = %(date)s
                  FROM latest l WHERE so.id = l.id
                RETURNING l.partner_id
                """,
                {
                    "company": self.company_id,
                    "share": self.args.night_share,
                    "seed": day.toordinal(),
                    "date": datetime.datetime.combine(day, datetime.time(1)),
                },
            )
            customer_ids = [row[0] for row in cr.fetchall()]
            env[QUEUE]._enqueue((id_, self.company_id) for id_ in customer_ids)
            return len(customer_ids)

    def recompute(self):
        Run = "customer.segmentation.run"
        for _call in range(MAX_CALLS):
            with environment(self.registry) as env:
                env["res.partner"]._cron_recompute_segments()
                if not env[Run].search_count([("state", "=", "running")]):
                    return

    def run_job(self):
        """Call the job as the cron does until it reports nothing left."""
        undo = self.instrument()
        self.processed = array.array("i")
        calls = []
        self.memory.reset_peak()
        try:
            with environment(self.registry) as env:
                activities_before = self.open_activities(env)
                started = env.cr.now()
            while len(calls) < MAX_CALLS:
                with environment(self.registry) as env:
                    progress = env["ir.cron.progress"].create(
                        {"cron_id": env.ref(CRON).id, "remaining": 0}
                    )
                    env.cr.commit()
                    batches = len(self.timings.get("_apply_batch", []))
                    with Stopwatch() as call:
                        env["res.partner"].with_context(
                            ir_cron_progress_id=progress.id
                        )._cron_apply_segment_strategies(
                            time_budget=self.args.time_budget
                        )
                        env.cr.commit()
                    progress.invalidate_recordset()
                    calls.append(
                        {
                            "seconds": call.seconds,
                            "batches": len(self.timings.get("_apply_batch", []))
                            - batches,
                            "done": progress.done,
                            "remaining": progress.remaining,
                        }
                    )
                    self.log(
                        f"    call {len(calls)}: {call.seconds:.1f} s, "
                        f"done {progress.done:,}, remaining {progress.remaining:,}"
                    )
                    if not progress.remaining:
                        break
        finally:
            self.uninstrument(undo)
        timings = {name: sum(values) for name, values in self.timings.items()}
        counts = {name: len(values) for name, values in self.timings.items()}
        self.timings = {}
        processed = sorted(self.processed)
        repeated = sum(
            1 for a, b in zip(processed, processed[1:], strict=False) if a == b
        )
        with environment(self.registry) as env:
            figures = {
                "seconds": sum(call["seconds"] for call in calls),
                "calls": len(calls),
                "call_max_s": max(call["seconds"] for call in calls),
                "per_call": calls,
                "customers_processed": len(processed),
                "customers_processed_twice": repeated,
                "activities_created": self.open_activities(env) - activities_before,
                "duplicate_activities": self.duplicate_activities(env),
                "duplicate_pool_moves": self.duplicate_pool_moves(env, started),
                "steps_s": timings,
                "steps_calls": counts,
                "peak_rss_mib": self.memory.peak_mib(),
            }
        return figures

    # ------------------------------------------------------------------
    # Checks
    # ------------------------------------------------------------------

    def open_activities(self, env):
        env.cr.execute(
            """SELECT count(*) FROM mail_activity WHERE res_model = 'res.partner'
                AND activity_type_id = ANY(%s)""",
            [self.type_ids],
        )
        return env.cr.fetchone()[0]

    def duplicate_activities(self, env):
        env.cr.execute(
            """SELECT count(*) FROM (
                   SELECT 1 FROM mail_activity
                    WHERE res_model = 'res.partner' AND active
                      AND activity_type_id = ANY(%s)
                 GROUP BY res_id, activity_type_id HAVING count(*) > 1) d""",
            [self.type_ids],
        )
        return env.cr.fetchone()[0]

    @staticmethod
    def duplicate_pool_moves(env, since):
        env.cr.execute(
            """SELECT count(*) FROM (
                   SELECT 1 FROM customer_segmentation_pool_move
                    WHERE create_date >= %s
                 GROUP BY partner_id, company_id, move HAVING count(*) > 1) d""",
            [since.replace(tzinfo=None)],
        )
        return env.cr.fetchone()[0]

    def log_run(self, title, figures):
        self.log(
            f"  {title}: {figures['seconds']:.1f} s in {figures['calls']} call(s) "
            f"(longest {figures['call_max_s']:.1f} s), "
            f"{figures['customers_processed']:,} customers processed "
            f"({figures['customers_processed_twice']:,} twice), "
            f"{figures['activities_created']:,} activities "
            f"({figures['duplicate_activities']} duplicated), "
            f"peak RSS {figures['peak_rss_mib']:.0f} MiB"
        )
        for name, seconds in sorted(figures["steps_s"].items(), key=lambda i: -i[1]):
            self.log(
                f"      {name:28} {seconds:8.1f} s  "
                f"({figures['steps_calls'][name]:,} calls)"
            )


def _count(scope):
    from odoo.tools import SQL

    return SQL("SELECT count(*) FROM (%s) c", scope.customers_sql())


def _ids_of(scope):
    from odoo.tools import SQL

    return SQL("SELECT array_agg(id) FROM (%s) c", scope.customers_sql())


def print_table(results, log):
    log("")
    log(f"| strategy job, {results['customers']:,} customers | first run | night |")
    log("|---|---:|---:|")
    first = results.get("first_run") or {}
    night = results.get("night") or {}

    def cell(figures, key, fmt):
        return fmt.format(figures[key]) if key in figures else "-"

    for label, key, fmt in (
        ("seconds (sum of calls)", "seconds", "{:.1f}"),
        ("cron calls", "calls", "{}"),
        ("longest call, s", "call_max_s", "{:.1f}"),
        ("customers processed", "customers_processed", "{:,}"),
        ("customers processed twice", "customers_processed_twice", "{:,}"),
        ("activities created", "activities_created", "{:,}"),
        ("duplicate open activities", "duplicate_activities", "{}"),
        ("peak RSS, MiB", "peak_rss_mib", "{:.0f}"),
    ):
        log(f"| {label} | {cell(first, key, fmt)} | {cell(night, key, fmt)} |")


if __name__ == "__main__":
    main()
