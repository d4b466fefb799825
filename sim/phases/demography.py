"""Growth and demography phases: academic spin-offs, revenue growth and graduation,
exits and entry (entrants and new start-ups join the arrays at the end of the quarter).

Levers read: ``talent.leave_to_found``, ``procurement``.
"""
from __future__ import annotations

import math

import numpy as np

from sim.agents import firms as F
from sim.initial_state import empty_firms
from sim.phases import DT, Quarter


def spin_off(m, q: Quarter) -> None:
    """Academic spin-offs: researchers leave to found start-ups (leave-to-found lever)."""
    o, p, rng = m.orgs, m.p, q.streams["spin_off"]
    real = p.spinoffs_per_k_researchers * float((o.weight * o.researchers).sum()) / 1e3 \
        * m.levers.talent.leave_to_found.at(q.year) * DT
    w_s = m.cal.startup_weight
    k = int(rng.poisson(real / w_s))
    if k == 0:
        return
    share = o.weight * o.researchers
    src = rng.choice(o.n, size=k, p=share / share.sum())
    team = p.spinoff_team_fte
    take = np.zeros(o.n)
    np.add.at(take, src, team * w_s / o.weight[src])
    take = np.minimum(take, 0.5 * o.researchers)
    o.researchers = o.researchers - take
    np.add.at(o.spinoffs, src, w_s / o.weight[src])
    moved = float((o.weight * take).sum())
    new = new_startups(m, rng, k, quality_shift=0.3)
    new.rd_staff[:] = moved / (k * w_s)
    q.spinoff_staff += moved
    q.births.append(new)  # rows join the arrays at the end of the quarter
    q.spinoffs += k * w_s


def grow_revenue(m, q: Quarter) -> None:
    """Revenue follows demand, productivity and shocks; start-ups graduate."""
    f, p, lv, rng = m.firms, m.p, m.levers, q.streams["grow_revenue"]
    ratio = f.productivity / np.where(q.prod_prev > 0, q.prod_prev, 1.0)
    extra = (np.where(f.vc_backed, p.vc_growth_boost, 0.0)
             + np.where(f.segment == F.STARTUP, 0.1 * f.quality, 0.0)
             + np.where((f.revenue <= 200.0) & (f.rd_real > 0), lv.procurement.sme_demand_boost.at(q.year), 0.0))
    shock = p.revenue_noise * math.sqrt(DT) * rng.standard_normal(f.n)
    new = F.revenue_growth(f.revenue, ratio, p.nominal_growth, p.revenue_productivity_elasticity, shock, extra)
    f.employees = f.employees * np.sqrt(new / f.revenue)
    f.revenue = new
    f.age = f.age + DT
    f.margin = F.margin_update(f.margin, m.ic.industrial_profit_margin, p.margin_reversion,
                               m.cal.margin_sd, rng.standard_normal(f.n))
    grad = f.alive & (f.segment == F.STARTUP) & (f.revenue >= p.startup_graduation_revenue_m_yuan)
    f.segment = np.where(grad, F.SERVICE, f.segment).astype(np.int8)


def exit_and_enter(m, q: Quarter) -> None:
    """Loss-making established firms exit; as many enter; new start-ups are founded."""
    f, p, rng = m.firms, m.p, q.streams["exit_and_enter"]
    risk = np.flatnonzero(f.alive & (f.segment != F.STARTUP) & (f.margin < 0))
    size = np.minimum(1.0, (m.ic.min_industrial_revenue_m_yuan / f.revenue[risk]) ** 0.5)
    exits = risk[rng.random(len(risk)) < p.firm_exit_rate * size * DT]
    f.alive[exits] = False
    if len(exits):
        q.births.append(entrants(m, rng, exits))
    k = int(rng.poisson(p.startup_entry * DT / m.cal.startup_weight))
    if k:
        q.births.append(new_startups(m, rng, k, quality_shift=0.0))
    book_deaths(m, q)
    if q.births:
        n0 = f.n
        f.append(*q.births)
        born = slice(n0, f.n)
        # founders' teams come from academia (booked in spin_off); others are hired
        m.researcher_ledger["hired"] += float(f.weight[born] @ f.rd_staff[born]) - q.spinoff_staff


def book_deaths(m, q: Quarter) -> None:
    """Firms that died this quarter: staff leave (ledger), VC stakes are written off."""
    f, v = m.firms, m.funds
    died = q.alive_before & ~f.alive[:len(q.alive_before)]
    if not died.any():
        return
    died = np.flatnonzero(died)
    m.researcher_ledger["laid_off"] += float((f.weight[died] * f.rd_staff[died]).sum())
    f.rd_staff[died] = 0.0
    lost = died[f.vc_backed[died]]
    if len(lost):
        gone = np.zeros(v.n)
        np.add.at(gone, f.vc_fund[lost], f.vc_invested[lost] * f.weight[lost] / v.weight[f.vc_fund[lost]])
        v.invested = np.maximum(v.invested - gone, 0.0)
        v.written_off = v.written_off + gone
        f.vc_backed[lost] = False


def new_startups(m, rng, k: int, quality_shift: float) -> F.FirmState:
    """``k`` start-up rows of weight ``startup_weight`` (founders' cash finances their R&D)."""
    new = empty_firms(k)
    p, w_s = m.p, m.cal.startup_weight
    new.weight[:] = w_s
    new.segment[:] = F.STARTUP
    new.sector[:] = rng.integers(0, F.N_SECTORS, k)
    new.ownership[:] = F.PRIVATE
    new.revenue[:] = 0.5 * np.exp(0.5 * rng.standard_normal(k))
    new.employees[:] = 5.0
    new.margin[:] = -0.05
    new.rd_base[:] = 0.2
    new.rd_real[:] = 0.2 * new.revenue
    new.rd_intensity[:] = 0.2
    new.cash[:] = new.rd_real / (p.startup_burn_rate * p.startup_rd_share)  # founders' money
    new.knowledge[:] = new.rd_real / (p.knowledge_depreciation + p.nominal_growth)
    new.knowledge0[:] = new.knowledge
    new.knowledge_base[:] = p.knowledge_base_share * new.revenue
    new.rd_staff[:] = new.rd_real / m.cal.cost_fte
    new.claims[:] = rng.random(k) < p.deduction_takeup
    new.quality[:] = rng.standard_normal(k) + quality_shift
    new.ht_expiry[:] = 0
    new.ht_aware[:] = rng.random(k) < m.cal.aware_share
    return new


def entrants(m, rng, rows: np.ndarray) -> F.FirmState:
    """Entrants replace exiting established firms with new small firms of the same weight."""
    k, f, ic, p = len(rows), m.firms, m.ic, m.p
    new = empty_firms(k)
    new.weight[:] = f.weight[rows]
    new.segment[:] = f.segment[rows]
    new.sector[:] = rng.integers(0, F.N_SECTORS, k)
    new.ownership[:] = F.PRIVATE
    new.revenue[:] = ic.min_industrial_revenue_m_yuan * (1.0 + rng.exponential(0.5, k))
    new.employees[:] = new.revenue / (ic.industrial_revenue_tn_yuan / ic.industrial_employees_m)
    new.margin[:] = ic.industrial_profit_margin
    # service firms perform R&D by definition (the segment is R&D-performing firms)
    perform = (new.segment == F.SERVICE) | (rng.random(k) < ic.industrial_rd_performer_share)
    new.rd_base[:] = np.where(perform, p.entrant_rd_intensity, 0.0)
    new.rd_real[:] = new.rd_base * new.revenue
    new.rd_intensity[:] = new.rd_base
    new.knowledge[:] = new.rd_real / (p.knowledge_depreciation + p.nominal_growth)
    new.knowledge0[:] = new.knowledge
    new.knowledge_base[:] = p.knowledge_base_share * new.revenue
    new.rd_staff[:] = new.rd_real / m.cal.cost_fte
    new.claims[:] = perform & (rng.random(k) < p.deduction_takeup)
    new.notch_margin[:] = rng.uniform(0, p.notch_margin, k)
    new.ht_aware[:] = rng.random(k) < m.cal.aware_share
    return new
