"""Government: applies the levers, collects corporate income tax, books tax expenditures
and programme outlays, and runs the designation programmes.

One Mesa agent. Its accounts are running totals for the current year (billion yuan);
the model moves them into the annual record at each year end.
"""
from __future__ import annotations

import mesa

ACCOUNTS = (
    "tax_revenue", "tax_exp_deduction", "tax_exp_hightech", "tax_exp_depreciation", "outlay_guidance", "outlay_vouchers",
    "outlay_programmes", "audit_recoveries",
)


class GovernmentAgent(mesa.Agent):
    """The state: one agent holding fiscal accounts and designation counts."""

    def __init__(self, model):
        super().__init__(model)
        self.accounts = dict.fromkeys(ACCOUNTS, 0.0)
        self.pilot_firms = 0.0
        self.leading_firms = 0.0
        self.centres = 0.0
        self.alliances = 0.0
        self.clusters = 0.0

    def book(self, account: str, amount_bn: float) -> None:
        """Add to a fiscal account for the current year (billion yuan)."""
        self.accounts[account] += amount_bn

    def close_year(self) -> dict[str, float]:
        """Return this year's accounts and start a new year."""
        out = dict(self.accounts)
        self.accounts = dict.fromkeys(ACCOUNTS, 0.0)
        return out

    def __repr__(self) -> str:
        return (f"GovernmentAgent(pilot={self.pilot_firms:.0f}, centres={self.centres:.0f}, "
                f"alliances={self.alliances:.0f}, clusters={self.clusters:.0f})")
