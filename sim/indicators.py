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
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.agents import firms as F


@dataclass(frozen=True)
class IndicatorSpec:
    name: str
    unit: str
    description: str


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

    def reached(self, values):
        return reached(values, self.threshold, self.direction)


_SPECS = [
    ("leading_firms", "firms", "T1: mainland firms in the world top 100 by R&D (reported R&D >= the top-100 threshold)"),
    ("leading_firm_threshold_bn_yuan", "billion yuan per year", "T1 threshold: R&D of the world's 100th-largest spender (2015 sources, grown at leading_firm_threshold_growth)"),
    ("upper_tail_rd_bn_yuan", "billion yuan per year", "reported R&D of the 301 upper-tail firms of the 2015 state (EU Scoreboard mainland firms)"),
    ("pilot_firms", "firms", "T2: innovative (pilot) enterprises"),
    ("hightech_revenue_tn_yuan", "trillion yuan", "T3: operating revenue of certified high-tech enterprises (2015 certificate holders' revenue bridged to the 2015 assumption)"),
    ("innovation_centres", "centres", "T4: national technology innovation centres"),
    ("rd_intensity_industry_pct", "percent", "T5: R&D reported to the NBS survey (real + relabel_survey_passthrough x relabelled) / main business revenue, above-size industrial firms"),
    ("enterprise_invention_patents", "patents", "T6a: valid invention patents owned by enterprises"),
    ("pct_applications", "applications per year", "T6b: PCT applications from China, all applicants as WIPO counts them (enterprises + universities, institutes and individuals)"),
    ("alliances", "alliances", "T7: pilot industrial technology innovation alliances"),
    ("tech_contract_turnover_bn_yuan", "billion yuan per year", "T8: national technology contract turnover"),
    ("competitive_clusters", "clusters", "T9: cluster pilots whose members' real R&D intensity >= cluster_competitive_intensity"),
    ("national_rd_bn_yuan", "billion yuan per year", "national R&D (reported enterprise R&D + institutes + universities)"),
    ("enterprise_rd_bn_yuan", "billion yuan per year", "reported enterprise R&D"),
    ("enterprise_rd_real_bn_yuan", "billion yuan per year", "real enterprise R&D (reported minus relabelled)"),
    ("enterprise_rd_share_pct", "percent", "enterprise share of national R&D"),
    ("industrial_rd_bn_yuan", "billion yuan per year", "reported R&D of above-size industrial firms"),
    ("rd_intensity_industry_real_pct", "percent", "real R&D / revenue, above-size industrial firms"),
    ("relabel_share_pct", "percent", "relabelled share of enterprise R&D reported on tax and certification filings"),
    ("hightech_enterprises", "firms", "certified high-tech enterprises"),
    ("hightech_revenue_model_tn_yuan", "trillion yuan", "revenue of certified firms as simulated (no level bridge)"),
    ("tax_expenditure_rd_bn_yuan", "billion yuan per year", "revenue forgone: super-deduction + high-tech rate + accelerated depreciation"),
    ("tax_expenditure_deduction_bn_yuan", "billion yuan per year", "revenue forgone through the super-deduction"),
    ("tax_expenditure_hightech_bn_yuan", "billion yuan per year", "revenue forgone through the 15% high-tech rate"),
    ("tax_expenditure_depreciation_bn_yuan", "billion yuan per year", "revenue forgone through accelerated depreciation of R&D equipment"),
    ("outlay_guidance_bn_yuan", "billion yuan per year", "government commitments to guidance funds"),
    ("outlay_vouchers_bn_yuan", "billion yuan per year", "innovation vouchers paid"),
    ("outlay_programmes_bn_yuan", "billion yuan per year", "leading-firm subsidies and innovation-centre funding"),
    ("budget_outlays_bn_yuan", "billion yuan per year", "guidance funds + vouchers + programmes"),
    ("public_cost_bn_yuan", "billion yuan per year", "all tax expenditures on R&D incentives + budget outlays"),
    ("tax_revenue_bn_yuan", "billion yuan per year", "corporate income tax collected from simulated firms"),
    ("tax_revenue_no_levers_bn_yuan", "billion yuan per year", "corporate income tax the same firms would pay without the super-deduction and the high-tech rate (static, own carry-forward)"),
    ("audit_recoveries_bn_yuan", "billion yuan per year", "back taxes and fines recovered by high-tech audits"),
    ("vc_investment_bn_yuan", "billion yuan per year", "venture rounds invested"),
    ("academic_spinoffs", "firms per year", "academic spin-offs founded"),
    ("researchers_k_fte", "thousand FTE", "R&D personnel in firms, universities and institutes"),
    ("industrial_revenue_tn_yuan", "trillion yuan per year", "main business revenue of above-size industrial firms"),
    ("industrial_rd_performer_share_pct", "percent", "share of above-size industrial firms reporting R&D > 0"),
]
INDICATORS: dict[str, IndicatorSpec] = {n: IndicatorSpec(n, u, d) for n, u, d in _SPECS}

TARGETS: dict[str, TargetSpec] = {t.id: t for t in (
    TargetSpec("T1", "leading_firms", 20.0, "about 20 innovative leading firms of world influence"),
    TargetSpec("T2", "pilot_firms", 1000.0, "1,000 or more innovative (pilot) enterprises"),
    TargetSpec("T3", "hightech_revenue_tn_yuan", 34.0, "high-tech enterprises' revenue 34 trillion yuan"),
    TargetSpec("T4", "innovation_centres", 20.0, "about 20 national technology innovation centres"),
    TargetSpec("T5", "rd_intensity_industry_pct", 1.1, "industrial R&D intensity 1.1%"),
    TargetSpec("T6a", "enterprise_invention_patents", 2 * 518000.0, "enterprise invention patents doubled"),
    TargetSpec("T6b", "pct_applications", 2 * 29800.0, "PCT applications doubled"),
    TargetSpec("T7", "alliances", 300.0, "300 or more pilot alliances"),
    TargetSpec("T8", "tech_contract_turnover_bn_yuan", 2000.0, "technology contract turnover 2 trillion yuan"),
    TargetSpec("T9", "competitive_clusters", 50.0, "50 internationally competitive innovative clusters"),
)}

#: Companions reported beside a target: real T5 (relabelled costs excluded) beside the
#: survey-reported T5, compared with the same threshold.
COMPANIONS: dict[str, TargetSpec] = {
    "T5": TargetSpec("T5real", "rd_intensity_industry_real_pct", 1.1, "industrial real R&D intensity 1.1% (no relabelling)"),
}


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
    it: the recorder changes nothing but its own record (the schedule starts new years)."""

    def __init__(self, model):
        self.m = model
        self.years: list[int] = []
        self.values: dict[str, list[float]] = {k: [] for k in INDICATORS}
        self.ht_bridge = 1.0  # T3 level bridge: assumed 2015 high-tech revenue / simulated (see module doc)
        self.ht_factor = np.ones(0)  # per-row T3 weight: ht_bridge for firms certified at the start, else 1

    # state read at any time --------------------------------------------------------
    def snapshot(self) -> dict[str, float]:
        m = self.m
        f, o, p = m.firms, m.orgs, m.p
        w = f.weight * f.alive
        ind = F.above_size(f, m.ic.min_industrial_revenue_m_yuan)  # T5's universe of the moment
        rep = f.rd_real + p.relabel_survey_passthrough * f.relabel  # as the NBS R&D survey sees it
        ent_rep = float((w * rep).sum()) / 1e3
        ent_real = float((w * f.rd_real).sum()) / 1e3
        org_rd = float((o.weight * o.rd).sum()) / 1e3
        ind_rev = float((w * f.revenue * ind).sum())
        ht_rev = float((w * f.revenue * f.hightech).sum()) / 1e6
        factor = np.ones(f.n)
        factor[:len(self.ht_factor)] = self.ht_factor
        clusters = 0
        members = m.government.cluster_members
        if members:
            inc = np.flatnonzero((f.cluster_id >= 0) & f.alive)
            cid, wc = f.cluster_id[inc], f.weight[inc]
            rd = np.bincount(cid, wc * f.rd_real[inc], len(members))
            rev = np.bincount(cid, wc * f.revenue[inc], len(members))
            clusters = int(((rev > 0) & (rd >= p.cluster_competitive_intensity * rev)).sum())
        g = m.government
        return {
            "leading_firms": leading_firm_count(f, p, m.year),
            "leading_firm_threshold_bn_yuan": leading_firm_threshold(p, m.year) / 1e3,
            "upper_tail_rd_bn_yuan": float((w * rep)[m.cal.tail_start:m.cal.tail_start + len(m.cal.tail_names)].sum()) / 1e3,
            "pilot_firms": g.pilot_firms,
            "hightech_revenue_model_tn_yuan": ht_rev,
            "hightech_revenue_tn_yuan": float((w * f.revenue * f.hightech * factor).sum()) / 1e6,
            "innovation_centres": g.centres,
            "rd_intensity_industry_pct": 100.0 * float((w * rep * ind).sum()) / ind_rev,
            "rd_intensity_industry_real_pct": 100.0 * float((w * f.rd_real * ind).sum()) / ind_rev,
            # patents of exited firms stay in force until they lapse (sim/phases/innovation.patent)
            "enterprise_invention_patents": float((f.weight * f.patents).sum()),
            "alliances": g.alliances,
            "competitive_clusters": float(clusters),
            "national_rd_bn_yuan": ent_rep + org_rd,
            "enterprise_rd_bn_yuan": ent_rep,
            "enterprise_rd_real_bn_yuan": ent_real,
            "enterprise_rd_share_pct": 100.0 * ent_rep / (ent_rep + org_rd),
            "industrial_rd_bn_yuan": float((w * rep * ind).sum()) / 1e3,
            "relabel_share_pct": 100.0 * float((w * f.relabel).sum()) / max(float((w * (f.rd_real + f.relabel)).sum()), 1e-12),
            "hightech_enterprises": float((w * f.hightech).sum()),
            "researchers_k_fte": (float((w * f.rd_staff).sum()) + float((o.weight * o.researchers).sum())) / 1e3,
            "industrial_revenue_tn_yuan": ind_rev / 1e6,
            "industrial_rd_performer_share_pct": 100.0 * float((w * ind * (rep > 0)).sum()) / max(float((w * ind).sum()), 1e-12),
        }

    # annual bookkeeping ------------------------------------------------------------
    def record_initial(self) -> None:
        """2015: stocks from the initial state, flows from the 2015 data they were calibrated to."""
        m, ic = self.m, self.m.ic
        snap = self.snapshot()
        self.ht_bridge = ic.hightech_revenue_tn_yuan / max(snap["hightech_revenue_model_tn_yuan"], 1e-12)
        self.ht_factor = np.where(m.firms.hightech, self.ht_bridge, 1.0)
        snap["hightech_revenue_tn_yuan"] = ic.hightech_revenue_tn_yuan
        snap.update({
            "pct_applications": float(ic.pct_applications),
            "tech_contract_turnover_bn_yuan": ic.tech_contract_turnover_bn_yuan,
            "tax_expenditure_rd_bn_yuan": np.nan, "tax_expenditure_deduction_bn_yuan": np.nan,
            "tax_expenditure_hightech_bn_yuan": np.nan, "budget_outlays_bn_yuan": np.nan,
            "tax_expenditure_depreciation_bn_yuan": np.nan, "outlay_guidance_bn_yuan": np.nan,
            "outlay_vouchers_bn_yuan": np.nan, "outlay_programmes_bn_yuan": np.nan,
            "public_cost_bn_yuan": np.nan, "tax_revenue_bn_yuan": np.nan,
            "tax_revenue_no_levers_bn_yuan": np.nan, "audit_recoveries_bn_yuan": np.nan,
            "vc_investment_bn_yuan": np.nan, "academic_spinoffs": np.nan,
        })
        self._store(m.start_year, snap)

    def flow_rates(self) -> dict[str, float]:
        """Annual-rate flows this quarter (their yearly average is the year's flow)."""
        m = self.m
        f, o = m.firms, m.orgs
        w = f.weight * f.alive
        wi = f.weight * F.above_size(f, m.ic.min_industrial_revenue_m_yuan)  # T5's universe of the moment
        chi = m.p.relabel_survey_passthrough
        ent_rep = float(w @ f.rd_real + chi * (w @ f.relabel)) / 1e3
        return {
            "national_rd_bn_yuan": ent_rep + float(o.weight @ o.rd) / 1e3,
            "enterprise_rd_bn_yuan": ent_rep,
            "enterprise_rd_real_bn_yuan": float(w @ f.rd_real) / 1e3,
            "industrial_rd_bn_yuan": float(wi @ f.rd_real + chi * (wi @ f.relabel)) / 1e3,
            "industrial_rd_real_bn_yuan": float(wi @ f.rd_real) / 1e3,
            "industrial_revenue_tn_yuan": float(wi @ f.revenue) / 1e6,
        }

    def record_year(self, year: int, flows: YearFlows, acc: dict[str, float]) -> None:
        """Record ``year`` from the state, the year's ``flows`` and the fiscal accounts ``acc``."""
        snap = self.snapshot()
        # annual flows are the year's average rates (R&D, revenue) or quarterly sums
        for k, v in flows.rates.items():
            snap[k] = v
        snap["enterprise_rd_share_pct"] = 100.0 * snap["enterprise_rd_bn_yuan"] / snap["national_rd_bn_yuan"]
        snap["rd_intensity_industry_pct"] = 100.0 * snap["industrial_rd_bn_yuan"] * 1e3 / (snap["industrial_revenue_tn_yuan"] * 1e6)
        # real T5 on the same footing as T5 (the year's flows), not the year-end state
        snap["rd_intensity_industry_real_pct"] = 100.0 * snap.pop("industrial_rd_real_bn_yuan") * 1e3 / (
            snap["industrial_revenue_tn_yuan"] * 1e6)
        snap.update({
            "pct_applications": flows.sums["pct"],
            "tech_contract_turnover_bn_yuan": flows.sums["turnover"] / 1e3,
            "tax_expenditure_deduction_bn_yuan": acc["tax_exp_deduction"],
            "tax_expenditure_hightech_bn_yuan": acc["tax_exp_hightech"],
            "tax_expenditure_depreciation_bn_yuan": acc["tax_exp_depreciation"],
            "tax_expenditure_rd_bn_yuan": acc["tax_exp_deduction"] + acc["tax_exp_hightech"] + acc["tax_exp_depreciation"],
            "outlay_guidance_bn_yuan": acc["outlay_guidance"],
            "outlay_vouchers_bn_yuan": acc["outlay_vouchers"],
            "outlay_programmes_bn_yuan": acc["outlay_programmes"],
            "budget_outlays_bn_yuan": acc["outlay_guidance"] + acc["outlay_vouchers"] + acc["outlay_programmes"],
            "tax_revenue_bn_yuan": acc["tax_revenue"],
            "tax_revenue_no_levers_bn_yuan": acc["tax_no_levers"],
            "audit_recoveries_bn_yuan": acc["audit_recoveries"],
            "vc_investment_bn_yuan": flows.sums["vc"] / 1e3,
            "academic_spinoffs": flows.sums["spinoffs"],
        })
        snap["public_cost_bn_yuan"] = snap["tax_expenditure_rd_bn_yuan"] + snap["budget_outlays_bn_yuan"]
        self._store(year, snap)

    def _store(self, year: int, snap: dict[str, float]) -> None:
        self.years.append(year)
        for k in INDICATORS:
            self.values[k].append(float(snap[k]))

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=float) for k, v in self.values.items()}
