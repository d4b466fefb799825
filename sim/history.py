"""Observed series (history) as data: one schema for every history file.

A history file is TOML with one table per series (schema in the header of
``sim/data/history_2008_2015.toml``)::

    [industrial_rd_intensity]
    unit = "percent of main business revenue"
    source = "NBS ..."
    values = { 2008 = 0.61, 2009 = 0.69 }
    derived = [2009]                      # optional: computed, not published
    breaks = { 2011 = "why" }             # optional: coverage or method changed this year
    indicator = "rd_intensity_industry_pct"   # optional: the model indicator it observes
    notes = "..."                         # optional

A *break* is a year from which the series' coverage or method changed (a census, a new
survey threshold): growth across it mixes behaviour with bookkeeping, so growth to a year
after a break is measured from the first observed year on or after the break
(:meth:`Series.reference`), and that year itself is not scored.

Every value carries its series' unit and source, and whether it was derived. The loader
checks the file the way ``sim/params.py`` checks the other data: a malformed file, an
unknown key, a wrong type or an impossible value raises :class:`HistoryError` with one
line ``FILE: SERIES.KEY: what is allowed`` (the command line prints it and exits 2).
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sim.scenario import ScenarioError

SERIES_KEYS = {"unit", "source", "values", "derived", "breaks", "indicator", "notes"}
REQUIRED_KEYS = ("unit", "source", "values")
YEAR_RANGE = (1900, 2100)
SHIPPED = "history_2008_2015.toml"


class HistoryError(ScenarioError):
    """A history file that cannot be used (message is one line)."""


@dataclass(frozen=True)
class Series:
    """One observed series: values by year with unit, source and derived years."""

    name: str
    unit: str
    source: str
    values: dict[int, float]
    derived: frozenset[int] = frozenset()
    indicator: str | None = None
    notes: str = ""
    breaks: dict[int, str] = field(default_factory=dict)

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self.values))

    def reference(self, year: int, base: int) -> int | None:
        """The observed year growth to ``year`` is measured from, given the base year.

        ``base`` unless a break ``k`` lies in ``(base, year]``; then the first observed year
        ``r >= k`` of the latest such break, and ``None`` when ``r == year`` (the year opens a
        new segment: no comparable earlier value). Example: values 2008, 2009, 2011, 2012,
        break 2011, base 2008 -> 2009: 2008; 2011: None; 2012: 2011.
        """
        crossed = [k for k in self.breaks if base < k <= year]
        if not crossed:
            return base
        k = max(crossed)
        r = min(y for y in self.values if y >= k)  # year itself is observed, so r <= year
        return None if r == year else r

    def references(self, base: int, within) -> dict[int, int | None]:
        """:meth:`reference` of every observed year after ``base`` that is in ``within``."""
        return {t: self.reference(t, base) for t in self.years if t > base and t in within}

    def trend_years(self, base: int) -> list[int]:
        """Observed years up to ``base`` in base's segment (after the last break <= base)."""
        k = max((b for b in self.breaks if b <= base), default=None)
        return sorted(y for y in self.values if y <= base and (k is None or y >= k))


@dataclass(frozen=True)
class History:
    """All series of one history file, with the file's digest for provenance."""

    path: str
    digest: str
    series: dict[str, Series] = field(default_factory=dict)

    def scored(self) -> dict[str, Series]:
        """Series that name a model indicator (the ones validation and calibration use)."""
        return {k: s for k, s in self.series.items() if s.indicator is not None}

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted({y for s in self.series.values() for y in s.values}))


def shipped_history_path() -> Path:
    """Path of the shipped training window (``sim/data/history_2008_2015.toml``)."""
    return Path(str(resources.files("sim.data").joinpath(SHIPPED)))


def load_history(path: str | Path | None = None, indicators: set[str] | None = None) -> History:
    """Read and check a history file (default: the shipped 2008-2015 window).

    ``indicators`` is the set of known model indicator names (default: the model's);
    a series naming any other indicator is an error.
    """
    import hashlib

    path = Path(path) if path is not None else shipped_history_path()
    where = str(path)
    if indicators is None:
        from sim.indicators import INDICATORS
        indicators = set(INDICATORS)
    if not path.is_file():
        raise HistoryError(f"{where}: no such history file")
    try:
        blob = path.read_bytes()
        raw = tomllib.loads(blob.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise HistoryError(f"{where}: not valid TOML: {' '.join(str(exc).split())}") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise HistoryError(f"{where}: cannot read: {' '.join(str(exc).split())}") from None
    if not raw:
        raise HistoryError(f"{where}: no series; each series is a table [NAME] with unit, source, values")
    series = {name: _series(where, name, entry, indicators) for name, entry in raw.items()}
    return History(where, hashlib.sha256(blob).hexdigest(), series)


def _series(where: str, name: str, e, indicators: set[str]) -> Series:
    at = f"{where}: {name}"
    if not isinstance(e, dict):
        raise HistoryError(f"{at}: must be a table with unit, source, values")
    unknown = sorted(set(e) - SERIES_KEYS)
    if unknown:
        raise HistoryError(f"{at}.{unknown[0]}: unknown key; allowed: {', '.join(sorted(SERIES_KEYS))}")
    for k in REQUIRED_KEYS:
        if k not in e:
            raise HistoryError(f"{at}.{k}: missing (a series needs {', '.join(REQUIRED_KEYS)})")
    for k in ("unit", "source", "notes", "indicator"):
        if k in e and (not isinstance(e[k], str) or not e[k].strip()):
            raise HistoryError(f"{at}.{k}: expected a non-empty string, got {e[k]!r}")
    if not isinstance(e["values"], dict) or not e["values"]:
        raise HistoryError(f"{at}.values: expected a table {{YEAR = number, ...}} with at least one year")
    values: dict[int, float] = {}
    for ky, v in e["values"].items():
        try:
            year = int(ky)
        except ValueError:
            raise HistoryError(f"{at}.values: {ky!r} is not a year") from None
        if not (YEAR_RANGE[0] <= year <= YEAR_RANGE[1]) or str(year) != ky.strip():
            raise HistoryError(f"{at}.values: year {ky!r} is outside {YEAR_RANGE[0]}..{YEAR_RANGE[1]}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise HistoryError(f"{at}.values.{ky}: expected a finite number, got {v!r}")
        if v <= 0:
            raise HistoryError(f"{at}.values.{ky}: must be > 0 (series are scored on log growth), got {v:g}")
        values[year] = float(v)
    derived = e.get("derived", [])
    if not isinstance(derived, list) or not all(isinstance(y, int) and not isinstance(y, bool) for y in derived):
        raise HistoryError(f"{at}.derived: expected a list of years, got {derived!r}")
    missing = sorted(set(derived) - set(values))
    if missing:
        raise HistoryError(f"{at}.derived: year {missing[0]} has no value in {name}.values")
    breaks = e.get("breaks", {})
    if not isinstance(breaks, dict):
        raise HistoryError(f"{at}.breaks: expected a table {{YEAR = \"why the series changed\", ...}}, got {breaks!r}")
    brk: dict[int, str] = {}
    for ky, why in breaks.items():
        try:
            year = int(ky)
        except ValueError:
            raise HistoryError(f"{at}.breaks: {ky!r} is not a year") from None
        if not isinstance(why, str) or not why.strip():
            raise HistoryError(f"{at}.breaks.{ky}: expected a non-empty string saying what changed, got {why!r}")
        if not min(values) < year <= max(values):
            raise HistoryError(f"{at}.breaks.{ky}: must lie after the first observed year and on or before the last "
                               f"({min(values)}-{max(values)})")
        brk[year] = why
    ind = e.get("indicator")
    if ind is not None and ind not in indicators:
        raise HistoryError(f"{at}.indicator: unknown model indicator {ind!r}; see sim/indicators.py")
    return Series(name, e["unit"], e["source"], dict(sorted(values.items())), frozenset(derived), ind,
                  e.get("notes", ""), dict(sorted(brk.items())))
