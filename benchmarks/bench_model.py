"""Speed and memory of one model run (set-up included).

1. Default scale (the Scenario default, 0.01): 2 warm-up runs, then 30 timed runs of
   ``sim.run.run(Scenario(name="bench"), seed, scale)``; median and p90 wall time.
2. Full scale (scale = 1.0, 400,000+ firm rows): one run in a fresh subprocess, reporting
   wall time, the subprocess's peak resident memory (``resource.getrusage`` maxrss) and
   the number of firm rows at set-up and at the end.

    python benchmarks/bench_model.py [--runs 30] [--warmup 2] [--skip-full]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.run import run  # noqa: E402
from sim.scenario import Scenario  # noqa: E402

FULL_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from sim.model import InnovationModel
from sim.scenario import Scenario
t0 = time.perf_counter()
m = InnovationModel(Scenario(name="bench"), seed=1, scale=1.0)
n0 = int(m.firms.n)
t1 = time.perf_counter()
m.run_model()
t2 = time.perf_counter()
print(json.dumps({{"setup_s": t1 - t0, "wall_s": t2 - t0, "rows_initial": n0, "rows_final": int(m.firms.n),
                  "alive_final": int(m.firms.alive.sum()),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}}))
"""


def percentile(xs, q):
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--skip-full", action="store_true")
    a = ap.parse_args()

    sc = Scenario(name="bench")
    scale = sc.run.scale
    for s in range(a.warmup):
        run(sc, seed=1000 + s, scale=scale)
    times = []
    for s in range(a.runs):
        t0 = time.perf_counter()
        run(sc, seed=s, scale=scale)
        times.append(time.perf_counter() - t0)

    rows = [("default scale %g, %d runs" % (scale, a.runs), "median", f"{statistics.median(times):.3f} s"),
            ("", "p90", f"{percentile(times, 0.9):.3f} s"),
            ("", "min / max", f"{min(times):.3f} / {max(times):.3f} s")]
    if not a.skip_full:
        root = str(Path(__file__).resolve().parents[1])
        out = subprocess.run([sys.executable, "-c", FULL_CHILD.format(root=root)], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows += [("full scale 1.0, 1 run", "wall time (incl. set-up)", f"{r['wall_s']:.1f} s"),
                 ("", "of which set-up", f"{r['setup_s']:.1f} s"),
                 ("", "peak RSS (subprocess maxrss)", f"{r['maxrss_mb']:.0f} MB"),
                 ("", "firm rows at set-up", f"{r['rows_initial']:,}"),
                 ("", "firm rows at end (alive)", f"{r['rows_final']:,} ({r['alive_final']:,})")]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"{'benchmark':<{w0}}  {'measure':<{w1}}  value")
    print("-" * (w0 + w1 + 16))
    for r in rows:
        print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
