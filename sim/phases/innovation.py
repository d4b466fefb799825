"""Innovation and intellectual-property phases: knowledge, innovation and imitation draws,
productivity; invention patents and PCT filings.

Levers read: ``programmes.spillover_scale``, ``instrument_sharing``, ``talent.commissioners_k``.
"""
from __future__ import annotations

import numpy as np

from sim.agents import firms as F
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


def patent(m, q: Quarter) -> None:
    """Invention patent grants (Poisson in K^alpha), lapses, PCT filings."""
    f, p, cal, rng = m.firms, m.p, m.cal, q.streams["patent"]
    held = np.flatnonzero(f.patents > 0)
    lapses = rng.binomial(f.patents[held].astype(np.int64), p.patent_lapse_rate * DT)
    f.patents[held] -= lapses
    active = np.flatnonzero(f.alive & (f.knowledge > 0))  # only firms with knowledge draw
    k = f.knowledge[active]
    grants = rng.poisson(cal.patent_rate * k ** p.patent_knowledge_elasticity * DT)
    f.patents[active] += grants
    f.core_ip[active] |= grants > 0
    pct = rng.poisson(cal.pct_rate * f.pct_propensity[active] * k
                      * (f.revenue[active] / cal.revenue_ref) ** p.pct_size_elasticity * DT)
    w = f.weight[active]
    q.grants = float(w @ grants)
    q.pct = float(w @ pct)
