"""Venture-finance phase: guidance-fund capital, screening and rounds, follow-ons, exits
and write-offs.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from sim.agents import firms as F
from sim.agents.vc import exit_proceeds, guidance_fiscal_cost, guided_capital, screening_signal
from sim.phases import DT, Quarter



def finance_ventures(m, q: Quarter) -> None:
    """Guidance-fund capital, screening and rounds, follow-ons, exits and write-offs."""
    f, v, p, lv, yr, rng = m.firms, m.funds, m.p, m.levers, q.year, q.streams["finance_ventures"]
    gf = lv.guidance_funds
    commit = (gf.transformation_fund_bn_yuan.at(yr) + gf.emerging_industry_bn_yuan.at(yr)
              + gf.sme_fund_bn_yuan.at(yr)) * 1e3 * DT
    new_guided = guided_capital(commit, gf.leverage_target.at(yr), gf.raised_share.at(yr),
                                gf.profit_concession.at(yr))
    # the commitment is equity (its own line); the outlay is its expected fiscal cost
    m.government.book("commitment_guidance", commit / 1e3)
    m.government.book("outlay_guidance", guidance_fiscal_cost(commit, p.guidance_expected_loss, p.guidance_fund_years,
                                                              p.public_discount_rate) / 1e3)
    gw = v.weight * v.guided
    v.capital = v.capital + np.where(v.guided, new_guided / max(gw.sum(), 1e-12), 0.0)
    pw = v.weight * ~v.guided
    v.capital = v.capital + np.where(~v.guided, m.cal.private_vc_inflow * DT / max(pw.sum(), 1e-12), 0.0)
    # this quarter's investment budget; the guided stage-focus share is earmarked for
    # first rounds in early start-ups, the rest funds follow-ons first (proven firms)
    budget = p.vc_investment_rate * v.capital * DT
    total_budget = float((v.weight * budget).sum())
    early_budget = gf.stage_focus.at(yr) * float((v.weight * budget * v.guided).sum())
    free_budget = total_budget - early_budget
    # staged financing: follow-on rounds for backed firms past their milestone
    follow = np.flatnonzero(f.alive & f.vc_backed & (f.productivity >= p.vc_follow_on_milestone * f.vc_milestone))
    if len(follow):
        amount = p.vc_follow_on_size * p.vc_round_m_yuan
        gain = f.productivity[follow] / f.vc_milestone[follow]
        follow = follow[np.argsort(-gain, kind="stable")]
        follow = affordable(m, follow[np.cumsum(f.weight[follow] * amount) <= free_budget], amount)
        invest(m, q, follow, amount)
        free_budget -= float(f.weight[follow].sum()) * amount
    # first rounds: screening on a noisy signal of quality
    young_tech = (f.segment == F.STARTUP) | ((f.segment == F.SERVICE) & (f.age <= p.vc_max_age) & (f.revenue <= 200.0))
    cand = f.alive & young_tech & ~f.vc_backed & (f.vc_invested == 0)
    signal = np.full(f.n, -np.inf)
    ci = np.flatnonzero(cand)
    signal[ci] = screening_signal(f.quality[ci], p.vc_screening_noise, rng.standard_normal(len(ci)))
    # earmarked guided money goes to the best early start-ups; the rest of the market
    # prefers firms with a track record (signal + age preference)
    chosen = top_by_signal(f, signal, cand & (f.age <= 2.0), early_budget, p.vc_round_m_yuan)
    market = signal + p.vc_private_age_preference * np.minimum(f.age, 5.0)
    chosen |= top_by_signal(f, market, cand & ~chosen, free_budget, p.vc_round_m_yuan)
    # lead fund in proportion to funds' budgets; one uniform per row, so a row's lead fund
    # does not depend on which other rows are chosen (common random numbers across levers)
    u_fund = rng.random(f.n)
    if chosen.any():
        idx = np.flatnonzero(chosen)
        cum = np.cumsum(v.weight * budget)
        f.vc_fund[idx] = np.minimum(np.searchsorted(cum, u_fund[idx] * cum[-1], side="right"), v.n - 1)
        idx = affordable(m, idx, p.vc_round_m_yuan)
        chosen[idx] = False  # what is left of chosen could not be afforded
        f.vc_fund[chosen] = -1
        f.vc_backed[idx] = True
        invest(m, q, idx, p.vc_round_m_yuan)
    # exits and write-offs of backed start-ups
    bi = np.flatnonzero(f.alive & f.vc_backed)
    pq = ndtr(f.quality[bi])
    u = rng.random((2, len(bi)))
    win = np.zeros(f.n, bool)
    lose = np.zeros(f.n, bool)
    win[bi] = u[0] < 2 * pq * p.vc_success_rate * DT
    lose[bi] = ~win[bi] & (u[1] < 2 * (1 - pq) * p.vc_failure_rate * DT)
    if win.any() or lose.any():
        proceeds = np.zeros(f.n)
        wi = np.flatnonzero(win)
        proceeds[wi] = exit_proceeds(f.vc_invested[wi], p.vc_exit_multiple, rng.standard_normal(len(wi)))
        back = np.zeros(v.n)
        cost_basis = np.zeros(v.n)
        gone = np.zeros(v.n)
        for mask, arr, val in ((win, back, proceeds), (win, cost_basis, f.vc_invested), (lose, gone, f.vc_invested)):
            i = np.flatnonzero(mask)
            np.add.at(arr, f.vc_fund[i], val[i] * f.weight[i] / v.weight[f.vc_fund[i]])
        # proceeds are distributed to limited partners (returned), not reinvested
        v.returned = v.returned + back
        v.invested = np.maximum(v.invested - cost_basis - gone, 0.0)
        v.written_off = v.written_off + gone
        f.vc_backed &= ~(win | lose)
        f.alive &= ~lose
    # start-ups without backing fail at a base rate
    at_risk = np.flatnonzero(f.alive & (f.segment == F.STARTUP) & ~f.vc_backed)
    f.alive[at_risk[rng.random(len(at_risk)) < p.startup_failure_rate * DT]] = False


def affordable(m, idx: np.ndarray, amount: float) -> np.ndarray:
    """The rows of ``idx`` (in order) whose lead funds still have the capital for a round of
    ``amount`` million yuan per real firm; funds never invest more than they hold."""
    f, v = m.firms, m.funds
    if len(idx) == 0:
        return idx
    fund = f.vc_fund[idx]
    cost = amount * f.weight[idx] / v.weight[fund]
    order = np.argsort(fund, kind="stable")
    fs, cs = fund[order], cost[order]
    cum = np.cumsum(cs)
    first = np.r_[True, fs[1:] != fs[:-1]]
    within = cum - np.maximum.accumulate(np.where(first, cum - cs, 0.0))
    ok = np.empty(len(idx), bool)
    ok[order] = within <= v.capital[fs] * (1 + 1e-12)
    return idx[ok]


def invest(m, q: Quarter, idx: np.ndarray, amount: float) -> None:
    """A round of ``amount`` (million yuan per real firm) into rows ``idx`` from their lead
    funds, with linked bank credit (investment-loan lever); sets the next milestone."""
    f, v = m.firms, m.funds
    loan = m.levers.investment_loan.loan_ratio.at(q.year)
    f.vc_invested[idx] += amount
    f.cash[idx] += amount * (1.0 + loan)
    f.vc_milestone[idx] = f.productivity[idx]
    spent = np.zeros(v.n)
    np.add.at(spent, f.vc_fund[idx], amount * f.weight[idx] / v.weight[f.vc_fund[idx]])
    v.capital = np.maximum(v.capital - spent, 0.0)
    v.invested = v.invested + spent
    np.add.at(v.deals, f.vc_fund[idx], 1.0)
    q.vc += float((f.weight[idx] * amount).sum())


def top_by_signal(f: F.FirmState, signal, eligible, budget: float, amount: float) -> np.ndarray:
    """Eligible rows with the best signals whose rounds (``amount`` per real firm, times
    the row's weight) fit in ``budget`` million yuan."""
    out = np.zeros(len(signal), bool)
    idx = np.flatnonzero(eligible)
    if budget <= 0 or len(idx) == 0:
        return out
    w = f.weight
    k = int(min(len(idx), budget // (amount * w[idx].min()) + 1))  # at most k rows fit
    if k < len(idx):
        idx = idx[np.argpartition(-signal[idx], k - 1)[:k]]
    idx = idx[np.argsort(-signal[idx], kind="stable")]
    cost = np.cumsum(w[idx] * amount)
    out[idx[cost <= budget]] = True
    return out
