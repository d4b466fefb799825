"""Market phases: the technology market (contracts, academic sales, innovation vouchers)
and the talent market (researcher mobility, hiring, retirement, entry).
"""
from __future__ import annotations

import numpy as np

from sim.agents import firms as F
from sim.agents.academia import academic_sales, researcher_flows
from sim.agents.momentum import registration_step
from sim.phases import DT, Quarter


def trade_technology(m, q: Quarter) -> None:
    """Technology contracts: firm purchases, academic sales, innovation vouchers; the
    registered turnover (T8) moves with the registered share of contract value
    (:func:`sim.agents.momentum.registration_step`, relative to the start year's)."""
    f, o, p, lv, yr = m.firms, m.orgs, m.p, m.levers, q.year
    sales = F.tech_sales(f.knowledge, m.cal.chi, p.tech_purchase_elasticity)  # enterprise sellers
    firm_part = float((f.weight * sales * f.alive).sum())
    demand = float((f.weight * f.rd_real).sum()) / m.ref.firm_rd0
    o.rd = o.rd * (1.0 + q.public_rd_growth * DT)  # appropriations: observed in a window, else nominal growth
    o.tech_stock = (1.0 - p.knowledge_depreciation * DT) * o.tech_stock + o.rd * DT
    o.sales = academic_sales(o.tech_stock, o.tech_stock0, m.ref.org_sales0, lv.talent.transfer_share.at(yr),
                             0.5, p.academic_transfer_elasticity, demand)
    academic = float((o.weight * o.sales).sum())
    vouchers = use_vouchers(m, q)
    m.momentum.registered = registration_step(m.momentum.registered, p.contract_registration_rate, DT)
    q.turnover = (firm_part + academic + vouchers) * DT * (m.momentum.registered / m.ref.registered0)


def use_vouchers(m, q: Quarter) -> float:
    """Vouchers buy academic services for SMEs; non-performers start R&D (at
    ``voucher_rd_intensity``) and may stop again (``voucher_rd_stop_rate`` a year; their
    user-cost reference is the start-year policy at their current status, so claiming the
    deduction does not inflate their R&D). Returns the technology-contract turnover they
    add (million yuan per year): the vouchers' face value times their declared
    additionality, ``a * B`` (``voucher_additionality``; a contract that would have been
    signed anyway is already in the sellers' sales, and the firm's co-payment is not
    counted on top of the face value)."""
    vo, yr, rng = m.levers.vouchers, q.year, q.streams["trade_technology"]
    f = m.firms
    # performers a voucher started may stop again (voucher_rd_stop_rate; draws only when
    # there are such firms, so runs without vouchers draw nothing here)
    induced = np.flatnonzero(f.alive & f.voucher_rd)
    if len(induced):
        stop = induced[rng.random(len(induced)) < F.rd_stop_probability(m.p.voucher_rd_stop_rate, DT)]
        f.rd_base[stop] = 0.0
        f.voucher_rd[stop] = False
    budget = vo.budget_bn_yuan.at(yr) * 1e3
    if budget <= 0:
        return 0.0
    m.government.book("outlay_vouchers", budget * DT / 1e3)
    per = vo.voucher_m_yuan.at(yr)
    n_real = budget * DT / per
    sme = np.flatnonzero(f.alive & (f.revenue <= 200.0) & (f.segment != F.STARTUP))
    if len(sme) == 0:
        return m.p.voucher_additionality * budget
    share = min(1.0, n_real / float(f.weight[sme].sum()))
    got = sme[rng.random(len(sme)) < share]
    start = got[f.rd_base[got] == 0]
    f.rd_base[start] = m.p.voucher_rd_intensity
    f.voucher_rd[start] = True
    f.claims[start] = rng.random(len(start)) < m.p.deduction_takeup
    return m.p.voucher_additionality * budget


def move_researchers(m, q: Quarter) -> None:
    """Academic researchers to firms (part-time posts), hiring, retirement, entry."""
    f, o, p, lv = m.firms, m.orgs, m.p, m.levers
    moved, retired, entered = researcher_flows(o.researchers, p.mobility_rate, lv.talent.part_time.at(q.year),
                                               p.researcher_retirement_rate, p.researcher_inflow_rate)
    o.researchers = o.researchers - moved - retired + entered
    total_moved = float((o.weight * moved).sum())
    rd_w = f.weight * f.rd_real * f.alive
    per_firm = np.where(rd_w > 0, total_moved * f.rd_real / max(rd_w.sum(), 1e-12), 0.0)
    f.rd_staff = f.rd_staff + per_firm
    f.absorptive = (f.absorptive * (1.0 - p.knowledge_depreciation * DT)
                    + p.mobility_absorptive_gain * per_firm / np.maximum(f.rd_staff, 1.0))
    target = f.rd_real / m.cal.cost_fte
    f_retired = p.researcher_retirement_rate * f.rd_staff * DT
    f.rd_staff = f.rd_staff - f_retired
    hired = np.maximum(target - f.rd_staff, 0.0)
    laid_off = np.maximum(f.rd_staff - target, 0.0) * DT
    f.rd_staff = f.rd_staff + hired - laid_off
    led = m.researcher_ledger
    led["hired"] += float((f.weight * hired).sum())
    led["entered"] += float((o.weight * entered).sum())
    led["retired"] += float((o.weight * retired).sum() + (f.weight * f_retired).sum())
    led["laid_off"] += float((f.weight * laid_off).sum())
