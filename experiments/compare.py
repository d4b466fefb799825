"""``innosim compare A.toml B.toml ...``: scenarios on common random numbers.

Every scenario runs with the same run seeds (derived from one master seed through
``SeedSequence.spawn``), so the 2020 difference of each target indicator against the
first scenario is a paired difference: its confidence interval is a t-interval over the
per-seed differences. Public cost (tax expenditures + outlays, 2016–2020) is compared the
same way, and the effectiveness ratio is additional *real* R&D per yuan of additional
public cost (``sim.fiscal.paired_ratio``).
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from experiments.errors import ExperimentError


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


def _run_one(args):
    from sim.run import run
    scenario, seed, scale = args
    return run(scenario, seed=seed, scale=scale)


def run_paired(scenarios, seeds, scale, workers: int | None = None, progress=None):
    """Results[scenario index][replication] on shared seeds (process pool when workers > 1)."""
    jobs = [(sc, s, scale) for sc in scenarios for s in seeds]
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(jobs) < 4:
        flat = []
        for j in jobs:
            flat.append(_run_one(j))
            if progress:
                progress(len(flat), len(jobs))
    else:
        with cf.ProcessPoolExecutor(max_workers=workers) as pool:
            flat = []
            for r in pool.map(_run_one, jobs, chunksize=max(1, len(jobs) // (4 * workers))):
                flat.append(r)
                if progress:
                    progress(len(flat), len(jobs))
    R = len(seeds)
    return [flat[i * R:(i + 1) * R] for i in range(len(scenarios))]


def compare(scenarios, seeds, scale, workers=None, progress=None) -> dict:
    """Paired differences of every target in 2020 and of public cost, against scenarios[0]."""
    from sim.fiscal import POLICY_YEARS, paired_dynamic_ratio, paired_ratio
    from sim.indicators import TARGETS

    results = run_paired(scenarios, seeds, scale, workers, progress)
    ref = results[0]
    rows = []
    for sc, res in zip(scenarios[1:], results[1:]):
        for tid, t in TARGETS.items():
            a = np.array([r.value(t.indicator, 2020) for r in ref])
            b = np.array([r.value(t.indicator, 2020) for r in res])
            d = paired_diff(b, a)
            rows.append({"scenario": sc.name, "target": tid, "indicator": t.indicator,
                         "reference_2020": float(a.mean()), "scenario_2020": float(b.mean()),
                         "diff": d.mean, "ci_low": d.low, "ci_high": d.high,
                         "p_reach_reference": float(np.mean(a >= t.threshold)),
                         "p_reach_scenario": float(np.mean(b >= t.threshold))})
    fiscal = []
    for sc, res in zip(scenarios[1:], results[1:]):
        cost_a = np.array([np.nansum(r.indicators["public_cost_bn_yuan"][POLICY_YEARS]) for r in ref])
        cost_b = np.array([np.nansum(r.indicators["public_cost_bn_yuan"][POLICY_YEARS]) for r in res])
        rd_a = np.array([np.sum(r.indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS]) for r in ref])
        rd_b = np.array([np.sum(r.indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS]) for r in res])
        dc, dr = paired_diff(cost_b, cost_a), paired_diff(rd_b, rd_a)
        ratio, _, _ = paired_ratio(res, ref)
        dyn, _, d_net = paired_dynamic_ratio(res, ref)
        fiscal.append({"scenario": sc.name, "public_cost_2016_2020_bn_yuan": float(cost_b.mean()),
                       "extra_cost_bn_yuan": dc.mean, "extra_cost_ci_low": dc.low, "extra_cost_ci_high": dc.high,
                       "extra_real_rd_bn_yuan": dr.mean, "extra_real_rd_ci_low": dr.low,
                       "extra_real_rd_ci_high": dr.high, "real_rd_per_yuan": ratio,
                       "extra_net_budget_cost_bn_yuan": d_net, "real_rd_per_yuan_dynamic": dyn})
    return {"reference": scenarios[0].name, "rows": rows, "fiscal": fiscal,
            "reference_public_cost_2016_2020_bn_yuan": float(np.mean(
                [np.nansum(r.indicators["public_cost_bn_yuan"][POLICY_YEARS]) for r in ref]))}


def format_comparison(res: dict) -> str:
    from sim.cli import fmt_number
    lines = [f"paired differences in 2020 against {res['reference']} (mean [95% CI]); P(reach) reference -> scenario"]
    head = f"{'scenario':28} {'target':6} {'difference':>30} {'P(reach)':>14}"
    lines += [head, "-" * len(head)]
    for r in res["rows"]:
        lines.append(f"{r['scenario']:28} {r['target']:6} {fmt_number(r['diff']) + ' [' + fmt_number(r['ci_low']) + ', ' + fmt_number(r['ci_high']) + ']':>30} "
                     f"{r['p_reach_reference']:>6.2f} -> {r['p_reach_scenario']:<5.2f}")
    lines.append("")
    lines.append(f"public cost 2016-2020 (tax expenditures + outlays), reference {res['reference']}: "
                 f"{fmt_number(res['reference_public_cost_2016_2020_bn_yuan'])} bn yuan")
    head = (f"{'scenario':28} {'cost bn yuan':>14} {'extra cost [95% CI]':>30} {'extra real R&D [95% CI]':>30} "
            f"{'R&D/yuan':>9} {'extra net':>10} {'dynamic':>8}")
    lines += [head, "-" * len(head)]
    for r in res["fiscal"]:
        lines.append(f"{r['scenario']:28} {fmt_number(r['public_cost_2016_2020_bn_yuan']):>14} "
                     f"{fmt_number(r['extra_cost_bn_yuan']) + ' [' + fmt_number(r['extra_cost_ci_low']) + ', ' + fmt_number(r['extra_cost_ci_high']) + ']':>30} "
                     f"{fmt_number(r['extra_real_rd_bn_yuan']) + ' [' + fmt_number(r['extra_real_rd_ci_low']) + ', ' + fmt_number(r['extra_real_rd_ci_high']) + ']':>30} "
                     f"{fmt_number(r['real_rd_per_yuan']):>9} {fmt_number(r['extra_net_budget_cost_bn_yuan']):>10} "
                     f"{fmt_number(r['real_rd_per_yuan_dynamic']):>8}")
    lines.append("R&D/yuan: extra real R&D per yuan of extra public cost (static tax expenditures + outlays); "
                 "dynamic: per yuan of extra net budget cost (outlays - corporate tax collected)")
    return "\n".join(lines)


def plot_comparison(res: dict, folder: Path) -> list[str]:
    from sim.cli import pyplot
    from sim.indicators import TARGETS

    plt = pyplot()
    names = sorted({r["scenario"] for r in res["rows"]}, key=[r["scenario"] for r in res["rows"]].index)
    tids = list(TARGETS)
    fig, axes = plt.subplots(2, (len(tids) + 1) // 2, figsize=(3.2 * ((len(tids) + 1) // 2), 6.5))
    for ax, tid in zip(axes.flat, tids):
        rows = [r for r in res["rows"] if r["target"] == tid]
        y = np.arange(len(rows))
        d = np.array([r["diff"] for r in rows])
        err = np.array([[r["diff"] - r["ci_low"], r["ci_high"] - r["diff"]] for r in rows]).T
        ax.barh(y, d, xerr=np.nan_to_num(err), color=[f"C{i}" for i in range(len(rows))], capsize=3)
        ax.axvline(0, color="k", lw=0.6)
        ax.set_yticks(y, [r["scenario"] for r in rows] if tid == tids[0] or tid == tids[(len(tids) + 1) // 2] else [""] * len(rows), fontsize=7)
        ax.set_title(f"{tid} {TARGETS[tid].indicator}", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(tids):]:
        ax.axis("off")
    fig.suptitle(f"2020 difference against {res['reference']} (95% paired CI)", fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "compare_targets.png", dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(names)))
    fis = res["fiscal"]
    y = np.arange(len(fis))
    ax.barh(y - 0.2, [r["extra_cost_bn_yuan"] for r in fis], height=0.4, label="extra public cost")
    ax.barh(y + 0.2, [r["extra_real_rd_bn_yuan"] for r in fis], height=0.4, label="extra real R&D")
    ax.set_yticks(y, [r["scenario"] for r in fis], fontsize=7)
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel("billion yuan, 2016-2020")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "compare_fiscal.png", dpi=90)
    plt.close(fig)
    return ["compare_targets.png", "compare_fiscal.png"]


def cmd_compare(args) -> int:
    import pandas as pd

    from sim.cli import check_run_option, derive_seeds, staged_output
    from sim.scenario import load_scenario

    if len(args.scenarios) < 2:
        raise ExperimentError("compare needs at least two scenario files (the first is the reference)")
    scs = [load_scenario(p) for p in args.scenarios]
    names = [s.name for s in scs]
    if len(set(names)) != len(names):
        raise ExperimentError(f"compare: scenario names must differ, got {names}")
    reps = check_run_option("replications", args.replications if args.replications is not None else scs[0].run.replications, "option --")
    scale = check_run_option("scale", args.scale if args.scale is not None else scs[0].run.scale, "option --")
    seed = check_run_option("seed", args.seed if args.seed is not None else scs[0].run.seed, "option --")
    if args.workers is not None and args.workers < 1:
        raise ExperimentError(f"--workers must be at least 1, got {args.workers}")
    out = Path(args.out) if args.out else Path("results") / ("compare-" + "-vs-".join(names[:3]))
    if out.exists() and not out.is_dir():
        raise ExperimentError(f"--out {out}: exists and is not a folder")
    seeds = derive_seeds(seed, reps)
    t0 = time.perf_counter()

    def progress(done, total):
        if sys.stderr.isatty():
            print(f"\r  runs {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    res = compare(scs, seeds, scale, args.workers, progress)
    elapsed = time.perf_counter() - t0
    print(f"compare: {len(scs)} scenarios x {reps} shared seeds, scale {scale:g}, master seed {seed} ({elapsed:.1f} s)")
    print(format_comparison(res))
    with staged_output(out) as tmp:
        pd.DataFrame(res["rows"]).to_csv(tmp / "compare_targets.csv", index=False)
        pd.DataFrame(res["fiscal"]).to_csv(tmp / "compare_fiscal.csv", index=False)
        plots = plot_comparison(res, tmp)
        (tmp / "manifest.json").write_text(json.dumps({
            "command": "compare", "scenarios": [{"name": s.name, "file": s.path, "digest": s.digest()} for s in scs],
            "master_seed": seed, "seeds": seeds, "scale": scale, "elapsed_s": round(elapsed, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2))
    print(f"wrote {out}/compare_targets.csv, compare_fiscal.csv, manifest.json, {', '.join(plots)}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="run scenarios on the same seeds; paired 2020 differences and fiscal cost")
    p.add_argument("scenarios", nargs="+")
    p.add_argument("--replications", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--scale", type=float)
    p.add_argument("--workers", type=int)
    p.add_argument("--out")
    p.set_defaults(func=cmd_compare)
