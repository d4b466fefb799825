"""The ``innosim`` command line: the one entry point above the simulator (``sim``) and the
experiments (``experiments``); ``sim`` never imports either of the others.

``innosim run SCENARIO``, ``compare``, ``sweep``, ``reach``, ``sensitivity``, ``validate``,
``calibrate``, ``recover``, ``report``, ``levers``, ``scenarios``, ``viz``, ``--version``. Bare
``innosim`` prints the usage; ``python -m innosim`` is the same.

User errors print one line ``innosim: ...`` on stderr and exit with status 2 (3: invalid
runs above the tolerated share; 1: an experiment interrupted with its finished chunks
saved); nothing is left half-written. A closed pipe (``innosim levers | head``) ends the
command quietly.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from experiments.errors import ExperimentError
from experiments.options import number
from sim.scenario import ScenarioError


class UsageError(ValueError):
    """Bad command-line input (one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        raise UsageError(message)


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
    from experiments import calibrate, compare, recover, run_command, validate
    from experiments import cli as designs

    parser = _Parser(prog="innosim", description="Simulate China's technology-innovation system "
                     "(one step = one quarter; indicators and the plan's targets T1-T9 are annual; the "
                     "horizon is a scenario setting, default 2015-2020).",
                     epilog="Run `innosim COMMAND --help` for a command's options and defaults. "
                            "Scenarios: `innosim scenarios`; levers: `innosim levers`.")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    run_command.register(sub)
    compare.register(sub)
    designs.register(sub)
    validate.register(sub)
    calibrate.register(sub)
    recover.register(sub)
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
    p.add_argument("--port", type=number(int), default=8765, metavar="P", help="port (default 8765)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.set_defaults(func=cmd_viz)
    return parser


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush
    cannot raise again (the recipe of the Python docs, 'Note on SIGPIPE')."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured): nothing to do
        pass


def main(argv=None) -> int:
    """The one wrapper of every command: one-line errors with their exit status."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:  # bare `innosim`
            parser.print_help()
            return 0
        rc = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return rc
    except BrokenPipeError:
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by the closed pipe
    except (UsageError, ScenarioError, ExperimentError) as exc:
        print(f"innosim: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except OSError as exc:  # the environment refused (disk full, permissions, ...): one line
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"innosim: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("innosim: interrupted (a design's finished chunks are saved: --resume continues)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
