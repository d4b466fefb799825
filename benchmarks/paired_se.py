"""Paired standard error of lever effects on the counterfactual scenarios.

    python benchmarks/paired_se.py [replications] [scale] [--shared]

For each (reference, counterfactual) pair the script runs both scenarios on the same
seeds and prints, per indicator, the mean paired difference in the final year and its
standard error (sd of per-seed differences / sqrt(n)), plus the effectiveness ratio's
additional real R&D and public cost. Used to compare one shared random stream against
one stream per phase and quarter (issue 7; ``--shared``: every phase draws from one
generator, the scheme before).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from sim.model import InnovationModel
from sim.scenario import load_scenario


class _R:
    def __init__(self, indicators):
        self.indicators = indicators


def run(scenario, seed, scale, shared):
    m = InnovationModel(scenario, seed=seed, scale=scale, shared_stream=shared)
    m.run_model()
    return _R(m.recorder.as_arrays())

ROOT = Path(__file__).resolve().parents[1]
PAIRS = [("policy_2016_2020", "cf_no_deduction_increase"),
         ("policy_2016_2020", "cf_vouchers_at_scale"),
         ("policy_2016_2020", "cf_mobility_closed")]
INDICATORS = ["enterprise_rd_real_bn_yuan", "rd_intensity_industry_pct", "enterprise_invention_patents",
              "hightech_enterprises", "public_cost_bn_yuan", "tech_contract_turnover_bn_yuan"]


def main(reps: int = 8, scale: float = 0.002, shared: bool = False) -> None:
    seeds = [int(s) for s in np.random.SeedSequence(20151231).generate_state(reps)]
    cache = {}
    t0 = time.time()
    for ref, cf in PAIRS:
        for name in (ref, cf):
            if name not in cache:
                sc = load_scenario(ROOT / "scenarios" / f"{name}.toml")
                cache[name] = [run(sc, s, scale, shared) for s in seeds]
        print(f"\n{cf} - {ref}  (n={reps}, scale={scale}, {'one shared stream' if shared else 'one stream per phase'})")
        for ind in INDICATORS:
            d = np.array([b.indicators[ind][-1] - a.indicators[ind][-1] for a, b in zip(cache[ref], cache[cf])])
            print(f"  {ind:34s} mean {d.mean():12.4g}  paired SE {d.std(ddof=1) / np.sqrt(reps):10.4g}")
        d = np.array([np.nansum(b.indicators["enterprise_rd_real_bn_yuan"][1:] - a.indicators["enterprise_rd_real_bn_yuan"][1:])
                      for a, b in zip(cache[ref], cache[cf])])
        print(f"  {'sum real R&D after start':34s} mean {d.mean():12.4g}  paired SE {d.std(ddof=1) / np.sqrt(reps):10.4g}")
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--shared"]
    main(*(int(args[0]),) if args else (), *(float(args[1]),) if len(args) > 1 else (), shared="--shared" in sys.argv)
