"""The innovation-system model: start-year state, quarterly step, annual indicators.

``InnovationModel.step()`` is the flat schedule of the ODD's process overview; the phases
live in ``sim/phases/*`` (one module per theme) and hand data to each other through the
quarter's working record (:class:`sim.phases.Quarter`). Each phase draws from its own
random stream each quarter, spawned from the run seed (:func:`sim.phases.quarter_streams`).

Time: **one step is one quarter** (``DT`` = 0.25 years). The model is set up in the
state of the start year (default end-2015) and its horizon runs to the end year (default
2020): ``n_quarters`` = 20 steps, 2016Q1 to 2020Q4 by default (``sim/horizon.py``); after
the last step ``model.running`` is False, and ``step()`` past the horizon does nothing
(the Mesa idiom ``while model.running: model.step()`` stops at the end of the horizon).
"""
from __future__ import annotations

import warnings
from functools import partial

import mesa
import numpy as np

from sim.agents import firms as F
from sim.agents.academia import ResearchOrgAgent
from sim.agents.government import GovernmentAgent
from sim.agents.vc import VCFundAgent
from sim.horizon import Horizon
from sim.indicators import INDICATORS, Recorder, YearFlows
from sim.initial_state import build_world
from sim.memory import keep_freed_memory, release_finished_models
from sim.phases import DT, PHASES, Momentum, Quarter, Reference, quarter_streams, stream  # noqa: F401  (DT re-exported)
from sim.phases.certification import certify_hightech
from sim.phases.demography import exit_and_enter, grow_revenue, spin_off
from sim.phases.lead_in import lead_in
from sim.phases.innovation import innovate, open_patent_pipeline, patent
from sim.phases.markets import move_researchers, trade_technology
from sim.phases.programmes import designate
from sim.phases.rd_tax import collect_taxes, decide_rd, enter_rd, notch_relabel_fraction, relabel_ratio, report_rd
from sim.phases.venture import finance_ventures
from sim.policy_context import firm_tax_context
from sim.scenario import Scenario


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
    """China's technology-innovation system, one quarter per step (default 2015 → 2020).

    * ``InnovationModel(scenario, seed, scale)``: the start-year state of the scenario;
      ``scenario`` may be a :class:`Scenario` or the name of a shipped scenario
      (``"policy_2016_2020"``; see ``innosim scenarios``), ``None`` is 2015 policy frozen.
    * ``step()`` simulates one quarter; ``n_quarters`` steps reach the end year's Q4 and
      set ``running`` False.
    * ``datacollector`` (a Mesa :class:`mesa.DataCollector`) collects after every step:
      model reporters ``year``, ``quarter`` and one per indicator of
      :data:`sim.indicators.INDICATORS` — annual values, filled in the quarter that closes
      the year (Q4) and NaN in the other quarters; agent-type reporters
      :data:`FIRM_REPORTERS` for :class:`FirmAgent` views of a fixed firm sample
      (``firm_sample``: for each segment, the ``SAMPLE_PER_SEGMENT`` firms at evenly spaced
      quantiles of start-year revenue; plus any firm you open with ``model.firm(row)``).
      ``get_model_vars_dataframe()`` has one row per quarter;
      ``annual_frame()`` gives the annual indicators including the start year.
    * ``collect=False`` skips the DataCollector (the plain ``run`` function and the
      experiments use it; the simulated results are identical).
    * ``shared_stream=True`` makes every phase draw from one generator (the scheme before
      one stream per phase; for measuring what the separate streams buy only).
    """

    def __init__(self, scenario: Scenario | str | None = None, seed: int = 0, scale: float | None = None,
                 collect: bool = True, shared_stream: bool = False):
        if isinstance(scenario, str):
            from sim.scenario import load_scenario
            scenario = load_scenario(scenario)
        super().__init__(rng=stream(seed, "mesa"))
        keep_freed_memory()  # the quarter's large temporaries reuse the heap (sim/memory.py)
        release_finished_models()  # Mesa's agent-id registry must not keep finished models alive
        # one stream per phase and quarter (sim/phases); shared_stream=True: one for all (measurement only)
        self._shared = np.random.default_rng(seed) if shared_stream else None
        self.scenario = scenario if scenario is not None else Scenario(name="default")
        self.seed = seed
        self.scale = float(scale if scale is not None else self.scenario.run.scale)
        self.p = self.scenario.parameters
        self.ic = self.scenario.initial
        self.levers = self.scenario.levers
        self.horizon = Horizon(self.scenario.run.start_year, self.scenario.run.end_year)
        self.horizon.check(self.levers)
        self.start_year, self.end_year = self.horizon.start, self.horizon.end
        self.n_quarters = self.horizon.steps  # (Mesa owns ``steps``, its step counter)
        self.quarter = 0
        init = self._shared if shared_stream else stream(seed, "initial_state")
        self.firms, self.orgs, self.funds, self.cal, _ = build_world(init, self.p, self.ic, self.levers, self.scale)
        self.government = GovernmentAgent(self)
        # invention applications pending grant (filed in the last patent_grant_lag_years)
        self.patent_pipeline = open_patent_pipeline(self.firms, self.cal, self.p, stream(seed, "patent_pipeline"))
        self.researcher_ledger = {"hired": 0.0, "entered": 0.0, "retired": 0.0, "laid_off": 0.0}
        self._views: dict[tuple[str, int], mesa.Agent] = {}
        self.ref = Reference(audit0=self.levers.hightech.audit_intensity.at(self.start_year),
                             firm_rd0=float((self.firms.weight * self.firms.rd_real).sum()),
                             org_sales0=self.orgs.sales.copy(),
                             registered0=self.ic.tech_contract_registered_share,
                             pct_per_rd0=self.ic.pct_applications / self.ic.enterprise_rd_bn_yuan)
        self.momentum = Momentum(registered=self.ic.tech_contract_registered_share)
        self.government.designate_2015(self.firms, self.ic, self.p, init)
        self.flows = YearFlows()
        self.recorder = Recorder(self)
        self.recorder.record_initial()
        lead_in(self)  # the recorded start year's annual flows -> its year-end rates (sim/phases/lead_in.py)
        self.datacollector = None
        self.firm_sample: list[int] = []
        if collect:
            self.firm_sample = self._sample_rows()
            for r in self.firm_sample:
                self.firm(r)
            self.datacollector = mesa.DataCollector(
                model_reporters={"year": lambda m: m.year, "quarter": lambda m: m.quarter_of_year,
                                 **{name: partial(_annual_indicator, name) for name in INDICATORS}},
                agenttype_reporters={F.FirmAgent: FIRM_REPORTERS},
            )

    # ------------------------------------------------------------------ schedule
    @property
    def year(self) -> int:
        """Calendar year of the quarter being simulated (start + 1 for steps 1-4)."""
        return self.start_year + (self.quarter + 3) // 4 if self.quarter else self.start_year

    @property
    def quarter_of_year(self) -> int:
        """Quarter of the calendar year being simulated, 1-4."""
        return (self.quarter - 1) % 4 + 1

    def step(self) -> None:
        """One quarter. Phases in order (docs/ODD.md, process overview).

        Past the horizon a step does nothing and ``running`` stays False."""
        if self.quarter >= self.n_quarters:
            self.running = False
            warnings.warn(f"the model's horizon ends in {self.end_year}Q4; step() past it does nothing", stacklevel=2)
            return
        self.quarter += 1
        q = self.open_quarter()
        # firms enter R&D, set R&D budgets and report them
        enter_rd(self, q)
        decide_rd(self, q)
        report_rd(self, q)
        certify_hightech(self, q)
        # innovation and intellectual property
        innovate(self, q)
        patent(self, q)
        # markets: technology, talent, venture finance
        trade_technology(self, q)
        move_researchers(self, q)
        spin_off(self, q)
        finance_ventures(self, q)
        # growth, taxes, demography
        grow_revenue(self, q)
        collect_taxes(self, q)
        exit_and_enter(self, q)
        # government programmes (year end) and the record
        designate(self, q)
        self.close_quarter(q)
        self.running = self.quarter < self.n_quarters
        if self.datacollector is not None:
            self.datacollector.collect(self)

    def run_model(self) -> None:
        """Step to the end of the horizon."""
        while self.quarter < self.n_quarters:
            self.step()

    def open_quarter(self) -> Quarter:
        """The quarter's working record: tax context and relabelling ratios for this year."""
        tax = firm_tax_context(self.firms, self.levers, self.year, self.p)
        qn = self.quarter_of_year
        return Quarter(index=self.quarter, year=self.year, tax=tax, psi=relabel_ratio(self, tax),
                       phi=notch_relabel_fraction(self, tax), alive_before=self.firms.alive.copy(),
                       streams=quarter_streams(self.seed, self.quarter, self._shared),
                       nominal_growth=self.scenario.quarter_nominal_growth(self.year, qn),
                       public_rd_growth=self.scenario.quarter_public_rd_growth(self.year, qn))

    def close_quarter(self, q: Quarter) -> None:
        """Add the quarter's flows to the year's; at year end record the year and start a new one."""
        self.flows.add_quarter(q, self.recorder.flow_rates())
        if q.index % 4 == 0:
            self.recorder.record_year(q.year, self.flows, dict(self.government.accounts))
            self.flows = YearFlows()
            self.government.new_year()

    # ------------------------------------------------------------------ inspection
    def annual_frame(self, wide: bool = True):
        """Annual indicators recorded so far (start year first) as a pandas DataFrame.

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
            qs = (np.arange(SAMPLE_PER_SEGMENT) + 0.5) / SAMPLE_PER_SEGMENT
            rows.extend(int(r) for r in dict.fromkeys(idx[(qs * len(idx)).astype(int)]))
        return rows

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
