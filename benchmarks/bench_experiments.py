"""Speed of the experiment layer on the real model.

1. A Sobol' analysis of >= 10 factors with N = 1024 at default scale, on a local process
   pool with all cores (target: within 15 minutes on the 2-core machine).
2. The same smaller design on a Dask LocalCluster with 1 and with 2 single-threaded
   workers (target: 2 workers >= 1.7x faster), checking the tables are identical.

    python benchmarks/bench_experiments.py [--scenario scenarios/baseline.toml]
        [--n 1024] [--factors 10] [--skip-sobol] [--dask-runs 400]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments import SimModelFunction, reach_design, run_experiment, sobol_design  # noqa: E402
from experiments.model import default_factors  # noqa: E402


def digest(out: Path) -> str:
    return hashlib.sha256((out / "indicators.parquet").read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="scenarios/baseline.toml")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--factors", type=int, default=10)
    ap.add_argument("--skip-sobol", action="store_true")
    ap.add_argument("--dask-runs", type=int, default=400)
    a = ap.parse_args()
    model = SimModelFunction(a.scenario)
    tmp = Path(tempfile.mkdtemp(prefix="bench_experiments_"))

    if not a.skip_sobol:
        factors = default_factors(model)[: a.factors]
        design = sobol_design(model, factors, n=a.n, replications=1, seed=1)
        t0 = time.perf_counter()
        run_experiment(design, model, tmp / "sobol", progress=None)
        dt = time.perf_counter() - t0
        print(f"sobol: {len(factors)} factors, N={a.n}, {design.n_runs} runs in {dt:.0f} s "
              f"({dt / 60:.1f} min, {design.n_runs / dt:.1f} runs/s) "
              f"-> {'PASS' if dt <= 900 else 'FAIL'} (<= 15 min)")

    from distributed import LocalCluster

    design = reach_design([model], n_lhs=a.dask_runs // 2, replications=2, seed=2)
    times, digests = {}, {}
    for w in (1, 2):
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            # warm-up: import sim on every worker so start-up is not timed
            from distributed import Client

            with Client(cluster) as c:
                c.run(lambda: __import__("sim.run"))
            t0 = time.perf_counter()
            run_experiment(design, model, tmp / f"dask{w}", scheduler=cluster.scheduler_address,
                           progress=False, analyse=False)
            times[w] = time.perf_counter() - t0
            digests[w] = digest(tmp / f"dask{w}")
        print(f"dask {w} worker(s): {design.n_runs} runs in {times[w]:.1f} s")
    speedup = times[1] / times[2]
    print(f"dask speed-up 2 vs 1 workers: {speedup:.2f}x -> {'PASS' if speedup >= 1.7 else 'FAIL'} "
          f"(>= 1.7x); tables identical: {digests[1] == digests[2]}")
    print(f"results in {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
