"""Growth and demography phases: academic spin-offs, revenue growth and graduation,
exits and entry (entrants and new start-ups join the arrays at the end of the quarter).
"""
from __future__ import annotations

import math

import numpy as np

from sim.agents import firms as F
from sim.initial_state import new_firms
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
    """Revenue follows demand, productivity and shocks (R&D spending, top-ups and relabelled
    costs keep their shares of the new revenue); start-ups graduate."""
    f, p, lv, rng = m.firms, m.p, m.levers, q.streams["grow_revenue"]
    ratio = f.productivity / np.where(q.prod_prev > 0, q.prod_prev, 1.0)
    # market shares: productivity gains relative to the sector's (demand-constrained)
    ratio = F.relative_productivity(ratio, f.weight * f.revenue * f.alive, f.sector)
    extra = (np.where(f.vc_backed, p.vc_growth_boost, 0.0)
             + np.where(f.segment == F.STARTUP, 0.1 * f.quality, 0.0)
             + np.where((f.revenue <= 200.0) & (f.rd_real > 0), lv.procurement.sme_demand_boost.at(q.year), 0.0))
    shock = p.revenue_noise * math.sqrt(DT) * rng.standard_normal(f.n)
    new = F.revenue_growth(f.revenue, ratio, q.nominal_growth, p.revenue_productivity_elasticity, shock, extra)
    # R&D spending, threshold top-ups and relabelled costs are shares of the quarter's
    # revenue (decide_rd sets the intensity), so they move with it: measured against the
    # quarter's revenue, the intensity is the one the firm chose (not diluted by growth)
    k = new / f.revenue  # revenue > 0 in every row: drawn positive by the factory, grown multiplicatively
    f.rd_real, f.rd_topup, f.relabel = f.rd_real * k, f.rd_topup * k, f.relabel * k
    f.employees = f.employees * np.sqrt(k)
    f.revenue = new
    f.age = f.age + DT
    f.margin = F.margin_update(f.margin, m.ic.industrial_profit_margin, p.margin_reversion,
                               m.cal.margin_sd, rng.standard_normal(f.n))
    # graduation: a start-up above the size cut-off becomes an established firm, industrial
    # with probability startup_industrial_share (it then enters the above-size universe, T5)
    grad = f.alive & (f.segment == F.STARTUP) & (f.revenue >= p.startup_graduation_revenue_m_yuan)
    u = rng.random(f.n)
    f.segment = np.where(grad, np.where(u < p.startup_industrial_share, F.INDUSTRIAL, F.SERVICE),
                         f.segment).astype(np.int8)


def exit_and_enter(m, q: Quarter) -> None:
    """Loss-making established firms exit; firms enter; new start-ups are founded.

    Entry: the NBS above-size universe is redrawn every year, so industrial firms enter it
    by crossing the revenue cut-off from below at ``universe_entry_rate`` (new firms per
    year per firm of the universe) and leave it by exit or by falling below the cut-off
    (``above_size``); exiting service firms are replaced one for one (a fixed population
    of R&D-performing service firms)."""
    f, p, rng = m.firms, m.p, q.streams["exit_and_enter"]
    risk = np.flatnonzero(f.alive & (f.segment != F.STARTUP) & (f.margin < 0))
    size = np.minimum(1.0, (m.ic.min_industrial_revenue_m_yuan / f.revenue[risk]) ** 0.5)
    exits = risk[rng.random(len(risk)) < p.firm_exit_rate * size * DT]
    f.alive[exits] = False
    srv = exits[f.segment[exits] == F.SERVICE]
    if len(srv):
        q.births.append(entrants(m, rng, len(srv), F.SERVICE, f.weight[srv]))
    universe = float(f.weight @ F.above_size(f, m.ic.min_industrial_revenue_m_yuan))
    k = int(rng.poisson(p.universe_entry_rate * universe * DT / m.cal.industrial_weight))
    if k:
        q.births.append(entrants(m, rng, k, F.INDUSTRIAL, m.cal.industrial_weight))
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
    """``k`` start-up rows of weight ``startup_weight`` from the one firm factory
    (``sim.initial_state.new_firms``): revenue ``Y0 exp(0.5 z)`` (``startup_entry_revenue_m_yuan``),
    R&D intensity ``startup_entry_rd_intensity`` financed by founders' cash, private."""
    p = m.p
    revenue = p.startup_entry_revenue_m_yuan * np.exp(0.5 * rng.standard_normal(k))
    return new_firms(rng, p, m.ic, segment=F.STARTUP, revenue=revenue, weight=m.cal.startup_weight,
                     rd_intensity=p.startup_entry_rd_intensity, cost_fte=m.cal.cost_fte,
                     aware_share=m.cal.aware_share, quality_shift=quality_shift, ownership=F.PRIVATE)


def entrants(m, rng, k: int, segment: int, weight) -> F.FirmState:
    """``k`` new established firms of ``segment`` from the one firm factory: revenue just
    above the size cut-off, ``Y = Y_min (1 + Exp(0.5))``; industrial entrants perform R&D
    with the 2015 performer share, service firms always (the segment is R&D-performing
    firms), at ``entrant_rd_intensity``; private."""
    ic, p = m.ic, m.p
    revenue = ic.min_industrial_revenue_m_yuan * (1.0 + rng.exponential(0.5, k))
    perform = (segment == F.SERVICE) | (rng.random(k) < ic.industrial_rd_performer_share)
    return new_firms(rng, p, ic, segment=segment, revenue=revenue, weight=weight,
                     rd_intensity=np.where(perform, p.entrant_rd_intensity, 0.0), cost_fte=m.cal.cost_fte,
                     aware_share=m.cal.aware_share, ownership=F.PRIVATE)
