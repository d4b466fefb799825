"""One declared allowed range for every input, and the joint checks between inputs.

Every parameter (``sim/data/parameters.toml``) and initial value
(``sim/data/initial_2015.toml``) has ONE allowed range, declared here and enforced by
:func:`sim.params.build` — the single door through which TOML files, ``with_values``,
``--factor`` and ``--levels`` all pass — and listed by ``innosim levers``. Lever fields
carry their allowed range in their declaration (``sim.policies.schedule.lever_field``).

The rule, unless a key is listed in ``OVERRIDES`` with its reason:

* a value with an uncertainty range ``[lo, hi]`` in ``sim/data`` may lie in
  ``[lo / 2, 2 hi]`` (a factor two beyond the plausible range on both sides);
* a value without one may lie in ``[v / 2, 2 v]`` (the 2015 statistic within a factor
  two; counts of things that did not exist in 2015 in ``[0, 100]``);
* shares and probabilities never leave ``[0, 1]``; a behavioural rate or arrival
  intensity (``*_rate``, ``*_zeta``) may be 0, switching its mechanism off; counts are
  whole numbers.

The allowed range is wider than the uncertainty range experiments sweep by default; the
model is tested to give finite, non-negative results at the corners of the uncertainty
box at the smallest scale, and property-based tests draw scenarios from the allowed
ranges (``tests/core/test_properties.py``).

Joint checks (:func:`joint_problems`) catch allowed values that break the model's
assumptions only in combination (a user cost of R&D at or below zero, revenue bands out
of order, R&D totals that do not add up, ...); each message names the combination.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    integer: bool
    reason: str

    def contains(self, v: float) -> bool:
        return self.low <= v <= self.high

    def text(self) -> str:
        f = (lambda x: f"{int(x):d}") if self.integer else (lambda x: f"{x:g}")
        return f"{f(self.low)}..{f(self.high)}"


#: Keys whose range does not follow the rule, with the reason.
OVERRIDES: dict[str, tuple[float, float, str]] = {
    "parameters.innovation_step_low": (-0.5, 0.0, "a productivity draw's lower edge: a fall of at most 50%"),
    "parameters.innovation_step_high": (0.0, 0.5, "a productivity draw's upper edge: a rise of at most 50%"),
    "parameters.innovation_beta_shape": (0.5, 20.0, "Beta(a, a) shape; below 0.5 the draw piles at the edges"),
    "parameters.startup_graduation_revenue_m_yuan": (5.0, 200.0, "between a micro firm and the tech-SME revenue limit"),
    "parameters.notch_relabel_fraction": (0.0, 0.5, "at most half of the gap to a threshold relabelled"),
    "parameters.designation_spillover": (0.0, 0.6, "rule: 2 x the range's top"),
    "parameters.nominal_growth": (0.0, 0.16, "rule: 2 x the range's top; no nominal contraction (outside the model's assumptions)"),
    "parameters.startup_entry": (0, 30000, "no entry at all is a counterfactual the model supports"),
    "parameters.startup_burn_rate": (0.15, 1.0, "start-ups' cash finances R&D at this rate; 0 is undefined"),
    "parameters.deduction_takeup": (0.25, 1.0, "a share of firms"),
    "parameters.loss_deduction_value": (0.15, 1.0, "a present value per yuan, at most 1"),
    "initial.innovation_centres": (0, 100, "none existed in 2015"),
    "initial.enterprise_rd_personnel_share": (0.4, 0.95, "academia keeps some researchers"),
    "initial.university_researcher_share_of_academia": (0.2, 0.9, "institutes keep some researchers"),
    "initial.hightech_industrial_share": (0.275, 0.95, "some certified firms are not industrial"),
    "initial.rd_performer_size_slope": (0.0, 0.8, "rule: 2 x the range's top"),
}


def _rule(key: str, value: float, rng, integer: bool) -> tuple[float, float, str]:
    if key in OVERRIDES:
        return OVERRIDES[key]
    lo, hi = rng if rng is not None else (value, value)
    if hi == 0:
        return (0.0, 100.0, "counts of things that did not exist in 2015")
    low, high = lo / 2, hi * 2
    why = "uncertainty range widened by a factor 2" if rng is not None else "2015 value within a factor 2"
    name = key.split(".", 1)[1]
    if "share" in name or name.endswith("_rate") or "probability" in name:
        high = min(high, 1.0)
    if key.startswith("parameters.") and name.endswith(("_rate", "_zeta")):
        low, why = 0.0, why + "; may be 0 (the mechanism switched off)"
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return (low, high, why)


@lru_cache(maxsize=None)
def allowed_ranges() -> dict[str, Bound]:
    """``parameters.KEY`` / ``initial.KEY`` -> its one allowed range."""
    from sim.params import InitialConditions, Parameters, data_entries

    from importlib import resources

    # initial values: the rule applied to every shipped initial state (2015 and the start
    # years of other horizons, e.g. initial_2008.toml of the training window), widest bound
    years = [None] + sorted(int(p.name[8:12]) for p in resources.files("sim.data").iterdir()
                            if p.name.startswith("initial_") and p.name[8:12].isdigit()
                            and p.name != "initial_2015.toml")
    out = {}
    for kind, section in ((Parameters, "parameters"), (InitialConditions, "initial")):
        types = {f.name: f.type for f in dataclasses.fields(kind)}
        for name, e in data_entries(kind).items():
            key = f"{section}.{name}"
            integer = types[name] in ("int", int)
            lo, hi, why = _rule(key, float(e.value), e.range, integer)
            if kind is InitialConditions:
                for y in years[1:]:
                    ey = data_entries(kind, y)[name]
                    lo_y, hi_y, _ = _rule(key, float(ey.value), ey.range, integer)
                    if lo_y < lo or hi_y > hi:
                        lo, hi = min(lo, lo_y), max(hi, hi_y)
                        why = why + f" (or the {y} start value's)" if "start value" not in why else why
            out[key] = Bound(float(lo), float(hi), integer, why)
    return out


# ----------------------------------------------------------------------------- joint checks

def joint_problems(parameters, initial, levers) -> list[str]:
    """Combinations of allowed values that break the model's assumptions (empty: fine)."""
    from sim.policies.schedule import YEARS

    p, ic = parameters, initial
    out = []
    sd, ht = levers.super_deduction, levers.hightech
    for y in YEARS:  # the first year with a problem is enough to name it
        found = []
        d = max(sd.rate_all.at(y), sd.rate_tech_sme.at(y), sd.rate_manufacturing.at(y))
        std, htr = ht.standard_tax_rate.at(y), ht.tax_rate.at(y)
        fld, tau = ("standard_tax_rate", std) if std >= htr else ("tax_rate", htr)
        if tau * (1 + d) >= 1:
            found.append(f"levers.hightech.{fld} = {tau:g} with a super-deduction of {d:g} in {y} "
                         "makes the user cost of R&D (1 - tau (1 + d)) / (1 - tau) zero or negative; "
                         "need tax rate x (1 + deduction) < 1")
        if htr > std:
            found.append(f"levers.hightech.tax_rate = {htr:g} exceeds levers.hightech.standard_tax_rate "
                         f"= {std:g} in {y}; certification must lower the tax rate")
        if ht.band_small_m_yuan.at(y) >= ht.band_large_m_yuan.at(y):
            found.append(f"levers.hightech.band_small_m_yuan = {ht.band_small_m_yuan.at(y):g} is not below "
                         f"levers.hightech.band_large_m_yuan = {ht.band_large_m_yuan.at(y):g} in {y}; "
                         "the revenue bands are out of order")
        if found:
            out += found
            break
    if p.innovation_step_low >= p.innovation_step_high:
        out.append(f"parameters.innovation_step_low = {p.innovation_step_low:g} is not below "
                   f"parameters.innovation_step_high = {p.innovation_step_high:g}")
    if p.vc_success_rate + p.vc_failure_rate > 1:
        out.append(f"parameters.vc_success_rate + parameters.vc_failure_rate = "
                   f"{p.vc_success_rate + p.vc_failure_rate:g} exceeds 1 (they are exclusive outcomes)")
    if p.knowledge_depreciation + p.nominal_growth <= 0:
        out.append("parameters.knowledge_depreciation + parameters.nominal_growth must be > 0 "
                   "(the 2015 knowledge stock is R&D / (depreciation + growth))")
    if ic.industrial_rd_bn_yuan >= ic.enterprise_rd_bn_yuan:
        out.append(f"initial.industrial_rd_bn_yuan = {ic.industrial_rd_bn_yuan:g} is not below "
                   f"initial.enterprise_rd_bn_yuan = {ic.enterprise_rd_bn_yuan:g} (industry is part of it)")
    parts = ic.enterprise_rd_bn_yuan + ic.institute_rd_bn_yuan + ic.university_rd_bn_yuan
    if parts > ic.national_rd_bn_yuan:
        out.append(f"initial.enterprise_rd_bn_yuan + institute_rd_bn_yuan + university_rd_bn_yuan = {parts:g} "
                   f"exceeds initial.national_rd_bn_yuan = {ic.national_rd_bn_yuan:g}")
    mean_rev = ic.industrial_revenue_tn_yuan * 1e6 / ic.industrial_firms
    if not (ic.min_industrial_revenue_m_yuan * 1.05 < mean_rev < ic.largest_firm_revenue_tn_yuan * 1e6 / 20):
        out.append(f"initial.industrial_revenue_tn_yuan / initial.industrial_firms = {mean_rev:.4g} m yuan "
                   f"must lie well between initial.min_industrial_revenue_m_yuan = "
                   f"{ic.min_industrial_revenue_m_yuan:g} and initial.largest_firm_revenue_tn_yuan "
                   f"= {ic.largest_firm_revenue_tn_yuan:g} (the firm-size distribution)")
    if ic.hightech_enterprises * ic.hightech_industrial_share > 0.5 * ic.industrial_firms:
        out.append("initial.hightech_enterprises x initial.hightech_industrial_share exceeds half of "
                   "initial.industrial_firms")
    if ic.pilot_firms > ic.hightech_enterprises:
        out.append(f"initial.pilot_firms = {ic.pilot_firms} exceeds initial.hightech_enterprises = "
                   f"{ic.hightech_enterprises}")
    if ic.alliance_members < ic.alliances:
        out.append(f"initial.alliance_members = {ic.alliance_members} is below initial.alliances = {ic.alliances}")
    return out
