"""Model functions: the one interface through which experiments evaluate a model.

A model function is a picklable callable ``f(values, seed) -> {indicator: per-year array}``
plus the metadata the pipeline needs (factor names and default ranges, years, indicator
names, targets, a content digest).  The same design / execution / analysis pipeline runs
the real simulator (:class:`SimModelFunction`) and analytic test functions
(:class:`Ishigami`), so the tests exercise the code that runs the real experiments.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, runtime_checkable

import numpy as np

from .errors import ExperimentError


@dataclass(frozen=True)
class Factor:
    """A factor of a design: a dotted scenario key with a range (and optional levels)."""

    name: str
    low: float
    high: float
    levels: tuple[float, ...] | None = None

    @property
    def role(self) -> str:
        return "lever" if self.name.startswith("levers.") else "uncertainty"

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ExperimentError(f"factor {self.name}: bad range {self.low}:{self.high}")

    def as_dict(self) -> dict:
        d = {"name": self.name, "low": self.low, "high": self.high, "role": self.role}
        if self.levels is not None:
            d["levels"] = list(self.levels)
        return d


@dataclass(frozen=True)
class Target:
    """Target ``id``: reached by ``sim.indicators.reached`` (``indicator >= threshold`` for
    direction ``at_least``, as ``sim.indicators.TargetSpec``)."""

    id: str
    indicator: str
    threshold: float
    label: str = ""
    direction: str = "at_least"

    def as_dict(self) -> dict:
        return {"id": self.id, "indicator": self.indicator, "threshold": self.threshold,
                "label": self.label, "direction": self.direction}


@runtime_checkable
class ModelFunction(Protocol):
    name: str
    factor_names: tuple[str, ...]
    years: tuple[int, ...]
    indicator_names: tuple[str, ...]

    def __call__(self, values: dict[str, float], seed: int) -> dict[str, np.ndarray]: ...

    def digest(self) -> str: ...


# The optional parts of the interface, with defaults, so third-party model functions
# need only the protocol above.

def default_factors(model) -> tuple[Factor, ...]:
    factors = getattr(model, "factors", None)
    if factors is None:
        raise ExperimentError(f"model {model.name} declares no factor ranges; give --factor KEY=LOW:HIGH")
    return tuple(factors)


def validate_values(model, values: Mapping[str, float]) -> None:
    check = getattr(model, "validate", None)
    if check is not None:
        check(dict(values))
    else:
        unknown = sorted(set(values) - set(model.factor_names))
        if unknown:
            raise ExperimentError(f"unknown factor {unknown[0]!r} for model {model.name}")


def model_targets(model) -> dict[str, Target]:
    get = getattr(model, "targets", None)
    return dict(get()) if get is not None else {}


def model_indicator_meta(model) -> dict[str, dict]:
    get = getattr(model, "indicator_meta", None)
    if get is not None:
        return dict(get())
    return {name: {"unit": "", "description": ""} for name in model.indicator_names}


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class Ishigami:
    """The Ishigami function ``sin x1 + a sin^2 x2 + b x3^4 sin x1`` on [-pi, pi]^3.

    Analytic Sobol indices (a=7, b=0.1): S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424,
    0.2437).  ``noise_sd`` adds Gaussian noise drawn from the run seed (the "model's own
    randomness").  With ``n_years > 1`` the indicator ramps linearly to f(x) over
    2020-n_years+1 .. 2020 (noise drawn per year), so reachability has a first year.
    ``delay`` sleeps that many seconds per run (to make kill tests possible).
    ``nan_above`` makes the run invalid (y = NaN in the last year) where x1 > nan_above, to
    exercise the handling of invalid runs.
    """

    name = "ishigami"
    indicator_names = ("y",)

    def __init__(self, a: float = 7.0, b: float = 0.1, noise_sd: float = 0.0,
                 n_years: int = 1, delay: float = 0.0, threshold: float = 3.5,
                 nan_above: float = math.inf):
        self.a, self.b, self.noise_sd = float(a), float(b), float(noise_sd)
        self.nan_above = float(nan_above)
        self.n_years, self.delay, self.threshold = int(n_years), float(delay), float(threshold)
        if self.n_years < 1 or self.noise_sd < 0 or self.delay < 0:
            raise ExperimentError("ishigami: n_years >= 1, noise >= 0, delay >= 0 required")
        self.years = tuple(range(2021 - self.n_years, 2021))
        self.factors = tuple(Factor(f"x{i}", -math.pi, math.pi) for i in (1, 2, 3))
        self.factor_names = tuple(f.name for f in self.factors)

    def __call__(self, values: dict[str, float], seed: int) -> dict[str, np.ndarray]:
        x1, x2, x3 = (float(values[k]) for k in self.factor_names)
        f = math.sin(x1) + self.a * math.sin(x2) ** 2 + self.b * x3 ** 4 * math.sin(x1)
        ramp = np.arange(1, self.n_years + 1) / self.n_years
        y = f * ramp
        if self.noise_sd > 0:
            y = y + self.noise_sd * np.random.default_rng(seed).standard_normal(self.n_years)
        if self.delay:
            time.sleep(self.delay)
        if x1 > self.nan_above:
            y = np.asarray(y, dtype=float).copy()
            y[-1] = np.nan
        return {"y": y}

    def validate(self, values: dict[str, float]) -> None:
        for key, v in values.items():
            if key not in self.factor_names:
                raise ExperimentError(f"unknown factor {key!r} (ishigami has x1, x2, x3)")
            if not math.isfinite(v):
                raise ExperimentError(f"factor {key}: value {v} is not finite")

    def targets(self) -> dict[str, Target]:
        return {"TY": Target("TY", "y", self.threshold, f"y >= {self.threshold:g}")}

    def indicator_meta(self) -> dict[str, dict]:
        return {"y": {"unit": "1", "description": "Ishigami test function"}}

    def digest(self) -> str:
        # delay changes timing only, never results, so it is not part of the digest
        return _digest({"model": "ishigami", "a": self.a, "b": self.b, "noise_sd": self.noise_sd,
                        "n_years": self.n_years, "threshold": self.threshold,
                        **({"nan_above": self.nan_above} if math.isfinite(self.nan_above) else {})})


class SimModelFunction:
    """``sim.run`` as a model function: values are dotted scenario keys (``with_values``)."""

    def __init__(self, scenario, scale: float | None = None):
        from sim.scenario import Scenario, ScenarioError, load_scenario  # lazy: sim is optional

        self._path = None
        if isinstance(scenario, Scenario):
            sc = scenario
        else:
            from sim.scenario import resolve_scenario_path
            try:
                path = resolve_scenario_path(scenario)
            except ScenarioError as exc:
                raise ExperimentError(str(exc)) from None
            if not path.is_file():
                raise ExperimentError(f"scenario file not found: {path}")
            try:
                sc = load_scenario(path)
            except ScenarioError as exc:
                raise ExperimentError(f"{path}: {exc}") from None
            self._path = str(path.resolve())
        self.scenario = sc
        self.scale = scale
        self.name = sc.name
        self.factors = tuple(Factor(u.name, float(u.low), float(u.high)) for u in sc.uncertainties)
        self.factor_names = tuple(f.name for f in self.factors)
        self.years = tuple(range(sc.run.start_year, sc.run.end_year + 1))  # the horizon
        from sim.indicators import INDICATORS

        self.indicator_names = tuple(INDICATORS)
        self.code_digest = sim_code_digest()
        self._digest = _digest({"model": "sim", "scenario": sc.digest(), "scale": scale,
                                "code": self.code_digest})

    # Scenarios loaded from a file travel as their path and are checked by digest on
    # arrival, so pickling never depends on the Scenario's internals.
    def __getstate__(self):
        state = dict(self.__dict__)
        if self._path is not None:
            state["scenario"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.scenario is None:
            from sim.scenario import load_scenario

            self.scenario = load_scenario(self._path)
            if _digest({"model": "sim", "scenario": self.scenario.digest(), "scale": self.scale,
                        "code": self.code_digest}) != self._digest:
                # raised on the first call, not here: a failing unpickle can stall a Dask worker
                self._stale = f"scenario file {self._path} changed during the experiment"

    def _apply(self, values):
        from sim.scenario import ScenarioError

        try:
            return self.scenario.with_values(dict(values)) if values else self.scenario
        except ScenarioError as exc:
            raise ExperimentError(f"scenario {self.name}: {exc}") from None

    def __call__(self, values: dict[str, float], seed: int) -> dict[str, np.ndarray]:
        from sim.run import run

        if getattr(self, "_stale", None):
            raise RuntimeError(self._stale)
        res = run(self._apply(values), seed=int(seed), scale=self.scale)
        self.years = tuple(res.years)
        return {k: np.asarray(v, dtype=float) for k, v in res.indicators.items()}

    def validate(self, values: dict[str, float]) -> None:
        self._apply(values)

    def targets(self) -> dict[str, Target]:
        from sim.indicators import COMPANIONS, TARGETS

        # real T5 (relabelled costs excluded) is reported beside T5 (issue 11 #3)
        specs = [c for t in TARGETS.values() for c in (t, COMPANIONS.get(t.id)) if c is not None]
        return {t.id: Target(t.id, t.indicator, float(t.threshold), t.label, t.direction) for t in specs}

    def indicator_meta(self) -> dict[str, dict]:
        from sim.indicators import INDICATORS

        return {k: {"unit": getattr(s, "unit", ""), "description": getattr(s, "description", "")}
                for k, s in INDICATORS.items()}

    def digest(self) -> str:
        return self._digest


def sim_code_digest() -> str:
    """sha256 over the simulator's source and data files, so results (and --resume) are tied
    to the exact code that produced them, committed or not."""
    import sim

    root = Path(sim.__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


BUILTINS = {"ishigami": Ishigami}


def resolve_model(spec: str, scale: float | None = None):
    """A model function from a command-line spec: a scenario TOML path, or
    ``builtin:ishigami?noise_sd=0.5&n_years=6`` for an analytic test function."""
    if spec.startswith("builtin:"):
        parsed = urllib.parse.urlparse(spec)
        cls = BUILTINS.get(parsed.path)
        if cls is None:
            raise ExperimentError(f"unknown builtin model {parsed.path!r} (have: {', '.join(BUILTINS)})")
        kwargs = {}
        for key, val in urllib.parse.parse_qsl(parsed.query):
            try:
                kwargs[key] = float(val)
            except ValueError:
                raise ExperimentError(f"builtin model option {key}={val!r} is not a number") from None
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ExperimentError(f"builtin model {parsed.path}: {exc}") from None
    try:
        import sim.run  # noqa: F401
    except ImportError as exc:
        raise ExperimentError(f"cannot import the simulator (sim): {exc}") from None
    return SimModelFunction(spec, scale)  # resolves the name and reports a missing file
