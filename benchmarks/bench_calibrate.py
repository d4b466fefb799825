"""Calibration speed: simulations per second of `innosim calibrate` on the training window.

    python benchmarks/bench_calibrate.py [--population 20] [--generations 2] [--workers 2] [--scale 0.005]

Runs a short ABC-SMC (default free set, window scenario) and reports simulations per
second and the projected wall time of a 10,000-simulation calibration at that rate
(the issue's target: under 30 minutes on 2 cores).
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

from experiments.calibrate import CalibrationConfig, calibrate, shipped_priors_path
from sim.history import shipped_history_path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", type=int, default=20)
    ap.add_argument("--generations", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scale", type=float, default=0.005)
    a = ap.parse_args()
    cfg = CalibrationConfig(str(ROOT / "scenarios" / "window_2008_2015.toml"), str(shipped_history_path()),
                            str(shipped_priors_path()), None, None, a.population, a.generations, None, a.scale,
                            20151231, a.workers)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = calibrate(cfg, Path(d) / "c")
        dt = time.perf_counter() - t0
    n = res["manifest"]["simulations_total"]
    out = {"simulations": n, "seconds": round(dt, 1), "sims_per_s": round(n / dt, 2),
           "projected_10000_min": round(10000 / (n / dt) / 60, 1), "workers": a.workers, "scale": a.scale,
           "free_parameters": len(res["simulator"].priors)}
    print(json.dumps(out))
