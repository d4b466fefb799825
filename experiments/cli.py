"""Sub-commands ``sweep``, ``sensitivity``, ``reach`` and ``report`` for the ``innosim`` CLI.

``register(subparsers)`` adds them to an argparse sub-parser object; each handler returns
an exit code and raises :class:`ExperimentError` (one line) for user errors; the entry
point is ``innosim.cli.main`` (``innosim`` or ``python -m innosim``).

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
                     sobol_design, sweep_design, without_posterior_keys)
from .errors import ExperimentError
from .model import default_factors, resolve_model
from .options import add_folder_options, add_invalid_option, add_run_options, check_run_options, number
from .outdir import OutputFolder, default_out
from .validity import INVALID_EXIT, check_share, exceeds, summary_line


try:  # the simulator's defaults, so every command shares them
    from sim.scenario import DEFAULT_SEED
except ImportError:  # pragma: no cover - experiments without the simulator
    DEFAULT_SEED = 20151231


def _check_common(args) -> None:
    """The options every experiment command shares: the same bounds as ``innosim run``
    (``experiments.options.check_run_options``), checked before anything is built or written."""
    check_run_options(args)
    if not 0 <= args.chunk_size <= 100_000:
        raise ExperimentError(f"--chunk-size must be between 0 (auto) and 100000, got {args.chunk_size}")
    args.tolerate_invalid = check_share("--tolerate-invalid", args.tolerate_invalid)
    if hasattr(args, "lhs") and args.lhs is not None and args.lhs < 0:
        raise ExperimentError(f"--lhs must be >= 0, got {args.lhs}")
    if getattr(args, "lhs", 1) == 0 and getattr(args, "factor", None):
        raise ExperimentError(f"--factor {args.factor[0]} has no effect with --lhs 0 (no sampling over "
                              "factors); give --lhs N or drop --factor")


def _common(p: argparse.ArgumentParser, replications: int) -> None:
    add_run_options(p, replications=replications, unit="runs per design point")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="results directory (default results/KIND-SCENARIO-SEED)")
    add_folder_options(p)
    add_invalid_option(p, "runs")
    p.add_argument("--chunk-size", type=number(int), default=0, metavar="K",
                   help="runs per stored chunk (default 0: auto)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: bar on a terminal)")


def _posterior(args):
    """The --posterior as a Posterior (None without); its line printed before any run."""
    from .posterior import load_posterior, posterior_note

    post = load_posterior(args.posterior) if args.posterior else None
    print(posterior_note(post))
    return post


def _defaults_without_posterior(model, post) -> tuple:
    """The model's declared uncertainties, minus the parameters the posterior sets (its draws
    replace their ranges); says which were dropped."""
    base = default_factors(model)
    kept = without_posterior_keys(base, post)
    dropped = [f.name for f in base if f not in kept]
    if dropped:
        print(f"  set by the posterior, not sampled over their ranges: {', '.join(dropped)}")
    return kept


def _master_seed(args, model) -> int:
    """--seed, else the scenario's run.seed, else the one default."""
    if args.seed is None:
        sc = getattr(model, "scenario", None)
        args.seed = sc.run.seed if sc is not None else DEFAULT_SEED
    return args.seed


def _factor_args(p):
    p.add_argument("--factor", action="append", default=[], metavar="KEY=LOW:HIGH",
                   help="range of a factor (overrides the scenario's range, or adds e.g. a lever); "
                        "repeatable (default: the scenario's [uncertainties])")


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="full factorial over lever levels x Latin hypercube "
                              "over uncertainties; reachability and scenario discovery")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped name (see `innosim scenarios`)")
    p.add_argument("--levels", action="append", default=[], metavar="KEY=v1,v2,...",
                   help="levels of a lever field (repeat for a full factorial; default: none). A swept "
                        "value replaces the scenario's final setting of the field, from the year it takes "
                        "effect (see `innosim levers`)")
    _factor_args(p)
    p.add_argument("--lhs", type=number(int), default=20, metavar="N",
                   help="Latin-hypercube points over the uncertainties (0: scenario values; default 20)")
    _common(p, replications=2)
    p.set_defaults(func=cmd_sweep)

    p = subparsers.add_parser("sensitivity", help="Sobol' or Morris sensitivity analysis (SALib)")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped name (see `innosim scenarios`)")
    p.add_argument("--method", choices=("sobol", "morris"), required=True,
                   help="Sobol' variance decomposition or Morris screening (required)")
    p.add_argument("--n", type=number(int), default=None,
                   help="Sobol' base sample (power of two, default 256) or Morris trajectories (default 20)")
    p.add_argument("--num-levels", type=number(int), default=None, help="Morris grid levels (even, default 4)")
    p.add_argument("--second-order", action="store_true",
                   help="Sobol': also second-order indices' design (default: off)")
    _factor_args(p)
    p.add_argument("--only", action="append", default=[], metavar="KEY",
                   help="restrict the factors to these keys (repeatable; default: every factor)")
    _common(p, replications=2)
    p.set_defaults(func=cmd_sensitivity)

    p = subparsers.add_parser("reach", help="probability of reaching each target, per scenario")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario files or shipped names; all share the design points and seeds")
    _factor_args(p)
    p.add_argument("--lhs", type=number(int), default=50, metavar="N",
                   help="Latin-hypercube points over the uncertainties (0: scenario values; default 50)")
    _common(p, replications=4)
    p.set_defaults(func=cmd_reach)

    p = subparsers.add_parser("report", help="PNG plots and one self-contained HTML page for any results folder "
                              "(run, compare, sweep, reach, sensitivity)")
    p.add_argument("results", type=Path, metavar="RESULTS_DIR",
                   help="a folder written by innosim run, compare, sweep, reach or sensitivity")
    p.set_defaults(func=cmd_report)


# ----------------------------------------------------------------------------- handlers

def _out(args, kind: str, name: str) -> Path:
    if args.out is not None:
        return args.out
    return default_out(kind, name, str(args.seed))


def _run(args, design, models, kind):
    from .execute import run_experiment

    from .execute import auto_workers

    args.tolerate_invalid = check_share("--tolerate-invalid", args.tolerate_invalid)
    out = _out(args, kind, next(iter(models)).name if isinstance(models, list) else models.name)
    t0 = time.perf_counter()
    workers = None if args.scheduler else auto_workers(args.workers, design.n_runs)
    notes: list[str] = []
    try:
        run_experiment(design, models, out, workers=workers, scheduler=args.scheduler,
                       resume=args.resume, overwrite=args.overwrite,
                       progress=False if args.no_progress else None,
                       command=" ".join(sys.argv), notes=notes)
    finally:
        for note in notes:
            print(f"innosim: note: {note}", file=sys.stderr)
    print(f"{design.n_runs} runs of {kind} design in {out} ({time.perf_counter() - t0:.1f} s)")
    return out


def _invalid_status(args, out: Path) -> int:
    """Report invalid runs (analysis/invalid.json); exit status 3 above the tolerated share."""
    path = out / "analysis" / "invalid.json"
    if not path.exists():
        return 0
    inv = json.loads(path.read_text())
    if not inv["n_invalid"]:
        return 0
    print("innosim: " + summary_line(inv["n_invalid"], inv["n_runs"], args.tolerate_invalid)
          + f"; listed in {path}", file=sys.stderr)
    return INVALID_EXIT if exceeds(inv["n_invalid"], inv["n_runs"], args.tolerate_invalid) else 0


def _print_reach(out: Path) -> None:
    path = out / "analysis" / "reach.json"
    if not path.exists():
        return
    reach = json.loads(path.read_text())
    from .posterior import posterior_text
    print(f"  P(reach) in {reach['final_year']}; {posterior_text(reach.get('posterior'))}")
    for g in reach["groups"]:
        for tid, r in g["targets"].items():
            bad = f" ({r['n_invalid']} invalid excluded)" if r.get("n_invalid") else ""
            if r.get("p") is None:
                print(f"  {g['label']:40s} {tid:4s} no valid runs{bad}")
                continue
            print(f"  {g['label']:40s} {tid:4s} P={r['p']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
                  f"  n={r['n']}{bad}")
    disc = out / "analysis" / "discovery.json"
    if disc.exists():
        for tid, per in json.loads(disc.read_text())["targets"].items():
            for s, r in per.items():
                print(f"  box {s} {tid}: {r['text']}")


def _sensitivity_factors(args, model, post=None):
    given = [parse_range(f) for f in args.factor]
    for name in [*args.only, *(f.name for f in given)]:
        if post is not None and name in post.keys:
            raise ExperimentError(f"{name} is both a design factor and a posterior parameter; the "
                                  "posterior sets it (drop the --factor/--only for it)")
    factors = merge_factors(_defaults_without_posterior(model, post), given)
    if args.only:
        unknown = sorted(set(args.only) - {f.name for f in factors})
        if unknown:
            raise ExperimentError(f"--only {unknown[0]}: not a factor of this design")
        dropped = [f.name for f in given if f.name not in set(args.only)]
        if dropped:
            raise ExperimentError(f"--factor {dropped[0]} is not among the --only keys, so it would "
                                  "be dropped; add --only for it or drop the --factor")
        factors = tuple(f for f in factors if f.name in set(args.only))
    return factors


def _print_lever_rules(design, model) -> None:
    """Say, before running, which years and firms every lever factor reaches."""
    from .execute import lever_factor_rules

    for key, rule in lever_factor_rules(design, model).items():
        print(f"  {rule['description']}")


def cmd_sweep(args) -> int:
    _check_common(args)
    model = resolve_model(args.scenario, args.scale)
    _master_seed(args, model)
    levels = [parse_levels(t) for t in args.levels]
    both = sorted({f.name for f in levels} & {parse_range(f).name for f in args.factor})
    if both:
        raise ExperimentError(f"{both[0]} is given both --levels and --factor; a lever is either set "
                              "to levels or sampled, not both")
    post = _posterior(args)
    unc = merge_factors(_defaults_without_posterior(model, post) if args.lhs > 0 else (),
                        [parse_range(f) for f in args.factor])
    design = sweep_design(model, levels, unc, n_lhs=args.lhs, replications=args.replications,
                          seed=args.seed, chunk_size=args.chunk_size, posterior=post)
    _print_lever_rules(design, model)
    out = _run(args, design, model, "sweep")
    _print_reach(out)
    return _invalid_status(args, out)


def cmd_sensitivity(args) -> int:
    _check_common(args)
    if args.n is not None and args.n < 2:
        raise ExperimentError(f"--n must be at least 2, got {args.n}")
    if args.method == "sobol" and args.num_levels is not None:
        raise ExperimentError("--num-levels applies to --method morris only")
    if args.method == "morris" and args.second_order:
        raise ExperimentError("--second-order applies to --method sobol only")
    model = resolve_model(args.scenario, args.scale)
    _master_seed(args, model)
    post = _posterior(args)
    factors = _sensitivity_factors(args, model, post)
    if args.method == "sobol":
        design = sobol_design(model, factors, n=256 if args.n is None else args.n, replications=args.replications,
                              seed=args.seed, second_order=args.second_order,
                              chunk_size=args.chunk_size, posterior=post)
    else:
        design = morris_design(model, factors, n=20 if args.n is None else args.n,
                               num_levels=4 if args.num_levels is None else args.num_levels,
                               replications=args.replications, seed=args.seed,
                               chunk_size=args.chunk_size, posterior=post)
    _print_lever_rules(design, model)
    out = _run(args, design, model, args.method)
    res = json.loads((out / "analysis" / f"{args.method}.json").read_text())
    for line in sensitivity_lines(res, args.method):
        print(line)
    return _invalid_status(args, out)


def sensitivity_lines(res: dict, method: str) -> list[str]:
    """The console summary: top factors with their 95% intervals, convergence and noise caveats."""
    key = "ST" if method == "sobol" else "mu_star"
    lines, unconverged, noisy, out_of_range = [], [], [], []
    for name, r in res["indicators"].items():
        if r.get("status") != "ok":
            lines.append(f"  {name}: {r.get('status')}")
            continue
        conf = r.get(f"{key}_conf") or [float("nan")] * len(r[key])
        top = sorted(zip(r[key], conf, res["factors"]), key=lambda t: -t[0])[:3]
        noise = r["noise"].get("noise_share_single_run")
        flags = []
        if r.get("converged") is False:
            flags.append("NOT CONVERGED")
            unconverged.append(name)
        if method == "sobol" and (max(r["ST"]) > 1 or min(r["S1"]) < -0.05):
            flags.append("indices outside [0, 1]")
            out_of_range.append(name)
        if noise is not None and noise > 0.5:
            noisy.append(name)
        lines.append(f"  {name}: " + ", ".join(f"{n.split('.')[-1]} {key}={v:.3g}±{c:.2g}" for v, c, n in top)
                     + ("" if noise is None else f"; noise share {noise:.0%}")
                     + (f"  [{'; '.join(flags)}]" if flags else ""))
    lines.append(f"  ±: 95% bootstrap half-widths. noise share: share of a single run's variance due to the "
                 f"model's own randomness at fixed inputs (indices use replication means).")
    if method == "sobol":
        if unconverged:
            lines.append(f"  caveat: {len(unconverged)} indicator(s) NOT CONVERGED (ST moved > 0.05 at the last "
                         f"doubling of N, or an interval is wider than ±0.1): read them as rankings at most; "
                         f"raise --n.")
        if out_of_range:
            lines.append(f"  caveat: ST > 1 or S1 < 0 for {len(out_of_range)} indicator(s): estimation error at this "
                         f"N (true indices lie in [0, 1]); raise --n or --replications.")
    if noisy:
        lines.append(f"  caveat: noise dominates a single run for {len(noisy)} indicator(s) (share > 50%): "
                     f"differences between factors there are mostly the model's randomness; raise --replications.")
    return lines


def cmd_reach(args) -> int:
    _check_common(args)
    models = [resolve_model(s, args.scale) for s in args.scenarios]
    _master_seed(args, models[0])
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ExperimentError(f"scenario names must differ, got {', '.join(names)}")
    post = _posterior(args)
    unc = merge_factors(_defaults_without_posterior(models[0], post) if args.lhs > 0 else (),
                        [parse_range(f) for f in args.factor])
    design = reach_design(models, unc, n_lhs=args.lhs, replications=args.replications,
                          seed=args.seed, chunk_size=args.chunk_size, posterior=post)
    _print_lever_rules(design, models[0])
    out = _run(args, design, models, "reach")
    _print_reach(out)
    if hasattr(models[0], "scenario"):  # a scenario (not a builtin test function): say what T1 counts
        from sim.indicators import t1_note
        print(t1_note(models[0].scenario.parameters))
    return _invalid_status(args, out)


def cmd_report(args) -> int:
    from .report import write_report

    if "\0" in str(args.results) or not args.results.is_dir():
        raise ExperimentError(f"no results directory {str(args.results)!r}")
    with OutputFolder(args.results, "report", "", check_contents=False):
        print(write_report(args.results))
    return 0
