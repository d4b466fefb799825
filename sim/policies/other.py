"""Other levers of the plan: open instrument sharing, SOE assessment, SME procurement preference."""
from __future__ import annotations

from dataclasses import dataclass

from sim.policies.registry import register_lever
from sim.policies.schedule import Lever, Schedule, lever_field


@register_lever
@dataclass(frozen=True)
class InstrumentSharing(Lever):
    """大型科研仪器开放共享: SMEs use public instruments (neutral default 0)."""

    name = "instrument_sharing"
    phases = ("innovate",)
    mechanism = "raises SMEs' innovation probability by open_share x 0.5 (relative)"

    open_share: Schedule = lever_field(0.0, "share of large instruments open beyond 2015 practice", "sharing", 0.0, 1.0)


@register_lever
@dataclass(frozen=True)
class SOEAssessment(Lever):
    """国有企业经营业绩考核: R&D counted in SOE managers' performance (neutral default 0)."""

    name = "soe_assessment"
    phases = ("decide_rd",)
    mechanism = "desired R&D of state-owned firms multiplied by (1 + rd_weight)"

    rd_weight: Schedule = lever_field(0.0, "rise in SOE desired R&D", "assessment weight on R&D", 0.0, 2.0)


@register_lever
@dataclass(frozen=True)
class ProcurementPreference(Lever):
    """政府采购支持中小企业: extra public demand for technology SMEs (neutral default 0)."""

    name = "procurement"
    phases = ("grow_revenue",)
    mechanism = "technology SMEs' revenue grows faster by sme_demand_boost per year"

    sme_demand_boost: Schedule = lever_field(0.0, "extra revenue growth per year", "preference", 0.0, 0.5)
