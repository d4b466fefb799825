"""Micro-moments of simulated firms beside the SOURCES §4/§5 targets, measured as the studies did.

    python benchmarks/micro_moments.py [--seeds 6] [--scale 0.1]

``measure(n_seeds, scale) -> dict`` is importable (tests). Each moment is pooled over
seeds: sums of weighted firm values are added across seeds before ratios and logs are
taken. Moments and their operational definitions:

(a) user-cost elasticity of real R&D. Paired runs with the same seed: Scenario "m"
    (50% super-deduction in every year) vs the same with 75% for every firm from 2016
    (rate_all, rate_tech_sme, rate_manufacturing). Both runs share the seed, so the
    initial rows (index < initial n) are the same firms in both. Sample: initial rows
    alive in both runs at the end of 2020, claiming the deduction, with rd_real > 0 and
    margin > 0 in both runs, and NOT certified high-tech in either run (so the tax rate
    is the standard 25%). Elasticity = dln(sum w * rd_real, 2020) / dln(UC) with
    UC = user_cost(0.25, d, 1) for d = 0.5 vs 0.75 (same UC for every firm in the sample).
    Target 1.1 (absolute value; the signed value is negative).
(b) the same for reported R&D (rd_real + relabel). Information: the study's value of about
    2 was measured at the notch, this sample is away from it.
(c) relabelled share of reported R&D: 2015 initial state, all reporting firms and
    certified firms; and at the end of 2017 among firms.buncher under the baseline (2008
    rules and 50% deduction, the setting Chen et al. studied) and under
    scenarios/policy_2016_2020.toml. Information (issue 11 #3): Chen et al.'s 24% is a share
    of the bunching response, set directly by notch_relabel_fraction.
(d) productivity effect of doubling R&D: paired runs, base "m" vs
    levers.soe_assessment.rd_weight = 1.0 (desired R&D of state-owned firms times 2 from
    2016). Sample: initial state-owned rows (ownership == 0) alive in both runs in 2020 with
    rd_real > 0 in the base run. Effect per doubling = exp(ln(P1/P0) / ln(R1/R0) * ln 2) - 1,
    where P and R are weighted sums of productivity and real R&D in 2020. Target +9%.
(e) 2015 weighted share of industrial firms (segment 0) reporting no R&D. Target 0.81.
(f) bunching: weighted count of industrial firms with reported intensity in
    [t, t + 0.5pp) over the count in [t - 0.5pp, t), among firms of the revenue band whose
    threshold is t. 2015 (2008 rules: 6% below 50 m yuan, 4% for 50-200 m, 3% above) and
    end of 2017 under policy_2016_2020 (5% / 4% / 3%). Criterion: ratio > 1.5.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.agents import firms as F  # noqa: E402
from sim.model import InnovationModel  # noqa: E402
from sim.scenario import Scenario, load_scenario  # noqa: E402

HIGH_DEDUCTION = {"levers.super_deduction.rate_all": 0.75, "levers.super_deduction.rate_tech_sme": 0.75,
                  "levers.super_deduction.rate_manufacturing": 0.75}
TARGETS = {"elasticity_real": 1.1, "productivity_per_doubling": 0.09, "no_rd_share_industrial_2015": 0.81}
# Not targets any more (issue 11 #3): the reported-R&D elasticity of about 2 and the 24%
# relabelled share were measured at the certification notch (Chen et al.); the model puts
# relabelling there (notch_relabel_fraction = share of the bunching response relabelled),
# so moments (b) and (c) measured on other samples are information.
WINDOW = 0.005


def _run(scenario, seed, scale, snap_quarter=None, also=None):
    """Run to 2020; return (model, initial-row count, snapshot at ``snap_quarter`` or None);
    with ``also`` (a quarter), the snapshot at that quarter as a fourth element."""
    m = InnovationModel(scenario, seed=seed, scale=scale)
    n0 = m.firms.n
    snap = _firm_snapshot(m) if snap_quarter == 0 else None
    extra = None
    while m.quarter < 20:
        m.step()
        if snap_quarter is not None and m.quarter == snap_quarter:
            snap = _firm_snapshot(m)
        if also is not None and m.quarter == also:
            extra = _firm_snapshot(m)
    return (m, n0, snap) if also is None else (m, n0, snap, extra)


def _firm_snapshot(m):
    f = m.firms
    return {k: getattr(f, k).copy() for k in ("weight", "alive", "segment", "revenue", "rd_real", "relabel",
                                             "buncher", "hightech")}


def _bunching(s, thresholds, bands=(50.0, 200.0)):
    """Excess-mass ratios at each threshold, as (count above, count below) weighted sums."""
    ind = s["alive"] & (s["segment"] == F.INDUSTRIAL)
    r = (s["rd_real"] + s["relabel"]) / s["revenue"]
    rev = s["revenue"]
    small, medium, large = thresholds
    band = {small: rev < bands[0], medium: (rev >= bands[0]) & (rev <= bands[1]), large: rev > bands[1]}
    out = {}
    for t, inband in band.items():
        m = ind & inband
        above = float((s["weight"] * (m & (r >= t) & (r < t + WINDOW))).sum())
        below = float((s["weight"] * (m & (r >= t - WINDOW) & (r < t))).sum())
        out[t] = (above, below)
    return out


def measure(n_seeds: int = 6, scale: float = 0.1, seed0: int = 1) -> dict:
    base = Scenario(name="m")
    high = base.with_values(HIGH_DEDUCTION)
    soe = base.with_values({"levers.soe_assessment.rd_weight": 1.0})
    policy = load_scenario(ROOT / "scenarios" / "policy_2016_2020.toml")
    acc = dict.fromkeys(("r0", "r1", "p0", "p1", "n_el", "s_r0", "s_r1", "s_p0", "s_p1", "n_soe",
                         "rel15", "rep15", "relb17", "repb17", "n_b17", "relp17", "repp17", "n_p17",
                         "relc15", "repc15", "norep15", "ind15"), 0.0)
    b15 = {t: [0.0, 0.0] for t in (0.06, 0.04, 0.03)}
    b17 = {t: [0.0, 0.0] for t in (0.05, 0.04, 0.03)}
    for k in range(n_seeds):
        seed = seed0 + k
        m0, n0, s15, s17b = _run(base, seed, scale, snap_quarter=0, also=12)
        m1, n1, _ = _run(high, seed, scale)
        m2, _, _ = _run(soe, seed, scale)
        _, _, s17 = _run(policy, seed, scale, snap_quarter=12)
        assert n0 == n1
        a, b, c = m0.firms, m1.firms, m2.firms
        sl = slice(0, n0)
        w = a.weight[sl]
        # (a), (b)
        sel = (a.alive[sl] & b.alive[sl] & a.claims[sl] & b.claims[sl] & (a.rd_real[sl] > 0) & (b.rd_real[sl] > 0)
               & (a.margin[sl] > 0) & (b.margin[sl] > 0) & ~a.hightech[sl] & ~b.hightech[sl])
        acc["r0"] += float((w * a.rd_real[sl] * sel).sum())
        acc["r1"] += float((w * b.rd_real[sl] * sel).sum())
        acc["p0"] += float((w * (a.rd_real + a.relabel)[sl] * sel).sum())
        acc["p1"] += float((w * (b.rd_real + b.relabel)[sl] * sel).sum())
        acc["n_el"] += float(sel.sum())
        # (d)
        st = a.alive[sl] & c.alive[sl] & (a.ownership[sl] == F.STATE) & (a.rd_real[sl] > 0)
        acc["s_r0"] += float((w * a.rd_real[sl] * st).sum())
        acc["s_r1"] += float((w * c.rd_real[sl] * st).sum())
        acc["s_p0"] += float((w * a.productivity[sl] * st).sum())
        acc["s_p1"] += float((w * c.productivity[sl] * st).sum())
        acc["n_soe"] += float(st.sum())
        # (c), (e), (f) 2015
        rep = s15["rd_real"] + s15["relabel"]
        acc["rel15"] += float((s15["weight"] * s15["relabel"] * (rep > 0)).sum())
        acc["rep15"] += float((s15["weight"] * rep).sum())
        ind = s15["segment"] == F.INDUSTRIAL
        acc["norep15"] += float((s15["weight"] * (ind & (rep <= 0))).sum())
        acc["ind15"] += float((s15["weight"] * ind).sum())
        for t, (up, lo) in _bunching(s15, (0.06, 0.04, 0.03)).items():
            b15[t][0] += up
            b15[t][1] += lo
        cert = s15["hightech"]
        acc["relc15"] += float((s15["weight"] * s15["relabel"] * cert).sum())
        acc["repc15"] += float((s15["weight"] * rep * cert).sum())
        # (c) bunchers at the end of 2017 under the rules of the study period (baseline: 2008
        # rules, 50% deduction) and, for information, under the legislated 2016 rules
        for snap, num, den, cnt in ((s17b, "relb17", "repb17", "n_b17"), (s17, "relp17", "repp17", "n_p17")):
            bu = snap["alive"] & snap["buncher"]
            acc[num] += float((snap["weight"] * snap["relabel"] * bu).sum())
            acc[den] += float((snap["weight"] * (snap["rd_real"] + snap["relabel"]) * bu).sum())
            acc[cnt] += float(bu.sum())
        # (f) 2017 under the 2016 rules
        for t, (up, lo) in _bunching(s17, (0.05, 0.04, 0.03)).items():
            b17[t][0] += up
            b17[t][1] += lo
    from sim.agents.firms import user_cost
    dln_uc = math.log(float(user_cost(0.25, 0.75, 1.0)) / float(user_cost(0.25, 0.5, 1.0)))
    el_real = math.log(acc["r1"] / acc["r0"]) / dln_uc
    el_rep = math.log(acc["p1"] / acc["p0"]) / dln_uc
    rd_ratio = acc["s_r1"] / acc["s_r0"]
    per_doubling = math.exp(math.log(acc["s_p1"] / acc["s_p0"]) / math.log(rd_ratio) * math.log(2.0)) - 1.0
    ratio = lambda ab: ab[0] / ab[1] if ab[1] > 0 else float("inf")  # noqa: E731
    return {
        "n_seeds": n_seeds, "scale": scale,
        "elasticity_real": el_real, "elasticity_reported": el_rep, "elasticity_sample_rows": acc["n_el"],
        "relabel_share_2015": acc["rel15"] / acc["rep15"],
        "relabel_share_certified_2015": acc["relc15"] / acc["repc15"],
        "relabel_share_bunchers_2017": acc["relb17"] / acc["repb17"] if acc["repb17"] > 0 else float("nan"),
        "relabel_share_bunchers_2017_policy": acc["relp17"] / acc["repp17"] if acc["repp17"] > 0 else float("nan"),
        "buncher_rows_2017": acc["n_b17"],
        "productivity_per_doubling": per_doubling, "soe_rd_ratio": rd_ratio,
        "soe_productivity_ratio": acc["s_p1"] / acc["s_p0"], "soe_sample_rows": acc["n_soe"],
        "no_rd_share_industrial_2015": acc["norep15"] / acc["ind15"],
        "bunching_2015": {t: ratio(v) for t, v in b15.items()},
        "bunching_2017": {t: ratio(v) for t, v in b17.items()},
        "bunching_counts_2015": {t: tuple(v) for t, v in b15.items()},
        "bunching_counts_2017": {t: tuple(v) for t, v in b17.items()},
    }


def _within(value, target, tol=0.25):
    return abs(abs(value) - target) <= tol * target


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--scale", type=float, default=0.1)
    a = ap.parse_args()
    t0 = time.perf_counter()
    r = measure(a.seeds, a.scale)
    print(f"micro-moments: {a.seeds} seeds x 4 runs at scale {a.scale} ({time.perf_counter() - t0:.0f} s)")
    print(f"{'moment':<52} {'model':>9} {'target':>8}  ok")
    rows = [
        ("(a) user-cost elasticity, real R&D (signed)", "elasticity_real", r["elasticity_real"]),
        ("(b) user-cost elasticity, reported R&D (signed)", "elasticity_reported", r["elasticity_reported"]),
        ("(c) relabelled share of reported R&D, 2015, all", "relabel_share_2015", r["relabel_share_2015"]),
        ("(c) ... certified firms 2015 (calibrated)", "relabel_share_2015", r["relabel_share_certified_2015"]),
        ("(c) ... bunching firms 2017, 2008 rules (as studied)", "relabel_share_bunchers_2017", r["relabel_share_bunchers_2017"]),
        ("(c) ... bunching firms 2017, 2016 rules (legislated)", None, r["relabel_share_bunchers_2017_policy"]),
        ("(d) productivity gain per doubling of R&D (SOEs)", "productivity_per_doubling", r["productivity_per_doubling"]),
        ("(e) industrial firms reporting no R&D, 2015", "no_rd_share_industrial_2015", r["no_rd_share_industrial_2015"]),
    ]
    for label, key, v in rows:
        if key is None or key not in TARGETS:
            print(f"{label:<52} {v:>9.3f} {'':>8}  (information)")
            continue
        t = TARGETS[key]
        print(f"{label:<52} {v:>9.3f} {t:>8.3f}  {'yes' if _within(v, t) else 'NO'}")
    for yr, key in (("2015 (2008 rules)", "bunching_2015"), ("2017 (2016 rules)", "bunching_2017")):
        for t, v in r[key].items():
            up, lo = r["bunching_counts_" + key[-4:]][t]
            label = f"(f) bunching {yr} at {100 * t:.0f}%: above/below"
            print(f"{label:<52} {v:>9.2f} {'>1.5':>8}  {'yes' if v > 1.5 else 'NO'}   "
                  f"[{up:,.0f} vs {lo:,.0f} firms, summed over seeds]")
    print(f"sample rows: elasticity {r['elasticity_sample_rows']:.0f}, SOE {r['soe_sample_rows']:.0f} "
          f"(R&D ratio {r['soe_rd_ratio']:.3f}, productivity ratio {r['soe_productivity_ratio']:.4f}), "
          f"bunchers 2017 {r['buncher_rows_2017']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
