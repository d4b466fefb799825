"""The run options every command shares, declared once: ``--seed``, ``--replications``,
``--scale``, ``--workers``, ``--scheduler``, ``--posterior`` (``add_run_options``) and the
output-folder options ``--overwrite``/``--resume`` (``add_folder_options``), with one
wording, one type per option and one check (``check_run_options``)."""
from __future__ import annotations

import argparse

from .errors import ExperimentError


def number(kind):
    """argparse type: a whole number (``int``) or a number (``float``), one-line error."""
    def parse(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
    parse.__name__ = kind.__name__
    return parse


def _scale(text: str):
    if text == "default":  # accepted for old scripts: the scenario's run.scale
        return None
    return number(float)(text)


def add_run_options(p: argparse.ArgumentParser, *, replications: int | None = None, unit: str = "replications",
                    posterior: bool = True, scheduler: bool = True, what: str = "the scenario's",
                    with_replications: bool = True) -> None:
    """Declare the shared run options on ``p``.

    ``replications``: a fixed default (designs: runs per design point), or None for the
    scenario's ``run.replications``; ``what`` names whose ``run.*`` settings are the
    defaults (``"the first scenario's"`` for compare). ``with_replications``,
    ``scheduler``, ``posterior``: False for a command without that option (``calibrate``
    sets its runs by --population/--generations, on local processes, without a posterior)."""
    from sim.scenario import DEFAULT_REPLICATIONS, DEFAULT_SCALE, DEFAULT_SEED

    from .execute import WORKERS_HELP
    from .posterior import POSTERIOR_HELP

    p.add_argument("--seed", type=number(int), default=None, metavar="N",
                   help=f"master seed every run seed (and posterior draw) derives from "
                        f"(default: {what} run.seed, else {DEFAULT_SEED})")
    if not with_replications:
        pass
    elif replications is None:
        p.add_argument("--replications", type=number(int), default=None, metavar="R",
                       help=f"{unit}, each with its own seed (default: {what} run.replications, "
                            f"else {DEFAULT_REPLICATIONS})")
    else:
        p.add_argument("--replications", type=number(int), default=replications, metavar="R",
                       help=f"{unit}, each with its own seed (default {replications})")
    p.add_argument("--scale", type=_scale, default=None, metavar="S",
                   help=f"agents per real firm, 1e-4..1 (default: {what} run.scale, else {DEFAULT_SCALE:g})")
    p.add_argument("--workers", type=number(int), default=None, metavar="W", help=WORKERS_HELP)
    if scheduler:
        p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help="run on this Dask distributed scheduler instead of local processes (default: none)")
    if posterior:
        p.add_argument("--posterior", metavar="DIR", default=None, help=POSTERIOR_HELP)


def add_folder_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help="replace whatever --out holds, the whole folder (default: off)")
    p.add_argument("--resume", action="store_true",
                   help="continue (or redo) the same experiment in --out, skipping finished work; "
                        "refused for anything else (default: off)")


def check_run_options(args, scenario=None) -> None:
    """Check the shared options (the bounds of ``sim.scenario.check_run_option``) and fill
    the unset ones from ``scenario.run`` (when given); one-line errors, before any work."""
    from sim.scenario import ScenarioError, check_run_option

    try:
        for key in ("replications", "seed", "scale"):
            value = getattr(args, key, None)
            if value is None and scenario is not None:
                value = getattr(scenario.run, key)
            if value is not None:
                setattr(args, key, check_run_option(key, value, "option --"))
    except ScenarioError as exc:
        raise ExperimentError(str(exc)) from None
    workers = getattr(args, "workers", None)
    if workers is not None and not 1 <= workers <= 1024:
        raise ExperimentError(f"--workers must be between 1 and 1024, got {workers}")
    if workers is not None and getattr(args, "scheduler", None):
        raise ExperimentError("--workers and --scheduler exclude each other (the scheduler's "
                              "workers run the design)")
    if getattr(args, "overwrite", False) and getattr(args, "resume", False):
        raise ExperimentError("--overwrite and --resume exclude each other")


def add_invalid_option(p: argparse.ArgumentParser, unit: str = "runs") -> None:
    p.add_argument("--tolerate-invalid", type=number(float), default=0.0, metavar="SHARE",
                   help=f"exit 0 even if up to this share of {unit} is invalid (NaN/inf; default 0: any "
                        f"invalid one gives exit status 3 after the results are written)")
