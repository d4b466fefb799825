"""The ``innosim`` command line.

``innosim run SCENARIO [--seed N] [--replications R] [--scale S] [--workers W] [--out DIR]``
``innosim levers``, ``innosim scenarios``, ``innosim --version``
plus ``compare`` and the experiment commands (``sweep``, ``sensitivity``, ``reach``,
``report``) from ``experiments``. Bare ``innosim`` prints the usage.

User errors print one line ``innosim: ...`` on stderr and exit with status 2; nothing is
left half-written (output is assembled in a temporary folder and moved into place).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from sim.scenario import ScenarioError, check_run_option, load_scenario


class UsageError(ValueError):
    """Bad command-line input (one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        raise UsageError(message)


def derive_seeds(master: int, n: int) -> list[int]:
    """Run seeds from one master seed through ``numpy.random.SeedSequence.spawn``."""
    return [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1)) for s in np.random.SeedSequence(master).spawn(n)]


def _number(kind):
    def parse(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}")
    return parse


def cmd_run(args) -> int:
    sc = load_scenario(args.scenario)
    reps = check_run_option("replications", args.replications if args.replications is not None else sc.run.replications, "option --")
    scale = check_run_option("scale", args.scale if args.scale is not None else sc.run.scale, "option --")
    seed = check_run_option("seed", args.seed if args.seed is not None else sc.run.seed, "option --")
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise UsageError(f"--workers must be between 1 and 1024, got {args.workers}")
    from experiments.outdir import OutputFolder, default_out
    out = Path(args.out) if args.out else default_out(sc.name)
    from experiments.validity import check_share
    args.tolerate_invalid = check_share("--tolerate-invalid", args.tolerate_invalid)
    seeds = derive_seeds(seed, reps)
    with OutputFolder(out, "run", design_hash("run", [sc], seeds, scale, args.posterior),
                      overwrite=args.overwrite, resume=args.resume) as folder:
        print_notes(folder)
        return _run_into(folder, args, sc, reps, scale, seed, seeds)


def _run_into(folder, args, sc, reps, scale, seed, seeds) -> int:
    from sim.indicators import INDICATORS, STALE_BASELINE_NOTE, TARGETS, t1_note

    out = folder.path
    t0 = time.perf_counter()
    show = sys.stderr.isatty() and reps > 1

    def progress(done, total):
        if show:
            print(f"\r  replication {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    from experiments.compare import run_paired
    from experiments.validity import INVALID_EXIT, exceeds, summary_line
    from experiments.posterior import load_posterior, posterior_note
    posterior = load_posterior(args.posterior) if args.posterior else None
    results = run_paired([sc], seeds, scale, args.workers, progress, posterior, seed)[0]
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
        print(f"T3: simulated certified firms' 2015 revenue is bridged to the assumed 2015 level "
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
    from experiments.validity import reason_of
    out = {}
    for i, r in enumerate(results):
        names = list(r.indicators)
        why = reason_of(np.array([r.indicators[k] for k in names], dtype=float), r.years, names)
        if why is not None:
            out[i] = why
    return out


def summarise(results, targets) -> list[dict]:
    """The target table over ``results`` (the valid replications; NaN when there are none)."""
    from sim.indicators import COMPANIONS
    rows = []
    pairs = [(tid, t) for tid, t in targets.items()]
    pairs = [p for tid, t in pairs for p in ((tid, t), *((c.id, c) for c in [COMPANIONS.get(tid)] if c))]
    for tid, t in pairs:
        v2015 = np.array([r.indicators[t.indicator][0] for r in results])   # the start year
        v2020 = np.array([r.value(t.indicator, t.year) if t.year in r.years else np.nan for r in results])
        some = len(v2020) > 0
        rows.append({
            "target": tid, "indicator": t.indicator,
            "value_2015": float(np.median(v2015)) if some else float("nan"),
            "median_2020": float(np.median(v2020)) if some else float("nan"),
            "p05_2020": float(np.percentile(v2020, 5)) if some else float("nan"),
            "p95_2020": float(np.percentile(v2020, 95)) if some else float("nan"),
            "target_2020": t.threshold,
            "share_reaching": float(np.mean(t.reached(v2020))) if some else float("nan"),
            "n_valid": len(v2020),
        })
    return rows


def fmt_number(x: float) -> str:
    """Compact number for the command-line tables (n/a when not finite)."""
    if not np.isfinite(x):
        return "n/a"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def format_table(rows) -> str:
    head = f"{'target':6} {'indicator':32} {'2015':>10} {'2020 median [5%, 95%]':>30} {'target':>10} {'P(reach)':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        band = f"{fmt_number(r['median_2020'])} [{fmt_number(r['p05_2020'])}, {fmt_number(r['p95_2020'])}]"
        share = fmt_number(r['share_reaching']) if not np.isfinite(r['share_reaching']) else f"{r['share_reaching']:.2f}"
        lines.append(f"{r['target']:6} {r['indicator']:32} {fmt_number(r['value_2015']):>10} {band:>30} "
                     f"{fmt_number(r['target_2020']):>10} {share:>9}")
    return "\n".join(lines)


def design_hash(kind: str, scenarios, seeds, scale, posterior=None) -> str:
    """What determines a run/compare folder's results: scenarios, seeds, scale, posterior, code."""
    import hashlib

    from experiments.model import sim_code_digest
    blob = json.dumps({"kind": kind, "scenarios": [s.digest() for s in scenarios],
                       "seeds": [int(x) for x in seeds], "scale": float(scale),
                       "posterior": None if posterior is None else str(Path(posterior).resolve()),
                       "code": sim_code_digest()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def print_notes(folder) -> None:
    for note in folder.notes:
        print(f"innosim: note: {note}", file=sys.stderr)


@contextlib.contextmanager
def staged_output(folder):
    """Yield a staging folder inside the (locked) output folder; on success replace the
    folder's contents with it (manifest last). If the body raises nothing in the folder
    changes; a staging folder left by a killed process is removed by the next command."""
    if isinstance(folder, (str, Path)):  # a plain path: lock it and replace its contents
        from experiments.outdir import OutputFolder
        with OutputFolder(folder, "output", "", check_contents=False) as owned, staged_output(owned) as tmp:
            yield tmp
        return
    tmp = folder.staging()
    try:
        yield tmp
        folder.commit(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


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


def cmd_levers(args) -> int:
    from sim.policies import LEVER_CLASSES, SWEEP_RULE
    print("Scenario files set a field as a number (2016-2020), a table of years {2017 = 0.75} or periods.")
    print(f"Experiments (sweep --levels, --factor, uncertainties): {SWEEP_RULE}.")
    print("The sweep prints, and its manifest records, the years each swept field reaches.\n")
    for name, cls in LEVER_CLASSES.items():
        print(f"[levers.{name}]  phases: {', '.join(cls.phases)}")
        print(f"  {cls.mechanism}")
        for a in cls.accounts:
            print(f"  fiscal account {a.name} ({a.kind.replace('_', ' ')}) -> indicator {a.indicator}, "
                  f"booked in {a.booked_in}")
        for f in cls.field_specs():
            md = f.metadata
            print(f"  {f.name:30} default {md['default']:<8g} {md['unit']}  ({md['doc']}; allowed {md['low']:g}..{md['high']:g})")
        print()
    from sim.bounds import allowed_ranges
    from sim.params import InitialConditions, Parameters, data_entries
    ranges = allowed_ranges()
    for section, kind, what in (("parameters", Parameters, "behavioural parameters (sim/data/parameters.toml)"),
                                ("initial", InitialConditions, "2015 initial values (sim/data/initial_2015.toml)")):
        print(f"[{section}]  {what}; one allowed range per key, the same in files, with_values, --factor and --levels")
        for key, e in data_entries(kind).items():
            b = ranges[f"{section}.{key}"]
            unc = f"; uncertainty {e.range[0]:g}..{e.range[1]:g}" if e.range else ""
            print(f"  {key:40} default {e.value:<10g} {e.unit[:50]}  (allowed {b.text()}{unc})")
        print()
    print("joint checks: tax rate x (1 + super-deduction) < 1 (user cost of R&D > 0), certified tax rate <= "
          "standard rate, band_small_m_yuan < band_large_m_yuan, innovation_step_low < innovation_step_high, "
          "vc_success_rate + vc_failure_rate <= 1, R&D totals that add up, a feasible firm-size distribution")
    return 0


def add_folder_options(p) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help="replace whatever --out holds, the whole folder (default: off)")
    p.add_argument("--resume", action="store_true",
                   help="continue (or redo) the same experiment in --out; refused for anything else (default: off)")


def cmd_scenarios(args) -> int:
    from sim.scenario import scenario_catalogue
    rows = scenario_catalogue(args.dir)
    width = max(len(r["name"]) for r in rows) if rows else 10
    print(f"{'name':{width}}  {'origin':7}  description")
    for r in rows:
        where = "" if r["origin"] == "shipped" else f"  [{r['path']}]"
        print(f"{r['name']:{width}}  {r['origin']:7}  {r['description']}{where}")
    print("\nUse a name (innosim run policy_2016_2020) or a file path.")
    return 0


def cmd_viz(args) -> int:
    import importlib.util
    import subprocess
    missing = [n for n in ("solara", "networkx") if importlib.util.find_spec(n) is None]
    if missing:
        raise UsageError(f"viz needs {', '.join(missing)}: pip install -e '.[viz]'")
    solara = Path(sys.executable).with_name("solara")
    print(f"innosim viz: serving on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    return subprocess.call([str(solara), "run", "sim.viz", "--port", str(args.port), "--host", args.host,
                            "--production"])


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        v = version("innosim")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        v = "unknown"
    import mesa
    return f"innosim {v} (mesa {mesa.__version__}, numpy {np.__version__}, python {sys.version.split()[0]})"


def build_parser() -> argparse.ArgumentParser:
    from experiments.execute import WORKERS_HELP
    from sim.scenario import DEFAULT_REPLICATIONS, DEFAULT_SCALE, DEFAULT_SEED

    parser = _Parser(prog="innosim", description="Simulate China's technology-innovation system, 2015-2020 "
                     "(one step = one quarter; indicators and the plan's targets T1-T9 are annual).",
                     epilog="Run `innosim COMMAND --help` for a command's options and defaults. "
                            "Scenarios: `innosim scenarios`; levers: `innosim levers`.")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    p = sub.add_parser("run", help="run a scenario with replications; print the target table; write results",
                       description="Run one scenario R times on seeds derived from one master seed; print "
                                   "each target's 2015 value, 2020 median [5%, 95%] and share of runs "
                                   "reaching it; write indicators.parquet, summary.csv, manifest.json and "
                                   "one plot per target.")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped name (see `innosim scenarios`)")
    p.add_argument("--seed", type=_number(int), metavar="N",
                   help=f"master seed the run seeds derive from (default: the scenario's run.seed, else {DEFAULT_SEED})")
    p.add_argument("--replications", type=_number(int), metavar="R",
                   help=f"runs, each with its own seed (default: the scenario's run.replications, else {DEFAULT_REPLICATIONS})")
    p.add_argument("--scale", type=_number(float), metavar="S",
                   help=f"agents per real firm, 1e-4..1 (default: the scenario's run.scale, else {DEFAULT_SCALE:g})")
    p.add_argument("--out", metavar="DIR", help="output folder (default results/SCENARIO_NAME)")
    p.add_argument("--workers", type=_number(int), metavar="W", help=WORKERS_HELP)
    from experiments.posterior import POSTERIOR_HELP
    p.add_argument("--posterior", metavar="DIR", help=POSTERIOR_HELP)
    add_folder_options(p)
    p.add_argument("--tolerate-invalid", type=_number(float), default=0.0, metavar="SHARE",
                   help="exit 0 even if up to this share of replications is invalid (NaN/inf; "
                        "default 0: any invalid replication gives exit status 3 after writing)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("levers", help="list every lever with its fields, units, defaults and ranges",
                       description="List every lever with its fields, units, defaults, allowed ranges, and "
                                   "how a swept value applies.")
    p.set_defaults(func=cmd_levers)
    p = sub.add_parser("scenarios", help="list shipped and local scenarios with their descriptions",
                       description="List the scenarios shipped with innosim and the *.toml files of a local folder.")
    p.add_argument("--dir", default="scenarios", metavar="DIR",
                   help="local folder to list as well (default: ./scenarios)")
    p.set_defaults(func=cmd_scenarios)
    p = sub.add_parser("viz", help="start the interactive page (Mesa SolaraViz) in the browser",
                       description="Serve the interactive page: choose a scenario, move lever sliders, step or "
                                   "run, see T1-T9 against targets and the firms' R&D intensities. Needs the viz "
                                   "extra (pip install -e '.[viz]').")
    p.add_argument("--port", type=_number(int), default=8765, metavar="P", help="port (default 8765)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.set_defaults(func=cmd_viz)
    try:
        from experiments import cli as exp_cli
    except ImportError:
        exp_cli = None
    if exp_cli is not None and hasattr(exp_cli, "register"):
        exp_cli.register(sub)
    from experiments import compare as exp_compare
    exp_compare.register(sub)
    from experiments import validate as exp_validate
    exp_validate.register(sub)
    from experiments import calibrate as exp_calibrate
    exp_calibrate.register(sub)
    return parser


def main(argv=None) -> int:
    errors: tuple[type[BaseException], ...] = (UsageError, ScenarioError)
    try:
        from experiments.errors import ExperimentError
        errors = errors + (ExperimentError,)
    except ImportError:
        pass
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:  # bare `innosim`
            parser.print_help()
            return 0
        return args.func(args)
    except errors as exc:
        print(f"innosim: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except OSError as exc:  # the environment refused (disk full, permissions, ...): one line
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"innosim: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("innosim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
