"""The innovation-system model: 2015 state, quarterly step to 2020, annual indicators.

``InnovationModel.step()`` is the flat schedule of the ODD's process overview. Each phase
computes with the pure rules of ``sim/agents/*`` on whole arrays and writes the result
into the state. One seed drives one ``numpy.random.Generator`` (``self.rng``).

Time: **one step is one quarter** (``DT`` = 0.25 years). The model is set up in the
state of end-2015 and its horizon is ``STEPS`` = 20 steps, 2016Q1 to 2020Q4; after the
20th step ``model.running`` is False, and ``step()`` past the horizon does nothing
(the Mesa idiom ``while model.running: model.step()`` stops at the end of 2020).
"""
from __future__ import annotations

import math
import warnings
from functools import partial

import mesa
import numpy as np
from scipy.special import ndtr

from sim.agents import firms as F
from sim.agents.academia import ResearchOrgAgent, academic_sales, researcher_flows
from sim.agents.government import GovernmentAgent
from sim.agents.vc import VCFundAgent, exit_proceeds, guided_capital, screening_signal
from sim.indicators import INDICATORS, Recorder
from sim.initial_state import KNOWLEDGE_BASE_SHARE, build_world, empty_firms
from sim.policy_context import firm_tax_context
from sim.scenario import Scenario

DT = 0.25
START_YEAR, END_YEAR = 2015, 2020
STEPS = (END_YEAR - START_YEAR) * 4
FOLLOW_ON_MILESTONE = 1.25  # productivity gain since the last round that unlocks the next stage (assumption)
FOLLOW_ON_SIZE = 1.5        # follow-on round relative to the first round (assumption)
VC_MAX_AGE = 8.0            # years; young technology service firms VC also finances (assumption)
PRIVATE_AGE_PREFERENCE = 0.6  # signal units per year of age (to 5) private VC adds: track record (assumption)


SAMPLE_PER_SEGMENT = 8  # firms per segment in the DataCollector's firm sample


def _annual_indicator(name: str, model: "InnovationModel") -> float:
    """Model reporter: the indicator's value for the year the step closed (NaN mid-year)."""
    if model.quarter % 4 or not model.recorder.years:
        return float("nan")
    return model.recorder.values[name][-1]


FIRM_REPORTERS = {
    "segment": "segment_name",
    "alive": lambda a: bool(a.alive),
    "revenue_m_yuan": lambda a: float(a.revenue),
    "rd_real_m_yuan": lambda a: float(a.rd_real),
    "rd_reported_m_yuan": lambda a: a.reported_rd,
    "rd_intensity_reported_pct": lambda a: 100.0 * a.reported_rd / a.revenue if a.revenue > 0 else float("nan"),
    "hightech": lambda a: bool(a.hightech),
    "patents": lambda a: float(a.patents),
    "weight": lambda a: float(a.weight),
}
"""Agent reporters of the firm sample (FirmAgent attributes; money in million yuan, per real firm)."""


class InnovationModel(mesa.Model):
    """China's technology-innovation system, 2015 → 2020, one quarter per step.

    * ``InnovationModel(scenario, seed, scale)``: the end-2015 state of the scenario;
      ``scenario`` may be a :class:`Scenario` or the name of a shipped scenario
      (``"policy_2016_2020"``; see ``innosim scenarios``), ``None`` is 2015 policy frozen.
    * ``step()`` simulates one quarter; 20 steps reach 2020Q4 and set ``running`` False.
    * ``datacollector`` (a Mesa :class:`mesa.DataCollector`) collects after every step:
      model reporters ``year``, ``quarter`` and one per indicator of
      :data:`sim.indicators.INDICATORS` — annual values, filled in the quarter that closes
      the year (Q4) and NaN in the other quarters; agent-type reporters
      :data:`FIRM_REPORTERS` for :class:`FirmAgent` views of a fixed firm sample
      (``firm_sample``: for each segment, the ``SAMPLE_PER_SEGMENT`` firms at evenly spaced
      quantiles of 2015 revenue; plus any firm you open with ``model.firm(row)``).
      ``get_model_vars_dataframe()`` has one row per quarter;
      ``annual_frame()`` gives the annual indicators including 2015.
    * ``collect=False`` skips the DataCollector (the plain ``run`` function and the
      experiments use it; the simulated results are identical).
    """

    def __init__(self, scenario: Scenario | str | None = None, seed: int = 0, scale: float | None = None,
                 collect: bool = True):
        if isinstance(scenario, str):
            from sim.scenario import load_scenario
            scenario = load_scenario(scenario)
        super().__init__(rng=np.random.default_rng(seed))
        self.scenario = scenario if scenario is not None else Scenario(name="default")
        self.seed = seed
        self.scale = float(scale if scale is not None else self.scenario.run.scale)
        self.p = self.scenario.parameters
        self.ic = self.scenario.initial
        self.levers = self.scenario.levers
        self.quarter = 0
        (self.firms, self.orgs, self.funds, self.cal, _) = build_world(
            self.rng, self.p, self.ic, self.levers, self.scale)
        self.government = GovernmentAgent(self)
        self.researcher_ledger = {"hired": 0.0, "entered": 0.0, "retired": 0.0, "laid_off": 0.0}
        self._views: dict[tuple[str, int], mesa.Agent] = {}
        self._init_designations()
        self.recorder = Recorder(self)
        self.recorder.record_initial()
        self.datacollector = None
        self.firm_sample: list[int] = []
        if collect:
            self.firm_sample = self._sample_rows()
            for r in self.firm_sample:
                self.firm(r)
            self.datacollector = mesa.DataCollector(
                model_reporters={"year": lambda m: m.year, "quarter": lambda m: (m.quarter - 1) % 4 + 1,
                                 **{name: partial(_annual_indicator, name) for name in INDICATORS}},
                agenttype_reporters={F.FirmAgent: FIRM_REPORTERS},
            )

    # ------------------------------------------------------------------ schedule
    @property
    def year(self) -> int:
        """Calendar year of the quarter being simulated (2016 for steps 1-4)."""
        return START_YEAR + (self.quarter + 3) // 4 if self.quarter else START_YEAR

    def step(self) -> None:
        """One quarter. Phases in order (docs/ODD.md, process overview).

        Past the horizon (2020Q4) a step does nothing and ``running`` stays False.
        """
        if self.quarter >= STEPS:
            self.running = False
            warnings.warn("the model's horizon ends in 2020Q4; step() past it does nothing", stacklevel=2)
            return
        self.quarter += 1
        self.ctx = firm_tax_context(self.firms, self.levers, self.year, self.p)
        self._psi = None
        self._births: list[F.FirmState] = []
        self._spinoff_staff = 0.0
        self._alive_before = self.firms.alive.copy()
        # firms set R&D budgets and report them
        self.decide_rd()
        self.report_rd()
        self.certify_hightech()
        # innovation and intellectual property
        self.innovate()
        self.patent()
        # markets: technology, talent, venture finance
        self.trade_technology()
        self.move_researchers()
        self.spin_off()
        self.finance_ventures()
        # growth, taxes, demography
        self.grow_revenue()
        self.collect_taxes()
        self.exit_and_enter()
        # government programmes and the annual record
        if self.quarter % 4 == 0:
            self.designate()
        self.recorder.accumulate_quarter()
        if self.quarter % 4 == 0:
            self.recorder.close_year(self.year)
        if self.quarter >= STEPS:
            self.running = False
        if self.datacollector is not None:
            self.datacollector.collect(self)

    def run_model(self) -> None:
        """Step to the end of the horizon (2020Q4)."""
        while self.quarter < STEPS:
            self.step()

    def annual_frame(self, wide: bool = True):
        """Annual indicators recorded so far (2015 first) as a pandas DataFrame.

        ``wide=True``: one row per year, one column per indicator; otherwise tidy rows
        ``year, indicator, unit, value``.
        """
        import pandas as pd

        wide_df = pd.DataFrame(self.recorder.as_arrays(), index=pd.Index(self.recorder.years, name="year"))
        if wide:
            return wide_df
        tidy = wide_df.reset_index().melt(id_vars="year", var_name="indicator", value_name="value")
        tidy.insert(2, "unit", tidy["indicator"].map(lambda k: INDICATORS[k].unit))
        return tidy

    def _sample_rows(self) -> list[int]:
        """The documented firm sample: per segment, firms at revenue quantiles 1/16, 3/16, ..., 15/16."""
        f, rows = self.firms, []
        for seg in (F.INDUSTRIAL, F.SERVICE, F.STARTUP):
            idx = np.flatnonzero(f.alive & (f.segment == seg))
            if len(idx) == 0:
                continue
            idx = idx[np.argsort(f.revenue[idx], kind="stable")]
            q = (np.arange(SAMPLE_PER_SEGMENT) + 0.5) / SAMPLE_PER_SEGMENT
            rows.extend(int(r) for r in dict.fromkeys(idx[(q * len(idx)).astype(int)]))
        return rows

    # ------------------------------------------------------------------ phases
    def decide_rd(self) -> None:
        """Desired real R&D from the user cost, support and the notch; partial adjustment."""
        f, p, c, lv = self.firms, self.p, self.ctx, self.levers
        ad = lv.accelerated_depreciation
        uc = F.user_cost(c.tax_rate, c.deduction, c.deduction_value,
                         ad.equipment_share.at(self.year) * ad.pv_gain.at(self.year))
        # reference: the 2015 policy at the firm's current status (certification, tax
        # position, SME status), so only policy moves desired R&D, not status churn
        c0 = firm_tax_context(f, lv, START_YEAR, p)
        uc0 = F.user_cost(c0.tax_rate, c0.deduction, c0.deduction_value,
                          ad.equipment_share.at(START_YEAR) * ad.pv_gain.at(START_YEAR))
        leading = np.where(f.designations & F.LEADING, lv.programmes.leading_support.at(self.year), 0.0)
        support = (leading
                   + np.where(f.ownership == F.STATE, lv.soe_assessment.rd_weight.at(self.year), 0.0)
                   + np.where(f.vc_backed, p.vc_growth_boost, 0.0))
        s_star = F.desired_rd_intensity(f.rd_base, uc, uc0, p.rd_user_cost_elasticity, support)
        # start-ups do the R&D their cash finances (venture rounds, linked loans)
        st = f.segment == F.STARTUP
        s_star = np.where(st, F.financed_rd(f.cash, p.startup_burn_rate, p.startup_rd_share) / f.revenue, s_star)
        self._leading_extra = s_star * leading / (1.0 + support) * f.revenue  # R&D paid for by leading-firm support
        # the notch: firms below their threshold top up when the certificate is worth it
        psi = self._relabel_ratio()
        rep = s_star * (1.0 + psi) * f.revenue
        target = (c.threshold + f.notch_margin) * f.revenue
        gap = np.maximum(target - rep, 0.0)
        phi = self._notch_relabel_fraction()
        real_at = s_star * f.revenue + (1.0 - phi) * gap
        profit_at = f.margin * f.revenue - np.maximum(real_at - f.rd_base * f.revenue, 0.0)
        saved = F.notch_gain(profit_at, target, c.deduction, c.tax_rate_std, c.tax_rate_ht)
        wait = np.where(f.hightech, 1.0, F.certification_wait_factor(c.validity_years, p.hightech_apply_rate, DT))
        caught = real_at < c.threshold * f.revenue
        cost = F.notch_cost(gap, phi, c.tax_rate_ht, c.deduction, c.audit, p.relabel_penalty, saved, caught)
        ip_ok = f.core_ip | (f.patents > 0) | (c.ip_required < 0.5)
        staff_ok = p.st_staff_ratio * real_at / self.cal.cost_fte >= c.staff_share * f.employees
        f.buncher = f.alive & f.ht_aware & (f.rd_real > 0) & (gap > 0) & (wait * saved > cost) & ip_ok & staff_ok
        topup = np.where(f.buncher, F.notch_topup(gap, phi), 0.0)
        # partial adjustment of the intensity (revenue growth does not erode it)
        f.rd_intensity = np.where(f.alive, F.partial_adjustment(f.rd_intensity, s_star, p.rd_adjustment_speed), 0.0)
        f.rd_topup = np.where(f.alive, topup, 0.0)
        f.rd_real = np.where(f.alive, f.rd_intensity * f.revenue + topup, 0.0)

    def report_rd(self) -> None:
        """Reported R&D = real + relabelled; bunchers report at their threshold; audits."""
        f, c, p = self.firms, self.ctx, self.p
        relabel = self._relabel_ratio() * f.rd_real
        target = (c.threshold + f.notch_margin) * f.revenue
        f.relabel = np.where(f.buncher, np.maximum(relabel, target - f.rd_real), relabel)
        f.relabel = np.where(f.alive, f.relabel, 0.0)
        audited = f.hightech & (self.rng.random(f.n) < c.audit * DT)
        caught = audited & (f.rd_real < c.threshold * f.revenue)
        if caught.any():
            profit = f.margin * f.revenue - np.maximum(f.rd_real - f.rd_base * f.revenue, 0.0)
            saved = F.notch_gain(profit, f.rd_real + f.relabel, c.deduction, c.tax_rate_std, c.tax_rate_ht)
            self.government.book("audit_recoveries", float((f.weight * saved * p.relabel_penalty * caught).sum()) / 1e3)
            f.hightech &= ~caught
            f.buncher &= ~caught
            f.relabel = np.where(caught, relabel, f.relabel)

    def certify_hightech(self) -> None:
        """Expiry and renewal of certificates; eligible firms apply at ``hightech_apply_rate``."""
        f, c, p = self.firms, self.ctx, self.p
        rep = f.rd_real + f.relabel
        staff_ok = p.st_staff_ratio * f.rd_staff / f.employees >= c.staff_share
        ip_ok = f.core_ip | (f.patents > 0) | (c.ip_required < 0.5)
        meets = f.alive & (rep >= c.threshold * f.revenue) & staff_ok & ip_ok
        expired = f.hightech & (f.ht_expiry <= self.quarter)
        renew = expired & meets
        f.hightech &= ~(expired & ~meets)
        apply = ~f.hightech & f.ht_aware & meets & (self.rng.random(f.n) < p.hightech_apply_rate)
        f.hightech |= apply
        validity = int(round(c.validity_years * 4))
        f.ht_expiry = np.where(renew | apply, self.quarter + validity, f.ht_expiry)

    def innovate(self) -> None:
        """Knowledge accumulation; innovation and imitation draws; productivity."""
        f, p, lv, yr = self.firms, self.p, self.levers, self.year
        f.knowledge = F.knowledge_update(f.knowledge, f.rd_real, p.knowledge_depreciation)
        sme = f.revenue <= 200.0
        designated = (f.designations & (F.PILOT | F.CENTRE | F.ALLIANCE | F.CLUSTER)) > 0
        spill = p.designation_spillover * lv.programmes.spillover_scale.at(yr)
        boost = 1.0 + f.absorptive + spill * designated + 0.5 * lv.instrument_sharing.open_share.at(yr) * sme
        effort = 100.0 * f.rd_real / f.revenue * boost
        n = f.n
        doers = np.flatnonzero(f.alive & (effort > 0))  # without R&D effort P(innovate) = 0
        hit = doers[self.rng.random(len(doers)) < F.innovation_probability(effort[doers], p.innovation_zeta)]
        draws = self.rng.beta(p.innovation_beta_shape, p.innovation_beta_shape, len(hit))
        f.tech_level[hit] *= F.innovation_step(draws, p.innovation_step_low, p.innovation_step_high)
        # imitation: absorptive capacity from own R&D, academic researchers, commissioners
        commissioners = lv.talent.commissioners_k.at(yr) / (self.ic.st_commissioners / 1e3)
        capacity = np.minimum(1.0, effort / 2.0) + 0.1 * commissioners * sme + spill * designated
        imitate = np.flatnonzero(f.alive & (self.rng.random(n) < 1.0 - np.exp(-p.imitation_zeta * capacity * DT)))
        frontier = self._sector_frontier()
        f.tech_level[imitate] = F.imitation_level(f.tech_level[imitate], frontier[f.sector[imitate]],
                                                  p.imitation_catch_up)
        self._prod_prev = f.productivity
        f.productivity = F.productivity(f.tech_level, f.knowledge, f.knowledge0, f.knowledge_base,
                                        p.productivity_knowledge_elasticity)

    def patent(self) -> None:
        """Invention patent grants (Poisson in K^alpha), lapses, PCT filings."""
        f, p, cal = self.firms, self.p, self.cal
        held = np.flatnonzero(f.patents > 0)
        lapses = self.rng.binomial(f.patents[held].astype(np.int64), p.patent_lapse_rate * DT)
        f.patents[held] -= lapses
        active = np.flatnonzero(f.alive & (f.knowledge > 0))  # only firms with knowledge draw
        k = f.knowledge[active]
        grants = self.rng.poisson(cal.patent_rate * k ** p.patent_knowledge_elasticity * DT)
        f.patents[active] += grants
        f.core_ip[active] |= grants > 0
        pct = self.rng.poisson(cal.pct_rate * f.pct_propensity[active] * k
                               * (f.revenue[active] / cal.revenue_ref) ** p.pct_size_elasticity * DT)
        w = f.weight[active]
        self.q_grants = float(w @ grants)
        self.q_pct = float(w @ pct)

    def trade_technology(self) -> None:
        """Technology contracts: firm purchases, academic sales, innovation vouchers."""
        f, o, p, lv, yr = self.firms, self.orgs, self.p, self.levers, self.year
        purchases = F.tech_purchases(f.rd_real, self.cal.chi, p.tech_purchase_elasticity, f.absorptive)
        firm_part = float((f.weight * purchases * f.alive).sum())
        demand = float((f.weight * f.rd_real).sum()) / self._firm_rd0
        o.rd = o.rd * (1.0 + p.nominal_growth * DT)  # appropriations follow nominal growth
        o.tech_stock = (1.0 - p.knowledge_depreciation * DT) * o.tech_stock + o.rd * DT
        o.sales = academic_sales(o.tech_stock, o.tech_stock0, self._org_sales0, lv.talent.transfer_share.at(yr),
                                 0.5, p.academic_transfer_elasticity, demand)
        academic = float((o.weight * o.sales).sum())
        vouchers = self._use_vouchers()
        self.q_turnover = (firm_part + academic + vouchers) * DT

    def move_researchers(self) -> None:
        """Academic researchers to firms (part-time posts), hiring, retirement, entry."""
        f, o, p, lv = self.firms, self.orgs, self.p, self.levers
        moved, retired, entered = researcher_flows(o.researchers, p.mobility_rate, lv.talent.part_time.at(self.year),
                                                   p.researcher_retirement_rate, p.researcher_inflow_rate)
        o.researchers = o.researchers - moved - retired + entered
        total_moved = float((o.weight * moved).sum())
        rd_w = f.weight * f.rd_real * f.alive
        per_firm = np.where(rd_w > 0, total_moved * f.rd_real / max(rd_w.sum(), 1e-12), 0.0)
        f.rd_staff = f.rd_staff + per_firm
        f.absorptive = (f.absorptive * (1.0 - p.knowledge_depreciation * DT)
                        + p.mobility_absorptive_gain * per_firm / np.maximum(f.rd_staff, 1.0))
        target = f.rd_real / self.cal.cost_fte
        f_retired = p.researcher_retirement_rate * f.rd_staff * DT
        f.rd_staff = f.rd_staff - f_retired
        hired = np.maximum(target - f.rd_staff, 0.0)
        laid_off = np.maximum(f.rd_staff - target, 0.0) * DT
        f.rd_staff = f.rd_staff + hired - laid_off
        led = self.researcher_ledger
        led["hired"] += float((f.weight * hired).sum())
        led["entered"] += float((o.weight * entered).sum())
        led["retired"] += float((o.weight * retired).sum() + (f.weight * f_retired).sum())
        led["laid_off"] += float((f.weight * laid_off).sum())

    def spin_off(self) -> None:
        """Academic spin-offs: researchers leave to found start-ups (leave-to-found lever)."""
        o, p = self.orgs, self.p
        real = p.spinoffs_per_k_researchers * float((o.weight * o.researchers).sum()) / 1e3 \
            * self.levers.talent.leave_to_found.at(self.year) * DT
        w_s = self.cal.startup_weight
        k = int(self.rng.poisson(real / w_s))
        if k == 0:
            return
        share = o.weight * o.researchers
        src = self.rng.choice(o.n, size=k, p=share / share.sum())
        team = p.spinoff_team_fte
        take = np.zeros(o.n)
        np.add.at(take, src, team * w_s / o.weight[src])
        take = np.minimum(take, 0.5 * o.researchers)
        o.researchers = o.researchers - take
        np.add.at(o.spinoffs, src, w_s / o.weight[src])
        moved = float((o.weight * take).sum())
        new = self._new_startups(k, quality_shift=0.3)
        new.rd_staff[:] = moved / (k * w_s)
        self._spinoff_staff += moved
        self._births.append(new)  # rows join the arrays at the end of the quarter
        self.q_spinoffs += k * w_s

    def finance_ventures(self) -> None:
        """Guidance-fund capital, screening and rounds, follow-ons, exits and write-offs."""
        f, v, p, lv, yr = self.firms, self.funds, self.p, self.levers, self.year
        gf = lv.guidance_funds
        commit = (gf.transformation_fund_bn_yuan.at(yr) + gf.emerging_industry_bn_yuan.at(yr)
                  + gf.sme_fund_bn_yuan.at(yr)) * 1e3 * DT
        new_guided = guided_capital(commit, gf.leverage_target.at(yr), gf.raised_share.at(yr),
                                    gf.profit_concession.at(yr))
        self.government.book("outlay_guidance", commit / 1e3)
        gw = v.weight * v.guided
        v.capital = v.capital + np.where(v.guided, new_guided / max(gw.sum(), 1e-12), 0.0)
        pw = v.weight * ~v.guided
        v.capital = v.capital + np.where(~v.guided, self.cal.private_vc_inflow * DT / max(pw.sum(), 1e-12), 0.0)
        # this quarter's investment budget; the guided stage-focus share is earmarked for
        # first rounds in early start-ups, the rest funds follow-ons first (proven firms)
        budget = p.vc_investment_rate * v.capital * DT
        total_budget = float((v.weight * budget).sum())
        early_budget = gf.stage_focus.at(yr) * float((v.weight * budget * v.guided).sum())
        free_budget = total_budget - early_budget
        # staged financing: follow-on rounds for backed firms past their milestone
        follow = np.flatnonzero(f.alive & f.vc_backed & (f.productivity >= FOLLOW_ON_MILESTONE * f.vc_milestone))
        if len(follow):
            amount = FOLLOW_ON_SIZE * p.vc_round_m_yuan
            gain = f.productivity[follow] / f.vc_milestone[follow]
            follow = follow[np.argsort(-gain, kind="stable")]
            follow = self._affordable(follow[np.cumsum(f.weight[follow] * amount) <= free_budget], amount)
            self._invest(follow, amount)
            free_budget -= float(f.weight[follow].sum()) * amount
        # first rounds: screening on a noisy signal of quality
        young_tech = (f.segment == F.STARTUP) | ((f.segment == F.SERVICE) & (f.age <= VC_MAX_AGE) & (f.revenue <= 200.0))
        cand = f.alive & young_tech & ~f.vc_backed & (f.vc_invested == 0)
        signal = np.full(f.n, -np.inf)
        ci = np.flatnonzero(cand)
        signal[ci] = screening_signal(f.quality[ci], p.vc_screening_noise, self.rng.standard_normal(len(ci)))
        # earmarked guided money goes to the best early start-ups; the rest of the market
        # prefers firms with a track record (signal + age preference)
        chosen = self._top_by_signal(signal, cand & (f.age <= 2.0), early_budget, p.vc_round_m_yuan)
        market = signal + PRIVATE_AGE_PREFERENCE * np.minimum(f.age, 5.0)
        chosen |= self._top_by_signal(market, cand & ~chosen, free_budget, p.vc_round_m_yuan)
        if chosen.any():
            idx = np.flatnonzero(chosen)
            f.vc_fund[idx] = self.rng.choice(v.n, size=len(idx), p=(v.weight * budget) / total_budget)
            idx = self._affordable(idx, p.vc_round_m_yuan)
            chosen[idx] = False  # what is left of chosen could not be afforded
            f.vc_fund[chosen] = -1
            f.vc_backed[idx] = True
            self._invest(idx, p.vc_round_m_yuan)
        # exits and write-offs of backed start-ups
        bi = np.flatnonzero(f.alive & f.vc_backed)
        pq = ndtr(f.quality[bi])
        u = self.rng.random((2, len(bi)))
        win = np.zeros(f.n, bool)
        lose = np.zeros(f.n, bool)
        win[bi] = u[0] < 2 * pq * p.vc_success_rate * DT
        lose[bi] = ~win[bi] & (u[1] < 2 * (1 - pq) * p.vc_failure_rate * DT)
        if win.any() or lose.any():
            proceeds = np.zeros(f.n)
            wi = np.flatnonzero(win)
            proceeds[wi] = exit_proceeds(f.vc_invested[wi], p.vc_exit_multiple, self.rng.standard_normal(len(wi)))
            back = np.zeros(v.n)
            cost_basis = np.zeros(v.n)
            gone = np.zeros(v.n)
            for m, arr, val in ((win, back, proceeds), (win, cost_basis, f.vc_invested), (lose, gone, f.vc_invested)):
                i = np.flatnonzero(m)
                np.add.at(arr, f.vc_fund[i], val[i] * f.weight[i] / v.weight[f.vc_fund[i]])
            # proceeds are distributed to limited partners (returned), not reinvested
            v.returned = v.returned + back
            v.invested = np.maximum(v.invested - cost_basis - gone, 0.0)
            v.written_off = v.written_off + gone
            f.vc_backed &= ~(win | lose)
            f.alive &= ~lose
        # start-ups without backing fail at a base rate
        at_risk = np.flatnonzero(f.alive & (f.segment == F.STARTUP) & ~f.vc_backed)
        f.alive[at_risk[self.rng.random(len(at_risk)) < p.startup_failure_rate * DT]] = False

    def grow_revenue(self) -> None:
        """Revenue follows demand, productivity and shocks; start-ups graduate."""
        f, p, lv = self.firms, self.p, self.levers
        ratio = f.productivity / np.where(self._prod_prev > 0, self._prod_prev, 1.0)
        extra = (np.where(f.vc_backed, p.vc_growth_boost, 0.0)
                 + np.where(f.segment == F.STARTUP, 0.1 * f.quality, 0.0)
                 + np.where((f.revenue <= 200.0) & (f.rd_real > 0), lv.procurement.sme_demand_boost.at(self.year), 0.0))
        shock = p.revenue_noise * math.sqrt(DT) * self.rng.standard_normal(f.n)
        new = F.revenue_growth(f.revenue, ratio, p.nominal_growth, p.revenue_productivity_elasticity, shock, extra)
        f.employees = f.employees * np.sqrt(new / f.revenue)
        f.revenue = new
        f.age = f.age + DT
        f.margin = F.margin_update(f.margin, self.ic.industrial_profit_margin, p.margin_reversion,
                                   self.cal.margin_sd, self.rng.standard_normal(f.n))
        grad = f.alive & (f.segment == F.STARTUP) & (f.revenue >= p.startup_graduation_revenue_m_yuan)
        f.segment = np.where(grad, F.SERVICE, f.segment).astype(np.int8)

    def collect_taxes(self) -> None:
        """Corporate income tax with the super-deduction and the high-tech rate; tax
        expenditures; cash (retained profit, or start-ups' burn)."""
        f, c, p = self.firms, self.ctx, self.p
        extra_rd = np.maximum(f.rd_real - f.rd_base * f.revenue, 0.0)
        profit = f.margin * f.revenue - extra_rd
        rep = f.rd_real + f.relabel
        # actual tax and the counterfactual worlds without the deduction / the high-tech
        # rate / both, each with its own carry-forward; joint expenditure split by Shapley
        taxes, f.loss_cf = F.tax_worlds(profit, rep, c.deduction, c.tax_rate_std, c.tax_rate_ht, f.hightech,
                                        f.loss_cf, DT, year_end=self.quarter % 4 == 0)
        tax = taxes[0]
        e_ded, e_ht = F.shapley_tax_expenditures(*taxes)
        ad = self.levers.accelerated_depreciation
        dep = (ad.equipment_share.at(self.year) * c.tax_rate * c.deduction_value * ad.pv_gain.at(self.year)
               * f.rd_real * (profit > 0))
        dep = np.minimum(dep, tax)  # the depreciation gain cannot exceed the tax bill
        w = f.weight * f.alive * DT / 1e3
        g = self.government
        g.book("tax_revenue", float((w * (tax - dep)).sum()))
        g.book("tax_no_levers", float((w * taxes[3]).sum()))
        g.book("tax_exp_deduction", float((w * e_ded).sum()))
        g.book("tax_exp_hightech", float((w * e_ht).sum()))
        g.book("tax_exp_depreciation", float((w * dep).sum()))
        pr = self.levers.programmes
        g.book("outlay_programmes", float((w * self._leading_extra).sum()) * pr.leading_subsidy_share.at(self.year)
               + g.centres * pr.centre_funding_bn_yuan.at(self.year) * DT)
        # established firms retain a tenth of after-tax profit; start-ups burn their cash
        burn = p.startup_burn_rate * f.cash * DT
        f.cash = np.where(f.segment == F.STARTUP, f.cash - burn, np.maximum(f.cash + (profit - tax) * DT * 0.1, 0.0))

    def exit_and_enter(self) -> None:
        """Loss-making established firms exit; as many enter; new start-ups are founded."""
        f, p = self.firms, self.p
        risk = np.flatnonzero(f.alive & (f.segment != F.STARTUP) & (f.margin < 0))
        size = np.minimum(1.0, (self.ic.min_industrial_revenue_m_yuan / f.revenue[risk]) ** 0.5)
        exits = risk[self.rng.random(len(risk)) < p.firm_exit_rate * size * DT]
        f.alive[exits] = False
        if len(exits):
            self._births.append(self._entrants(exits))
        k = int(self.rng.poisson(p.startup_entry * DT / self.cal.startup_weight))
        if k:
            self._births.append(self._new_startups(k, quality_shift=0.0))
        self._book_deaths()
        if self._births:
            n0 = f.n
            f.append(*self._births)
            born = slice(n0, f.n)
            # founders' teams come from academia (booked in spin_off); others are hired
            self.researcher_ledger["hired"] += float(f.weight[born] @ f.rd_staff[born]) - self._spinoff_staff
        self._births = []
        self._spinoff_staff = 0.0

    def designate(self) -> None:
        """Year-end designations by the government's programme rules."""
        self.government.run_programmes(self.firms, self.levers.programmes, self.year, self.p, self.rng)

    # ------------------------------------------------------------------ helpers
    def _affordable(self, idx: np.ndarray, amount: float) -> np.ndarray:
        """The rows of ``idx`` (in order) whose lead funds still have the capital for a round of
        ``amount`` million yuan per real firm; funds never invest more than they hold."""
        f, v = self.firms, self.funds
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

    def _invest(self, idx: np.ndarray, amount: float) -> None:
        """A round of ``amount`` (million yuan per real firm) into rows ``idx`` from their lead
        funds, with linked bank credit (investment-loan lever); sets the next milestone."""
        f, v = self.firms, self.funds
        loan = self.levers.investment_loan.loan_ratio.at(self.year)
        f.vc_invested[idx] += amount
        f.cash[idx] += amount * (1.0 + loan)
        f.vc_milestone[idx] = f.productivity[idx]
        spent = np.zeros(v.n)
        np.add.at(spent, f.vc_fund[idx], amount * f.weight[idx] / v.weight[f.vc_fund[idx]])
        v.capital = np.maximum(v.capital - spent, 0.0)
        v.invested = v.invested + spent
        np.add.at(v.deals, f.vc_fund[idx], 1.0)
        self.q_vc += float((f.weight[idx] * amount).sum())

    def _book_deaths(self) -> None:
        """Firms that died this quarter: staff leave (ledger), VC stakes are written off."""
        f, v = self.firms, self.funds
        died = self._alive_before & ~f.alive
        if not died.any():
            return
        self.researcher_ledger["laid_off"] += float((f.weight * f.rd_staff * died).sum())
        f.rd_staff[died] = 0.0
        lost = np.flatnonzero(died & f.vc_backed)
        if len(lost):
            gone = np.zeros(v.n)
            np.add.at(gone, f.vc_fund[lost], f.vc_invested[lost] * f.weight[lost] / v.weight[f.vc_fund[lost]])
            v.invested = np.maximum(v.invested - gone, 0.0)
            v.written_off = v.written_off + gone
            f.vc_backed[lost] = False

    def _relabel_ratio(self) -> np.ndarray:
        """Relabelling ratio of every firm this quarter (depends only on the tax context)."""
        if self._psi is None:
            c = self.ctx
            self._psi = F.relabel_ratio(c.tax_saving, self.cal.tax_saving_ref, self.cal.psi0,
                                        self.p.relabel_incentive_elasticity, c.audit, self._audit0)
        return self._psi

    def _notch_relabel_fraction(self) -> float:
        return min(1.0, self.p.notch_relabel_fraction * (1.0 - self.ctx.audit) / (1.0 - self._audit0))

    def _sector_frontier(self) -> np.ndarray:
        """Sector frontier: weighted mean + 1.28 sd of technology level (about the 90th pct)."""
        f = self.firms
        w = f.weight * f.alive
        sw = np.bincount(f.sector, w, F.N_SECTORS)
        m = np.bincount(f.sector, w * f.tech_level, F.N_SECTORS) / np.maximum(sw, 1e-12)
        v = np.bincount(f.sector, w * f.tech_level**2, F.N_SECTORS) / np.maximum(sw, 1e-12) - m**2
        return m + 1.28 * np.sqrt(np.maximum(v, 0.0))

    def _top_by_signal(self, signal, eligible, budget: float, amount: float) -> np.ndarray:
        """Eligible rows with the best signals whose rounds (``amount`` per real firm, times
        the row's weight) fit in ``budget`` million yuan."""
        out = np.zeros(len(signal), bool)
        idx = np.flatnonzero(eligible)
        if budget <= 0 or len(idx) == 0:
            return out
        w = self.firms.weight
        k = int(min(len(idx), budget // (amount * w[idx].min()) + 1))  # at most k rows fit
        if k < len(idx):
            idx = idx[np.argpartition(-signal[idx], k - 1)[:k]]
        idx = idx[np.argsort(-signal[idx], kind="stable")]
        cost = np.cumsum(w[idx] * amount)
        out[idx[cost <= budget]] = True
        return out

    def _use_vouchers(self) -> float:
        """Vouchers buy academic services for SMEs; non-performers start R&D. Returns turnover."""
        vo, yr = self.levers.vouchers, self.year
        budget = vo.budget_bn_yuan.at(yr) * 1e3
        if budget <= 0:
            return 0.0
        f = self.firms
        self.government.book("outlay_vouchers", budget * DT / 1e3)
        per = vo.voucher_m_yuan.at(yr)
        n_real = budget * DT / per
        sme = np.flatnonzero(f.alive & (f.revenue <= 200.0) & (f.segment != F.STARTUP))
        if len(sme) == 0:
            return budget / (1.0 - vo.cofinance_share.at(yr))
        share = min(1.0, n_real / float(f.weight[sme].sum()))
        got = sme[self.rng.random(len(sme)) < share]
        start = got[f.rd_base[got] == 0]
        f.rd_base[start] = 0.005
        f.claims[start] = self.rng.random(len(start)) < self.p.deduction_takeup
        return budget / (1.0 - vo.cofinance_share.at(yr))

    def _new_startups(self, k: int, quality_shift: float) -> F.FirmState:
        new = empty_firms(k)
        w_s = self.cal.startup_weight
        new.weight[:] = w_s
        new.segment[:] = F.STARTUP
        new.sector[:] = self.rng.integers(0, F.N_SECTORS, k)
        new.ownership[:] = F.PRIVATE
        new.revenue[:] = 0.5 * np.exp(0.5 * self.rng.standard_normal(k))
        new.employees[:] = 5.0
        new.margin[:] = -0.05
        new.rd_base[:] = 0.2
        new.rd_real[:] = 0.2 * new.revenue
        new.rd_intensity[:] = 0.2
        new.cash[:] = new.rd_real / (self.p.startup_burn_rate * self.p.startup_rd_share)  # founders' money
        new.knowledge[:] = new.rd_real / (self.p.knowledge_depreciation + self.p.nominal_growth)
        new.knowledge0[:] = new.knowledge
        new.knowledge_base[:] = KNOWLEDGE_BASE_SHARE * new.revenue
        new.rd_staff[:] = new.rd_real / self.cal.cost_fte
        new.claims[:] = self.rng.random(k) < self.p.deduction_takeup
        new.quality[:] = self.rng.standard_normal(k) + quality_shift
        new.ht_expiry[:] = 0
        new.ht_aware[:] = self.rng.random(k) < self.cal.aware_share
        return new

    def _entrants(self, rows: np.ndarray) -> F.FirmState:
        """Entrants replace exiting established firms with new small firms of the same weight."""
        k = len(rows)
        new = empty_firms(k)
        f = self.firms
        new.weight[:] = f.weight[rows]
        new.segment[:] = f.segment[rows]
        new.sector[:] = self.rng.integers(0, F.N_SECTORS, k)
        new.ownership[:] = F.PRIVATE
        new.revenue[:] = self.ic.min_industrial_revenue_m_yuan * (1.0 + self.rng.exponential(0.5, k))
        new.employees[:] = new.revenue / (self.ic.industrial_revenue_tn_yuan / self.ic.industrial_employees_m)
        new.margin[:] = self.ic.industrial_profit_margin
        # service firms perform R&D by definition (the segment is R&D-performing firms)
        perform = (new.segment == F.SERVICE) | (self.rng.random(k) < self.ic.industrial_rd_performer_share)
        new.rd_base[:] = np.where(perform, 0.02, 0.0)
        new.rd_real[:] = new.rd_base * new.revenue
        new.rd_intensity[:] = new.rd_base
        new.knowledge[:] = new.rd_real / (self.p.knowledge_depreciation + self.p.nominal_growth)
        new.knowledge0[:] = new.knowledge
        new.knowledge_base[:] = KNOWLEDGE_BASE_SHARE * new.revenue
        new.rd_staff[:] = new.rd_real / self.cal.cost_fte
        new.claims[:] = perform & (self.rng.random(k) < self.p.deduction_takeup)
        new.notch_margin[:] = self.rng.uniform(0, self.p.notch_margin, k)
        new.ht_aware[:] = self.rng.random(k) < self.cal.aware_share
        return new

    def _init_designations(self) -> None:
        f, ic, g = self.firms, self.ic, self.government
        self._audit0 = self.levers.hightech.audit_intensity.at(START_YEAR)
        self._firm_rd0 = float((f.weight * f.rd_real).sum())
        self._org_sales0 = self.orgs.sales.copy()
        self._prod_prev = f.productivity.copy()
        g.designate_2015(f, ic, self.p, self.rng)
        for name in ("q_spinoffs", "q_vc", "q_grants", "q_pct", "q_turnover"):
            setattr(self, name, 0.0)

    # ------------------------------------------------------------------ inspection
    def firm(self, row: int) -> F.FirmAgent:
        """The Mesa agent for firm ``row`` (created on first use)."""
        return self._view("firm", row, F.FirmAgent)

    def firm_agents(self, alive_only: bool = True) -> mesa.agent.AgentSet:
        rows = np.flatnonzero(self.firms.alive) if alive_only else range(self.firms.n)
        return mesa.agent.AgentSet([self.firm(int(r)) for r in rows], random=self.random)

    def org(self, row: int) -> ResearchOrgAgent:
        return self._view("org", row, ResearchOrgAgent)

    def fund(self, row: int) -> VCFundAgent:
        return self._view("fund", row, VCFundAgent)

    def _view(self, kind, row, cls):
        key = (kind, row)
        if key not in self._views:
            self._views[key] = cls(self, row)
        return self._views[key]
