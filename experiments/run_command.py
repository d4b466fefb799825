"""``innosim run SCENARIO``: one scenario, R replications on seeds derived from one master
seed (``experiments.seeds``), run through the one execution backend (``experiments.execute``);
prints the target table and writes indicators.parquet, summary.csv, manifest.json and a
plot per target. Nothing is left half-written (output is staged and moved into place)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from sim.formatting import fmt_number
from sim.scenario import load_scenario

from .options import add_folder_options, add_invalid_option, add_run_options, check_run_options
from .output import print_notes, pyplot, staged_output
from .seeds import replication_seeds


def cmd_run(args) -> int:
    sc = load_scenario(args.scenario)
    check_run_options(args, sc)
    reps, scale, seed = args.replications, args.scale, args.seed
    from .outdir import default_out
    out = Path(args.out) if args.out else default_out(sc.name)
    return in_output_folder("run", out, [sc], args,
                            lambda folder, seeds: _run_into(folder, args, sc, reps, scale, seed, seeds))


def in_output_folder(kind: str, out: Path, scenarios, args, body) -> int:
    """The shared frame of ``run`` and ``compare``: check ``--tolerate-invalid``, derive the
    replication seeds, open the output folder ``out`` (its design hash: scenarios, seeds,
    scale, posterior, code; ``--overwrite``/``--resume``), print its notes and return
    ``body(folder, seeds)``."""
    from .outdir import OutputFolder
    from .validity import check_share
    args.tolerate_invalid = check_share("--tolerate-invalid", args.tolerate_invalid)
    seeds = replication_seeds(args.seed, args.replications)
    with OutputFolder(out, kind, design_hash(kind, scenarios, seeds, args.scale, args.posterior),
                      overwrite=args.overwrite, resume=args.resume) as folder:
        print_notes(folder)
        return body(folder, seeds)


def _run_into(folder, args, sc, reps, scale, seed, seeds) -> int:
    from sim.indicators import INDICATORS, STALE_BASELINE_NOTE, TARGETS, t1_note

    out = folder.path
    t0 = time.perf_counter()
    show = sys.stderr.isatty() and reps > 1

    def progress(done, total):
        if show:
            print(f"\r  replication {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    from .compare import run_paired
    from .posterior import load_posterior, posterior_note
    from .validity import INVALID_EXIT, exceeds, summary_line
    posterior = load_posterior(args.posterior) if args.posterior else None
    results = run_paired([sc], seeds, scale, args.workers, progress, posterior, seed, args.scheduler)[0]
    elapsed = time.perf_counter() - t0
    years = results[0].years
    invalid = invalid_replications(results)
    valid = [r for i, r in enumerate(results) if i not in invalid]
    table = summarise(valid, TARGETS)
    print(f"scenario {sc.name}: {reps} replications, scale {scale:g}, master seed {seed} ({elapsed:.1f} s)")
    print(posterior_note(posterior))
    if invalid:
        print(f"{len(invalid)} of {reps} replications are INVALID (NaN/inf) and excluded from the table:")
        for i, why in list(invalid.items())[:5]:
            print(f"  replication {i} (seed {results[i].seed}): {why}")
    print(format_table(table))
    print(STALE_BASELINE_NOTE)
    print(t1_note(sc.parameters))
    cal = results[0].calibration
    if cal.get("hightech_revenue_bridge", 1.0) != 1.0:
        print(f"T3: simulated certified firms' {years[0]} revenue is bridged to the assumed {years[0]} level "
              f"(factor {cal['hightech_revenue_bridge']:.2f}); growth is the model's.")
    write_outputs(folder, sc, results, seeds, seed, scale, table, years, INDICATORS, TARGETS, elapsed,
                  posterior.provenance(reps, seed) if posterior else None, invalid)
    print(f"wrote {out}/indicators.parquet, summary.csv, manifest.json and "
          f"{len(TARGETS) if valid else 0} plots")
    if invalid:
        print("innosim: " + summary_line(len(invalid), reps, args.tolerate_invalid, "replications"),
              file=sys.stderr)
        if exceeds(len(invalid), reps, args.tolerate_invalid):
            return INVALID_EXIT
    return 0


def invalid_replications(results) -> dict[int, str]:
    """Replication index -> reason, for runs with a NaN/inf indicator (experiments.validity)."""
    from .validity import reason_of
    out = {}
    for i, r in enumerate(results):
        names = list(r.indicators)
        why = reason_of(np.array([r.indicators[k] for k in names], dtype=float), r.years, names)
        if why is not None:
            out[i] = why
    return out


def assessed_year(target, years) -> int:
    """The year a target is read in: its own year (e.g. the plan's 2020) when the run covers
    it, otherwise the run's last year (the value is then reported, but not P(reach))."""
    years = list(years)
    return target.year if target.year in years else years[-1]


def cost_years(years) -> tuple[int, int]:
    """First and last year the public cost is summed over (``sim.fiscal.POLICY_YEARS`` of the
    run's years: every year after the start year; 2016-2020 by default)."""
    from sim.fiscal import POLICY_YEARS
    policy = list(years)[POLICY_YEARS]
    return int(policy[0]), int(policy[-1])


def summarise(results, targets) -> list[dict]:
    """The target table over ``results`` (the valid replications; NaN when there are none).

    Columns hold for any horizon: ``start_year`` and ``value_start`` (median in the start
    year), ``year`` (the year read: the target's year, or the run's last year when the run
    ends before it), ``median``/``p05``/``p95`` in that year, the target's ``threshold`` and
    ``target_year``, and ``share_reaching`` (NaN when the run does not reach the target year).
    """
    from sim.indicators import COMPANIONS
    rows = []
    pairs = [(tid, t) for tid, t in targets.items()]
    pairs = [p for tid, t in pairs for p in ((tid, t), *((c.id, c) for c in [COMPANIONS.get(tid)] if c))]
    years = list(results[0].years) if results else []
    for tid, t in pairs:
        year = assessed_year(t, years) if years else t.year
        v0 = np.array([r.indicators[t.indicator][0] for r in results])   # the start year
        v = np.array([r.value(t.indicator, year) for r in results])
        some = len(v) > 0
        rows.append({
            "target": tid, "indicator": t.indicator,
            "start_year": years[0] if years else float("nan"),
            "value_start": float(np.median(v0)) if some else float("nan"),
            "year": year,
            "median": float(np.median(v)) if some else float("nan"),
            "p05": float(np.percentile(v, 5)) if some else float("nan"),
            "p95": float(np.percentile(v, 95)) if some else float("nan"),
            "threshold": t.threshold, "target_year": t.year,
            "share_reaching": float(np.mean(t.reached(v))) if some and year == t.year else float("nan"),
            "n_valid": len(v),
        })
    return rows


def year_label(years) -> str:
    """``"2020"`` for one year, ``"2020/2025"`` for several (the table header's year)."""
    return "/".join(str(int(y)) for y in dict.fromkeys(years))


def format_table(rows) -> str:
    start = year_label(r["start_year"] for r in rows if r["start_year"] == r["start_year"]) or "start"
    year = year_label(r["year"] for r in rows)
    head = (f"{'target':6} {'indicator':32} {start:>10} {year + ' median [5%, 95%]':>30} {'target':>10} "
            f"{'P(reach)':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        band = f"{fmt_number(r['median'])} [{fmt_number(r['p05'])}, {fmt_number(r['p95'])}]"
        share = fmt_number(r['share_reaching']) if not np.isfinite(r['share_reaching']) else f"{r['share_reaching']:.2f}"
        lines.append(f"{r['target']:6} {r['indicator']:32} {fmt_number(r['value_start']):>10} {band:>30} "
                     f"{fmt_number(r['threshold']):>10} {share:>9}")
    late = sorted({int(r["target_year"]) for r in rows if r["year"] != r["target_year"]})
    if late:
        lines.append(f"the run ends in {year}, before the target year {year_label(late)}: values are "
                     f"{year}'s; P(reach) is not assessed")
    return "\n".join(lines)


def design_hash(kind: str, scenarios, seeds, scale, posterior=None) -> str:
    """What determines a run/compare folder's results: scenarios, seeds, scale, posterior, code."""
    import hashlib

    from .model import sim_code_digest
    blob = json.dumps({"kind": kind, "scenarios": [s.digest() for s in scenarios],
                       "seeds": [int(x) for x in seeds], "scale": float(scale),
                       "posterior": None if posterior is None else str(Path(posterior).resolve()),
                       "code": sim_code_digest()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_outputs(folder, sc, results, seeds, master, scale, table, years, indicators, targets, elapsed,
                  posterior: dict | None = None, invalid=None) -> None:
    import pandas as pd

    plt = pyplot()
    with staged_output(folder) as tmp:
        recs = [(i, r.seed, y, name, v) for i, r in enumerate(results) for (y, name, v) in r.rows()]
        df = pd.DataFrame(recs, columns=["replication", "seed", "year", "indicator", "value"])
        df.to_parquet(tmp / "indicators.parquet", index=False)
        pd.DataFrame(table).to_csv(tmp / "summary.csv", index=False)
        invalid = invalid or {}
        valid = [r for i, r in enumerate(results) if i not in invalid]
        for tid, t in (targets.items() if valid else ()):
            fig, ax = plt.subplots(figsize=(6, 3.6))
            paths = np.array([r.indicators[t.indicator] for r in valid])
            for row in paths:
                ax.plot(years, row, color="0.7", lw=0.6)
            ax.plot(years, np.median(paths, axis=0), color="C0", lw=2, label="median")
            ax.fill_between(years, np.percentile(paths, 5, axis=0), np.percentile(paths, 95, axis=0),
                            color="C0", alpha=0.2, label="5-95%")
            ax.axhline(t.threshold, color="C3", ls="--", label=f"{t.year} target {t.threshold:g}")
            ax.set_title(f"{tid}: {t.label}", fontsize=9)
            ax.set_ylabel(indicators[t.indicator].unit)
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(tmp / f"{tid}_{t.indicator}.png", dpi=90)
            plt.close(fig)
        manifest = {
            "kind": "run", "design_hash": folder.design_hash,
            "command": "run", "scenario": sc.name, "scenario_file": sc.path, "scenario_digest": sc.digest(),
            "master_seed": master, "seeds": seeds, "replications": len(seeds), "scale": scale,
            "elapsed_s": round(elapsed, 3), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "calibration": results[0].calibration, "posterior": posterior,
            "invalid_replications": [{"replication": i, "seed": results[i].seed, "reason": why}
                                     for i, why in invalid.items()],
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))




def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run a scenario with replications; print the target table; write results",
                              description="Run one scenario R times on seeds derived from one master seed; print "
                                          "each target's start-year value, target-year median [5%, 95%] and share "
                                          "of runs reaching it; write indicators.parquet, summary.csv, "
                                          "manifest.json and one plot per target.")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped name (see `innosim scenarios`)")
    add_run_options(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default results/SCENARIO_NAME)")
    add_folder_options(p)
    add_invalid_option(p, "replications")
    p.set_defaults(func=cmd_run)
