"""Experimental designs: which runs to make, with which inputs and seeds.

A :class:`Design` is the single object passed from sampling to execution to analysis
(SALib's habit of one problem definition for sample -> evaluate -> analyse).  Its runs
table has one row per run: ``run_id, point_id, stream, replication, seed, scenario`` and
one float column per factor.  Runs of the same *stream* share seeds (common random
numbers): the same uncertainty point under different lever settings or scenarios, the
rows of one Saltelli block, the points of one Morris trajectory.

With a posterior (``experiments.posterior``) the runs table also has ``posterior_draw``:
the particle whose parameter vector the run uses, drawn per (stream, replication) like the
seed, so runs that share a seed share the parameters too.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import seeds as seedmod
from .errors import ExperimentError
from .model import Factor, default_factors, validate_values

KINDS = ("sweep", "reach", "sobol", "morris")
#: The largest design any command accepts, checked before anything is allocated (the runs
#: table alone takes ~100 bytes per run per factor; 2 million runs at ~30 ms are ~17 core-hours).
MAX_RUNS = 2_000_000


def check_size(n_runs: int, what: str) -> None:
    """Refuse a design above :data:`MAX_RUNS` runs before sampling or allocating it."""
    if n_runs > MAX_RUNS:
        raise ExperimentError(f"{what} makes {n_runs:,} runs, above the limit of {MAX_RUNS:,}; "
                              "use fewer points or replications")
BASE_COLUMNS = ("run_id", "point_id", "stream", "replication", "seed", "scenario")


@dataclass(frozen=True, eq=False)
class Design:
    kind: str
    factors: tuple[Factor, ...]
    points: np.ndarray          # (n_points, n_factors) factor values
    streams: np.ndarray         # (n_points,) common-random-numbers group of each point
    scenarios: tuple[str, ...]  # (n_points,) scenario name of each point
    replications: int
    master_seed: int
    options: dict = field(default_factory=dict)
    chunk_size: int = 0         # 0: choose from the design size
    posterior: object = None    # experiments.posterior.Posterior, or None (parameters as in sim/data)

    def __post_init__(self):
        if self.replications < 1:
            raise ExperimentError(f"replications must be >= 1, got {self.replications}")
        if self.posterior is not None:
            both = sorted(set(self.factor_names) & set(self.posterior.keys))
            if both:
                raise ExperimentError(f"{both[0]} is both a design factor and a posterior parameter; "
                                      "the posterior sets it (drop the --factor/--levels/--only for it)")
        if self.chunk_size <= 0:
            object.__setattr__(self, "chunk_size", default_chunk_size(self.n_runs))

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)

    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def n_runs(self) -> int:
        return self.n_points * self.replications

    @property
    def n_chunks(self) -> int:
        return -(-self.n_runs // self.chunk_size)

    def problem(self) -> dict:
        """The SALib problem definition of this design's factors."""
        return salib_problem(self.factors)

    def runs(self) -> pd.DataFrame:
        """The runs table (one row per run, ordered by run_id)."""
        R = self.replications
        point_id = np.repeat(np.arange(self.n_points, dtype=np.int64), R)
        rep = np.tile(np.arange(R, dtype=np.int64), self.n_points)
        stream = np.asarray(self.streams, dtype=np.int64)[point_id]
        cols = {
            "run_id": np.arange(self.n_runs, dtype=np.int64),
            "point_id": point_id,
            "stream": stream,
            "replication": rep,
            "seed": seedmod.run_seeds(self.master_seed, stream, rep),
            "scenario": np.asarray(self.scenarios, dtype=object)[point_id],
        }
        for j, name in enumerate(self.factor_names):
            cols[name] = np.asarray(self.points[:, j], dtype=np.float64)[point_id]
        if self.posterior is not None:
            cols["posterior_draw"] = self.posterior.indices_for(self.master_seed, stream, rep)
        df = pd.DataFrame(cols)
        df["scenario"] = df["scenario"].astype(str)
        return df

    def spec(self) -> dict:
        return {"kind": self.kind, "factors": [f.as_dict() for f in self.factors],
                "replications": self.replications, "master_seed": self.master_seed,
                "n_points": self.n_points, "n_runs": self.n_runs, "chunk_size": self.chunk_size,
                "scenarios": sorted(set(self.scenarios)), "options": self.options,
                "posterior": None if self.posterior is None else self.posterior.spec()}

    def run_values(self, runs: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray]:
        """Names and (n_runs, k) values every run hands the model: the factors, then the
        posterior parameters of the run's particle."""
        names = self.factor_names
        values = runs[list(names)].to_numpy(dtype=np.float64) if names else np.zeros((len(runs), 0))
        if self.posterior is not None:
            names = names + tuple(self.posterior.keys)
            values = np.hstack([values, self.posterior.particles[runs["posterior_draw"].to_numpy()]])
        return names, values

    def digest(self, model_digests: dict[str, str]) -> str:
        """Hash of everything that determines the results (not how they are computed)."""
        h = hashlib.sha256()
        h.update(json.dumps({"spec": self.spec(), "models": model_digests},
                            sort_keys=True).encode())
        h.update(np.ascontiguousarray(self.points, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(self.streams, dtype=np.int64).tobytes())
        h.update("\n".join(self.scenarios).encode())
        return h.hexdigest()


def default_chunk_size(n_runs: int) -> int:
    """Runs per chunk: about 100 chunks, between 1 and 64 runs each."""
    return int(min(64, max(1, math.ceil(n_runs / 100))))


# ----------------------------------------------------------------------------- parsing

def parse_range(text: str) -> Factor:
    """``KEY=LOW:HIGH`` -> Factor."""
    key, sep, rng = text.partition("=")
    lo, sep2, hi = rng.partition(":")
    try:
        if not (sep and sep2 and key.strip()):
            raise ValueError
        low, high = float(lo), float(hi)
    except ValueError:
        raise ExperimentError(f"bad --factor {text!r}; expected KEY=LOW:HIGH") from None
    return Factor(key.strip(), low, high)


def parse_levels(text: str) -> Factor:
    """``KEY=v1,v2,...`` -> Factor with levels."""
    key, sep, vals = text.partition("=")
    try:
        if not (sep and key.strip()):
            raise ValueError
        levels = tuple(float(v) for v in vals.split(","))
    except ValueError:
        raise ExperimentError(f"bad --levels {text!r}; expected KEY=v1,v2,...") from None
    if len(set(levels)) != len(levels):
        raise ExperimentError(f"--levels {key}: repeated level")
    return Factor(key.strip(), min(levels), max(levels), levels)


def merge_factors(base: tuple[Factor, ...], overrides: list[Factor]) -> tuple[Factor, ...]:
    """Base factors with ranges overridden (same name) or appended (new name)."""
    out = {f.name: f for f in base}
    for f in overrides:
        out[f.name] = f
    return tuple(out.values())


# ----------------------------------------------------------------------------- checks

def _check_factors(models: dict, factors) -> None:
    names = [f.name for f in factors]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ExperimentError(f"factor {dup[0]} given twice")
    for model in models.values():
        for f in factors:
            for v in (f.levels or (f.low, f.high)):
                validate_values(model, {f.name: v})
        if factors:
            validate_values(model, {f.name: f.low for f in factors})
            validate_values(model, {f.name: f.high for f in factors})


def _check_posterior(models: dict, posterior) -> None:
    """Every model accepts the posterior's parameters (checked on its first particle)."""
    if posterior is None:
        return
    for model in models.values():
        try:
            validate_values(model, dict(zip(posterior.keys, posterior.particles[0].tolist())))
        except ExperimentError as exc:
            raise ExperimentError(f"posterior {posterior.path}: {exc}") from None


def without_posterior_keys(factors, posterior) -> tuple:
    """Default factors minus those the posterior sets (its draws replace their ranges)."""
    if posterior is None:
        return tuple(factors)
    return tuple(f for f in factors if f.name not in set(posterior.keys))


def _check_salib(factors) -> None:
    if not factors:
        raise ExperimentError("a sensitivity design needs at least one factor")
    for f in factors:
        if not f.high > f.low:
            raise ExperimentError(f"factor {f.name} has an empty range {f.low}:{f.high}")


def salib_problem(factors) -> dict:
    """SALib's problem definition, shared by sampling and analysis (one definition).
    ``factors`` are Factor objects or their manifest form (dicts with name, low, high)."""
    rows = [(f["name"], f["low"], f["high"]) if isinstance(f, dict) else (f.name, f.low, f.high) for f in factors]
    return {"num_vars": len(rows), "names": [r[0] for r in rows], "bounds": [[r[1], r[2]] for r in rows]}


def _lhs(factors, n: int, rng) -> np.ndarray:
    from scipy.stats import qmc

    if n <= 0 or not factors:
        return np.zeros((1 if n <= 0 else n, 0))
    unit = qmc.LatinHypercube(d=len(factors), seed=rng).random(n)
    lo = np.array([f.low for f in factors])
    hi = np.array([f.high for f in factors])
    return lo + unit * (hi - lo)


def _models_by_name(models) -> dict:
    if not isinstance(models, dict):
        models = list(models) if isinstance(models, (list, tuple)) else [models]
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise ExperimentError(f"scenario names must differ, got {', '.join(names)}")
        models = dict(zip(names, models))
    return models


# ----------------------------------------------------------------------------- designs

def sweep_design(model, levels: list[Factor] = (), uncertainties: tuple[Factor, ...] | None = None,
                 n_lhs: int = 0, replications: int = 1, seed: int = 0, chunk_size: int = 0,
                 posterior=None) -> Design:
    """Full factorial over lever ``levels`` x Latin hypercube (``n_lhs`` points) over
    ``uncertainties`` (default: the model's declared uncertainties).  Each LHS point is one
    stream, so every lever combination sees the same seeds."""
    seed = seedmod.check_master_seed(seed)
    models = _models_by_name(model)
    (name, model), = models.items()
    if n_lhs < 0:
        raise ExperimentError(f"--lhs must be >= 0, got {n_lhs}")
    lev = [f for f in levels]
    unc = without_posterior_keys(default_factors(model), posterior) if uncertainties is None \
        else tuple(uncertainties)
    unc = tuple(f for f in unc if f.name not in {l.name for l in lev}) if n_lhs > 0 else ()
    check_size(math.prod(len(f.levels) for f in lev) * max(n_lhs, 1) * int(replications),
               "this sweep (levels x --lhs x --replications)")
    _check_factors(models, tuple(lev) + unc)
    _check_posterior(models, posterior)
    combos = list(itertools.product(*[f.levels for f in lev])) or [()]
    U = _lhs(unc, n_lhs, seedmod.design_rng(seed))
    n_u = U.shape[0]
    L = np.array(combos, dtype=float).reshape(len(combos), len(lev))
    points = np.hstack([np.repeat(L, n_u, axis=0), np.tile(U, (len(combos), 1))])
    streams = np.tile(np.arange(n_u), len(combos))
    return Design("sweep", tuple(lev) + unc, points, streams, (name,) * len(points),
                  int(replications), seed, {"n_lhs": int(n_lhs),
                                            "levers": [f.name for f in lev]}, chunk_size, posterior)


def reach_design(models, uncertainties: tuple[Factor, ...] | None = None, n_lhs: int = 0,
                 replications: int = 1, seed: int = 0, chunk_size: int = 0, posterior=None) -> Design:
    """Each scenario at the same ``n_lhs`` Latin-hypercube points over the uncertainties of
    the first scenario (or ``uncertainties``), with the same seeds (paired comparison)."""
    seed = seedmod.check_master_seed(seed)
    models = _models_by_name(models)
    first = next(iter(models.values()))
    if n_lhs < 0:
        raise ExperimentError(f"--lhs must be >= 0, got {n_lhs}")
    unc = (without_posterior_keys(default_factors(first), posterior) if uncertainties is None
           else tuple(uncertainties)) if n_lhs > 0 else ()
    check_size(len(models) * max(n_lhs, 1) * int(replications),
               "this reach design (scenarios x --lhs x --replications)")
    _check_factors(models, unc)
    _check_posterior(models, posterior)
    U = _lhs(unc, n_lhs, seedmod.design_rng(seed))
    n_u = U.shape[0]
    names = list(models)
    points = np.tile(U, (len(names), 1))
    streams = np.tile(np.arange(n_u), len(names))
    scen = tuple(n for n in names for _ in range(n_u))
    return Design("reach", unc, points, streams, scen, int(replications), seed,
                  {"n_lhs": int(n_lhs)}, chunk_size, posterior)


def sobol_design(model, factors: tuple[Factor, ...] | None = None, n: int = 1024,
                 replications: int = 1, seed: int = 0, second_order: bool = False,
                 chunk_size: int = 0, posterior=None) -> Design:
    """Saltelli/Sobol' design through SALib (``n`` base samples, a power of two)."""
    from SALib.sample import sobol as salib_sobol

    seed = seedmod.check_master_seed(seed)
    models = _models_by_name(model)
    (name, model), = models.items()
    factors = without_posterior_keys(default_factors(model), posterior) if factors is None else tuple(factors)
    _check_salib(factors)
    if n < 2 or n & (n - 1):
        lo = 1 << max(1, (max(n, 2) - 1).bit_length() - 1)
        raise ExperimentError(f"Sobol' sample size must be a power of two >= 2, got {n} "
                              f"(try {lo} or {lo * 2})")
    check_size(n * (len(factors) * (2 if second_order else 1) + 2) * int(replications),
               "this Sobol' design (--n x (factors + 2) x --replications)")
    _check_factors(models, factors)
    _check_posterior(models, posterior)
    problem, sal_seed = salib_problem(factors), int(seedmod.design_rng(seed).integers(2 ** 31))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            X = salib_sobol.sample(problem, n, calc_second_order=second_order, seed=sal_seed)
    except (ValueError, UserWarning) as exc:
        raise ExperimentError(f"SALib cannot use this Sobol' design: {exc}") from None
    block = len(factors) * (2 if second_order else 1) + 2
    streams = np.arange(X.shape[0]) // block
    return Design("sobol", factors, X, streams, (name,) * X.shape[0], int(replications), seed,
                  {"n": int(n), "second_order": bool(second_order), "block": block}, chunk_size,
                  posterior)


def morris_design(model, factors: tuple[Factor, ...] | None = None, n: int = 20,
                  num_levels: int = 4, replications: int = 1, seed: int = 0,
                  chunk_size: int = 0, posterior=None) -> Design:
    """Morris elementary-effects design through SALib (``n`` trajectories)."""
    from SALib.sample import morris as salib_morris

    seed = seedmod.check_master_seed(seed)
    models = _models_by_name(model)
    (name, model), = models.items()
    factors = without_posterior_keys(default_factors(model), posterior) if factors is None else tuple(factors)
    _check_salib(factors)
    if n < 2:
        raise ExperimentError(f"Morris needs at least 2 trajectories, got {n}")
    if num_levels < 2 or num_levels % 2:
        raise ExperimentError(f"Morris num_levels must be an even number >= 2, got {num_levels}")
    check_size(n * (len(factors) + 1) * int(replications),
               "this Morris design (--n x (factors + 1) x --replications)")
    _check_factors(models, factors)
    _check_posterior(models, posterior)
    problem, sal_seed = salib_problem(factors), int(seedmod.design_rng(seed).integers(2 ** 31))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            X = salib_morris.sample(problem, n, num_levels=num_levels, seed=sal_seed)
    except (ValueError, UserWarning) as exc:
        raise ExperimentError(f"SALib cannot use this Morris design: {exc}") from None
    streams = np.arange(X.shape[0]) // (len(factors) + 1)
    return Design("morris", factors, X, streams, (name,) * X.shape[0], int(replications), seed,
                  {"n": int(n), "num_levels": int(num_levels)}, chunk_size, posterior)
