"""The upper tail of firm R&D in 2015: named and synthetic rows for the largest performers.

A size distribution fitted to averages has no upper tail, so T1 ("leading enterprises of
world influence") cannot be measured on it. This module reads ``sim/data/upper_tail_2015.toml``
(the evidence of SOURCES §1) and builds the mainland firms of the EU R&D Scoreboard 2015 as
individual rows: the firms the brief names at their published R&D and revenue, the rest
synthetic on a rank-size law fitted to the same sources. ``sim/initial_state.py`` carves
these rows out of the aggregates so the national 2015 totals are unchanged.

Rules (each a pure function, tested with hand-computed values):

* rank-size law through two ranked firms: ``R(r) = R_a (r / r_a)^(-b)``,
  ``b = ln(R_a / R_b) / ln(r_b / r_a)`` (Huawei 15th, PetroChina 68th);
* the T1 threshold: ``R(100)`` of that law, the R&D of the world's 100th-largest spender;
* unnamed tail firms at mainland ranks ``r = n_named + 1 .. tail_firms`` get
  ``R(r) = A r^(-b)``, ``A`` set so that the listed firms among the top ranks spend what
  Strategy& reports for the 123 listed Chinese firms of its global top 1,000.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy.stats import norm

from sim.agents import firms as F
from sim.params import DataEntry, DataError

FILE = "upper_tail_2015.toml"
_SCALARS = ("tail_firms", "listed_firms_top1000", "listed_rd_bn_usd", "yuan_per_usd", "pct_world_tenth_filer",
            "synthetic_rd_intensity_median", "synthetic_rd_intensity_sigma", "synthetic_state_share")
_SEGMENTS = {"industrial": F.INDUSTRIAL, "service": F.SERVICE}
_OWNERSHIP = {name: i for i, name in enumerate(F.OWNERSHIPS)}
_UNITS = ("bn yuan", "bn USD")


@dataclass(frozen=True)
class NamedFirm:
    """One firm the brief names: reported R&D and revenue of fiscal 2014 with sources."""

    name: str
    segment: int
    sector: int
    ownership: int
    listed: bool
    listed_firms: int          # listed firms the row stands for (CRRC = CSR + CNR = 2)
    world_rank: int | None
    rd: DataEntry              # value in its own unit (bn yuan or bn USD)
    revenue: DataEntry
    pct: DataEntry | None      # PCT applications per year, where published

    def bn_yuan(self, entry: DataEntry, yuan_per_usd: float) -> float:
        return entry.value * (yuan_per_usd if entry.unit == "bn USD" else 1.0)


@dataclass(frozen=True)
class UpperTailData:
    scalars: dict[str, DataEntry]
    firms: tuple[NamedFirm, ...]

    def __getattr__(self, key):  # scalar values by name: data.tail_firms
        try:
            return self.scalars[key].value
        except KeyError:
            raise AttributeError(key) from None


def _entry(where: str, key: str, e) -> DataEntry:
    if not isinstance(e, dict) or not {"value", "unit", "source", "assumption"} <= set(e) \
            or not set(e) <= {"value", "unit", "source", "assumption", "range"}:
        raise DataError(f"sim/data/{FILE}: {where}{key} needs value, unit, source, assumption (and optional range)")
    v = e["value"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise DataError(f"sim/data/{FILE}: {where}{key}: value must be a finite number >= 0, got {v!r}")
    rng = tuple(float(x) for x in e["range"]) if "range" in e else None
    return DataEntry(key, v, e["unit"], e["source"], bool(e["assumption"]), rng)


@lru_cache(maxsize=None)
def load_upper_tail() -> UpperTailData:
    """Read and check ``sim/data/upper_tail_2015.toml`` once per process."""
    return parse_upper_tail(resources.files("sim.data").joinpath(FILE).read_text(encoding="utf-8"))


def parse_upper_tail(text: str) -> UpperTailData:
    """Parse and check the upper-tail data (one-line DataError on bad input)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DataError(f"sim/data/{FILE}: not valid TOML ({e})") from None
    sc = raw.get("scalars", {})
    if set(sc) != set(_SCALARS):
        raise DataError(f"sim/data/{FILE}: scalars must be exactly {list(_SCALARS)}")
    scalars = {k: _entry("scalars.", k, sc[k]) for k in _SCALARS}
    firms = []
    for i, r in enumerate(raw.get("firm", [])):
        where = f"firm[{i}]."
        name = r.get("name")
        if not isinstance(name, str) or not name:
            raise DataError(f"sim/data/{FILE}: {where}name must be a non-empty string")
        if r.get("segment") not in _SEGMENTS:
            raise DataError(f"sim/data/{FILE}: {name}: segment must be one of {list(_SEGMENTS)}")
        if r.get("ownership") not in _OWNERSHIP:
            raise DataError(f"sim/data/{FILE}: {name}: ownership must be one of {list(_OWNERSHIP)}")
        sector = r.get("sector")
        if not isinstance(sector, int) or not 0 <= sector < F.N_SECTORS:
            raise DataError(f"sim/data/{FILE}: {name}: sector must be an integer in 0..{F.N_SECTORS - 1}")
        rd, rev = _entry(f"{name}.", "rd", r.get("rd")), _entry(f"{name}.", "revenue", r.get("revenue"))
        for e in (rd, rev):
            if e.unit not in _UNITS or e.value <= 0:
                raise DataError(f"sim/data/{FILE}: {name}.{e.key}: unit must be one of {list(_UNITS)} and value > 0")
        pct = _entry(f"{name}.", "pct", r["pct"]) if "pct" in r else None
        firms.append(NamedFirm(name, _SEGMENTS[r["segment"]], sector, _OWNERSHIP[r["ownership"]],
                               bool(r.get("listed", True)), int(r.get("listed_firms", 1)),
                               r.get("world_rank"), rd, rev, pct))
    ranked = [f for f in firms if f.world_rank is not None]
    if len(ranked) != 2:
        raise DataError(f"sim/data/{FILE}: exactly two named firms need a world_rank (the rank-size anchors)")
    if len(firms) >= scalars["tail_firms"].value:
        raise DataError(f"sim/data/{FILE}: more named firms than tail_firms")
    return UpperTailData(scalars, tuple(firms))


# ------------------------------------------------------------------------------ rules
def rank_size_exponent(r_a: float, rank_a: float, r_b: float, rank_b: float) -> float:
    """``b = ln(R_a / R_b) / ln(rank_b / rank_a)`` for the law ``R(r) ∝ r^(-b)``."""
    return math.log(r_a / r_b) / math.log(rank_b / rank_a)


def rank_size_value(r_a: float, rank_a: float, b: float, rank) -> np.ndarray | float:
    """``R(r) = R_a (r / r_a)^(-b)``."""
    return r_a * (np.asarray(rank, dtype=float) / rank_a) ** (-b)


def anchors(data: UpperTailData) -> tuple[float, int, float, int]:
    """(R&D bn yuan, world rank) of the two ranked firms, higher first."""
    fx = data.yuan_per_usd
    (a, b) = sorted((f for f in data.firms if f.world_rank is not None), key=lambda f: f.world_rank)
    return a.bn_yuan(a.rd, fx), a.world_rank, b.bn_yuan(b.rd, fx), b.world_rank


def t1_threshold_2015(data: UpperTailData | None = None, rank: int = 100) -> float:
    """R&D (bn yuan) of the world's ``rank``-th largest corporate R&D spender in the 2015
    sources: the rank-size law through Huawei (15th, 40.8 bn yuan, EU Scoreboard 2015) and
    PetroChina (68th, US$2.1 bn, Strategy& 2015), evaluated at ``rank``."""
    data = data or load_upper_tail()
    ra, ka, rb, kb = anchors(data)
    return float(rank_size_value(ra, ka, rank_size_exponent(ra, ka, rb, kb), rank))


def synthetic_tail_rd(data: UpperTailData) -> np.ndarray:
    """Reported R&D (bn yuan) of the unnamed tail firms, in mainland rank order.

    Ranks ``r = n + 1 .. tail_firms`` (n named rows) get ``A r^(-b)`` with ``b`` the anchors'
    exponent; the first ``123 - (listed named firms)`` of them are the remaining listed firms
    of Strategy&'s top 1,000 (assumption: the unlisted large spenders are the named Huawei
    only), so ``A = (listed R&D - listed named R&D) / sum_r r^(-b)`` over those ranks.
    """
    fx = data.yuan_per_usd
    ra, ka, rb, kb = anchors(data)
    b = rank_size_exponent(ra, ka, rb, kb)
    n = len(data.firms)
    ranks = np.arange(n + 1, int(data.tail_firms) + 1, dtype=float)
    listed_named = sum(f.listed_firms for f in data.firms if f.listed)
    listed_rd_named = sum(f.bn_yuan(f.rd, fx) for f in data.firms if f.listed)
    n_listed = int(data.listed_firms_top1000) - listed_named
    rest = data.listed_rd_bn_usd * fx - listed_rd_named
    if n_listed <= 0 or rest <= 0 or n_listed > len(ranks):
        raise DataError(f"sim/data/{FILE}: the named listed firms leave nothing of Strategy&'s listed total to the synthetic tail")
    a = rest / float((ranks[:n_listed] ** (-b)).sum())
    return a * ranks ** (-b)


@dataclass
class UpperTail:
    """The tail rows (monetary values in million yuan per year, fiscal 2014 reported R&D)."""

    names: list[str]           # "" for synthetic rows
    rd_reported: np.ndarray
    revenue: np.ndarray
    segment: np.ndarray
    sector: np.ndarray
    ownership: np.ndarray
    pct: np.ndarray            # PCT applications per year, NaN where not published

    @property
    def n(self) -> int:
        return len(self.rd_reported)


def build_upper_tail(rng: np.random.Generator, data: UpperTailData, largest_revenue_m_yuan: float) -> UpperTail:
    """Named rows at their published values, then synthetic rows: R&D by rank (above),
    intensity log-normal (median, sigma from the data file; stratified normal quantiles
    shuffled over ranks), revenue = R&D / intensity (at most the largest firm's revenue),
    industrial, state-owned with ``synthetic_state_share``, sector uniform."""
    fx = data.yuan_per_usd
    named = data.firms
    rd_syn = synthetic_tail_rd(data) * 1e3
    k = len(rd_syn)
    z = norm.ppf((np.arange(k) + 0.5) / k)
    intensity = data.synthetic_rd_intensity_median * np.exp(data.synthetic_rd_intensity_sigma * rng.permutation(z))
    rev_syn = np.minimum(rd_syn / intensity, largest_revenue_m_yuan)
    own_syn = np.where(rng.random(k) < data.synthetic_state_share, F.STATE, F.PRIVATE)
    nan = float("nan")
    return UpperTail(
        names=[f.name for f in named] + [""] * k,
        rd_reported=np.concatenate([[f.bn_yuan(f.rd, fx) * 1e3 for f in named], rd_syn]),
        revenue=np.concatenate([[f.bn_yuan(f.revenue, fx) * 1e3 for f in named], rev_syn]),
        segment=np.concatenate([[f.segment for f in named], np.full(k, F.INDUSTRIAL)]).astype(np.int8),
        sector=np.concatenate([[f.sector for f in named], rng.integers(0, F.N_SECTORS, k)]).astype(np.int8),
        ownership=np.concatenate([[f.ownership for f in named], own_syn]).astype(np.int8),
        pct=np.array([f.pct.value if f.pct else nan for f in named] + [nan] * k, dtype=float),
    )
