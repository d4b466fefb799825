"""Analyses of finished experiments: reachability, Sobol', Morris, scenario discovery.

Each analysis reads the stored tables (never re-runs the model) and writes
``analysis/<name>.json``.  Sensitivity indices are computed on replication means (one
value per design point), and the model's own randomness is reported beside them from the
spread between replications of the same point.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from sim.indicators import reached as target_reached

from . import seeds as seedmod
from .design import salib_problem
from .errors import ExperimentError
from .store import ResultStore, atomic_write_json, load_results, wide_at_year
from .validity import MAX_LISTED, invalid_runs


# ----------------------------------------------------------------------------- helpers

def wilson(k: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n."""
    if n == 0:
        return (math.nan, math.nan)
    z = stats.norm.ppf(0.5 + conf / 2)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    # at p = 0 or 1 rounding can put a bound a hair on the wrong side of p: clamp
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def cluster_bootstrap(hits: np.ndarray, clusters: np.ndarray, rng, conf: float = 0.95,
                      n_boot: int = 2000) -> tuple[float, float]:
    """Percentile interval of a proportion when runs are clustered (replications of one
    design point share its inputs): resample whole clusters with replacement."""
    ids, inv = np.unique(clusters, return_inverse=True)
    if len(ids) < 2:
        return (math.nan, math.nan)
    k = np.bincount(inv, hits.astype(float), len(ids))
    n = np.bincount(inv, None, len(ids))
    draw = rng.integers(0, len(ids), size=(n_boot, len(ids)))
    p = k[draw].sum(axis=1) / n[draw].sum(axis=1)
    a = (1 - conf) / 2
    return (float(np.quantile(p, a)), float(np.quantile(p, 1 - a)))


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def lever_columns(manifest: dict) -> list[str]:
    return list(manifest["design"].get("options", {}).get("levers", []))


def group_label(scenario: str, levers: dict) -> str:
    if not levers:
        return scenario
    return scenario + " | " + ", ".join(f"{k}={v:g}" for k, v in levers.items())


# ----------------------------------------------------------------------------- reachability

def reachability(manifest: dict, runs: pd.DataFrame, ind: pd.DataFrame, conf: float = 0.95,
                 invalid: pd.DataFrame | None = None) -> dict:
    """P(target reached in the final year) per scenario (x lever setting) and target, with a
    Wilson interval; share of runs that reach it in some year, the first year reached, the
    cumulative P(reached by year), and paired differences against the first group.

    Invalid runs (``experiments.validity``: a NaN/inf indicator) are excluded, never
    counted as misses; ``n_invalid`` beside every probability says how many."""
    if invalid is None:
        invalid = invalid_runs(ind)
    bad_ids = set(invalid["run_id"].tolist())
    targets = manifest.get("targets", {})
    levers = lever_columns(manifest)
    years = sorted(ind["year"].unique().tolist())
    final = years[-1]
    keys = ["scenario"] + levers
    groups = []
    result = {"final_year": final, "confidence": conf, "interval": "wilson",
              "note": ("ci: Wilson, runs treated as independent draws over uncertainties and seeds; "
                       "ci_cluster: percentile bootstrap over design points (streams), which keeps "
                       "the replications of a point together"),
              "groups": groups, "targets": targets,
              "posterior": manifest["design"].get("posterior")}
    rng = np.random.default_rng(seedmod.analysis_seed(manifest["master_seed"]))
    base_reached = {}
    for gkey, g in runs.groupby(keys, sort=False):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        lev = {k: float(v) for k, v in zip(levers, gkey[1:])}
        entry = {"scenario": gkey[0], "levers": lev, "label": group_label(gkey[0], lev),
                 "n_runs": int(len(g)), "targets": {}}
        n_bad = int(g["run_id"].isin(bad_ids).sum())
        entry["n_invalid"] = n_bad
        g = g[~g["run_id"].isin(bad_ids)]
        for tid, t in targets.items():
            if g.empty:
                entry["targets"][tid] = {"indicator": t["indicator"], "threshold": t["threshold"],
                                         "n": 0, "k": 0, "n_invalid": n_bad, "p": None,
                                         "ci": [None, None], "ci_cluster": [None, None],
                                         "status": "no valid runs"}
                continue
            sub = ind[(ind["indicator"] == t["indicator"]) & ind["run_id"].isin(g["run_id"])]
            if sub.empty:
                continue
            wide = sub.pivot(index="run_id", columns="year", values="value").loc[g["run_id"]]
            hit = target_reached(wide.to_numpy(), t["threshold"], t.get("direction", "at_least"))
            n = hit.shape[0]
            k = int(hit[:, -1].sum())
            ever = hit.any(axis=1)
            first = np.where(ever, np.argmax(hit, axis=1), -1)
            first_years = np.array(years)[first[ever]] if ever.any() else np.array([])
            by_year = {}
            for j, y in enumerate(years):
                kk = int((ever & (first <= j)).sum())
                by_year[str(y)] = [kk / n, *wilson(kk, n, conf)]
            lo, hi = wilson(k, n, conf)
            clo, chi = cluster_bootstrap(hit[:, -1], g["stream"].to_numpy(), rng, conf)
            rec = {"indicator": t["indicator"], "threshold": t["threshold"], "n": n, "k": k,
                   "n_invalid": n_bad, "p": k / n, "ci": [lo, hi], "ci_cluster": [_finite(clo), _finite(chi)],
                   "p_ever": float(ever.mean()),
                   "first_year": ({"median": float(np.median(first_years)),
                                   "q25": float(np.quantile(first_years, 0.25)),
                                   "q75": float(np.quantile(first_years, 0.75)),
                                   "earliest": int(first_years.min())}
                                  if len(first_years) else None),
                   "p_by_year": by_year,
                   "median_final": _finite(np.median(wide.to_numpy()[:, -1]))}
            # paired difference to the first group (same streams and replications)
            pair_key = g[["stream", "replication"]].to_numpy()
            reached = pd.Series(hit[:, -1].astype(float),
                                index=pd.MultiIndex.from_arrays(pair_key.T))
            if tid not in base_reached:
                base_reached[tid] = (entry["label"], reached)
            else:
                base_label, base = base_reached[tid]
                both = reached.index.intersection(base.index)
                if len(both) >= 2:
                    d = reached.loc[both].to_numpy() - base.loc[both].to_numpy()
                    se = d.std(ddof=1) / math.sqrt(len(d))
                    z = stats.norm.ppf(0.5 + conf / 2)
                    rec["paired_diff"] = {"vs": base_label, "n_pairs": int(len(d)),
                                          "diff": float(d.mean()),
                                          "ci": [float(d.mean() - z * se), float(d.mean() + z * se)]}
            entry["targets"][tid] = rec
        groups.append(entry)
    return result


# ----------------------------------------------------------------------------- Sobol

def _point_stats(runs: pd.DataFrame, wide: pd.DataFrame, n_points: int):
    """Per point: replication mean of each indicator; and the mean within-point variance."""
    df = wide.join(runs.set_index("run_id")["point_id"])
    g = df.groupby("point_id", sort=True)
    means = g.mean()
    if len(means) != n_points:
        raise ExperimentError("results do not cover every design point")
    R = int(runs.groupby("point_id").size().min())
    within = g.var(ddof=1).mean() if R >= 2 else None
    return means, within, R


def _noise(within, means_col, R, name):
    if within is None:
        return {"replications": R, "note": "one replication per point: noise share not estimable"}
    s2 = float(within[name])
    v_means = float(np.var(means_col, ddof=1))
    v_signal = max(v_means - s2 / R, 0.0)
    tot = v_signal + s2
    return {"replications": R, "within_point_variance": s2,
            "variance_of_means": v_means,
            "noise_share_single_run": s2 / tot if tot > 0 else None,
            "noise_share_of_means": (s2 / R) / v_means if v_means > 0 else None}


def sobol_analysis(manifest, runs, ind, year=None, num_resamples=200, conf=0.95) -> dict:
    from SALib.analyze import sobol as salib_sobol

    spec = manifest["design"]
    names = [f["name"] for f in spec["factors"]]
    problem = salib_problem(spec["factors"])
    block, N = spec["options"]["block"], spec["options"]["n"]
    second = spec["options"]["second_order"]
    wide = wide_at_year(ind, year)
    means, within, R = _point_stats(runs, wide, spec["n_points"])
    seed = seedmod.analysis_seed(manifest["master_seed"])
    out = {"year": int(ind["year"].max()) if year is None else year, "n": N, "replications": R,
           "factors": names, "confidence": conf, "indicators": {}}
    sizes = [n for n in (2 ** k for k in range(2, 30)) if n <= N and n >= max(4, N // 16)]
    for name in means.columns:
        Y = means[name].to_numpy()
        rec = {"noise": _noise(within, Y, R, name)}
        if not np.all(np.isfinite(Y)):
            nb = int((~np.isfinite(Y)).sum())
            rec["status"] = (f"invalid runs (NaN/inf) at {nb} of {len(Y)} design points; "
                             "indices not computed (they need every point)")
            rec["n_invalid_points"] = nb
        elif np.ptp(Y) <= 1e-12 * max(1.0, np.abs(Y).max()):
            rec["status"] = "constant over the design; indices undefined"
        else:
            conv = []
            for n in sizes:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    Si = salib_sobol.analyze(problem, Y[: n * block], calc_second_order=second,
                                             num_resamples=num_resamples, conf_level=conf,
                                             seed=seed)
                conv.append({"n": n, "S1": Si["S1"].tolist(), "S1_conf": Si["S1_conf"].tolist(),
                             "ST": Si["ST"].tolist(), "ST_conf": Si["ST_conf"].tolist()})
            last = conv[-1]
            rec.update(status="ok", S1=last["S1"], S1_conf=last["S1_conf"], ST=last["ST"],
                       ST_conf=last["ST_conf"], convergence=conv)
            if len(conv) >= 2:
                change = float(np.max(np.abs(np.array(last["ST"]) - np.array(conv[-2]["ST"]))
                                      .tolist() + np.abs(np.array(last["S1"]) -
                                                         np.array(conv[-2]["S1"])).tolist()))
                width = float(np.max(last["ST_conf"]))
                rec["converged"] = bool(change <= 0.05 and width <= 0.1)
                rec["max_change_last_doubling"] = change
                rec["max_ST_conf"] = width
        out["indicators"][name] = rec
    return out


def morris_analysis(manifest, runs, ind, year=None, num_resamples=200, conf=0.95) -> dict:
    from SALib.analyze import morris as salib_morris

    spec = manifest["design"]
    names = [f["name"] for f in spec["factors"]]
    problem = salib_problem(spec["factors"])
    X = runs.groupby("point_id", sort=True)[names].first().to_numpy()
    wide = wide_at_year(ind, year)
    means, within, R = _point_stats(runs, wide, spec["n_points"])
    seed = seedmod.analysis_seed(manifest["master_seed"])
    out = {"year": int(ind["year"].max()) if year is None else year, "factors": names,
           "replications": R, "trajectories": spec["options"]["n"], "indicators": {}}
    for name in means.columns:
        Y = means[name].to_numpy()
        rec = {"noise": _noise(within, Y, R, name)}
        if not np.all(np.isfinite(Y)):
            nb = int((~np.isfinite(Y)).sum())
            rec["status"] = (f"invalid runs (NaN/inf) at {nb} of {len(Y)} design points; "
                             "effects not computed (they need every point)")
            rec["n_invalid_points"] = nb
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Si = salib_morris.analyze(problem, X, Y, num_resamples=num_resamples,
                                          conf_level=conf, num_levels=spec["options"]["num_levels"],
                                          seed=seed)
            rec.update(status="ok", mu=np.asarray(Si["mu"]).tolist(),
                       mu_star=np.asarray(Si["mu_star"]).tolist(),
                       sigma=np.asarray(Si["sigma"]).tolist(),
                       mu_star_conf=np.asarray(Si["mu_star_conf"]).tolist())
        out["indicators"][name] = rec
    return out


# ----------------------------------------------------------------------------- driver

def analyse_results(out) -> dict:
    """Run the analyses that fit the experiment's kind; write analysis/*.json."""
    from .discovery import discover

    manifest, runs, ind = load_results(out)
    store = ResultStore(out)
    store.analysis_dir.mkdir(exist_ok=True)
    kind = manifest["design"]["kind"]
    bad = invalid_runs(ind)
    listed = bad.head(MAX_LISTED).merge(runs[["run_id", "scenario", "seed"]], on="run_id", how="left")
    results = {"invalid": {"n_runs": int(len(runs)), "n_invalid": int(len(bad)),
                           "definition": "a NaN or infinite indicator in a year where it is defined "
                                         "(every year but the first; infinity in any year)",
                           "runs": listed.to_dict("records"),
                           "listed": int(len(listed))}}
    if manifest.get("targets") and kind in ("sweep", "reach"):
        results["reach"] = reachability(manifest, runs, ind, invalid=bad)
        if manifest["design"]["factors"]:
            results["discovery"] = discover(manifest, runs, ind, invalid=bad)
    if kind == "sobol":
        results["sobol"] = dict(sobol_analysis(manifest, runs, ind), n_invalid_runs=int(len(bad)),
                                posterior=manifest["design"].get("posterior"))
    if kind == "morris":
        results["morris"] = dict(morris_analysis(manifest, runs, ind), n_invalid_runs=int(len(bad)),
                                 posterior=manifest["design"].get("posterior"))
    for name, res in results.items():
        atomic_write_json(store.analysis_dir / f"{name}.json", res)
    return results
