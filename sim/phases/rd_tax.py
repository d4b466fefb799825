"""R&D and tax phases: desired R&D and the notch, reported R&D and audits, corporate tax.
"""
from __future__ import annotations

import numpy as np

from sim.agents import firms as F
from sim.agents.momentum import entry_hazard, upgrading_factor
from sim.phases import DT, Quarter
from sim.policy_context import firm_tax_context, tax_levers_at


def relabel_ratio(m, tax) -> np.ndarray:
    """Relabelling ratio of every firm this quarter (depends only on the tax context)."""
    return F.relabel_ratio(tax.tax_saving, m.cal.tax_saving_ref, m.cal.psi0,
                           m.p.relabel_incentive_elasticity, tax.audit, m.ref.audit0)


def notch_relabel_fraction(m, tax) -> float:
    return min(1.0, m.p.notch_relabel_fraction * (1.0 - tax.audit) / (1.0 - m.ref.audit0))


def enter_rd(m, q: Quarter) -> None:
    """Entry into R&D: each living industrial or service firm without R&D starts R&D with
    probability ``F.rd_entry_probability(lambda, DT)``, lambda =
    :func:`sim.agents.momentum.entry_hazard` of its segment's performer share at the start
    of the quarter; an entrant's desired real intensity becomes ``rd_entry_intensity``
    (``decide_rd`` then adjusts toward it)."""
    p, f = m.p, m.firms
    if p.rd_entry_rate <= 0.0 and p.rd_entry_imitation <= 0.0:
        return
    cand = np.flatnonzero(f.alive & (f.rd_base <= 0.0) & (f.segment != F.STARTUP))
    share = performer_shares(f)
    lam = entry_hazard(p.rd_entry_rate, p.rd_entry_imitation, share[f.segment[cand]])
    hit = cand[q.streams["enter_rd"].random(len(cand)) < F.rd_entry_probability(lam, DT)]
    f.rd_base[hit] = p.rd_entry_intensity


def performer_shares(f) -> np.ndarray:
    """Weighted share of living firms doing R&D (``rd_base > 0``) in each segment, indexed by
    segment code (industrial, service, start-up)."""
    live = f.alive
    tot = np.bincount(f.segment[live], weights=f.weight[live], minlength=3)
    perf = np.bincount(f.segment[live], weights=f.weight[live] * (f.rd_base[live] > 0.0), minlength=3)
    return perf / np.maximum(tot, 1e-12)


def upgrade_rd(m) -> None:
    """Upgrading: performing above-size industrial firms raise their desired intensity
    ``rd_base`` by :func:`sim.agents.momentum.upgrading_factor` of the industry's real
    intensity S (sum of w * rd_intensity * revenue over sum of w * revenue, living
    industrial firms) against the frontier ``rd_frontier_intensity``."""
    f, p = m.firms, m.p
    if p.rd_upgrading_rate <= 0.0:
        return
    up, s = upgrading_rows(f)
    g = upgrading_factor(s, p.rd_frontier_intensity, p.rd_upgrading_rate, DT)
    f.rd_base = np.where(up, f.rd_base * g, f.rd_base)


def upgrading_rows(f) -> tuple[np.ndarray, float]:
    """The rows upgrading acts on (performing living industrial firms: ``rd_base > 0``) and
    the industry's real intensity S = sum(w Y s) / sum(w Y) over living industrial firms."""
    ind = f.alive & (f.segment == F.INDUSTRIAL)
    wr = f.weight[ind] * f.revenue[ind]
    s = float(wr @ f.rd_intensity[ind]) / max(float(wr.sum()), 1e-12)
    return ind & (f.rd_base > 0.0), s


def decide_rd(m, q: Quarter) -> None:
    """Desired real R&D from the user cost, support and the notch (after upgrading); partial adjustment."""
    upgrade_rd(m)
    f, p, c, lv, yr = m.firms, m.p, q.tax, m.levers, q.year
    ad = lv.accelerated_depreciation
    uc = F.user_cost(c.tax_rate, c.deduction, c.deduction_value, ad.equipment_share.at(yr) * ad.pv_gain.at(yr))
    # reference: the start-year policy at the firm's current status (certification, tax
    # position, SME status), so only policy moves desired R&D, not status churn
    y0 = m.start_year
    if tax_levers_at(lv, y0) == tax_levers_at(lv, yr):
        uc0 = uc  # the same tax levers and firms (enter_rd changes no tax status): the same user cost
    else:
        c0 = firm_tax_context(f, lv, y0, p)
        uc0 = F.user_cost(c0.tax_rate, c0.deduction, c0.deduction_value,
                          ad.equipment_share.at(y0) * ad.pv_gain.at(y0))
    leading = np.where(f.designations & F.LEADING, lv.programmes.leading_support.at(yr), 0.0)
    support = (leading
               + np.where(f.ownership == F.STATE, lv.soe_assessment.rd_weight.at(yr), 0.0)
               + np.where(f.vc_backed, p.vc_growth_boost, 0.0))
    s_star = F.desired_rd_intensity(f.rd_base, uc, uc0, p.rd_user_cost_elasticity, support)
    # start-ups do the R&D their cash finances (venture rounds, linked loans)
    st = f.segment == F.STARTUP
    s_star = np.where(st, F.financed_rd(f.cash, p.startup_burn_rate, p.startup_rd_share) / f.revenue, s_star)
    q.leading_extra = s_star * leading / (1.0 + support) * f.revenue  # R&D paid for by leading-firm support
    # the notch: firms below their threshold top up when the certificate is worth it
    rep = s_star * (1.0 + q.psi) * f.revenue
    target = (c.threshold + f.notch_margin) * f.revenue
    gap = np.maximum(target - rep, 0.0)
    phi = q.phi
    real_at = s_star * f.revenue + (1.0 - phi) * gap
    profit_at = f.margin * f.revenue - np.maximum(real_at - f.rd_base * f.revenue, 0.0)
    saved = F.notch_gain(profit_at, target, c.deduction, c.tax_rate_std, c.tax_rate_ht)
    wait = np.where(f.hightech, 1.0, F.certification_wait_factor(c.validity_years, p.hightech_apply_rate, DT))
    caught = real_at < c.threshold * f.revenue
    cost = F.notch_cost(gap, phi, c.tax_rate_ht, c.deduction, c.audit, p.relabel_penalty, saved, caught)
    ip_ok = f.core_ip | (f.patents > 0) | (c.ip_required < 0.5)
    staff_ok = p.st_staff_ratio * real_at / m.cal.cost_fte >= c.staff_share * f.employees
    f.buncher = f.alive & f.ht_aware & (f.rd_real > 0) & (gap > 0) & (wait * saved > cost) & ip_ok & staff_ok
    topup = np.where(f.buncher, F.notch_topup(gap, phi), 0.0)
    # partial adjustment of the intensity (revenue growth does not erode it)
    f.rd_intensity = np.where(f.alive, F.partial_adjustment(f.rd_intensity, s_star, p.rd_adjustment_speed), 0.0)
    f.rd_topup = np.where(f.alive, topup, 0.0)
    f.rd_real = np.where(f.alive, f.rd_intensity * f.revenue + topup, 0.0)


def report_rd(m, q: Quarter) -> None:
    """Reported R&D = real + relabelled; bunchers report at their threshold; audits."""
    f, c, p, rng = m.firms, q.tax, m.p, q.streams["report_rd"]
    relabel = q.psi * f.rd_real
    target = (c.threshold + f.notch_margin) * f.revenue
    f.relabel = np.where(f.buncher, np.maximum(relabel, target - f.rd_real), relabel)
    f.relabel = np.where(f.alive, f.relabel, 0.0)
    audited = f.hightech & (rng.random(f.n) < c.audit * DT)
    caught = audited & (f.rd_real < c.threshold * f.revenue)
    if caught.any():
        profit = f.margin * f.revenue - np.maximum(f.rd_real - f.rd_base * f.revenue, 0.0)
        saved = F.notch_gain(profit, f.rd_real + f.relabel, c.deduction, c.tax_rate_std, c.tax_rate_ht)
        m.government.book("audit_recoveries", float((f.weight * saved * p.relabel_penalty * caught).sum()) / 1e3)
        f.hightech &= ~caught
        f.buncher &= ~caught
        f.relabel = np.where(caught, relabel, f.relabel)


def collect_taxes(m, q: Quarter) -> None:
    """Corporate income tax with the super-deduction and the high-tech rate; tax
    expenditures; cash (retained profit, or start-ups' burn)."""
    f, c, p, yr = m.firms, q.tax, m.p, q.year
    extra_rd = np.maximum(f.rd_real - f.rd_base * f.revenue, 0.0)
    profit = f.margin * f.revenue - extra_rd
    rep = f.rd_real + f.relabel
    # actual tax and the counterfactual worlds without the deduction / the high-tech
    # rate / both, each with its own carry-forward; joint expenditure split by Shapley
    taxes, f.loss_cf = F.tax_worlds(profit, rep, c.deduction, c.tax_rate_std, c.tax_rate_ht, f.hightech,
                                    f.loss_cf, DT, year_end=q.index % 4 == 0)
    tax = taxes[0]
    e_ded, e_ht = F.shapley_tax_expenditures(*taxes)
    ad = m.levers.accelerated_depreciation
    dep = (ad.equipment_share.at(yr) * c.tax_rate * c.deduction_value * ad.pv_gain.at(yr)
           * f.rd_real * (profit > 0))
    dep = np.minimum(dep, tax)  # the depreciation gain cannot exceed the tax bill
    w = f.weight * f.alive * DT / 1e3
    g = m.government
    g.book("tax_revenue", float((w * (tax - dep)).sum()))
    g.book("tax_no_levers", float((w * taxes[3]).sum()))
    g.book("tax_exp_deduction", float((w * e_ded).sum()))
    g.book("tax_exp_hightech", float((w * e_ht).sum()))
    g.book("tax_exp_depreciation", float((w * dep).sum()))
    pr = m.levers.programmes
    g.book("outlay_programmes", float((w * q.leading_extra).sum()) * pr.leading_subsidy_share.at(yr)
           + g.centres * pr.centre_funding_bn_yuan.at(yr) * DT)
    # established firms retain a tenth of after-tax profit; start-ups burn their cash
    burn = p.startup_burn_rate * f.cash * DT
    f.cash = np.where(f.segment == F.STARTUP, f.cash - burn, np.maximum(f.cash + (profit - tax) * DT * 0.1, 0.0))
