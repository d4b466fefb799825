"""``innosim calibrate``: simulation-based inference of the free parameters with pyabc.

Approximate Bayesian computation by sequential Monte Carlo (ABC-SMC, pyabc; Klinger,
Rickert & Hasenauer 2018) over the free set declared in ``sim/data/priors.toml``:

* **Data**: the growth since the base year of every history series that names a model
  indicator, ``s_j = ln(y_t / y_b)`` for each observed year ``t`` after the base year
  within the model's years (the same statistics ``innosim validate`` scores).
* **Simulator**: one model run of the scenario with the particle's parameters, at the
  given scale, with a run seed derived from the master seed and the parameter values
  (``SeedSequence([master, *bits(theta)])``), so a particle's simulation is reproducible
  whatever the order of evaluation. A statistic whose model value is undefined (indicator
  not positive) is set to ``UNDEFINED_GROWTH``.
* **Distance**: ``pyabc.PNormDistance(p=2)``: the Euclidean distance between simulated
  and observed log growths. Every statistic is a log growth (same unit), so no scaling
  is needed; an adaptive scaling (``AdaptivePNormDistance``) was tried and dropped because
  pyabc does not restore its weights on loading, so a resumed run would differ.
* **Tolerance**: pyabc's default quantile epsilon (the median of the previous
  generation's distances). **Stop**: the requested number of generations, or earlier at
  ``--max-simulations``.
* **Kernel** (``--kernel``, :data:`KERNELS`): a multivariate normal perturbation whose
  covariance is four times the weighted covariance of the previous generation
  (:func:`wide_bandwidth`: twice the normal-theory optimum of Beaumont et al. 2009, chosen by
  the measured effective sample size), proposals drawn inside the prior box
  (``abc_sampler.BoxedNormalTransition``, the law of pyabc's redraw loop, batched). pyabc's
  default (Silverman's bandwidth, half the covariance) is kept as ``silverman``: in 17
  dimensions its importance weights collapsed (effective sample size 300 -> 22.5 -> 2.5).
  The manifest reports every generation's effective sample size (Kish).

pyabc keeps its history in ``abc.db`` (SQLite) in the output folder; ``--resume`` loads it
and continues. Every generation after the first starts from the database (a fresh
``ABCSMC.load``), the path a resumed run takes: pyabc updates the tolerance for the next
generation on loading, not at the end of a ``run`` stopped after one generation. Each
generation draws from numpy's global generator reseeded with
``SeedSequence([master, generation])`` at the start of the generation, so a run interrupted
between generations and resumed equals an uninterrupted one (tested).

Output: ``posterior.parquet`` (every generation's particles with their weights and
distances; the posterior is the last generation), ``manifest.json`` (history digest,
scenario digest, priors, statistics with observed values, distance and epsilon, seeds,
per-generation epsilon and simulations, library versions) and diagnostic plots: marginal
posteriors against priors, pairwise posteriors for the strongest correlations, and
posterior-predictive fans against the observed points (``experiments.validate``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import sys
import time
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from experiments.errors import ExperimentError

UNDEFINED_GROWTH = 10.0  # log growth given to a statistic the model cannot compute (far from any data)
DB_NAME = "abc.db"
DEFAULT_KERNEL = "wide"  # the ABC-SMC perturbation kernel (KERNELS)


# ---------------------------------------------------------------------- priors
@dataclass(frozen=True)
class Prior:
    """Independent uniform prior of one free factor (dotted scenario key)."""

    key: str
    low: float
    high: float
    distribution: str = "uniform"
    why: str = ""

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


def _read_toml(path: str | Path, kind: str) -> tuple[str, dict]:
    """``(where, table)`` of a ``kind`` file (priors, micro-moments); one-line errors."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ExperimentError(f"{where}: no such {kind} file")
    try:
        return where, tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ExperimentError(f"{where}: not a readable TOML file: {exc}") from None


def shipped_priors_path() -> Path:
    return Path(str(resources.files("sim.data").joinpath("priors.toml")))


def load_priors(path: str | Path | None = None) -> list[Prior]:
    """Read and check a priors file (default ``sim/data/priors.toml``); one-line errors."""
    from sim.params import InitialConditions, Parameters, data_entries
    from sim.scenario import Scenario, ScenarioError

    where, raw = _read_toml(path if path is not None else shipped_priors_path(), "priors")
    if not raw:
        raise ExperimentError(f"{where}: no priors; each is a table [\"parameters.NAME\"] with distribution = \"uniform\"")
    out, base = [], Scenario(name="priors")
    for key, e in raw.items():
        at = f"{where}: {key}"
        section, _, name = key.partition(".")
        kinds = {"parameters": Parameters, "initial": InitialConditions}
        if section not in kinds or name not in data_entries(kinds[section]):
            raise ExperimentError(f"{at}: not a parameter or initial value of sim/data (use parameters.NAME or initial.NAME)")
        if not isinstance(e, dict):
            raise ExperimentError(f"{at}: must be a table")
        unknown = sorted(set(e) - {"distribution", "low", "high", "why"})
        if unknown:
            raise ExperimentError(f"{at}.{unknown[0]}: unknown key; allowed: distribution, low, high, why")
        if e.get("distribution") != "uniform":
            raise ExperimentError(f"{at}.distribution: expected \"uniform\", got {e.get('distribution')!r}")
        rng = data_entries(kinds[section])[name].range
        lo, hi = e.get("low", rng[0] if rng else None), e.get("high", rng[1] if rng else None)
        if lo is None or hi is None:
            raise ExperimentError(f"{at}: sim/data gives no range for it; give low and high")
        for k, v in (("low", lo), ("high", hi)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ExperimentError(f"{at}.{k}: expected a finite number, got {v!r}")
        if not lo < hi:
            raise ExperimentError(f"{at}: need low < high, got [{lo:g}, {hi:g}]")
        try:
            for v in (lo, hi):
                base.with_values({key: float(v)})
        except ScenarioError as exc:
            raise ExperimentError(f"{at}: bound not allowed: {exc}") from None
        out.append(Prior(key, float(lo), float(hi), "uniform", str(e.get("why", ""))))
    return out


def pyabc_prior(priors: list[Prior]):
    import pyabc

    return pyabc.Distribution(**{p.name: pyabc.RV("uniform", p.low, p.high - p.low) for p in priors})


# ---------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Statistic:
    """One calibration statistic: growth of a series' indicator from ``base`` to ``year``
    (``observed = ln(y_year / y_base)``), or, with ``base == year``, the log level
    ``ln(y_year)`` of a micro-moment. ``weight`` multiplies its distance term."""

    series: str
    indicator: str
    base: int
    year: int
    observed: float
    weight: float = 1.0

    @property
    def name(self) -> str:
        return f"{self.series}:{self.year}"


def statistics_from_history(history, model_years, base: int, years=None) -> list[Statistic]:
    """Every observed growth ``ln(y_t / y_r)`` the model can reproduce (t > base in its years),
    with ``r`` the base year or, after a break of the series, its reference year
    (``Series.reference``: the first observed year on or after the break, itself not fitted).

    Weights: each statistic of a series with n statistics weighs ``1 / sqrt(n)``, so every
    series contributes alike to the squared distance however many years it was observed."""
    out = []
    for name, s in history.scored().items():
        if base not in s.values:
            continue
        ref = s.references(base, [t for t in model_years if years is None or t in years])
        ts = [t for t, r in ref.items() if r is not None]
        for t in ts:
            out.append(Statistic(name, s.indicator, ref[t], t, math.log(s.values[t] / s.values[ref[t]]),
                                 1.0 / math.sqrt(len(ts))))
    return out


@dataclass(frozen=True)
class Moment:
    """A micro-moment of ``sim/data/moments.toml``: the level of an indicator in ``year``, or
    its growth from ``from_year``."""

    name: str
    indicator: str
    year: int
    value: float
    weight: float
    from_year: int | None = None
    from_value: float | None = None
    unit: str = ""
    source: str = ""
    assumption: bool = False


def shipped_moments_path() -> Path:
    return Path(str(resources.files("sim.data").joinpath("moments.toml")))


def load_moments(path: str | Path | None = None) -> list[Moment]:
    """Read and check a micro-moments file (default ``sim/data/moments.toml``); one-line errors."""
    from sim.indicators import INDICATORS

    where, raw = _read_toml(path if path is not None else shipped_moments_path(), "micro-moments")
    allowed = {"indicator", "year", "value", "weight", "from_year", "from_value", "unit", "source", "assumption"}
    out = []
    for name, e in raw.items():
        at = f"{where}: [{name}]"
        if not isinstance(e, dict):
            raise ExperimentError(f"{at}: must be a table")
        unknown = sorted(set(e) - allowed)
        if unknown:
            raise ExperimentError(f"{at}.{unknown[0]}: unknown key; allowed: {', '.join(sorted(allowed))}")
        missing = sorted({"indicator", "year", "value", "weight", "unit", "source", "assumption"} - set(e))
        if missing:
            raise ExperimentError(f"{at}: missing key {missing[0]}")
        if e["indicator"] not in INDICATORS:
            raise ExperimentError(f"{at}.indicator: {e['indicator']!r} is not a model indicator")
        for k in ("value", "weight", "from_value"):
            v = e.get(k, 1.0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ExperimentError(f"{at}.{k}: expected a finite number > 0, got {v!r}")
        for k in ("year", "from_year"):
            v = e.get(k, 2000)
            if isinstance(v, bool) or not isinstance(v, int) or not 1900 <= v <= 2100:
                raise ExperimentError(f"{at}.{k}: expected a year 1900..2100, got {v!r}")
        if ("from_year" in e) != ("from_value" in e):
            raise ExperimentError(f"{at}: from_year and from_value go together")
        if "from_year" in e and e["from_year"] >= e["year"]:
            raise ExperimentError(f"{at}: from_year must be before year")
        out.append(Moment(name, e["indicator"], int(e["year"]), float(e["value"]), float(e["weight"]),
                          e.get("from_year"), float(e["from_value"]) if "from_value" in e else None,
                          str(e["unit"]), str(e["source"]), bool(e["assumption"])))
    return out


def statistics_from_moments(moments: list[Moment], model_years, base: int, years=None) -> list[Statistic]:
    """The micro-moments inside the fitted years: both years after the base year and within
    the model's years (and ``years`` when given). Level: ``ln(value)`` against the model's
    ``ln(y_year)`` (``base == year``); growth: ``ln(value / from_value)``."""
    out = []
    for mo in moments:
        ys = [mo.year] + ([mo.from_year] if mo.from_year is not None else [])
        if not all(y > base and y in model_years and (years is None or y in years) for y in ys):
            continue
        if mo.from_year is None:
            out.append(Statistic(mo.name, mo.indicator, mo.year, mo.year, math.log(mo.value), mo.weight))
        else:
            out.append(Statistic(mo.name, mo.indicator, mo.from_year, mo.year, math.log(mo.value / mo.from_value),
                                 mo.weight))
    return out


def simulated_statistics(indicators: dict, model_years, stats: list[Statistic]) -> dict[str, float]:
    """The model's value of every statistic from one run's indicator paths."""
    years = list(model_years)
    out = {}
    for st in stats:
        a = indicators[st.indicator][years.index(st.year)]
        if st.base == st.year:  # level moment
            out[st.name] = float(math.log(a)) if a > 0 else UNDEFINED_GROWTH
            continue
        b = indicators[st.indicator][years.index(st.base)]
        out[st.name] = float(math.log(a / b)) if a > 0 and b > 0 else UNDEFINED_GROWTH
    return out


def particle_seed(master: int, values: list[float]) -> int:
    """Run seed of a particle: ``SeedSequence([master, *float64 bits of theta])``."""
    bits = np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
    ss = np.random.SeedSequence([int(master), *[int(b) for b in bits]])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


class Simulator:
    """The model as pyabc sees it: parameters -> statistics (picklable for process pools)."""

    def __init__(self, scenario, priors: list[Prior], stats: list[Statistic], scale: float, master: int):
        self.scenario, self.priors, self.stats, self.scale, self.master = scenario, priors, stats, scale, master

    def values(self, par) -> list[float]:
        return [float(par[p.name]) for p in self.priors]

    def run(self, values: list[float]):
        from sim.run import run

        sc = self.scenario.with_values({p.key: min(max(v, p.low), p.high) for p, v in zip(self.priors, values)})
        return run(sc, seed=particle_seed(self.master, values), scale=self.scale)

    def __call__(self, par) -> dict[str, float]:
        res = self.run(self.values(par))
        return simulated_statistics(res.indicators, res.years, self.stats)


# ---------------------------------------------------------------------- the calibration
@dataclass(frozen=True)
class CalibrationConfig:
    scenario_file: str
    history_file: str
    priors_file: str
    base_year: int | None
    years: tuple[int, ...] | None
    population: int
    generations: int
    max_simulations: int | None
    scale: float
    seed: int
    workers: int
    moments_file: str | None = None   # micro-moments (None: none)
    kernel: str = DEFAULT_KERNEL      # perturbation kernel: see KERNELS

    def digest(self, scenario_digest: str, history_digest: str, priors: list[Prior], moments=()) -> str:
        """What must not change between an interrupted run and its resumption."""
        d = dataclasses.asdict(self)
        for k in ("generations", "max_simulations", "workers", "scenario_file", "history_file", "priors_file",
                  "moments_file"):
            d.pop(k)
        d.update(scenario=scenario_digest, history=history_digest, priors=[dataclasses.asdict(p) for p in priors],
                 moments=[dataclasses.asdict(m) for m in moments])
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as md
    out = {"python": sys.version.split()[0]}
    for pkg in ("pyabc", "numpy", "scipy", "pandas", "pyarrow", "mesa"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def beaumont_bandwidth(n_samples: float, dimension: int) -> float:  # noqa: ARG001 - pyabc's selector signature
    """Bandwidth factor ``sqrt(2)``: kernel covariance twice the weighted particle covariance,
    the Gaussian random-walk kernel that minimises the Kullback-Leibler divergence between
    successive ABC-SMC populations when they are near normal (Beaumont, Cornuet, Marin &
    Robert 2009, Biometrika 96(4):983-990, §3; Filippi et al. 2013, SAGMB 12(1):87-107)."""
    return math.sqrt(2.0)


def wide_bandwidth(n_samples: float, dimension: int) -> float:  # noqa: ARG001 - pyabc's selector signature
    """Bandwidth factor 2: kernel covariance four times the weighted particle covariance.

    The default. Measured on the 17-parameter window calibration (population 100, 5
    generations, scale 0.003, same seed), Kish effective sample size by generation:
    pyabc's Silverman rule (covariance 0.5x) 100, 9.4, 4.1, 3.3, 2.0; 2x (Beaumont)
    100, 52.7, 35.9, 23.4, 25.9; 4x 100, 78.4, 67.7, 77.7, 75.1, at 1.8x the simulations of
    2x per generation: the most effective particles per simulation. The posterior is not
    near normal (uniform priors, mass against their bounds), so a kernel wider than the
    normal-theory optimum keeps the importance weights ``prior / proposal`` even."""
    return 2.0


#: perturbation kernels of ``--kernel``: name -> (bandwidth selector, description)
KERNELS = {
    "wide": (wide_bandwidth, "multivariate normal, covariance 4x the weighted particle covariance, proposals "
                             "drawn inside the prior box"),
    "beaumont": (beaumont_bandwidth, "multivariate normal, covariance 2x the weighted particle covariance "
                                     "(Beaumont et al. 2009), proposals drawn inside the prior box"),
    "silverman": (None, "multivariate normal, Silverman's rule, about 0.5x the covariance in 17 dimensions "
                        "(pyabc's default; its weights degenerate: ESS 300 -> 22.5 -> 2.5 in the window calibration)"),
}


def _make_abc(sim: Simulator, priors, cfg: CalibrationConfig, map_=map):
    import pyabc

    from experiments.abc_sampler import BoxedNormalTransition, SeededMappingSampler

    selector = KERNELS[cfg.kernel][0]
    transition = (BoxedNormalTransition({p.name: p.low for p in priors}, {p.name: p.high for p in priors},
                                        bandwidth_selector=selector)
                  if selector is not None else pyabc.MultivariateNormalTransition())
    weights = {st.name: st.weight for st in sim.stats}
    return pyabc.ABCSMC(sim, pyabc_prior(priors), pyabc.PNormDistance(p=2, fixed_weights=weights),
                        population_size=cfg.population, sampler=SeededMappingSampler(map_=map_),
                        transitions=transition)


def _generation_seed(master: int, t: int) -> int:
    return int(np.random.SeedSequence([int(master), 1 + t]).generate_state(1, np.uint32)[0])


def calibrate(cfg: CalibrationConfig, out: Path, resume: bool = False, progress=None) -> dict:
    """Run (or resume) ABC-SMC; write posterior.parquet and manifest.json into ``out``."""
    from sim.history import load_history
    from sim.scenario import load_scenario

    if cfg.kernel not in KERNELS:
        raise ExperimentError(f"kernel {cfg.kernel!r}: expected one of {', '.join(KERNELS)}")
    sc = load_scenario(cfg.scenario_file)
    history = load_history(cfg.history_file)
    priors = load_priors(cfg.priors_file)
    model_years = list(range(sc.run.start_year, sc.run.end_year + 1))
    base = cfg.base_year if cfg.base_year is not None else model_years[0]
    if base not in model_years:
        raise ExperimentError(f"--base-year {base}: the scenario covers {model_years[0]}-{model_years[-1]}")
    stats = statistics_from_history(history, model_years, base, cfg.years)
    moments = load_moments(cfg.moments_file) if cfg.moments_file else []
    stats += statistics_from_moments(moments, model_years, base, cfg.years)
    if not stats:
        raise ExperimentError(f"{history.path}: no observed growth after base year {base} within the scenario's years "
                              f"{model_years[0]}-{model_years[-1]}: nothing to calibrate to")
    config_digest = cfg.digest(sc.digest(), history.digest, priors, moments)
    db = out / DB_NAME
    man_path = out / "manifest.json"
    if resume:
        if not db.is_file() or not man_path.is_file():
            raise ExperimentError(f"--resume: {out} holds no calibration to resume ({DB_NAME} and manifest.json)")
        old = json.loads(man_path.read_text())
        if old.get("config_digest") != config_digest:
            raise ExperimentError(f"--resume: {out} was calibrated with other settings (scenario, history, priors, "
                                  "population, scale, seed or base year differ)")
    elif out.exists() and any(out.iterdir()):
        raise ExperimentError(f"--out {out}: folder is not empty (use --resume to continue a calibration there)")
    out.mkdir(parents=True, exist_ok=True)
    sim = Simulator(sc, priors, stats, cfg.scale, cfg.seed)
    with contextlib.ExitStack() as stack:
        map_ = map
        if cfg.workers > 1:
            import concurrent.futures as cf
            from experiments.workers import pool_kwargs
            map_ = stack.enter_context(cf.ProcessPoolExecutor(max_workers=cfg.workers, **pool_kwargs())).map
        return _calibrate(cfg, out, resume, progress, sc, history, priors, stats, base, model_years,
                          config_digest, db, man_path, sim, map_)


def _calibrate(cfg, out, resume, progress, sc, history, priors, stats, base, model_years, config_digest, db,
               man_path, sim, map_):
    import pandas as pd

    abc = _make_abc(sim, priors, cfg, map_)
    for name in [n for n in logging.root.manager.loggerDict if n.startswith(("ABC", "pyabc"))] + ["ABC"]:
        logging.getLogger(name).setLevel(logging.WARNING)  # progress is ours (one line per generation)
    t0 = time.perf_counter()
    observed = {s.name: s.observed for s in stats}
    if resume:
        abc.load(f"sqlite:///{db}", 1)
        history_abc = abc.history
    else:
        np.random.seed(_generation_seed(cfg.seed, -1))
        history_abc = abc.new(f"sqlite:///{db}", observed)
    manifest = {
        "command": "calibrate", "config_digest": config_digest, "config": dataclasses.asdict(cfg),
        "scenario": {"name": sc.name, "file": sc.path, "digest": sc.digest()},
        "history": {"file": history.path, "digest": history.digest},
        "base_year": base, "model_years": model_years,
        "statistics": [dataclasses.asdict(s) for s in stats],
        "priors": [dataclasses.asdict(p) for p in priors],
        "method": "ABC-SMC (pyabc.ABCSMC), population size constant",
        "moments": {"file": cfg.moments_file,
                    "used": [dataclasses.asdict(st) for st in stats if st.series not in history.series]},
        "distance": "pyabc.PNormDistance(p=2, fixed_weights): weighted Euclidean distance of the log-growth "
                    "statistics (weight 1/sqrt(n) for each of a series' n statistics) and the micro-moments "
                    "(log level or log growth, weight from the moments file)",
        "epsilon": "pyabc default: quantile (median) of the previous generation's distances",
        "kernel": f"{cfg.kernel}: {KERNELS[cfg.kernel][1]}",
        "sampler": "pyabc MappingSampler with seeded jobs (experiments/abc_sampler.py); results do not depend on --workers",
        "seeds": {"master": cfg.seed, "particle_run_seed": "SeedSequence([master, *float64 bits of theta])",
                  "generation_seed": "numpy global generator reseeded with SeedSequence([master, 1 + t]) per generation"},
        "undefined_growth_value": UNDEFINED_GROWTH,
        "versions": _versions(),
    }
    while True:
        done = history_abc.max_t + 1 if history_abc.max_t is not None and history_abc.max_t >= 0 else 0
        nsim = history_abc.total_nr_simulations if done else 0
        if done >= cfg.generations or (cfg.max_simulations is not None and nsim >= cfg.max_simulations):
            break
        if done > 0:  # every later generation starts from the database, as a resumed run does
            abc = _make_abc(sim, priors, cfg, map_)
            abc.load(f"sqlite:///{db}", 1)
        np.random.seed(_generation_seed(cfg.seed, done))
        history_abc = abc.run(max_nr_populations=1)
        if progress:
            pops = history_abc.get_all_populations()
            last = pops.iloc[-1]
            progress(int(last["t"]) + 1, cfg.generations, float(last["epsilon"]), int(history_abc.total_nr_simulations),
                     time.perf_counter() - t0)
    # the posterior: every generation's particles, the last one is the posterior
    frames = []
    for t in range(history_abc.max_t + 1):
        df, w = history_abc.get_distribution(m=0, t=t)
        d = df.reset_index(drop=True)[[p.name for p in priors]].copy()
        d.insert(0, "generation", t)
        d["weight"] = np.asarray(w, float)
        frames.append(d)
    post = pd.concat(frames, ignore_index=True)
    tmp = out / ".posterior.parquet.tmp"
    post.to_parquet(tmp, index=False)
    tmp.replace(out / "posterior.parquet")
    pops = history_abc.get_all_populations()
    manifest.update({
        "generations_done": int(history_abc.max_t + 1), "population": cfg.population,
        "simulations_total": int(history_abc.total_nr_simulations),
        "per_generation": [{"t": int(r.t), "epsilon": float(r.epsilon), "samples": int(r.samples),
                            "effective_sample_size": kish_ess(post.weight[post.generation == r.t])}
                           for r in pops.itertuples() if r.t >= 0],
        "posterior_summary": posterior_summary(post, priors),
        "elapsed_s_this_invocation": round(time.perf_counter() - t0, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    man_tmp = out / ".manifest.json.tmp"
    man_tmp.write_text(json.dumps(manifest, indent=2))
    man_tmp.replace(man_path)
    return {"posterior": post, "manifest": manifest, "simulator": sim, "stats": stats, "history": history,
            "model_years": model_years, "base": base}


def kish_ess(weights) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of importance weights (Kish 1965):
    the number of equally weighted particles carrying the same information; a population whose
    ESS is a small fraction of its size rests on a few particles."""
    w = np.asarray(weights, float)
    sq = float((w ** 2).sum())
    return float(w.sum() ** 2 / sq) if sq > 0 else 0.0


def last_generation(post):
    g = post[post.generation == post.generation.max()]
    return g.reset_index(drop=True)


def weighted_quantile(x, w, q):
    """Quantile ``q`` of ``x`` under weights ``w`` (inverse of the weighted CDF at midpoints)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    o = np.argsort(x)
    x, w = x[o], w[o] / w.sum()
    cdf = np.cumsum(w) - 0.5 * w
    return float(np.interp(q, cdf, x))


def posterior_summary(post, priors) -> list[dict]:
    """Per parameter: weighted mean, 5%/95% quantiles, and the width of the 90% interval
    relative to the prior's (near 1: the data barely inform it)."""
    g = last_generation(post)
    w = g["weight"].to_numpy()
    rows = []
    for p in priors:
        x = g[p.name].to_numpy()
        lo, hi = weighted_quantile(x, w, 0.05), weighted_quantile(x, w, 0.95)
        rows.append({"parameter": p.key, "mean": float(np.average(x, weights=w)), "q05": lo, "q95": hi,
                     "prior_low": p.low, "prior_high": p.high,
                     "interval_vs_prior": (hi - lo) / (0.9 * (p.high - p.low))})
    return rows


def draw_particles(post, n: int, seed: int) -> np.ndarray:
    """``n`` indices of the last generation drawn by weight (reproducible)."""
    g = last_generation(post)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    return rng.choice(len(g), size=n, replace=True, p=g["weight"].to_numpy() / g["weight"].sum())


def synthetic_history_toml(result, indicators: dict[str, str], note: str) -> str:
    """A history file (``sim/history.py`` schema) whose values are one model run's paths.

    ``indicators`` maps series name -> model indicator. Used by the recovery test: data
    generated by the model itself at known parameters.
    """
    lines = [f"# synthetic history: {note}"]
    for name, ind in indicators.items():
        vals = ", ".join(f"{y} = {float(v)!r}" for y, v in zip(result.years, result.indicators[ind]))
        lines += [f"[{name}]", 'unit = "model units"', f'source = "model run, {note}"',
                  f"values = {{ {vals} }}", f'indicator = "{ind}"', ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------- diagnostics
def plot_diagnostics(res: dict, out: Path, draws: int = 20) -> list[str]:
    """Marginals vs priors, pairwise posteriors for the strongest correlations, and
    posterior-predictive fans (``draws`` model runs at particles drawn by weight)."""
    from experiments.validate import plot_series, validate
    from experiments.output import pyplot

    plt = pyplot()
    post, sim = res["posterior"], res["simulator"]
    priors = sim.priors
    g = last_generation(post)
    w = g["weight"].to_numpy()
    names = []
    n = len(priors)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.3 * rows), squeeze=False)
    for ax, p in zip(axes.flat, priors):
        ax.hist(g[p.name], bins=15, range=(p.low, p.high), weights=w, density=True, color="C0", alpha=0.7,
                label="posterior")
        ax.axhline(1.0 / (p.high - p.low), color="C3", ls="--", label="prior")
        ax.set_title(p.name, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "calibrate_marginals.png", dpi=90)
    plt.close(fig)
    names.append("calibrate_marginals.png")
    # pairwise posteriors for the strongest weighted correlations
    if n >= 2:
        x = g[[p.name for p in priors]].to_numpy()
        c = np.cov(x.T, aweights=w)
        sd = np.sqrt(np.diag(c))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = c / np.outer(sd, sd)
        pairs = sorted(((abs(corr[i, j]) if np.isfinite(corr[i, j]) else 0.0, i, j)
                        for i in range(n) for j in range(i + 1, n)), reverse=True)[:3]
        fig, axes = plt.subplots(1, len(pairs), figsize=(3.2 * len(pairs), 3), squeeze=False)
        for ax, (r, i, j) in zip(axes.flat, pairs):
            ax.scatter(x[:, i], x[:, j], s=8 + 200 * w / w.max(), alpha=0.5)
            ax.set_xlim(priors[i].low, priors[i].high)
            ax.set_ylim(priors[j].low, priors[j].high)
            ax.set_xlabel(priors[i].name, fontsize=7)
            ax.set_ylabel(priors[j].name, fontsize=7)
            ax.set_title(f"weighted corr {corr[i, j]:+.2f}", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "calibrate_pairs.png", dpi=90)
        plt.close(fig)
        names.append("calibrate_pairs.png")
    # posterior predictive: model runs at drawn particles, scored and plotted like `validate`
    idx = draw_particles(post, draws, sim.master)
    runs = [sim.run([float(g.loc[i, p.name]) for p in priors]) for i in idx]
    years = list(runs[0].years)
    paths = {k: np.array([r.indicators[k] for r in runs]) for k in runs[0].indicators}
    val = validate(res["history"], paths, years, res["base"], sorted({s.year for s in res["stats"]}))
    for r in val["series"]:
        name = plot_series(r, out)
        target = out / name.replace("validate_", "calibrate_predictive_")
        (out / name).replace(target)
        names.append(target.name)
    res["predictive"] = {"draws": int(draws), "summary": val["summary"],
                         "series": {r.series: {"model_score": r.model.score, "coverage": r.model.coverage}
                                    for r in val["series"]}}
    return names


def format_summary(res: dict) -> str:
    m = res["manifest"]
    lines = [f"{'parameter':44} {'prior':>17} {'posterior mean [5%, 95%]':>32} {'width/prior':>11}"]
    lines.append("-" * len(lines[0]))
    for r in m["posterior_summary"]:
        lines.append(f"{r['parameter']:44} {'[' + format(r['prior_low'], '.3g') + ', ' + format(r['prior_high'], '.3g') + ']':>17} "
                     f"{format(r['mean'], '.3g') + ' [' + format(r['q05'], '.3g') + ', ' + format(r['q95'], '.3g') + ']':>32} "
                     f"{r['interval_vs_prior']:>11.2f}")
    lines.append("width/prior: 90% posterior interval over 90% of the prior range (near 1: the data barely inform it)")
    if "predictive" in res:
        s = res["predictive"]["summary"]
        lines.append(f"posterior predictive ({res['predictive']['draws']} draws): mean |log error| of growth "
                     f"{s['model_score_mean']:.3f}, observations inside the 90% band {s['model_coverage']:.2f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- command
def cmd_calibrate(args) -> int:
    from experiments.options import check_run_options
    from experiments.validate import parse_years
    from sim.history import shipped_history_path
    from sim.scenario import load_scenario

    sc = load_scenario(args.scenario)
    check_run_options(args, sc)   # --seed, --scale, --workers: the shared checks; unset -> the scenario's run.*
    for k in ("population", "generations", "draws"):
        v = getattr(args, k)
        if v is not None and v < 1:
            raise ExperimentError(f"--{k} must be at least 1, got {v}")
    if args.max_simulations is not None and args.max_simulations < 1:
        raise ExperimentError(f"--max-simulations must be at least 1, got {args.max_simulations}")
    years = tuple(parse_years(args.years)) if args.years else None
    if args.until is not None:
        # pseudo-out-of-sample: only the information at the end of --until enters the statistics
        base = args.base_year if args.base_year is not None else sc.run.start_year
        if args.until <= base:
            raise ExperimentError(f"--until {args.until}: must be after the base year {base}")
        years = tuple(y for y in (years or range(base + 1, args.until + 1)) if y <= args.until)
        if not years:
            raise ExperimentError(f"--until {args.until}: no year of --years {args.years} is at or before it")
    from experiments.execute import auto_workers
    workers = auto_workers(args.workers, (args.population or 200) * (args.generations or 6))
    cfg = CalibrationConfig(
        scenario_file=str(Path(sc.path).resolve()),  # a shipped scenario may be given by name
        history_file=str(Path(args.history).resolve()) if args.history else str(shipped_history_path()),
        priors_file=str(Path(args.priors).resolve()) if args.priors else str(shipped_priors_path()),
        moments_file=None if args.no_moments else (str(Path(args.moments).resolve()) if args.moments
                                                   else str(shipped_moments_path())),
        base_year=args.base_year, years=years,
        population=args.population or 200, generations=args.generations or 6,
        max_simulations=args.max_simulations, kernel=args.kernel,
        scale=args.scale, seed=args.seed, workers=workers)
    out = Path(args.out) if args.out else Path("results") / f"calibrate-{sc.name}"
    if out.exists() and not out.is_dir():
        raise ExperimentError(f"--out {out}: exists and is not a folder")
    show = sys.stderr.isatty()

    def progress(t, total, eps, nsim, elapsed):
        if show:
            print(f"\r  generation {t}/{total}  epsilon {eps:.4g}  simulations {nsim}  {elapsed:.0f} s", end="\n",
                  file=sys.stderr)

    res = calibrate(cfg, out, resume=args.resume, progress=progress)
    plots = plot_diagnostics(res, out, draws=args.draws or 20)
    man = res["manifest"]
    man["posterior_predictive"] = res["predictive"]
    (out / "manifest.json").write_text(json.dumps(man, indent=2))
    print(f"calibrate {sc.name} to {Path(cfg.history_file).name}: {len(res['stats'])} statistics (growth since "
          f"{res['base']}), {len(res['simulator'].priors)} free parameters, population {cfg.population}, "
          f"{man['generations_done']} generations, {man['simulations_total']} simulations, scale {cfg.scale:g}, "
          f"seed {cfg.seed} ({man['elapsed_s_this_invocation']:.1f} s)")
    print(format_summary(res))
    print(f"wrote {out}/posterior.parquet, manifest.json, {DB_NAME} and {len(plots)} plots")
    return 0


def register(subparsers) -> None:
    from .options import add_run_options, number

    p = subparsers.add_parser("calibrate", help="ABC-SMC (pyabc) of the free parameters against observed series")
    p.add_argument("scenario", help="scenario whose years cover the history's years after the base year")
    p.add_argument("--history", help="history TOML (default: sim/data/history_2008_2015.toml)")
    p.add_argument("--priors", help="priors TOML (default: sim/data/priors.toml)")
    p.add_argument("--moments", help="micro-moments TOML added to the distance (default: sim/data/moments.toml; "
                                     "a moment enters only when its years lie in the fitted years)")
    p.add_argument("--no-moments", action="store_true", help="fit the history's series only, no micro-moments (default: the moments are used)")
    p.add_argument("--base-year", type=number(int), help="growth is measured from this year (default: the scenario's first year)")
    p.add_argument("--years", help="observed years to fit, e.g. 2009-2012 (default: all after the base year)")
    p.add_argument("--until", type=number(int), metavar="YEAR",
                   help="fit only observed years up to YEAR (pseudo-out-of-sample: calibrate --until 2012, then "
                        "validate --base-year 2012 --posterior OUT scores 2013-2015; default: no limit)")
    p.add_argument("--population", type=number(int), help="particles per generation (default 200)")
    p.add_argument("--generations", type=number(int), help="ABC-SMC generations (default 6)")
    p.add_argument("--max-simulations", type=number(int),
                   help="stop after the generation that passes this many simulations (default: no limit)")
    p.add_argument("--kernel", choices=list(KERNELS), default=DEFAULT_KERNEL,
                   help="ABC-SMC perturbation kernel: " + "; ".join(f"{k}: {d}" for k, (_, d) in KERNELS.items())
                        + f" (default {DEFAULT_KERNEL})")
    add_run_options(p, with_replications=False, scheduler=False, posterior=False)   # --seed, --scale, --workers
    p.add_argument("--draws", type=number(int), help="posterior-predictive runs for the diagnostic fans (default 20)")
    p.add_argument("--resume", action="store_true", help="continue the calibration in --out (default: start anew)")
    p.add_argument("--out", help="output folder (default results/calibrate-SCENARIO)")
    p.set_defaults(func=cmd_calibrate)
