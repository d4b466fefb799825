"""Scenario discovery with PRIM (the ``prim`` package): where in lever and uncertainty
space is a target reached with high probability?

Each run is one case: its factor values (levers and uncertainties) and whether it reached
the target in the final year.  A PRIM box's density is then the share of runs inside it
that reach the target, i.e. P(target | box).  From the peeling trajectory we take the box
with the largest coverage among those with density >= ``min_density`` (or the densest box
if none gets there) and state it in words, e.g.
``super_deduction.rate_all >= 0.75 and guidance.leverage >= 2.5 -> P(T5) = 0.86``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from sim.indicators import reached as target_reached

from .store import wide_at_year

MIN_CASES = 50      # fewer runs than this: no discovery
MIN_BOX_RUNS = 10   # a box must hold at least this many runs


def short(name: str) -> str:
    """``levers.super_deduction.rate_all`` -> ``super_deduction.rate_all``."""
    head, _, rest = name.partition(".")
    return rest if head in ("levers", "parameters", "initial", "uncertainties") and rest else name


def describe_box(limits: dict, full: dict, tid: str, p: float, coverage: float, mass: float,
                 n_in: int) -> str:
    parts = []
    for name, (lo, hi) in limits.items():
        flo, fhi = full[name]
        lo_r, hi_r = lo > flo + 1e-12 * max(1, abs(flo)), hi < fhi - 1e-12 * max(1, abs(fhi))
        if lo_r and hi_r:
            parts.append(f"{lo:.4g} <= {short(name)} <= {hi:.4g}")
        elif lo_r:
            parts.append(f"{short(name)} >= {lo:.4g}")
        elif hi_r:
            parts.append(f"{short(name)} <= {hi:.4g}")
    cond = " and ".join(parts) if parts else "anywhere in the sampled space"
    return (f"{cond} -> P({tid}) = {p:.2f} ({n_in} runs in the box, {coverage:.0%} of all runs "
            f"reaching {tid}, {mass:.0%} of the space sampled)")


def find_box(X: pd.DataFrame, reached: np.ndarray, tid: str, min_density: float = 0.8,
             peel_alpha: float = 0.05) -> dict:
    import prim

    X = X.astype(float)
    n, k = len(reached), int(reached.sum())
    full = {c: (float(X[c].min()), float(X[c].max())) for c in X.columns}
    base = k / n if n else float("nan")
    rec = {"n_runs": n, "n_reached": k, "p_overall": base, "min_density": min_density,
           "method": "PRIM (prim package)"}
    if n < MIN_CASES:
        rec["text"] = (f"too few runs ({n}) for scenario discovery on {tid}: PRIM needs at least "
                       f"{MIN_CASES} runs (raise --lhs or --replications)")
        return rec
    if k == 0:
        rec["text"] = f"no run reached {tid}: there is no region to describe"
        return rec
    if k == n:
        rec["text"] = f"every run reached {tid}: P({tid}) = 1 across the sampled space"
        return rec
    varying = [c for c in X.columns if full[c][1] > full[c][0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = prim.Prim(X[varying], reached.astype(float), threshold=0.5, threshold_type=">",
                      peel_alpha=peel_alpha, mass_min=max(0.05, MIN_BOX_RUNS / n))
        box = p.find_box()
    traj = box.peeling_trajectory
    traj = traj[traj["mass"] * n >= MIN_BOX_RUNS - 0.5]   # no boxes around a handful of runs
    ok = traj[traj["density"] >= min_density]
    i = int(ok["coverage"].idxmax()) if len(ok) else int(traj["density"].idxmax())
    box.select(i)
    lims = box.limits
    limits = {c: (float(lims.loc[c, "min"]), float(lims.loc[c, "max"])) for c in lims.index}
    inside = np.ones(n, dtype=bool)
    for c, (lo, hi) in limits.items():
        inside &= (X[c].to_numpy() >= lo) & (X[c].to_numpy() <= hi)
    if inside.any():  # state the limits as values that occur in the box (levels stay levels)
        limits = {c: (lo if lo <= full[c][0] else float(X[c][inside].min()),
                      hi if hi >= full[c][1] else float(X[c][inside].max()))
                  for c, (lo, hi) in limits.items()}
    n_in = int(round(float(traj.loc[i, "mass"]) * n))
    rec.update(density=float(traj.loc[i, "density"]), coverage=float(traj.loc[i, "coverage"]),
               mass=float(traj.loc[i, "mass"]), n_in_box=n_in, reaches_min_density=bool(len(ok)),
               limits={c: list(v) for c, v in limits.items()})
    rec["text"] = describe_box(limits, full, tid, rec["density"], rec["coverage"], rec["mass"], n_in)
    if not len(ok):
        rec["text"] += f"; no box reaches P >= {min_density:.2f}"
    return rec


def discover(manifest: dict, runs: pd.DataFrame, ind: pd.DataFrame, min_density: float = 0.8,
             invalid: pd.DataFrame | None = None) -> dict:
    """PRIM boxes per target and scenario. Invalid runs (NaN/inf indicators) are left out,
    never counted as misses; ``n_invalid_excluded`` says how many."""
    from .validity import invalid_runs

    names = [f["name"] for f in manifest["design"]["factors"]]
    bad = invalid_runs(ind) if invalid is None else invalid
    wide = wide_at_year(ind)
    wide = wide[~wide.index.isin(set(bad["run_id"].tolist()))]
    X = runs.set_index("run_id").loc[wide.index, names]
    out = {"final_year": int(ind["year"].max()), "factors": names, "targets": {},
           "n_invalid_excluded": int(len(bad))}
    scen = runs.set_index("run_id").loc[wide.index, "scenario"]
    for tid, t in manifest.get("targets", {}).items():
        if t["indicator"] not in wide.columns:
            continue
        reached = target_reached(wide[t["indicator"]].to_numpy(), t["threshold"], t.get("direction", "at_least"))
        per = {}
        for s in pd.unique(scen):
            mask = (scen == s).to_numpy()
            per[s] = find_box(X[mask], reached[mask], tid, min_density)
            n_bad = int(runs.loc[runs["run_id"].isin(set(bad["run_id"].tolist())), "scenario"].eq(s).sum())
            per[s]["n_invalid_excluded"] = n_bad
            if n_bad:
                per[s]["text"] += f" [{n_bad} invalid runs excluded]"
        out["targets"][tid] = per
    return out
