"""Scenario files: levers, uncertainties, parameter and initial-value overrides.

A scenario is a TOML file::

    [scenario]
    name = "policy_2016_2020"           # required
    description = "..."                 # optional
    extends = "baseline.toml"           # optional, relative to this file

    [levers.super_deduction]            # lever tables: see `innosim levers`
    rate_tech_sme = {2017 = 0.75}

    [parameters]                        # behavioural overrides (sim/data/parameters.toml keys)
    nominal_growth = 0.04

    [initial]                           # 2015-state overrides (sim/data/initial_2015.toml keys)
    hightech_revenue_tn_yuan = 21.0

    [uncertainties]                     # factors experiments sweep: dotted key -> [low, high]
    "parameters.rd_user_cost_elasticity" = [0.86, 1.29]
    "initial.hightech_revenue_tn_yuan" = "data"    # take the range from sim/data
    "levers.guidance_funds.raised_share" = [0.26, 0.6]

    [growth]                            # observed inputs of a historical window (optional)
    nominal = {2009 = 0.083, 2010 = 0.217}   # nominal demand growth by year; other years:
                                        #   parameters.nominal_growth
    public_rd = {2009 = 0.21}           # public R&D appropriations' growth (optional); other
                                        #   years: the year's nominal growth
    source = "..."

    [run]                               # defaults for `innosim run`
    replications = 20
    scale = 0.01
    seed = 20151231
    start_year = 2015                   # horizon (sim/horizon.py): initial-state year ...
    end_year = 2020                     # ... and last simulated year

An extending scenario starts from its parent and overrides single keys (tables merge
key by key; uncertainties and run settings merge too). Every error is a one-line
:class:`ScenarioError` naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from sim.horizon import DEFAULT_END, DEFAULT_START, Horizon, HorizonError, initial_state_years
from sim.params import DataError, InitialConditions, Parameters, build, data_entries
from sim.policies import LEVER_CLASSES, LeverError, Levers

TOP_KEYS = {"scenario", "levers", "parameters", "initial", "uncertainties", "run", "growth"}
RUN_KEYS = {"replications": int, "scale": float, "seed": int, "start_year": int, "end_year": int}
MAX_SCALE = 1.0
MIN_SCALE = 1e-4


class ScenarioError(ValueError):
    """A scenario or option that cannot be used. The message is one line."""


@dataclass(frozen=True)
class Uncertainty:
    """A factor: a dotted key with the range experiments sweep."""

    name: str
    low: float
    high: float


DEFAULT_SEED = 20151231
"""The one default master seed of every command and function (a scenario's run.seed overrides it)."""
DEFAULT_REPLICATIONS = 20
DEFAULT_SCALE = 0.005


@dataclass(frozen=True)
class RunSettings:
    replications: int = DEFAULT_REPLICATIONS
    scale: float = DEFAULT_SCALE
    seed: int = DEFAULT_SEED
    start_year: int = DEFAULT_START   # year of the initial state
    end_year: int = DEFAULT_END       # last simulated year


@dataclass(frozen=True)
class Scenario:
    """Everything one model run needs, besides its seed and scale."""

    name: str
    description: str = ""
    path: str | None = None
    levers: Levers = field(default_factory=Levers)
    parameters: Parameters = field(default_factory=lambda: build(Parameters))
    initial: InitialConditions = field(default_factory=lambda: build(InitialConditions))
    uncertainties: tuple[Uncertainty, ...] = ()
    run: RunSettings = field(default_factory=RunSettings)
    growth: tuple[tuple[int, float], ...] = ()   # observed nominal demand growth by year ([growth] nominal)
    public_growth: tuple[tuple[int, float], ...] = ()   # observed public R&D growth by year ([growth] public_rd)

    def nominal_growth(self, year: int) -> float:
        """Nominal demand growth in ``year``: the observed value of ``[growth] nominal`` for that
        year (a historical window's input), else ``parameters.nominal_growth``."""
        return dict(self.growth).get(year, self.parameters.nominal_growth)

    def quarter_nominal_growth(self, year: int, quarter: int) -> float:
        """Nominal demand growth in quarter ``quarter`` (1-4) of ``year``: :func:`centred_rate` of
        the ``[growth] nominal`` table, else ``parameters.nominal_growth`` (a forecast scenario
        without a table is unchanged)."""
        return centred_rate(dict(self.growth), year, quarter, self.parameters.nominal_growth)

    def quarter_public_rd_growth(self, year: int, quarter: int) -> float:
        """Growth of public R&D appropriations in quarter ``quarter`` of ``year``:
        :func:`centred_rate` of ``[growth] public_rd``, else :meth:`quarter_nominal_growth`."""
        return centred_rate(dict(self.public_growth), year, quarter, self.quarter_nominal_growth(year, quarter))

    def public_rd_growth(self, year: int) -> float:
        """Growth of institutes' and universities' R&D appropriations in ``year``: the observed
        value of ``[growth] public_rd`` for that year (a historical window's input: the public
        budget is a policy, not a market outcome), else :meth:`nominal_growth` (appropriations
        follow the economy's nominal growth, the forecast's assumption)."""
        observed = dict(self.public_growth)
        return observed[year] if year in observed else self.nominal_growth(year)

    # -- factors ---------------------------------------------------------------------
    def value_of(self, key: str) -> float:
        """Current value of a dotted factor key (levers: the 2020 value)."""
        section, rest = _split_key(key, self.path)
        if section == "parameters":
            return getattr(self.parameters, rest)
        if section == "initial":
            return getattr(self.initial, rest)
        lever, fld = rest.split(".")
        return getattr(getattr(self.levers, lever), fld).at(2020)

    def with_values(self, values: Mapping[str, float]) -> "Scenario":
        """Copy with factor values set. Lever factors become constants over 2016–2020."""
        where = f"{self.path or self.name}: "
        params, initial, levers = {}, {}, self.levers
        for key, value in values.items():
            section, rest = _split_key(key, self.path)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ScenarioError(f"{where}factor {key}: expected a finite number, got {value!r}")
            # the one allowed range of the key is enforced below (build / the lever field), as
            # for a TOML file; the scenario's uncertainty range is what experiments sweep by
            # default, not a limit (--factor may widen it within the allowed range)
            if section == "parameters":
                params[rest] = value
            elif section == "initial":
                initial[rest] = value
            else:
                lever, fld = rest.split(".")
                try:
                    levers = levers.with_value(lever, fld, value)
                except LeverError as exc:
                    raise ScenarioError(f"{where}{exc}") from None
        try:
            p = build(Parameters, {**dataclasses.asdict(self.parameters), **params}, where) if params else self.parameters
            i = build(InitialConditions, {**dataclasses.asdict(self.initial), **initial}, where) if initial else self.initial
        except DataError as exc:
            raise ScenarioError(str(exc)) from None
        out = dataclasses.replace(self, parameters=p, initial=i, levers=levers)
        _check_joint(out, where + "with " + ", ".join(f"{k} = {v:g}" for k, v in values.items()) + ": ")
        return out

    def canonical(self) -> dict[str, Any]:
        """Plain-data form of everything that affects results (for hashing and provenance)."""
        d = dataclasses.asdict(self)
        d.pop("path")
        d.pop("description")
        d.pop("run")
        if not self.growth:
            d.pop("growth")  # absent: digests of scenarios without observed growth stay as they were
        if not self.public_growth:
            d.pop("public_growth")
        if (self.run.start_year, self.run.end_year) != (DEFAULT_START, DEFAULT_END):
            d["horizon"] = [self.run.start_year, self.run.end_year]  # default omitted: digests stay comparable
        return d

    def digest(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def _split_key(key: str, path: str | None) -> tuple[str, str]:
    where = f"{path}: " if path else ""
    if not isinstance(key, str):
        raise ScenarioError(f"{where}factor {key!r}: keys are dotted strings")
    section, _, rest = key.partition(".")
    if section == "parameters" and rest in data_entries(Parameters):
        return section, rest
    if section == "initial" and rest in data_entries(InitialConditions):
        return section, rest
    if section == "levers":
        lever, _, fld = rest.partition(".")
        cls = LEVER_CLASSES.get(lever)
        if cls is not None and fld in {f.name for f in cls.field_specs()}:
            return section, rest
    raise ScenarioError(
        f"{where}unknown factor {key!r}; use parameters.KEY, initial.KEY or levers.LEVER.FIELD "
        "(see `innosim levers` and sim/data/)"
    )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out



MAX_EXTENDS = 16  # a chain of `extends` deeper than this is refused (and cycles always)


def _read_raw(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """Read a scenario and everything it extends, merged (child wins)."""
    if len(chain) > MAX_EXTENDS:
        raise ScenarioError(f"{chain[0]}: scenario.extends chain is deeper than {MAX_EXTENDS} files")
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(f"{chain[0]}: scenario extends itself through a cycle: {cycle}")
    try:
        is_file = path.is_file()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ScenarioError(f"{_shown(path)}: cannot read: {exc.strerror or exc}") from None
    if not is_file:
        if chain:
            raise ScenarioError(f"{chain[-1]}: scenario.extends names a missing file {path}")
        raise ScenarioError(f"{path}: no such scenario file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ScenarioError(f"{path}: unknown section [{unknown[0]}]; allowed: {', '.join(sorted(TOP_KEYS))}")
    for k in TOP_KEYS & set(raw):
        if not isinstance(raw[k], dict):
            raise ScenarioError(f"{path}: [{k}] must be a table")
    meta = raw.get("scenario")
    if meta is None:
        raise ScenarioError(f"{path}: missing section [scenario] (needs at least name = \"...\")")
    unknown = sorted(set(meta) - {"name", "description", "extends"})
    if unknown:
        raise ScenarioError(f"{path}: unknown key scenario.{unknown[0]}; allowed: name, description, extends")
    if "name" not in meta or not isinstance(meta["name"], str) or not meta["name"].strip():
        raise ScenarioError(f"{path}: scenario.name is missing or not a non-empty string")
    if "description" in meta and not isinstance(meta["description"], str):
        raise ScenarioError(f"{path}: scenario.description must be a string")
    if "extends" in meta:
        if not isinstance(meta["extends"], str):
            raise ScenarioError(f"{path}: scenario.extends must be a file name (string)")
        if "\0" in meta["extends"]:
            raise ScenarioError(f"{path}: scenario.extends cannot contain a NUL byte")
        try:
            target = (path.parent / meta["extends"]).resolve()
        except (OSError, RuntimeError) as exc:
            raise ScenarioError(f"{path}: scenario.extends: cannot resolve: {exc}") from None
        parent = _read_raw(target, (*chain, path))
        parent["scenario"].pop("description", None)
        raw = _merge(parent, raw)
        raw["scenario"].pop("extends", None)
    return raw


SHIPPED_DIR = Path(__file__).resolve().parent / "scenarios"
"""Scenarios shipped inside the package (the repository's ``scenarios/`` folder)."""


def shipped_scenarios() -> dict[str, Path]:
    """Name -> file of every scenario shipped with the package."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.toml"))}


def resolve_scenario_path(spec: str | Path) -> Path:
    """A scenario file path, or the name of a shipped scenario (``"baseline"``)."""
    path = Path(spec)
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        return path
    shipped = shipped_scenarios()
    if str(spec) in shipped:
        return shipped[str(spec)]
    raise ScenarioError(f"{spec}: no such scenario file, and no shipped scenario of that name "
                        f"(shipped: {', '.join(shipped)}; see `innosim scenarios`)")


def scenario_catalogue(local_dir: str | Path | None = "scenarios") -> list[dict[str, str]]:
    """Shipped scenarios and the ``*.toml`` files of ``local_dir`` with name, description and origin.

    A local file that is the shipped file itself (the repository's folder) is listed once,
    as shipped. Files that fail to load are listed with the error as description.
    """
    rows, seen = [], set()
    entries = [("shipped", p) for p in shipped_scenarios().values()]
    if local_dir is not None and Path(local_dir).is_dir():
        entries += [("local", p) for p in sorted(Path(local_dir).glob("*.toml"))]
    for origin, p in entries:
        real = p.resolve()
        if real in seen:
            continue
        seen.add(real)
        try:
            sc = load_scenario(p)
            name, desc = sc.name, sc.description
        except ScenarioError as exc:
            name, desc = p.stem, f"(cannot load: {exc})"
        rows.append({"name": name, "origin": origin, "path": str(p if origin == "local" else p.name),
                     "description": desc})
    return rows


def _shown(path) -> str:
    text = str(path).replace("\0", "\\0")
    return text if len(text) <= 200 else text[:100] + "..." + text[-60:]


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge and validate a scenario file, or load a shipped scenario by name
    (``load_scenario("policy_2016_2020")``; the list: ``innosim scenarios``)."""
    if "\0" in str(path):
        raise ScenarioError(f"{_shown(path)}: a file name cannot contain a NUL byte")
    try:
        path = resolve_scenario_path(path)
        resolved = path.resolve()
    except OSError as exc:  # a name too long for the file system
        raise ScenarioError(f"{_shown(path)}: cannot read: {exc.strerror or exc}") from None
    except RuntimeError as exc:  # symlink loops
        raise ScenarioError(f"{_shown(path)}: cannot resolve the path: {exc}") from None
    raw = _read_raw(resolved, ())
    return scenario_from_dict(raw, str(path))


def scenario_from_dict(raw: dict[str, Any], where: str = "<scenario>") -> Scenario:
    """Validate a merged scenario mapping (as read from TOML) into a :class:`Scenario`."""
    meta = raw.get("scenario", {})
    try:
        levers = Levers().updated(raw.get("levers", {}), "levers")
        params = build(Parameters, raw.get("parameters", {}))
        start = raw.get("run", {}).get("start_year", DEFAULT_START)
        start = start if isinstance(start, int) and not isinstance(start, bool) else DEFAULT_START
        # the initial state of the start year (the horizon check below rejects a year without one)
        year = start if start != DEFAULT_START and start in initial_state_years() else None
        initial = build(InitialConditions, raw.get("initial", {}), year=year)
    except (LeverError, DataError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    run = raw.get("run", {})
    unknown = sorted(set(run) - set(RUN_KEYS))
    if unknown:
        raise ScenarioError(f"{where}: unknown key run.{unknown[0]}; allowed: {', '.join(RUN_KEYS)}")
    settings = {}
    for k, typ in RUN_KEYS.items():
        if k in run:
            settings[k] = check_run_option(k, run[k], f"{where}: run.")
    sc = Scenario(
        name=meta.get("name", "unnamed"), description=meta.get("description", ""), path=where,
        levers=levers, parameters=params, initial=initial, run=RunSettings(**settings),
        **_growth(raw.get("growth", {}), where),
    )
    _check_joint(sc, f"{where}: ")
    try:
        Horizon(sc.run.start_year, sc.run.end_year).check(levers)
    except HorizonError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    unc = []
    for key, rng in raw.get("uncertainties", {}).items():
        section, rest = _split_key(key, where)
        if rng == "data":
            if section == "levers":
                raise ScenarioError(f"{where}: uncertainties.{key}: levers have no data range; give [low, high]")
            kind = Parameters if section == "parameters" else InitialConditions
            year = sc.run.start_year if kind is InitialConditions and sc.run.start_year != DEFAULT_START else None
            entry = data_entries(kind, year)[rest] if year else data_entries(kind)[rest]
            if entry.range is None:
                raise ScenarioError(f"{where}: uncertainties.{key}: sim/data gives no range for it; give [low, high]")
            lo, hi = entry.range
        elif (isinstance(rng, list) and len(rng) == 2
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in rng)):
            lo, hi = float(rng[0]), float(rng[1])
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ScenarioError(f"{where}: uncertainties.{key}: need finite low < high, got [{lo:g}, {hi:g}]")
        else:
            raise ScenarioError(f"{where}: uncertainties.{key}: expected [low, high] or \"data\"")
        unc.append(Uncertainty(key, lo, hi))
        for bound in (lo, hi):  # each bound must itself be a valid value
            dataclasses.replace(sc, uncertainties=()).with_values({key: bound})
    return dataclasses.replace(sc, uncertainties=tuple(unc))


GROWTH_RANGE = (-0.3, 0.5)
"""Allowed observed nominal growth rates of ``[growth]`` (a year's contraction of 30% to a rise of 50%)."""


def _growth(raw: dict[str, Any], where: str) -> dict[str, tuple[tuple[int, float], ...]]:
    """Validate ``[growth]``: ``nominal = {YEAR = rate}`` (observed nominal demand growth,
    required in a ``[growth]`` table), ``public_rd = {YEAR = rate}`` (observed growth of public
    R&D appropriations, optional), rates in ``GROWTH_RANGE``, and a required ``source``.
    Returns the Scenario fields ``growth`` and ``public_growth``."""
    if not raw:
        return {}
    unknown = sorted(set(raw) - {"nominal", "public_rd", "source"})
    if unknown:
        raise ScenarioError(f"{where}: unknown key growth.{unknown[0]}; allowed: nominal, public_rd, source")
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise ScenarioError(f"{where}: growth.source is missing (where the observed growth comes from)")
    fields = {"growth": _rates(raw.get("nominal"), where, "nominal")}
    if "public_rd" in raw:
        fields["public_growth"] = _rates(raw["public_rd"], where, "public_rd")
    return fields


CENTRE_WEIGHTS = (1.0, 1.0, 0.5, 0.0)
"""Share of each quarter of year y that lies before 5/8 of y (the centre of y's annual flow)."""


def centred_rate(table: dict[int, float], year: int, quarter: int, fallback: float) -> float:
    """Growth rate of quarter ``quarter`` (1-4) of ``year`` from a table of observed growth of
    *annual flows*: ``g_q = w_q g_y + (1 - w_q) g_{y+1}``, ``w = (1, 1, 1/2, 0)``.

    The model reads a year's flow as the mean of its four end-of-quarter rates, i.e. the rate
    at about 5/8 of the year (``sim/phases/lead_in.py``), so the observed growth of year y's
    flow over year y-1's is the growth from 5/8 of y-1 to 5/8 of y: quarters 1-2 of y lie in
    that interval, quarter 4 in the next (rate of y+1) and quarter 3 half in each. Applying
    g_y to all four quarters of y instead lags the model's flows 3/8 of a year behind the data
    (after the 2010-2011 boom the window's 2011-2015 industrial revenue grew 0.36 in logs
    against 0.28 observed). ``g_{y+1}`` of a year whose successor is not in the table is held
    at ``g_y`` (the next year's flow is not observed). Years not in the table: ``fallback``.
    Example: table {2014: 0.06, 2015: 0.01}: 2014 quarters 0.06, 0.06, 0.035, 0.01; 2015: 0.01.
    """
    if year not in table:
        return fallback
    w = CENTRE_WEIGHTS[quarter - 1]
    return w * table[year] + (1.0 - w) * table.get(year + 1, table[year])


def _rates(table: Any, where: str, key: str) -> tuple[tuple[int, float], ...]:
    """One ``[growth]`` table ``{YEAR = rate}``, checked, as sorted ``(year, rate)`` pairs."""
    if not isinstance(table, dict) or not table:
        raise ScenarioError(f"{where}: growth.{key} must be a table {{YEAR = rate}}")
    lo, hi = GROWTH_RANGE
    out = []
    for y, g in table.items():
        if not str(y).isdigit() or not 1900 <= int(y) <= 2100:
            raise ScenarioError(f"{where}: growth.{key}: {y!r} is not a year")
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not math.isfinite(g) or not lo <= g <= hi:
            raise ScenarioError(f"{where}: growth.{key}.{y}: expected a rate in {lo:g}..{hi:g}, got {g!r}")
        out.append((int(y), float(g)))
    return tuple(sorted(out))


def _check_joint(sc: "Scenario", where: str) -> None:
    """Raise for the first combination of values that breaks the model (``sim.bounds``)."""
    from sim.bounds import joint_problems

    problems = joint_problems(sc.parameters, sc.initial, sc.levers)
    if problems:
        raise ScenarioError(f"{where}invalid combination: {problems[0]}")


def check_run_option(key: str, value: Any, where: str) -> int | float:
    """Validate replications / scale / seed / start_year / end_year from a file or the command line."""
    if key in ("start_year", "end_year"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}{key}: expected a whole year, got {value!r}")
        return value
    if key in ("replications", "seed"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}{key}: expected a whole number, got {value!r}")
        if key == "replications" and not (1 <= value <= 100_000):
            raise ScenarioError(f"{where}replications: {value} is outside 1..100000")
        if key == "seed" and not (0 <= value < 2**63):
            raise ScenarioError(f"{where}seed: {value} is outside 0..2^63-1")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{where}scale: expected a number, got {value!r}")
    if not (MIN_SCALE <= value <= MAX_SCALE):
        raise ScenarioError(f"{where}scale: {value:g} is outside {MIN_SCALE:g}..{MAX_SCALE:g} (1 = one agent per real firm)")
    return float(value)
