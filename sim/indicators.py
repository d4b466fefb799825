"""Indicators (annual, real-world units at any scale) and the plan's 2020 targets.

Operational definitions of the two targets the plan states loosely:

* **T1** (innovative leading enterprises with world influence; "some firms in the global
  top-100 innovators"): number of mainland firms in the world top 100 by R&D spend, the
  observable of the EU R&D Scoreboard 2015 and Strategy& 2015 (SOURCES §1): firms whose
  reported R&D is at least the top-100 threshold ``leading_firm_threshold(year)`` =
  ``leading_firm_rd_bn_yuan * (1 + leading_firm_threshold_growth)^(year - 2015)`` (9.65 bn
  yuan in the 2015 sources, derived in ``sim/upper_tail.py``). 2015 value: 3 (Huawei,
  PetroChina, Alibaba), reproduced from the upper-tail rows of the initial state.
* **T9** (internationally competitive innovative clusters): number of designated cluster
  pilots whose member firms' aggregate real R&D intensity is at least
  ``cluster_competitive_intensity`` (default 2%).

**T3** level bridge (per firm): the model's certified firms are legal entities drawn from
the firm-size distribution; their 2015 revenue falls short of the assumed 22 tn yuan
(groups certify subsidiaries; see the calibration report). The missing revenue belongs to
the groups certified in 2015, so each firm certified at the start counts its revenue times
``B = 22 tn / model 2015 level`` while it stays certified; firms certified later count at
their own revenue (a constant multiplicative bridge on all certified revenue scaled them
too). Not modelled: the certification tests that >= 60% of revenue comes from high-tech
products and services and that the technology is in the catalogue's fields, so any firm
passing the R&D, staff and IP tests can certify (new certifications are an upper bound);
T3 counts certified firms' whole operating revenue, as the plan's indicator does.

**The registry.** Every indicator is declared once, by the decorator :func:`indicator` on
its rule: name, unit, description, ``kind`` (``"stock"``: the state at year end;
``"flow"``: over the year), the start-year value (``start``: the rule itself on the
start-year state for stocks, a function of the start-year state or data, or ``None`` =
NaN because the flow happened before the run), and the plan's target(s) it measures, if
any (:class:`TargetSpec`, with year and direction). ``INDICATORS``, ``TARGETS`` and
``COMPANIONS`` are filled by the declarations, and the recorder, the Parquet output, the
Result frames and the ODD table (``sim/doc_tables.py``) read them. A rule is a read-only
function of an :class:`IndicatorView`: its arrays are read-only views of the model state,
so collecting can never change the model (tests/core/test_registries.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

import numpy as np

from sim.agents import firms as F
from sim.policies.registry import ON_REGISTER, lever_accounts


def reached(values, threshold: float, direction: str = "at_least"):
    """The one "reached" rule: ``value >= threshold`` (direction ``at_least``) or
    ``value <= threshold`` (``at_most``), elementwise; NaN never reaches."""
    v = np.asarray(values, dtype=float)
    return v >= threshold if direction == "at_least" else v <= threshold


@dataclass(frozen=True)
class TargetSpec:
    id: str
    indicator: str
    threshold: float
    label: str
    year: int = 2020              # the plan's target year
    direction: str = "at_least"   # reached when the indicator is at least (at most) the threshold
    companion_of: str | None = None  # reported beside this target id (not a target of its own)

    def reached(self, values):
        return reached(values, self.threshold, self.direction)


#: ``start`` of an indicator whose start-year value is its rule on the start-year state.
RULE = "rule"


@dataclass(frozen=True)
class IndicatorSpec:
    """One indicator: what it is, how a year's value is computed and what target it meets.

    * ``rule(view)``: the year's value. For ``per_quarter`` flows the rule is an annual rate
      read from the state at the end of each quarter, and the year's value is the mean of
      the four quarters' rates.
    * ``start``: the start-year value: :data:`RULE` (the rule on the start-year state; the
      default for stocks), a function of the start-year view (e.g. the data the state was
      calibrated to), or ``None``: NaN, the flow happened before the run (default for flows).
    """

    name: str
    unit: str
    description: str
    kind: str = "stock"                       # "stock" (state at year end) or "flow" (over the year)
    rule: Callable | None = field(default=None, repr=False, compare=False)
    start: Callable | str | None = field(default=RULE, repr=False, compare=False)
    per_quarter: bool = False                 # flow = mean of the quarters' annual rates
    targets: tuple[TargetSpec, ...] = ()

    def start_note(self) -> str:
        """Plain words: where the start-year value comes from (ODD table)."""
        if self.start is None:
            return "NaN (flow before the run)"
        if self.start == RULE:
            return "state" if self.kind == "stock" else "its rule on the start-year values"
        return (self.start.__doc__ or "state (start-year formula)").strip()


INDICATORS: dict[str, IndicatorSpec] = {}
TARGETS: dict[str, TargetSpec] = {}
#: Companions reported beside a target: real T5 (relabelled costs excluded) beside the
#: survey-reported T5, compared with the same threshold.
COMPANIONS: dict[str, TargetSpec] = {}
#: Hidden annual rates read each quarter that are not indicators themselves (name -> rule).
QUARTER_RATES: dict[str, Callable] = {}


def declare(spec: IndicatorSpec) -> IndicatorSpec:
    """Register ``spec`` (and its targets) in the registries; a name is declared once."""
    if spec.name in INDICATORS or spec.name in QUARTER_RATES:
        raise ValueError(f"indicator {spec.name!r} declared twice")
    if spec.kind not in ("stock", "flow"):
        raise ValueError(f"indicator {spec.name!r}: kind must be 'stock' or 'flow', not {spec.kind!r}")
    if spec.per_quarter and spec.kind != "flow":
        raise ValueError(f"indicator {spec.name!r}: per_quarter needs kind='flow'")
    INDICATORS[spec.name] = spec
    for t in spec.targets:
        if t.indicator != spec.name:
            raise ValueError(f"target {t.id} names indicator {t.indicator!r}, declared on {spec.name!r}")
        if t.companion_of:
            COMPANIONS[t.companion_of] = t
        else:
            TARGETS[t.id] = t
    return spec


def indicator(name: str, unit: str, description: str, *, kind: str = "stock", start=None,
              per_quarter: bool = False, target: tuple = (), companion: tuple = ()):
    """Decorator declaring indicator ``name`` whose rule is the decorated function.

    ``target=(id, threshold, label[, year[, direction]])`` declares the plan's target on it;
    ``companion=(id, of_target, threshold, label)`` a companion reported beside target
    ``of_target``. ``start`` defaults to :data:`RULE` for stocks and ``None`` (NaN) for flows.
    """
    def deco(rule):
        targets = []
        if target:
            tid, thr, label, *rest = target
            targets.append(TargetSpec(tid, name, float(thr), label, *rest))
        if companion:
            cid, of, thr, label = companion
            targets.append(TargetSpec(cid, name, float(thr), label, companion_of=of))
        st = start if start is not None else (RULE if kind == "stock" else None)
        declare(IndicatorSpec(name, unit, description, kind, rule, st, per_quarter, tuple(targets)))
        return rule
    return deco


def quarter_rate(name: str):
    """Decorator declaring a hidden annual rate read each quarter (averaged over the year
    like a ``per_quarter`` flow; read by rules as ``view.rate(name)``)."""
    def deco(rule):
        if name in INDICATORS or name in QUARTER_RATES:
            raise ValueError(f"rate {name!r} declared twice")
        QUARTER_RATES[name] = rule
        return rule
    return deco


# ------------------------------------------------------------------------------------
# what a rule may read
class _ReadOnly:
    """Read-only proxy of a state object: arrays come back as non-writeable views, lists
    of arrays as tuples of such views, and attributes cannot be set."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        object.__setattr__(self, "_obj", obj)

    def __getattr__(self, name):
        return _frozen(getattr(self._obj, name))

    def __setattr__(self, name, value):
        raise AttributeError(f"indicator rules are read-only: cannot set {name!r}")


def _frozen(v):
    if isinstance(v, np.ndarray):
        v = v.view()
        v.flags.writeable = False
        return v
    if isinstance(v, (list, tuple)):
        return tuple(_frozen(x) for x in v)
    if isinstance(v, dict):
        return MappingProxyType(v)
    return v


class IndicatorView:
    """What an indicator rule reads: the model state through read-only views (``f`` firms,
    ``o`` research organisations, ``gov`` government, ``p`` parameters, ``ic`` initial
    conditions, ``cal`` calibration, ``year``), the year's flows (``sums`` of the quarters'
    flows, ``rate(name)`` the year's mean of a quarterly rate), the fiscal ``acc``ounts of the
    year, and other indicators of the same year (``view[name]``). ``start`` is True in the
    start year. Common sums are computed once per view (the properties below)."""

    def __init__(self, model, *, start: bool = False, flows=None, accounts=None, ht_factor=None):
        self.f = _ReadOnly(model.firms)
        self.o = _ReadOnly(model.orgs)
        self.gov = _ReadOnly(model.government)
        self.p, self.ic, self.cal, self.year = model.p, model.ic, model.cal, model.year
        self.start = start
        self.sums = MappingProxyType(dict(flows.sums)) if flows is not None else MappingProxyType({})
        self._rates = dict(flows.rates) if flows is not None else {}
        self.acc = MappingProxyType(dict(accounts or {}))
        self.ht_factor = _frozen(ht_factor if ht_factor is not None else np.ones(0))  # per row: B if certified at the start
        self._values: dict[str, float] = {}
        self._memo: dict[str, object] = {}

    def rate(self, name: str) -> float:
        """The year's mean of quarterly rate ``name`` (a per-quarter indicator or a hidden rate)."""
        return self._rates[name]

    def __getitem__(self, name: str) -> float:
        if name not in self._values:
            self._values[name] = value_of(INDICATORS[name], self)
        return self._values[name]

    def _m(self, key, fn):
        if key not in self._memo:
            self._memo[key] = _frozen(fn())
        return self._memo[key]

    # common sums of the state (start-year and stock formulas) -------------------------
    @property
    def w(self):
        """Real firms per row, alive rows only."""
        return self._m("w", lambda: self.f.weight * self.f.alive)

    @property
    def ind(self):
        """T5's universe of the moment: the above-size industrial firms (``F.above_size``)."""
        return self._m("ind", lambda: F.above_size(self.f, self.ic.min_industrial_revenue_m_yuan))

    @property
    def rep(self):
        """R&D as the NBS survey sees it: real + relabel_survey_passthrough x relabelled."""
        return self._m("rep", lambda: self.f.rd_real + self.p.relabel_survey_passthrough * self.f.relabel)

    @property
    def ent_rep(self) -> float:
        return self._m("ent_rep", lambda: float((self.w * self.rep).sum()) / 1e3)

    @property
    def org_rd(self) -> float:
        return self._m("org_rd", lambda: float((self.o.weight * self.o.rd).sum()) / 1e3)

    @property
    def ind_rev(self) -> float:
        return self._m("ind_rev", lambda: float((self.w * self.f.revenue * self.ind).sum()))

    # quarterly-rate forms (matrix products over alive rows) ----------------------------
    @property
    def wi(self):
        return self._m("wi", lambda: self.f.weight * self.ind)

    @property
    def q_ent_rep(self) -> float:
        f = self.f
        return self._m("q_ent_rep", lambda: float(self.w @ f.rd_real + self.p.relabel_survey_passthrough
                                                  * (self.w @ f.relabel)) / 1e3)


def value_of(spec: IndicatorSpec, view: IndicatorView) -> float:
    """The value of ``spec`` for the view's year (start year: its ``start`` declaration)."""
    if view.start:
        if spec.start is None:
            return float("nan")
        return float((spec.rule if spec.start == RULE else spec.start)(view))
    if spec.per_quarter:
        return float(view.rate(spec.name))
    return float(spec.rule(view))


# ------------------------------------------------------------------------------------
# T1 helpers
def t1_note(p) -> str:
    """One line saying what T1 counts (printed under the target tables)."""
    return (f"T1: mainland firms in the world top 100 by R&D spend (reported R&D >= "
            f"{p.leading_firm_rd_bn_yuan:g} bn yuan in the 2015 sources, +{100 * p.leading_firm_threshold_growth:g}%/yr "
            f"after); 3 in 2015 (Huawei, PetroChina, Alibaba).")


STALE_BASELINE_NOTE = ("T5: the plan's 0.77% baseline is the 2012 value; the model starts from the "
                       "2015 bulletin's 0.90%.")


def leading_firm_threshold(p, year: int) -> float:
    """T1 threshold in million yuan: ``R_100(t) = R_100(2015) (1 + g)^(t - 2015)``."""
    return p.leading_firm_rd_bn_yuan * 1e3 * (1.0 + p.leading_firm_threshold_growth) ** (year - 2015)


def leading_firm_count(f, p, year: int) -> float:
    """T1: real firms alive whose reported R&D (real + relabelled, as in company accounts)
    is at least the world top-100 threshold of ``year``."""
    rep = f.rd_real + f.relabel
    return float((f.weight * (f.alive & (rep >= leading_firm_threshold(p, year)))).sum())


# ------------------------------------------------------------------------------------
# the indicators, in output order. Units: money in the state is million yuan.
BN, PCT = "billion yuan per year", "percent"


@indicator("leading_firms", "firms",
           "T1: mainland firms in the world top 100 by R&D (reported R&D >= the top-100 threshold)",
           target=("T1", 20.0, "about 20 innovative leading firms of world influence"))
def _leading_firms(s):
    return leading_firm_count(s.f, s.p, s.year)


@indicator("leading_firm_threshold_bn_yuan", BN,
           "T1 threshold: R&D of the world's 100th-largest spender (2015 sources, grown at leading_firm_threshold_growth)")
def _leading_threshold(s):
    return leading_firm_threshold(s.p, s.year) / 1e3


@indicator("upper_tail_rd_bn_yuan", BN, "reported R&D of the 301 upper-tail firms of the 2015 state (EU Scoreboard mainland firms)")
def _upper_tail_rd(s):
    return float((s.w * s.rep)[s.cal.tail_start:s.cal.tail_start + len(s.cal.tail_names)].sum()) / 1e3


@indicator("pilot_firms", "firms", "T2: innovative (pilot) enterprises",
           target=("T2", 1000.0, "1,000 or more innovative (pilot) enterprises"))
def _pilot_firms(s):
    return s.gov.pilot_firms


def _t3_start(s):
    """data: initial conditions (hightech_revenue_tn_yuan), the level the bridge B is set to"""
    return s.ic.hightech_revenue_tn_yuan


@indicator("hightech_revenue_tn_yuan", "trillion yuan",
           "T3: operating revenue of certified high-tech enterprises (2015 certificate holders' revenue bridged to the 2015 assumption)",
           start=_t3_start, target=("T3", 34.0, "high-tech enterprises' revenue 34 trillion yuan"))
def _hightech_revenue(s):
    f = s.f
    factor = np.ones(f.n)   # B for rows certified at the start (recorder.ht_factor), 1 for the others
    factor[:len(s.ht_factor)] = s.ht_factor
    return float((s.w * f.revenue * f.hightech * factor).sum()) / 1e6


@indicator("innovation_centres", "centres", "T4: national technology innovation centres",
           target=("T4", 20.0, "about 20 national technology innovation centres"))
def _centres(s):
    return s.gov.centres


def _t5_start(s):
    """state: 100 x survey R&D / revenue, industrial firms"""
    return 100.0 * float((s.w * s.rep * s.ind).sum()) / s.ind_rev


@indicator("rd_intensity_industry_pct", PCT,
           "T5: R&D reported to the NBS survey (real + relabel_survey_passthrough x relabelled) / main business revenue, above-size industrial firms",
           kind="flow", start=_t5_start, target=("T5", 1.1, "industrial R&D intensity 1.1%"))
def _t5(s):
    return 100.0 * s["industrial_rd_bn_yuan"] * 1e3 / (s["industrial_revenue_tn_yuan"] * 1e6)


@indicator("enterprise_invention_patents", "patents", "T6a: valid invention patents owned by enterprises",
           target=("T6a", 2 * 518000.0, "enterprise invention patents doubled"))
def _patents(s):
    # patents of exited firms stay in force until they lapse (sim/phases/innovation.patent)
    return float((s.f.weight * s.f.patents).sum())


def _pct_start(s):
    """data: initial conditions (pct_applications)"""
    return float(s.ic.pct_applications)


@indicator("pct_applications", "applications per year", "T6b: PCT applications from China, all applicants as WIPO counts them (enterprises + universities, institutes and individuals)",
           kind="flow", start=_pct_start, target=("T6b", 2 * 29800.0, "PCT applications doubled"))
def _pct(s):
    return s.sums["pct"]


@indicator("alliances", "alliances", "T7: pilot industrial technology innovation alliances",
           target=("T7", 300.0, "300 or more pilot alliances"))
def _alliances(s):
    return s.gov.alliances


def _turnover_start(s):
    """data: initial conditions (tech_contract_turnover_bn_yuan)"""
    return s.ic.tech_contract_turnover_bn_yuan


@indicator("tech_contract_turnover_bn_yuan", BN, "T8: national technology contract turnover",
           kind="flow", start=_turnover_start, target=("T8", 2000.0, "technology contract turnover 2 trillion yuan"))
def _turnover(s):
    return s.sums["turnover"] / 1e3


@indicator("competitive_clusters", "clusters",
           "T9: cluster pilots whose members' real R&D intensity >= cluster_competitive_intensity",
           target=("T9", 50.0, "50 internationally competitive innovative clusters"))
def _clusters(s):
    f, p = s.f, s.p
    clusters = 0
    members = s.gov.cluster_members
    if members:
        inc = np.flatnonzero((f.cluster_id >= 0) & f.alive)
        cid, wc = f.cluster_id[inc], f.weight[inc]
        rd = np.bincount(cid, wc * f.rd_real[inc], len(members))
        rev = np.bincount(cid, wc * f.revenue[inc], len(members))
        clusters = int(((rev > 0) & (rd >= p.cluster_competitive_intensity * rev)).sum())
    return float(clusters)


def _national_rd_start(s):
    """state: reported enterprise R&D + research organisations' R&D"""
    return s.ent_rep + s.org_rd


@indicator("national_rd_bn_yuan", BN, "national R&D (reported enterprise R&D + institutes + universities)",
           kind="flow", per_quarter=True, start=_national_rd_start)
def _national_rd(s):
    return s.q_ent_rep + float(s.o.weight @ s.o.rd) / 1e3


def _ent_rd_start(s):
    """state: reported enterprise R&D"""
    return s.ent_rep


@indicator("enterprise_rd_bn_yuan", BN, "reported enterprise R&D", kind="flow", per_quarter=True, start=_ent_rd_start)
def _ent_rd(s):
    return s.q_ent_rep


def _ent_real_start(s):
    """state: real enterprise R&D"""
    return float((s.w * s.f.rd_real).sum()) / 1e3


@indicator("enterprise_rd_real_bn_yuan", BN, "real enterprise R&D (reported minus relabelled)",
           kind="flow", per_quarter=True, start=_ent_real_start)
def _ent_real(s):
    return float(s.w @ s.f.rd_real) / 1e3


@indicator("enterprise_rd_share_pct", PCT, "enterprise share of national R&D", kind="flow", start=RULE)
def _ent_share(s):
    return 100.0 * s["enterprise_rd_bn_yuan"] / s["national_rd_bn_yuan"]


def _ind_rd_start(s):
    """state: survey R&D of industrial firms"""
    return float((s.w * s.rep * s.ind).sum()) / 1e3


@indicator("industrial_rd_bn_yuan", BN, "reported R&D of above-size industrial firms",
           kind="flow", per_quarter=True, start=_ind_rd_start)
def _ind_rd(s):
    f = s.f
    return float(s.wi @ f.rd_real + s.p.relabel_survey_passthrough * (s.wi @ f.relabel)) / 1e3


@quarter_rate("industrial_rd_real_bn_yuan")
def _ind_rd_real_rate(s):
    return float(s.wi @ s.f.rd_real) / 1e3


def _t5_real_start(s):
    """state: 100 x real R&D / revenue, industrial firms"""
    return 100.0 * float((s.w * s.f.rd_real * s.ind).sum()) / s.ind_rev


@indicator("rd_intensity_industry_real_pct", PCT, "real R&D / revenue, above-size industrial firms",
           kind="flow", start=_t5_real_start,
           companion=("T5real", "T5", 1.1, "industrial real R&D intensity 1.1% (no relabelling)"))
def _t5_real(s):
    # real T5 on the same footing as T5 (the year's flows), not the year-end state
    return 100.0 * s.rate("industrial_rd_real_bn_yuan") * 1e3 / (s["industrial_revenue_tn_yuan"] * 1e6)


@indicator("relabel_share_pct", PCT, "relabelled share of enterprise R&D reported on tax and certification filings")
def _relabel_share(s):
    f, w = s.f, s.w
    return 100.0 * float((w * f.relabel).sum()) / max(float((w * (f.rd_real + f.relabel)).sum()), 1e-12)


@indicator("hightech_enterprises", "firms", "certified high-tech enterprises")
def _hightech_firms(s):
    return float((s.w * s.f.hightech).sum())


@indicator("hightech_revenue_model_tn_yuan", "trillion yuan", "revenue of certified firms as simulated (no level bridge)")
def _hightech_revenue_model(s):
    return float((s.w * s.f.revenue * s.f.hightech).sum()) / 1e6


# fiscal indicators: one per lever account, generated from the lever declarations
# (sim/policies/registry.py), then the totals over the accounts of each kind
def _account_total(s, kind: str) -> float:
    vals = [s.acc[a.name] for a in lever_accounts(kind)]
    total = vals[0] if vals else 0.0
    for v in vals[1:]:
        total += v
    return total


def _declare_account(acc) -> None:
    indicator(acc.indicator, BN, acc.description, kind="flow")(lambda s, name=acc.name: s.acc[name])


def _declare_lever_accounts(cls) -> None:
    for acc in cls.accounts:
        _declare_account(acc)


@indicator("tax_expenditure_rd_bn_yuan", BN, "revenue forgone: sum of the levers' tax-expenditure accounts "
           "(super-deduction + high-tech rate + accelerated depreciation)", kind="flow")
def _tax_expenditure(s):
    return _account_total(s, "tax_expenditure")


for _acc in lever_accounts("tax_expenditure") + lever_accounts("outlay"):
    _declare_account(_acc)
ON_REGISTER.append(_declare_lever_accounts)   # levers registered later get their indicators too


@indicator("budget_outlays_bn_yuan", BN, "sum of the levers' outlay accounts (guidance funds + vouchers + programmes)",
           kind="flow")
def _budget_outlays(s):
    return _account_total(s, "outlay")


@indicator("public_cost_bn_yuan", BN, "all tax expenditures on R&D incentives + budget outlays", kind="flow")
def _public_cost(s):
    return s["tax_expenditure_rd_bn_yuan"] + s["budget_outlays_bn_yuan"]


@indicator("tax_revenue_bn_yuan", BN, "corporate income tax collected from simulated firms", kind="flow")
def _tax_revenue(s):
    return s.acc["tax_revenue"]


@indicator("tax_revenue_no_levers_bn_yuan", BN, "corporate income tax the same firms would pay without the "
           "super-deduction and the high-tech rate (static, own carry-forward)", kind="flow")
def _tax_no_levers(s):
    return s.acc["tax_no_levers"]


@indicator("audit_recoveries_bn_yuan", BN, "back taxes and fines recovered by high-tech audits", kind="flow")
def _audit(s):
    return s.acc["audit_recoveries"]


@indicator("commitment_guidance_bn_yuan", BN, "government equity committed to guidance funds (not an outlay; "
           "its expected fiscal cost is outlay_guidance_bn_yuan)", kind="flow")
def _commitment_guidance(s):
    return s.acc["commitment_guidance"]


@indicator("vc_investment_bn_yuan", BN, "venture rounds invested", kind="flow")
def _vc(s):
    return s.sums["vc"] / 1e3


@indicator("academic_spinoffs", "firms per year", "academic spin-offs founded", kind="flow")
def _spinoffs(s):
    return s.sums["spinoffs"]


@indicator("researchers_k_fte", "thousand FTE", "R&D personnel in firms, universities and institutes")
def _researchers(s):
    return (float((s.w * s.f.rd_staff).sum()) + float((s.o.weight * s.o.researchers).sum())) / 1e3


def _ind_rev_start(s):
    """state: main business revenue of industrial firms"""
    return s.ind_rev / 1e6


@indicator("industrial_revenue_tn_yuan", "trillion yuan per year", "main business revenue of above-size industrial firms",
           kind="flow", per_quarter=True, start=_ind_rev_start)
def _ind_rev(s):
    return float(s.wi @ s.f.revenue) / 1e6


@indicator("industrial_rd_performer_share_pct", PCT, "share of above-size industrial firms reporting R&D > 0")
def _performer_share(s):
    w, ind = s.w, s.ind
    return 100.0 * float((w * ind * (s.rep > 0)).sum()) / max(float((w * ind).sum()), 1e-12)


# ------------------------------------------------------------------------------------
# collection
class YearFlows:
    """Running sums of the current year's flows, kept by the model's schedule (the
    quarter's flows from the working record, and each quarter's annual-rate flows / 4)."""

    def __init__(self):
        self.sums = dict.fromkeys(("grants", "pct", "turnover", "vc", "spinoffs"), 0.0)
        self.rates: dict[str, float] = {}

    def add_quarter(self, q, rates: dict[str, float]) -> None:
        for k in self.sums:
            self.sums[k] += getattr(q, k)
        for k, v in rates.items():
            self.rates[k] = self.rates.get(k, 0.0) + v / 4.0


class Recorder:
    """Writes one value per indicator per year. Reading the model is its only contact with
    it: the recorder changes nothing but its own record (the schedule starts new years),
    and the rules see the state through read-only views (:class:`IndicatorView`)."""

    def __init__(self, model):
        self.m = model
        self.years: list[int] = []
        self.values: dict[str, list[float]] = {k: [] for k in INDICATORS}
        self.ht_bridge = 1.0  # T3 level bridge: assumed 2015 high-tech revenue / simulated (see module doc)
        self.ht_factor = np.ones(0)  # per-row T3 weight: ht_bridge for firms certified at the start, else 1

    def _view(self, **kw) -> IndicatorView:
        return IndicatorView(self.m, ht_factor=self.ht_factor, **kw)

    def snapshot(self) -> dict[str, float]:
        """Every indicator readable from the current state: stocks by their rule, flows by
        their start-year formula (flows without a start-year value are left out)."""
        now, start = self._view(), self._view(start=True)
        return {k: (now[k] if s.kind == "stock" else start[k]) for k, s in INDICATORS.items()
                if s.kind == "stock" or s.start is not None}

    def record_initial(self) -> None:
        """The start year: stocks from the initial state, flows from their ``start`` declarations."""
        m = self.m
        self.ht_bridge = m.ic.hightech_revenue_tn_yuan / max(self._view()["hightech_revenue_model_tn_yuan"], 1e-12)
        self.ht_factor = np.where(m.firms.hightech, self.ht_bridge, 1.0)
        self._store(m.start_year, self._view(start=True))

    def flow_rates(self) -> dict[str, float]:
        """Annual-rate flows this quarter (their yearly average is the year's flow)."""
        v = self._view()
        out = {k: float(s.rule(v)) for k, s in INDICATORS.items() if s.per_quarter}
        out.update({k: float(rule(v)) for k, rule in QUARTER_RATES.items()})
        return out

    def record_year(self, year: int, flows: YearFlows, acc: dict[str, float]) -> None:
        """Record ``year`` from the state, the year's ``flows`` and the fiscal accounts ``acc``."""
        self._store(year, self._view(flows=flows, accounts=acc))

    def _store(self, year: int, view: IndicatorView) -> None:
        row = {k: view[k] for k in INDICATORS}   # all computed before any is stored
        self.years.append(year)
        for k in INDICATORS:
            self.values[k].append(float(row[k]))

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=float) for k, v in self.values.items()}
