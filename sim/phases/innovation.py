"""Innovation and intellectual-property phases: knowledge, innovation and imitation draws,
productivity; invention patents and PCT filings.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from sim.agents import firms as F
from sim.agents.momentum import internationalisation_step
from sim.phases import DT, Quarter


def sector_frontier(f: F.FirmState, sd: float = 1.28) -> np.ndarray:
    """Sector frontier: weighted mean + ``sd`` (``frontier_sd``, 1.28) s.d. of technology level
    (about the 90th percentile)."""
    w = f.weight * f.alive
    sw = np.bincount(f.sector, w, F.N_SECTORS)
    mean = np.bincount(f.sector, w * f.tech_level, F.N_SECTORS) / np.maximum(sw, 1e-12)
    var = np.bincount(f.sector, w * f.tech_level**2, F.N_SECTORS) / np.maximum(sw, 1e-12) - mean**2
    return mean + sd * np.sqrt(np.maximum(var, 0.0))


def innovate(m, q: Quarter) -> None:
    """Knowledge accumulation; innovation and imitation draws; productivity."""
    f, p, lv, yr, rng = m.firms, m.p, m.levers, q.year, q.streams["innovate"]
    f.knowledge = F.knowledge_update(f.knowledge, f.rd_real, p.knowledge_depreciation)
    sme = f.revenue <= 200.0
    designated = (f.designations & (F.PILOT | F.CENTRE | F.ALLIANCE | F.CLUSTER)) > 0
    spill = p.designation_spillover * lv.programmes.spillover_scale.at(yr)
    boost = 1.0 + f.absorptive + spill * designated + 0.5 * lv.instrument_sharing.open_share.at(yr) * sme
    effort = 100.0 * f.rd_real / f.revenue * boost
    n = f.n
    # one uniform per row for the innovation draw, whether or not the row does R&D, so a
    # row's draw does not depend on how many other rows do R&D (P = 0 without effort)
    u_innov = rng.random(n)
    doers = np.flatnonzero(f.alive & (effort > 0))
    hit = doers[u_innov[doers] < F.innovation_probability(effort[doers], p.innovation_zeta)]
    size = rng.beta(p.innovation_beta_shape, p.innovation_beta_shape, n)
    f.tech_level[hit] *= F.innovation_step(size[hit], p.innovation_step_low, p.innovation_step_high)
    # imitation: absorptive capacity from own R&D, academic researchers, commissioners
    commissioners = lv.talent.commissioners_k.at(yr) / (m.ic.st_commissioners / 1e3)
    capacity = np.minimum(1.0, effort / 2.0) + 0.1 * commissioners * sme + spill * designated
    imitate = np.flatnonzero(f.alive & (rng.random(n) < 1.0 - np.exp(-p.imitation_zeta * capacity * DT)))
    frontier = sector_frontier(f, p.frontier_sd)
    f.tech_level[imitate] = F.imitation_level(f.tech_level[imitate], frontier[f.sector[imitate]],
                                              p.imitation_catch_up)
    q.prod_prev = f.productivity
    f.productivity = F.productivity(f.tech_level, f.knowledge, f.knowledge0, f.knowledge_base,
                                    p.productivity_knowledge_elasticity)


def patent_applications(f: F.FirmState, rows: np.ndarray, cal, p, rng) -> np.ndarray:
    """Invention applications filed this quarter that will be granted, per real firm:
    ``Poisson(a K^alpha dt)`` for ``rows`` (``a`` = ``patent_rate`` solved at set-up)."""
    return rng.poisson(cal.patent_rate * f.knowledge[rows] ** p.patent_knowledge_elasticity * DT)


def lag_quarters(p) -> int:
    """Quarters between filing and grant: ``round(4 * patent_grant_lag_years)``."""
    return int(round(4 * p.patent_grant_lag_years))


def open_patent_pipeline(f: F.FirmState, cal, p, rng) -> deque:
    """Applications pending at the start (end-2015): ``lag_quarters`` quarters of filings
    at the start-year knowledge stocks (the set-up's steady state), oldest first."""
    rows = np.flatnonzero(f.alive & (f.knowledge > 0))
    return deque((rows, patent_applications(f, rows, cal, p, rng)) for _ in range(lag_quarters(p)))


def other_pct_filings(enterprise_share, count0, stock, stock0):
    """PCT applications per year of applicants other than enterprises (universities,
    institutes, individuals): ``(1 - e) P_0 T / T_0``, their share of the start year's WIPO
    count ``P_0`` growing with the research organisations' knowledge stock ``T``."""
    return (1.0 - enterprise_share) * count0 * stock / stock0


def patent(m, q: Quarter) -> None:
    """Invention patents: lapses, filings, grants ``patent_grant_lag_years`` after filing
    (the applications of firms that exited meanwhile are abandoned), PCT filings of
    enterprises ``Poisson(c pi K (Y/Y_ref)^eps dt)`` and of the other applicants
    ``(1 - e) P_0 (T / T_0) dt`` (``e`` = ``pct_enterprise_share``, ``P_0`` the start year's
    count, ``T`` the research organisations' knowledge stock).

    Patents of exited firms stay in force (and in T6a) until they lapse: a valid patent
    is owned by its holder or a successor whether or not the firm is still simulated.
    Enterprises' PCT propensity is multiplied by the internationalisation multiplier
    (:func:`sim.agents.momentum.internationalisation_step`)."""
    f, p, cal, rng = m.firms, m.p, m.cal, q.streams["patent"]
    m.momentum.pct = internationalisation_step(m.momentum.pct, m.ref.pct_per_rd0, p.pct_frontier_per_bn_rd,
                                               p.pct_internationalisation_rate, DT)
    held = np.flatnonzero(f.patents > 0)
    lapses = rng.binomial(f.patents[held].astype(np.int64), p.patent_lapse_rate * DT)
    f.patents[held] -= lapses
    active = np.flatnonzero(f.alive & (f.knowledge > 0))  # only firms with knowledge draw
    m.patent_pipeline.append((active, patent_applications(f, active, cal, p, rng)))
    rows, grants = m.patent_pipeline.popleft()
    grants = np.where(f.alive[rows], grants, 0)
    f.patents[rows] += grants
    f.core_ip[rows] |= grants > 0
    k = f.knowledge[active]
    pct = rng.poisson(cal.pct_rate * m.momentum.pct * f.pct_propensity[active] * k
                      * (f.revenue[active] / cal.revenue_ref) ** p.pct_size_elasticity * DT)
    q.grants = float(f.weight[rows] @ grants)
    o, ic = m.orgs, m.ic
    other = other_pct_filings(ic.pct_enterprise_share, ic.pct_applications, float(o.weight @ o.tech_stock),
                              float(o.weight @ o.tech_stock0))
    q.pct = float(f.weight[active] @ pct) + other * DT
