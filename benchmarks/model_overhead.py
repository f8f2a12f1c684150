#!/usr/bin/env python3
"""What the purchase model (issue 11) adds to a full recompute, in Odoo:

    python3 benchmarks/model_overhead.py -d cs_bench_model --customers 100000

The database must have customer_segmentation installed without demo data, and
no other customers with orders. The script draws the customers from the models
themselves (BG/NBD r 0.25, alpha 30 days, a 0.8, b 2.5; spend per day from
Gamma-Gamma p 6, q 4, gamma 15; first purchase up to three years ago) and writes
them and one confirmed order per purchase day with SQL (copies of a template
partner and order: not timed). Then it times ``recompute_all_segments()`` on
three consecutive (frozen) days:

- day 1: the first run, which fills every figure and score;
- day 2: a nightly run with the model: every probability and expected value
  changes with the day, so every customer's scores are written;
- day 3: the same run with the model switched off (no fit, no scores), which
  is the recompute without issue 11's fit and scores (the figures keep their
  new columns);

and, on its own, the fit of day 2 (read of the summaries, both models, the
holdout fit and the value cut-offs). Prints a table and a BENCH_JSON line.
"""

import datetime
import json

import numpy as np
from benchlib import (
    Memory,
    Stopwatch,
    add_common_arguments,
    environment,
    open_registry,
    parser,
)
from purchase_model import load_purchase_model


def arguments():
    args = parser(__doc__)
    add_common_arguments(args)
    args.add_argument("--customers", type=int, default=100_000)
    args.add_argument("--seed", type=int, default=11)
    return args.parse_args()


def draw(customers, seed, today):
    """``(customer index, date, amount)`` arrays, one row per purchase day."""
    pm = load_purchase_model()
    rng = np.random.default_rng(seed)
    T = rng.integers(0, 1096, size=customers).astype(float)
    x, t_x = pm.simulate_bgnbd(0.25, 30.0, 0.8, 2.5, T, seed=seed + 1)
    t_x = np.floor(t_x)
    x = np.minimum(x, t_x)
    t_x[x == 0] = 0
    spend = pm.simulate_gamma_gamma(6.0, 4.0, 15.0, x, seed=seed + 2)
    rows_customer, rows_offset = [np.arange(customers)], [np.zeros(customers)]
    for n in np.flatnonzero(x):
        middle = rng.choice(np.arange(1, int(t_x[n])), int(x[n]) - 1, replace=False)
        offsets = np.append(middle, t_x[n])
        rows_customer.append(np.full(len(offsets), n))
        rows_offset.append(offsets)
    customer = np.concatenate(rows_customer)
    offset = np.concatenate(rows_offset)
    first = today.toordinal() - T
    day = (first[customer] + offset).astype(int)
    amount = np.round(np.where(spend > 0, spend, 20.0)[customer], 2)
    return customer, day, amount


def copy_rows(env, table, template_id, overrides, source):
    """INSERT copies of row ``template_id`` of ``table``, one per row of the
    SQL ``source`` (aliased ``u``), with ``overrides`` {column: SQL text}."""
    env.cr.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
        [table],
    )
    columns = [row[0] for row in env.cr.fetchall()]
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(overrides.get(c, f't."{c}"') for c in columns)
    env.cr.execute(
        f"INSERT INTO {table} ({names}) SELECT {values} "  # noqa: S608
        f"FROM {table} t, {source} WHERE t.id = %s RETURNING id",
        [template_id],
    )
    return [row[0] for row in env.cr.fetchall()]


def fill(registry, customers, seed, today):
    customer, day, amount = draw(customers, seed, today)
    with environment(registry) as env:
        template = env["res.partner"].create({"name": "Model Bench Template"})
        product = env["product.product"].create(
            {"name": "Model Bench", "type": "service"}
        )
        order = env["sale.order"].create(
            {
                "partner_id": template.id,
                "order_line": [(0, 0, {"product_id": product.id, "price_unit": 1.0})],
            }
        )
        order.action_confirm()
        env.flush_all()
        ids = copy_rows(
            env,
            "res_partner",
            template.id,
            {
                "name": "'Model Bench ' || u.n",
                "complete_name": "'Model Bench ' || u.n",
                "commercial_partner_id": "NULL",
            },
            f"generate_series(1, {customers}) AS u(n)",
        )
        env.cr.execute(
            "UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)",
            [ids],
        )
        partners = np.array(ids)[customer].tolist()
        dates = [datetime.date.fromordinal(int(d)).isoformat() for d in day]
        env.cr.execute(
            "CREATE TEMPORARY TABLE bench_orders AS SELECT * FROM unnest("
            "%s::int[], %s::date[], %s::numeric[]) WITH ORDINALITY "
            "AS u(partner_id, day, amount, n)",
            [partners, dates, [str(a) for a in amount.tolist()]],
        )
        copy_rows(
            env,
            "sale_order",
            order.id,
            {
                "name": "'MODELBENCH' || u.n",
                "partner_id": "u.partner_id",
                "partner_invoice_id": "u.partner_id",
                "partner_shipping_id": "u.partner_id",
                "date_order": "u.day + interval '12 hours'",
                "amount_untaxed": "u.amount",
                "amount_total": "u.amount",
                "amount_tax": "0",
                "currency_rate": "1.0",
                "state": "'sale'",
            },
            "bench_orders u",
        )
        order._action_cancel()
    return len(day)


def timed_run(registry, day, model=True):
    """``(seconds, peak MiB above the start, summary)`` of a full recompute on
    ``day``; without the model, the fit returns "no model"."""
    from freezegun import freeze_time

    memory = Memory()
    with environment(registry) as env:
        Model = type(env["customer.segmentation.purchase.model"])
        fit, score = Model._fit, Model._score
        if not model:
            Model._score = lambda self, scope, day, stats: 0
            Model._fit = lambda self, company, day, params: {
                "customers": 0,
                "repeat_buyers": 0,
                "message": "switched off by the benchmark",
                "parameters": None,
                "holdout": None,
            }
        try:
            memory.reset_peak()
            before = memory.rss_mib()
            # freezegun freezes the clocks too: the stopwatch runs outside it
            with Stopwatch() as watch, freeze_time(f"{day} 03:00:00"):
                summary = env["res.partner"].recompute_all_segments()
        finally:
            Model._fit, Model._score = fit, score
    return watch.seconds, memory.peak_mib() - before, summary


def timed_fit(registry, day):
    from freezegun import freeze_time

    with environment(registry) as env:
        company = env.company
        params = company._segmentation_params()
        with Stopwatch() as watch, freeze_time(f"{day} 03:00:00"):
            env["customer.segmentation.purchase.model"]._fit(company, day, params)
    return watch.seconds


def main():
    args = arguments()
    registry = open_registry(args)
    today = datetime.date.today()
    with Stopwatch() as watch:
        orders = fill(registry, args.customers, args.seed, today)
    print(
        f"{args.customers} customers, {orders} orders written in {watch.seconds:.1f} s"
    )
    days = [today + datetime.timedelta(days=n) for n in range(3)]
    results = {"customers": args.customers, "orders": orders}
    for label, day, model in (
        ("day 1, first run", days[0], True),
        ("day 2, with the model", days[1], True),
        ("day 3, model switched off", days[2], False),
    ):
        seconds, peak, summary = timed_run(registry, day, model)
        results[label] = {"seconds": round(seconds, 2), "peak_mib": round(peak, 1)}
        print(f"{label:28} {seconds:8.2f} s  peak +{peak:6.1f} MiB  r={summary['r']}")
    seconds = timed_fit(registry, days[1])
    results["fit alone"] = {"seconds": round(seconds, 2)}
    print(f"{'fit alone (day 2)':28} {seconds:8.2f} s")
    print("BENCH_JSON " + json.dumps(results))


if __name__ == "__main__":
    main()
