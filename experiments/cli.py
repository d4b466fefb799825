"""Sub-commands ``sweep``, ``sensitivity``, ``reach`` and ``report`` for the ``innosim`` CLI.

``register(subparsers)`` adds them to an argparse sub-parser object; each handler returns
an exit code and raises :class:`ExperimentError` (one line) for user errors.  Run
standalone as ``python -m experiments.cli <command> ...``.

A SCENARIO argument is a scenario TOML file, or ``builtin:ishigami?noise_sd=0.5&n_years=6``
for the analytic test function (used by the tests; needs no simulator).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .design import (merge_factors, morris_design, parse_levels, parse_range, reach_design,
                     sobol_design, sweep_design)
from .errors import ExperimentError
from .model import default_factors, resolve_model


def _scale(text: str):
    if text in (None, "default"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid scale {text!r}") from None


def _common(p: argparse.ArgumentParser, replications: int) -> None:
    p.add_argument("--replications", type=int, default=replications, metavar="R",
                   help=f"runs per design point, each with its own seed (default {replications})")
    p.add_argument("--seed", type=int, default=20150101, help="master seed (default 20150101)")
    p.add_argument("--scale", type=_scale, default=None, help="model scale (default: the model's)")
    p.add_argument("--out", type=Path, default=None, help="results directory")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: all cores; 1 = serial in-process)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run on this Dask distributed scheduler instead of local processes")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted experiment in --out, skipping finished runs")
    p.add_argument("--chunk-size", type=int, default=0, help="runs per stored chunk (default: auto)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _factor_args(p):
    p.add_argument("--factor", action="append", default=[], metavar="KEY=LOW:HIGH",
                   help="range of a factor (overrides the scenario's range, or adds e.g. a lever)")


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="full factorial over lever levels x Latin hypercube "
                              "over uncertainties; reachability and scenario discovery")
    p.add_argument("scenario", metavar="SCENARIO.toml")
    p.add_argument("--levels", action="append", default=[], metavar="KEY=v1,v2,...",
                   help="levels of a lever (repeat for a full factorial)")
    _factor_args(p)
    p.add_argument("--lhs", type=int, default=20, metavar="N",
                   help="Latin-hypercube points over the uncertainties (0: scenario values; default 20)")
    _common(p, replications=2)
    p.set_defaults(func=cmd_sweep)

    p = subparsers.add_parser("sensitivity", help="Sobol' or Morris sensitivity analysis (SALib)")
    p.add_argument("scenario", metavar="SCENARIO.toml")
    p.add_argument("--method", choices=("sobol", "morris"), required=True)
    p.add_argument("--n", type=int, default=None,
                   help="Sobol' base sample (power of two, default 256) or Morris trajectories (default 20)")
    p.add_argument("--num-levels", type=int, default=4, help="Morris grid levels (even, default 4)")
    p.add_argument("--second-order", action="store_true", help="Sobol': also second-order indices' design")
    _factor_args(p)
    p.add_argument("--only", action="append", default=[], metavar="KEY",
                   help="restrict the factors to these keys (repeatable)")
    _common(p, replications=2)
    p.set_defaults(func=cmd_sensitivity)

    p = subparsers.add_parser("reach", help="probability of reaching each 2020 target, per scenario")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO.toml")
    _factor_args(p)
    p.add_argument("--lhs", type=int, default=50, metavar="N",
                   help="Latin-hypercube points over the uncertainties (0: scenario values; default 50)")
    _common(p, replications=4)
    p.set_defaults(func=cmd_reach)

    p = subparsers.add_parser("report", help="PNG plots and an HTML page for a results directory")
    p.add_argument("results", type=Path, metavar="RESULTS_DIR")
    p.set_defaults(func=cmd_report)


# ----------------------------------------------------------------------------- handlers

def _out(args, kind: str, name: str) -> Path:
    if args.out is not None:
        return args.out
    return Path("results") / f"{kind}-{''.join(c if c.isalnum() else '_' for c in name)}-{args.seed}"


def _run(args, design, models, kind):
    from .execute import run_experiment

    out = _out(args, kind, next(iter(models)).name if isinstance(models, list) else models.name)
    t0 = time.perf_counter()
    run_experiment(design, models, out, workers=args.workers, scheduler=args.scheduler,
                   resume=args.resume, progress=False if args.no_progress else None,
                   command=" ".join(sys.argv))
    print(f"{design.n_runs} runs of {kind} design in {out} ({time.perf_counter() - t0:.1f} s)")
    return out


def _print_reach(out: Path) -> None:
    path = out / "analysis" / "reach.json"
    if not path.exists():
        return
    reach = json.loads(path.read_text())
    for g in reach["groups"]:
        for tid, r in g["targets"].items():
            print(f"  {g['label']:40s} {tid:4s} P={r['p']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
                  f"  n={r['n']}")
    disc = out / "analysis" / "discovery.json"
    if disc.exists():
        for tid, per in json.loads(disc.read_text())["targets"].items():
            for s, r in per.items():
                print(f"  box {s} {tid}: {r['text']}")


def _sensitivity_factors(args, model):
    factors = merge_factors(default_factors(model), [parse_range(f) for f in args.factor])
    if args.only:
        unknown = sorted(set(args.only) - {f.name for f in factors})
        if unknown:
            raise ExperimentError(f"--only {unknown[0]}: not a factor of this design")
        factors = tuple(f for f in factors if f.name in set(args.only))
    return factors


def cmd_sweep(args) -> int:
    model = resolve_model(args.scenario, args.scale)
    levels = [parse_levels(t) for t in args.levels]
    unc = merge_factors(default_factors(model) if args.lhs > 0 else (),
                        [parse_range(f) for f in args.factor])
    design = sweep_design(model, levels, unc, n_lhs=args.lhs, replications=args.replications,
                          seed=args.seed, chunk_size=args.chunk_size)
    _print_reach(_run(args, design, model, "sweep"))
    return 0


def cmd_sensitivity(args) -> int:
    model = resolve_model(args.scenario, args.scale)
    factors = _sensitivity_factors(args, model)
    if args.method == "sobol":
        design = sobol_design(model, factors, n=args.n or 256, replications=args.replications,
                              seed=args.seed, second_order=args.second_order,
                              chunk_size=args.chunk_size)
    else:
        design = morris_design(model, factors, n=args.n or 20, num_levels=args.num_levels,
                               replications=args.replications, seed=args.seed,
                               chunk_size=args.chunk_size)
    out = _run(args, design, model, args.method)
    res = json.loads((out / "analysis" / f"{args.method}.json").read_text())
    key = "ST" if args.method == "sobol" else "mu_star"
    for name, r in res["indicators"].items():
        if r.get("status") != "ok":
            print(f"  {name}: {r.get('status')}")
            continue
        top = sorted(zip(r[key], res["factors"]), reverse=True)[:3]
        noise = r["noise"].get("noise_share_single_run")
        print(f"  {name}: " + ", ".join(f"{n} {key}={v:.3g}" for v, n in top)
              + ("" if noise is None else f"; noise share {noise:.1%}"))
    return 0


def cmd_reach(args) -> int:
    models = [resolve_model(s, args.scale) for s in args.scenarios]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ExperimentError(f"scenario names must differ, got {', '.join(names)}")
    unc = merge_factors(default_factors(models[0]) if args.lhs > 0 else (),
                        [parse_range(f) for f in args.factor])
    design = reach_design(models, unc, n_lhs=args.lhs, replications=args.replications,
                          seed=args.seed, chunk_size=args.chunk_size)
    _print_reach(_run(args, design, models, "reach"))
    return 0


def cmd_report(args) -> int:
    from .report import write_report

    if not args.results.is_dir():
        raise ExperimentError(f"no results directory {args.results}")
    print(write_report(args.results))
    return 0


# ----------------------------------------------------------------------------- standalone

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="innosim", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ExperimentError as exc:
        print(f"innosim: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        print("innosim: interrupted; finished runs are saved, --resume continues", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
