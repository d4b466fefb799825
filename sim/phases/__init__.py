"""The phases of one quarter, one module per theme, and the quarter's working record.

Every phase is a function ``phase(m, q)`` of the model ``m`` (the state it owns: firms,
research organisations, funds, government) and the quarter's working record ``q``
(:class:`Quarter`): what one phase hands to a later phase of the same quarter is a field
of ``q``, never an attribute on the model.

Random numbers: each phase draws from its own generator ``q.streams[name]``, seeded by
``SeedSequence(run seed, spawn_key=(crc32(name), quarter))`` (:func:`quarter_streams`).
A lever that changes how many draws one phase makes therefore leaves the draws of every
other phase unchanged, and because each quarter starts fresh streams, a birth (a new row)
in one quarter does not shift the draws of later quarters either: phases that draw one
number per row give row ``i`` the same number in paired runs. Common random numbers hold
phase by phase and quarter by quarter.

Levers: which levers a phase reads is declared once, on the lever (``phases`` in its
``@register_lever`` class, ``sim/policies/``); ``innosim levers`` and the ODD lever table
list them, and ``tests/core/test_registries.py`` traces every lever read per phase and
checks that a phase reads a lever exactly when the lever declares it.

The schedule (``InnovationModel.step``) lists the phases in ODD order:

===================  ==========================  ===========================================
phase                module                      reads / writes
===================  ==========================  ===========================================
enter_rd             ``rd_tax``                  entry into R&D (non-performers start)
decide_rd            ``rd_tax``                  desired R&D, the notch (top-ups)
report_rd            ``rd_tax``                  relabelling, audits
certify_hightech     ``certification``           high-tech certificates
innovate             ``innovation``              knowledge, innovation/imitation, productivity
patent               ``innovation``              invention patents, PCT filings
trade_technology     ``markets``                 technology contracts, vouchers
move_researchers     ``markets``                 researcher flows and hiring
spin_off             ``demography``              academic spin-offs (births)
finance_ventures     ``venture``                 guidance funds, VC rounds, exits
grow_revenue         ``demography``              revenue, margins, graduation
collect_taxes        ``rd_tax``                  corporate tax, tax expenditures, cash
exit_and_enter       ``demography``              exits, entrants, start-ups (births join)
designate            ``programmes``              year-end designations
===================  ==========================  ===========================================
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from sim.policy_context import TaxContext

DT = 0.25  # years per step (one quarter)

PHASES = ("enter_rd", "decide_rd", "report_rd", "certify_hightech", "innovate", "patent", "trade_technology",
          "move_researchers", "spin_off", "finance_ventures", "grow_revenue", "collect_taxes",
          "exit_and_enter", "designate")


_NAME_KEYS: dict[str, int] = {}


def _name_key(name: str) -> int:
    key = _NAME_KEYS.get(name)
    if key is None:
        key = _NAME_KEYS[name] = zlib.crc32(name.encode())
    return key


def stream_seed(seed: int, name: str, *path: int) -> np.random.SeedSequence:
    """The SeedSequence of stream ``name`` (then ``path``, e.g. the quarter) under the run seed.

    ``SeedSequence(seed, spawn_key=(crc32(name), *path))`` is a descendant of
    ``SeedSequence(seed)`` keyed by the stream's name rather than its position, so adding
    or reordering phases never changes the draws of the others. Streams outside the
    schedule: ``"initial_state"`` (world and start-year designations) and ``"mesa"``.
    """
    return np.random.SeedSequence(int(seed), spawn_key=(_name_key(name), *map(int, path)))


def stream(seed: int, name: str, *path: int) -> np.random.Generator:
    """``default_rng(stream_seed(...))``: a PCG64 generator on the stream's SeedSequence."""
    return np.random.Generator(np.random.PCG64(stream_seed(seed, name, *path)))


class QuarterStreams(dict):
    """The phases' generators of one quarter, each made on first use (a phase that draws
    nothing this quarter costs nothing); the same generator as ``stream(seed, name, quarter)``."""

    def __init__(self, seed: int, quarter: int):
        super().__init__()
        self.seed, self.quarter = int(seed), int(quarter)

    def __missing__(self, name: str) -> np.random.Generator:
        if name not in PHASES:
            raise KeyError(name)
        g = self[name] = stream(self.seed, name, self.quarter)
        return g


def quarter_streams(seed: int, quarter: int, shared: np.random.Generator | None = None) -> dict[str, np.random.Generator]:
    """One independent generator per phase for ``quarter`` (made lazily, :class:`QuarterStreams`).
    With ``shared`` every phase draws from that one generator instead (the scheme before
    one stream per phase; kept to measure what the separate streams buy,
    ``benchmarks/paired_se.py``)."""
    if shared is not None:
        return dict.fromkeys(PHASES, shared)
    return QuarterStreams(seed, quarter)


@dataclass
class Quarter:
    """The working record of one quarter: data phases hand to later phases, and the
    quarter's flows. Created by ``InnovationModel.open_quarter``, discarded after the
    quarter is booked; nothing in it survives into the next quarter."""

    index: int                      # quarter number since the start (1 = first quarter)
    year: int                       # calendar year being simulated
    tax: TaxContext                 # the tax levers as they apply to each firm (all tax phases)
    psi: np.ndarray                 # relabelling ratio per firm (decide_rd, report_rd)
    phi: float                      # share of a notch gap closed by relabelling (decide_rd)
    alive_before: np.ndarray        # firms alive at the start of the quarter (exit_and_enter)
    streams: dict[str, np.random.Generator]   # the random stream of each phase this quarter
    nominal_growth: float = 0.0     # nominal demand growth this quarter (Scenario.quarter_nominal_growth)
    public_rd_growth: float = 0.0   # growth of public R&D appropriations this quarter (Scenario.quarter_public_rd_growth)
    leading_extra: np.ndarray | None = None   # R&D paid by leading-firm support (decide_rd -> collect_taxes)
    prod_prev: np.ndarray | None = None       # productivity before innovate (innovate -> grow_revenue)
    births: list = field(default_factory=list)  # FirmState blocks joining at the end of the quarter
    spinoff_staff: float = 0.0      # researchers who left academia with spin-offs (FTE)
    # flows of the quarter (real-world units)
    grants: float = 0.0             # invention patents granted
    pct: float = 0.0                # PCT applications
    turnover: float = 0.0           # technology-contract turnover, million yuan
    vc: float = 0.0                 # venture rounds invested, million yuan
    spinoffs: float = 0.0           # academic spin-offs founded (real firms)


@dataclass
class Momentum:
    """Model-level states of the momentum mechanisms (``sim/agents/momentum.py``), owned by
    the phase named beside each; they persist from quarter to quarter."""

    registered: float               # registered share of technology-contract value (trade_technology)
    pct: float = 1.0                # PCT-propensity multiplier, 1 in the start year (patent)


@dataclass
class Reference:
    """Start-of-run references the rules compare against (set once at the start)."""

    audit0: float                   # audit intensity in the start year
    firm_rd0: float                 # firms' real R&D at the start, million yuan per year
    org_sales0: np.ndarray          # research organisations' technology sales at the start
    registered0: float = 1.0        # registered share of technology-contract value at the start
    pct_per_rd0: float = 0.0        # PCT applications per bn yuan of enterprise R&D at the start
