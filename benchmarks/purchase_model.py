#!/usr/bin/env python3
"""Time the purchase models (customer_segmentation/tools/purchase_model.py) on
synthetic customers, without Odoo or a database:

    python3 benchmarks/purchase_model.py --customers 1000000

Draws the customers from the models themselves (not timed): first purchase 0 to
1,095 days ago, purchases and last purchase in whole days, BG/NBD parameters
r 0.25, alpha 30 days, a 0.8, b 2.5 and Gamma-Gamma p 6, q 4, gamma 15 (about
CDNOW's). Then times each step as the nightly run would do it:

- fit BG/NBD (summaries aggregated inside),
- fit Gamma-Gamma on the repeat buyers,
- score: P(alive), expected purchases in the next 90 days and expected value
  over the next 365 days (undiscounted) of every customer.

Times are wall-clock and CPU seconds of this process (numpy may use more than
one thread). Memory is this process's resident set: its peak during the step
(the kernel's high-water mark, reset before the step) above what it held before
the step.
Prints a table and a BENCH_JSON line.
"""

import importlib.util
import json
import os
import platform
import time

import numpy as np
import scipy
from benchlib import REPO, Memory, Stopwatch, parser


def load_purchase_model():
    """The module, from its file: it needs numpy and scipy, not Odoo."""
    path = os.path.join(REPO, "customer_segmentation", "tools", "purchase_model.py")
    spec = importlib.util.spec_from_file_location("purchase_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_customers(pm, customers, seed):
    """Return x, t_x, T (days) and mean spend of ``customers`` drawn customers."""
    rng = np.random.default_rng(seed)
    T = rng.integers(0, 1096, size=customers).astype(float)
    x, t_x = pm.simulate_bgnbd(0.25, 30.0, 0.8, 2.5, T, seed=seed + 1)
    spend = pm.simulate_gamma_gamma(6.0, 4.0, 15.0, x, seed=seed + 2)
    return x, np.floor(t_x), T, spend


def measure(step, function):
    """Run ``function``; return its result, its wall-clock and CPU seconds (the
    CPU time of this process, less sensitive to a busy machine) and its memory
    (MiB) above the resident set before it."""
    memory = Memory()
    memory.reset_peak()
    before, cpu = memory.rss_mib(), time.process_time()
    with Stopwatch() as watch:
        result = function()
    return result, {
        "step": step,
        "seconds": round(watch.seconds, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "memory_mib": round(memory.peak_mib() - before, 1),
    }


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--customers", type=int, default=1_000_000)
    arguments.add_argument("--seed", type=int, default=1)
    args = arguments.parse_args()
    pm = load_purchase_model()
    x, t_x, T, spend = synthetic_customers(pm, args.customers, args.seed)
    rows = []
    bgnbd, row = measure("fit BG/NBD", lambda: pm.fit_bgnbd(x, t_x, T))
    rows.append(row)
    gamma_gamma, row = measure("fit Gamma-Gamma", lambda: pm.fit_gamma_gamma(x, spend))
    rows.append(row)
    _scores, row = measure(
        "score (P(alive), 90-day purchases, 365-day value)",
        lambda: (
            pm.probability_alive(bgnbd, x, t_x, T),
            pm.expected_purchases(bgnbd, 90, x, t_x, T),
            pm.expected_value(bgnbd, gamma_gamma, 365, x, t_x, T, spend),
        ),
    )
    rows.append(row)
    total = round(sum(row["seconds"] for row in rows), 3)
    total_cpu = round(sum(row["cpu_seconds"] for row in rows), 3)
    distinct = len(pm._aggregate(None, x, t_x, T)[2])
    print(
        f"{args.customers:,} customers ({int((x > 0).sum()):,} repeat buyers, "
        f"{distinct:,} distinct (x, t_x, T)); numpy {np.__version__}, "
        f"scipy {scipy.__version__}, {platform.processor() or platform.machine()}"
    )
    print(f"BG/NBD: {bgnbd}\nGamma-Gamma: {gamma_gamma}\n")
    print("| step | seconds | CPU seconds | memory (MiB) |\n|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['step']} | {row['seconds']} | {row['cpu_seconds']} "
            f"| {row['memory_mib']} |"
        )
    print(
        f"| total | {total} | {total_cpu} "
        f"| process peak {Memory.process_peak_mib():.0f} |"
    )
    print("BENCH_JSON " + json.dumps({"customers": args.customers, "steps": rows}))


if __name__ == "__main__":
    main()
