"""``innosim compare A.toml B.toml ...``: scenarios on common random numbers.

Every scenario runs with the same run seeds (derived from one master seed through
``SeedSequence.spawn``), so the target-year difference of each target indicator (2020
by default; the run's last year when it ends before the target year) against the first
scenario is a paired difference: its confidence interval is a t-interval over the per-seed
differences. Public cost (tax expenditures + outlays over the policy years, every year after
the start year: 2016–2020 by default) is compared the same way, and the effectiveness ratio is additional *real* R&D per yuan of additional
public cost (``sim.fiscal.paired_ratio``).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from experiments.errors import ExperimentError


MAX_IN_MEMORY_RUNS = 100_000  # run/compare keep every result in memory (a few kB each)


@dataclass(frozen=True)
class PairedDiff:
    mean: float
    low: float
    high: float
    n: int


def paired_diff(b: np.ndarray, a: np.ndarray, conf: float = 0.95) -> PairedDiff:
    """Mean of ``b - a`` with a t confidence interval (per-seed differences)."""
    d = np.asarray(b, float) - np.asarray(a, float)
    n = len(d)
    m = float(d.mean())
    if n < 2:
        return PairedDiff(m, float("nan"), float("nan"), n)
    half = float(stats.t.ppf(0.5 + conf / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    return PairedDiff(m, m - half, m + half, n)


def fieller_ratio(x: np.ndarray, y: np.ndarray, conf: float = 0.95) -> tuple[float, float, float]:
    """Ratio of means mean(x)/mean(y) of paired per-seed differences, with Fieller's interval.

    The interval is the set of theta with |mean(x - theta*y)| <= t * se(x - theta*y) (t with
    n-1 degrees of freedom). It is bounded exactly when the denominator's own t-interval
    excludes zero; otherwise the ratio is *not defined* at this precision and (nan, nan) is
    returned as the interval (the point estimate is still returned, for the record).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    my = float(y.mean())
    q = float(x.mean()) / my if my != 0 else float("nan")
    if n < 2:
        return q, float("nan"), float("nan")
    t = float(stats.t.ppf(0.5 + conf / 2, n - 1))
    c = np.cov(x, y, ddof=1) / n
    vxx, vyy, vxy = float(c[0, 0]), float(c[1, 1]), float(c[0, 1])
    if my == 0 or t * t * vyy >= my * my:  # denominator interval contains zero
        return q, float("nan"), float("nan")
    g = t * t * vyy / (my * my)
    disc = vxx - 2 * q * vxy + q * q * vyy - g * (vxx - vxy * vxy / vyy if vyy > 0 else vxx)
    half = t / abs(my) * np.sqrt(max(disc, 0.0))
    centre = q - g * vxy / vyy if vyy > 0 else q
    return q, float((centre - half) / (1 - g)), float((centre + half) / (1 - g))


def _run_one(job):
    """The full result of one (scenario, seed, scale) run."""
    from sim.run import run
    scenario, seed, scale = job
    return run(scenario, seed=seed, scale=scale)


def _run_jobs(jobs):
    """One task of the backend: a few runs."""
    return [_run_one(j) for j in jobs]


def run_paired(scenarios, seeds, scale, workers: int | None = None, progress=None, posterior=None,
               master_seed: int | None = None, scheduler: str | None = None):
    """Results[scenario index][replication] on shared seeds, through the one execution
    backend (``experiments.execute.map_chunks``: serial, process pool or Dask; the same
    results on each).

    With a posterior (``experiments.posterior``), replication i of every scenario runs with
    the same parameter vector drawn from it (draws seeded by ``master_seed``): pairing holds.
    """
    from .execute import auto_workers, map_chunks
    from .posterior import posterior_scenarios
    per_rep = posterior_scenarios(scenarios, posterior, len(seeds), master_seed if master_seed is not None else 0)
    jobs = [(per_rep[j][i], s, scale) for j in range(len(scenarios)) for i, s in enumerate(seeds)]
    workers = None if scheduler else auto_workers(workers, len(jobs))
    flat = map_chunks(_run_jobs, jobs, workers=workers, scheduler=scheduler, progress=progress)
    R = len(seeds)
    return [flat[i * R:(i + 1) * R] for i in range(len(scenarios))]


def compare(scenarios, seeds, scale, workers=None, progress=None, posterior=None, master_seed=None,
            scheduler=None) -> dict:
    """Paired differences of every target in its year (``run_command.assessed_year``) and of
    public cost over the policy years (``cost_years``), against scenarios[0]."""
    from sim.fiscal import POLICY_YEARS, net_budget_cost, paired_dynamic_ratio, paired_ratio, uncosted_levers
    from sim.indicators import COMPANIONS, TARGETS

    from .run_command import assessed_year, cost_years, invalid_replications

    results = run_paired(scenarios, seeds, scale, workers, progress, posterior, master_seed, scheduler)
    invalid = {sc.name: invalid_replications(res) for sc, res in zip(scenarios, results)}
    ref = results[0]
    years = list(ref[0].years)
    first_cost, last_cost = cost_years(years)
    rows = []
    targets = [p for tid, t in TARGETS.items() for p in ((tid, t), *((c.id, c) for c in [COMPANIONS.get(tid)] if c))]
    for sc, res in zip(scenarios[1:], results[1:]):
        # a seed with an invalid run on either side is left out of every paired statistic
        keep = np.array([i not in invalid[scenarios[0].name] and i not in invalid[sc.name]
                         for i in range(len(seeds))], dtype=bool)
        for tid, t in targets:
            year = assessed_year(t, years)
            a = np.array([r.value(t.indicator, year) for r in ref])[keep]
            b = np.array([r.value(t.indicator, year) for r in res])[keep]
            some = bool(keep.any())
            reach = some and year == t.year  # P(reach) only in the target's own year
            d = paired_diff(b, a) if some else PairedDiff(float("nan"), float("nan"), float("nan"), 0)
            rows.append({"scenario": sc.name, "target": tid, "indicator": t.indicator,
                         "year": year, "target_year": t.year,
                         "reference_mean": float(a.mean()) if some else float("nan"),
                         "scenario_mean": float(b.mean()) if some else float("nan"),
                         "diff": d.mean, "ci_low": d.low, "ci_high": d.high,
                         "p_reach_reference": float(np.mean(t.reached(a))) if reach else float("nan"),
                         "p_reach_scenario": float(np.mean(t.reached(b))) if reach else float("nan"),
                         "n_pairs": int(keep.sum()), "n_pairs_invalid": int((~keep).sum())})
    fiscal = []
    for sc, res_all in zip(scenarios[1:], results[1:]):
        pairs = [i for i in range(len(seeds))
                 if i not in invalid[scenarios[0].name] and i not in invalid[sc.name]]
        if len(pairs) < 1:
            continue
        res = [res_all[i] for i in pairs]
        ref = [results[0][i] for i in pairs]
        cost_a = np.array([np.nansum(r.indicators["public_cost_bn_yuan"][POLICY_YEARS]) for r in ref])
        cost_b = np.array([np.nansum(r.indicators["public_cost_bn_yuan"][POLICY_YEARS]) for r in res])
        rd_a = np.array([np.sum(r.indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS]) for r in ref])
        rd_b = np.array([np.sum(r.indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS]) for r in res])
        dc, dr = paired_diff(cost_b, cost_a), paired_diff(rd_b, rd_a)
        ratio, _, _ = paired_ratio(res, ref)
        dyn, _, d_net = paired_dynamic_ratio(res, ref)
        _, r_lo, r_hi = fieller_ratio(rd_b - rd_a, cost_b - cost_a)
        defined = bool(np.isfinite(r_lo))
        net_a = np.array([np.sum(net_budget_cost(r)) for r in ref])
        net_b = np.array([np.sum(net_budget_cost(r)) for r in res])
        dn = paired_diff(net_b, net_a)
        _, n_lo, n_hi = fieller_ratio(rd_b - rd_a, net_b - net_a)
        fiscal.append({"scenario": sc.name, "cost_first_year": first_cost, "cost_last_year": last_cost,
                       "public_cost_bn_yuan": float(cost_b.mean()),
                       "extra_cost_bn_yuan": dc.mean, "extra_cost_ci_low": dc.low, "extra_cost_ci_high": dc.high,
                       "extra_real_rd_bn_yuan": dr.mean, "extra_real_rd_ci_low": dr.low,
                       "extra_real_rd_ci_high": dr.high, "real_rd_per_yuan": ratio,
                       "ratio_defined": defined, "real_rd_per_yuan_ci_low": r_lo,
                       "real_rd_per_yuan_ci_high": r_hi, "replications": len(seeds),
                       "extra_net_budget_cost_bn_yuan": d_net, "extra_net_budget_cost_ci_low": dn.low,
                       "extra_net_budget_cost_ci_high": dn.high, "real_rd_per_yuan_dynamic": dyn,
                       "dynamic_ratio_defined": bool(np.isfinite(n_lo)),
                       "real_rd_per_yuan_dynamic_ci_low": n_lo, "real_rd_per_yuan_dynamic_ci_high": n_hi,
                       "uncosted_levers": " ".join(uncosted_levers(sc, scenarios[0]))})
    return {"reference": scenarios[0].name, "years": years, "cost_years": [first_cost, last_cost],
            "rows": rows, "fiscal": fiscal,
            "invalid": {k: {str(i): why for i, why in v.items()} for k, v in invalid.items()},
            "n_runs": len(scenarios) * len(seeds),
            "reference_public_cost_bn_yuan": float(np.mean(
                [np.nansum(r.indicators["public_cost_bn_yuan"][POLICY_YEARS])
                 for i, r in enumerate(results[0]) if i not in invalid[scenarios[0].name]] or [np.nan]))}


def diff_years(res: dict) -> str:
    """The year(s) the target differences are read in, e.g. ``"2020"`` (from the rows)."""
    from .run_command import year_label
    return year_label([r["year"] for r in res["rows"]] or res["years"][-1:])


def cost_span(res: dict) -> str:
    """The years the public cost is summed over, e.g. ``"2016-2020"`` (from the horizon)."""
    first, last = res["cost_years"]
    return f"{first}-{last}" if first != last else f"{first}"


def format_comparison(res: dict) -> str:
    from sim.formatting import fmt_number
    from .run_command import year_label
    lines = [f"paired differences in {diff_years(res)} against {res['reference']} (mean [95% CI]); "
             "P(reach) reference -> scenario"]
    late = sorted({r["target_year"] for r in res["rows"] if r["year"] != r["target_year"]})
    if late:
        lines.append(f"the run ends in {res['years'][-1]}, before the target year {year_label(late)}: "
                     "differences are that last year's; P(reach) is not assessed")
    head = f"{'scenario':28} {'target':6} {'difference':>30} {'P(reach)':>14}"
    lines += [head, "-" * len(head)]
    for r in res["rows"]:
        lines.append(f"{r['scenario']:28} {r['target']:6} {fmt_number(r['diff']) + ' [' + fmt_number(r['ci_low']) + ', ' + fmt_number(r['ci_high']) + ']':>30} "
                     f"{share_text(r['p_reach_reference']):>6} -> {share_text(r['p_reach_scenario']):<5}")
    lines.append("")
    lines.append(f"public cost {cost_span(res)} (tax expenditures + outlays), reference {res['reference']}: "
                 f"{fmt_number(res['reference_public_cost_bn_yuan'])} bn yuan")
    head = (f"{'scenario':28} {'cost bn yuan':>14} {'extra cost [95% CI]':>26} {'extra real R&D [95% CI]':>26} "
            f"{'real R&D per yuan [95% CI]':>30} {'extra net cost [95% CI]':>26} {'dynamic R&D per yuan [95% CI]':>30}")
    lines += [head, "-" * len(head)]
    for r in res["fiscal"]:
        lines.append(f"{r['scenario']:28} {fmt_number(r['public_cost_bn_yuan']):>14} "
                     f"{fmt_number(r['extra_cost_bn_yuan']) + ' [' + fmt_number(r['extra_cost_ci_low']) + ', ' + fmt_number(r['extra_cost_ci_high']) + ']':>26} "
                     f"{fmt_number(r['extra_real_rd_bn_yuan']) + ' [' + fmt_number(r['extra_real_rd_ci_low']) + ', ' + fmt_number(r['extra_real_rd_ci_high']) + ']':>26} "
                     f"{ratio_text(r):>30} "
                     f"{fmt_number(r['extra_net_budget_cost_bn_yuan']) + ' [' + fmt_number(r['extra_net_budget_cost_ci_low']) + ', ' + fmt_number(r['extra_net_budget_cost_ci_high']) + ']':>26} "
                     f"{ratio_text(r, dynamic=True):>30}")
    lines.append("real R&D per yuan: additional real R&D / additional public cost (static tax expenditures + outlays), "
                 f"{cost_span(res)}, with Fieller's 95% interval over the paired replications; 'not defined' where the "
                 "cost's interval spans 0. dynamic: per yuan of extra net budget cost (outlays - corporate tax collected).")
    for r in res["fiscal"]:
        if r.get("uncosted_levers"):
            lines.append(f"{r['scenario']}: also changes levers without a modelled public cost ({r['uncosted_levers']}); "
                         "its ratio credits their R&D to the costed levers")
    return "\n".join(lines)


def share_text(p: float) -> str:
    """A probability with two decimals; ``n/a`` when not assessed (NaN)."""
    return f"{p:.2f}" if np.isfinite(p) else "n/a"


def ratio_text(r: dict, dynamic: bool = False) -> str:
    from sim.formatting import fmt_number
    key = "real_rd_per_yuan_dynamic" if dynamic else "real_rd_per_yuan"
    if not r.get("dynamic_ratio_defined" if dynamic else "ratio_defined", True):
        return "not defined (cost CI spans 0)"
    return f"{fmt_number(r[key])} [{fmt_number(r[key + '_ci_low'])}, {fmt_number(r[key + '_ci_high'])}]"


def plot_comparison(res: dict, folder: Path) -> list[str]:
    """compare_targets.png (one panel per target, units on the axis) and compare_fiscal.png
    (extra cost, extra real R&D and their ratio, all with 95% intervals)."""
    from matplotlib.ticker import MaxNLocator

    from .output import pyplot
    from sim.indicators import INDICATORS, TARGETS

    plt = pyplot()
    names = list(dict.fromkeys(r["scenario"] for r in res["rows"]))
    n_rep = res["fiscal"][0].get("replications") if res["fiscal"] else None
    tids = list(TARGETS)
    ncol = 4
    nrow = -(-len(tids) // ncol)
    h = max(2.2, 0.32 * len(names) + 1.2)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol + 1.6, h * nrow), sharey=True, squeeze=False)
    y = np.arange(len(names))
    for ax, tid in zip(axes.flat, tids):
        t = TARGETS[tid]
        rows = {r["scenario"]: r for r in res["rows"] if r["target"] == tid}
        d = np.array([rows[n]["diff"] for n in names])
        lo = np.array([rows[n]["ci_low"] for n in names])
        hi = np.array([rows[n]["ci_high"] for n in names])
        ax.axvline(0, color="k", lw=0.6)
        if np.allclose(np.nan_to_num(np.r_[d, lo, hi]), 0.0):
            ax.text(0.5, 0.5, "no difference in any run\n(set by the programme quotas)" if t.indicator in
                    ("innovation_centres", "alliances", "pilot_firms", "competitive_clusters")
                    else "no difference in any run", transform=ax.transAxes, ha="center", va="center",
                    fontsize=8, color="0.3")
        ax.errorbar(d, y, xerr=[np.nan_to_num(d - lo), np.nan_to_num(hi - d)], fmt="o", color="C0",
                    ecolor="0.3", capsize=3, ms=4)
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis() if tid == tids[0] else None
        ax.set_title(f"{tid}: {t.label}", fontsize=8)
        ax.set_xlabel(f"difference, {INDICATORS[t.indicator].unit}", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.margins(x=0.12)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(tids):]:
        ax.axis("off")
    fig.suptitle(f"{diff_years(res)} value minus {res['reference']} (mean and 95% paired t-interval over "
                 f"{n_rep} shared seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "compare_targets.png", dpi=90)
    plt.close(fig)

    fis = res["fiscal"]
    y = np.arange(len(fis))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 1.2 + 0.45 * len(fis)), sharey=True,
                                   gridspec_kw={"width_ratios": [3, 2]})
    for off, key, label, c in ((-0.18, "extra_cost", "extra public cost", "C3"),
                               (0.18, "extra_real_rd", "extra real R&D", "C0")):
        m = np.array([r[f"{key}_bn_yuan"] for r in fis])
        lo = np.array([r[f"{key}_ci_low"] for r in fis])
        hi = np.array([r[f"{key}_ci_high"] for r in fis])
        ax1.barh(y + off, m, height=0.36, color=c, alpha=0.6, label=label)
        ax1.errorbar(m, y + off, xerr=[np.nan_to_num(m - lo), np.nan_to_num(hi - m)], fmt="none",
                     ecolor="k", capsize=3)
    ax1.set_yticks(y, [r["scenario"] for r in fis], fontsize=7)
    ax1.set_ylim(len(fis) - 0.5, -0.9)  # top row first, room for the ratio labels
    ax1.axvline(0, color="k", lw=0.6)
    ax1.set_xlabel(f"billion yuan, summed {cost_span(res)}, vs {res['reference']} (95% paired CI)", fontsize=8)
    ax1.legend(fontsize=7, loc="lower right")
    ax2.axvline(0, color="k", lw=0.6)
    for i, r in enumerate(fis):
        if r.get("ratio_defined", True) and np.isfinite(r.get("real_rd_per_yuan_ci_low", np.nan)):
            m, lo, hi = r["real_rd_per_yuan"], r["real_rd_per_yuan_ci_low"], r["real_rd_per_yuan_ci_high"]
            ax2.errorbar([m], [i], xerr=[[m - lo], [hi - m]], fmt="o", color="C2", capsize=3)
            ax2.annotate(f"{m:.2g} [{lo:.2g}, {hi:.2g}]", (m, i), xytext=(0, 6), textcoords="offset points",
                         fontsize=7, ha="center")
        else:
            ax2.text(0.02, i, "not defined: extra cost's CI spans 0", transform=ax2.get_yaxis_transform(),
                     va="center", fontsize=7, color="0.35")
    ax2.set_xlabel("extra real R&D per yuan of extra public cost (Fieller 95% CI)", fontsize=8)
    ax2.tick_params(axis="x", labelsize=7)
    ax1.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"Fiscal comparison, {n_rep} shared seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "compare_fiscal.png", dpi=90)
    plt.close(fig)
    return ["compare_targets.png", "compare_fiscal.png"]


def cmd_compare(args) -> int:
    from sim.scenario import load_scenario

    from .options import check_run_options
    from .outdir import default_out
    from .run_command import in_output_folder

    if len(args.scenarios) < 2:
        raise ExperimentError("compare needs at least two scenario files (the first is the reference)")
    scs = [load_scenario(p) for p in args.scenarios]
    names = [s.name for s in scs]
    if len(set(names)) != len(names):
        raise ExperimentError(f"compare: scenario names must differ, got {names}")
    check_run_options(args, scs[0])
    reps, scale, seed = args.replications, args.scale, args.seed
    if len(scs) * reps > MAX_IN_MEMORY_RUNS:
        raise ExperimentError(f"compare: {len(scs)} scenarios x {reps} replications = {len(scs) * reps:,} "
                              f"runs, above the limit of {MAX_IN_MEMORY_RUNS:,} (results are held in memory)")
    out = Path(args.out) if args.out else default_out("compare", "-vs-".join(names[:3]))
    return in_output_folder("compare", out, scs, args,
                            lambda folder, seeds: _compare_into(folder, args, scs, reps, scale, seed, seeds))


def _compare_into(folder, args, scs, reps, scale, seed, seeds) -> int:
    import pandas as pd

    from .output import staged_output

    out = folder.path
    t0 = time.perf_counter()

    def progress(done, total):
        if sys.stderr.isatty():
            print(f"\r  runs {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    from .posterior import load_posterior, posterior_note
    posterior = load_posterior(args.posterior) if args.posterior else None
    res = compare(scs, seeds, scale, args.workers, progress, posterior, seed, args.scheduler)
    elapsed = time.perf_counter() - t0
    print(f"compare: {len(scs)} scenarios x {reps} shared seeds, scale {scale:g}, master seed {seed} ({elapsed:.1f} s)")
    print(posterior_note(posterior))
    print(format_comparison(res))
    from sim.indicators import t1_note
    print(t1_note(scs[0].parameters))
    from .validity import INVALID_EXIT, exceeds, summary_line
    n_bad = sum(len(v) for v in res["invalid"].values())
    for name, bad in res["invalid"].items():
        for i, why in list(bad.items())[:5]:
            print(f"INVALID run: {name} replication {i}: {why} (its seed is left out of every pair)")
    with staged_output(folder) as tmp:
        pd.DataFrame(res["rows"]).to_csv(tmp / "compare_targets.csv", index=False)
        pd.DataFrame(res["fiscal"]).to_csv(tmp / "compare_fiscal.csv", index=False)
        plots = plot_comparison(res, tmp)
        (tmp / "manifest.json").write_text(json.dumps({
            "kind": "compare", "design_hash": folder.design_hash,
            "command": "compare", "reference": res["reference"], "scenarios": [{"name": s.name, "file": s.path, "digest": s.digest()} for s in scs],
            "master_seed": seed, "seeds": seeds, "scale": scale, "elapsed_s": round(elapsed, 3),
            "posterior": posterior.provenance(reps, seed) if posterior else None,
            "invalid_runs": res["invalid"],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2))
    print(f"wrote {out}/compare_targets.csv, compare_fiscal.csv, manifest.json, {', '.join(plots)}")
    if n_bad:
        print("innosim: " + summary_line(n_bad, res["n_runs"], args.tolerate_invalid), file=sys.stderr)
        if exceeds(n_bad, res["n_runs"], args.tolerate_invalid):
            return INVALID_EXIT
    return 0


def register(subparsers) -> None:
    from .options import add_folder_options, add_invalid_option, add_run_options

    p = subparsers.add_parser(
        "compare", help="run scenarios on the same seeds; paired target-year differences and fiscal cost",
        description="Run every scenario on the same run seeds (common random numbers). Prints each "
                    "target's target-year difference against the FIRST scenario with a paired 95% t-interval, "
                    "the public cost over the policy years and additional real R&D per yuan with intervals.")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario files or shipped names (see `innosim scenarios`); the first is the reference")
    add_run_options(p, unit="shared seeds per scenario", what="the first scenario's")
    p.add_argument("--out", metavar="DIR", help="output folder (default results/compare-A-vs-B-vs-C)")
    add_folder_options(p)
    add_invalid_option(p, "runs")
    p.set_defaults(func=cmd_compare)
