"""Policy levers of the plan: one module per family, bundled in :class:`Levers`."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sim.policies.finance import GuidanceFunds, InnovationVouchers, InvestmentLoanLinkage
from sim.policies.other import InstrumentSharing, ProcurementPreference, SOEAssessment
from sim.policies.programmes import Programmes
from sim.policies.schedule import SWEEP_RULE, YEARS, Lever, LeverError, Schedule
from sim.policies.talent import TalentMobility
from sim.policies.tax import AcceleratedDepreciation, HighTechCertification, SuperDeduction

LEVER_CLASSES: dict[str, type[Lever]] = {
    cls.name: cls
    for cls in (
        SuperDeduction, HighTechCertification, AcceleratedDepreciation,
        GuidanceFunds, InvestmentLoanLinkage, InnovationVouchers,
        TalentMobility, Programmes,
        InstrumentSharing, SOEAssessment, ProcurementPreference,
    )
}


@dataclass(frozen=True)
class Levers:
    """Every lever, each at its neutral (2015-policy) default unless a scenario sets it."""

    super_deduction: SuperDeduction = field(default_factory=SuperDeduction)
    hightech: HighTechCertification = field(default_factory=HighTechCertification)
    accelerated_depreciation: AcceleratedDepreciation = field(default_factory=AcceleratedDepreciation)
    guidance_funds: GuidanceFunds = field(default_factory=GuidanceFunds)
    investment_loan: InvestmentLoanLinkage = field(default_factory=InvestmentLoanLinkage)
    vouchers: InnovationVouchers = field(default_factory=InnovationVouchers)
    talent: TalentMobility = field(default_factory=TalentMobility)
    programmes: Programmes = field(default_factory=Programmes)
    instrument_sharing: InstrumentSharing = field(default_factory=InstrumentSharing)
    soe_assessment: SOEAssessment = field(default_factory=SOEAssessment)
    procurement: ProcurementPreference = field(default_factory=ProcurementPreference)

    def updated(self, raw: dict[str, Any], where: str) -> "Levers":
        """Return a copy with the scenario's ``[levers.NAME]`` tables applied."""
        if not isinstance(raw, dict):
            raise LeverError(f"{where}: expected a table of levers")
        changes = {}
        for name, table in raw.items():
            if name not in LEVER_CLASSES:
                raise LeverError(f"{where}: unknown lever {name!r}; allowed: {', '.join(sorted(LEVER_CLASSES))}")
            changes[name] = LEVER_CLASSES[name].from_dict(table, f"{where}.{name}", getattr(self, name))
        return dataclasses.replace(self, **changes)

    def with_value(self, lever: str, fld: str, value: float) -> "Levers":
        """Replace one field's final setting by ``value``, keeping the schedule's shape
        (:data:`SWEEP_RULE`; used by experiment factors): from the year the scenario's final
        setting takes effect to 2020."""
        sched = getattr(getattr(self, lever), fld)
        period = [{"from": sched.final_setting_year(), "to": YEARS[-1], "value": value}]
        return self.updated({lever: {fld: period}}, "levers")

    def sweep_description(self, lever: str, fld: str) -> str:
        """Plain words: which years and firms a swept value of ``levers.LEVER.FLD`` reaches."""
        sched = getattr(getattr(self, lever), fld)
        y = sched.final_setting_year()
        cls = LEVER_CLASSES[lever]
        spec = {f.name: f for f in cls.field_specs()}[fld]
        who = spec.metadata["doc"]
        before = "" if y == YEARS[1] else (
            f"; {YEARS[1]}-{y - 1} as in the scenario ("
            + ", ".join(f"{v:g}" for v in dict.fromkeys(sched.values[1:y - YEARS[0]])) + ")")
        return f"levers.{lever}.{fld}: swept value applies {y}-{YEARS[-1]}{before}; {who}"


__all__ = ["SWEEP_RULE", "Levers", "Lever", "LeverError", "Schedule", "LEVER_CLASSES", "YEARS"]
