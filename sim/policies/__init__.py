"""Policy levers of the plan: one module per family, bundled in :class:`Levers`."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sim.policies.finance import GuidanceFunds, InnovationVouchers, InvestmentLoanLinkage
from sim.policies.other import InstrumentSharing, ProcurementPreference, SOEAssessment
from sim.policies.programmes import Programmes
from sim.policies.schedule import YEARS, Lever, LeverError, Schedule
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
        """Set one field to a constant over 2016–2020 (used by experiment factors)."""
        return self.updated({lever: {fld: value}}, "levers")


__all__ = ["Levers", "Lever", "LeverError", "Schedule", "LEVER_CLASSES", "YEARS"]
