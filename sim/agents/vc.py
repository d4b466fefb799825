"""Venture funds: private and guidance-fund-backed.

Funds hold uninvested capital, invest in start-ups in staged rounds after screening a
noisy signal of quality, and recover capital at exits (skewed returns) or write it off.
State per row in :class:`VCFundState` (a row stands for ``weight`` real funds);
:class:`VCFundAgent` is the Mesa view. Money in million yuan.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.agents import RowAgent


@dataclass
class VCFundState:
    weight: np.ndarray        # real funds per row
    guided: np.ndarray        # bool: backed by a government guidance fund
    capital: np.ndarray       # uninvested capital, million yuan per fund
    invested: np.ndarray      # capital at work (cost basis), million yuan per fund
    returned: np.ndarray      # cumulative exit proceeds, million yuan per fund
    written_off: np.ndarray   # cumulative write-offs, million yuan per fund
    deals: np.ndarray         # cumulative rounds led

    @property
    def n(self) -> int:
        return len(self.weight)

    def check(self) -> None:
        for f in fields(self):
            a = getattr(self, f.name)
            if a.dtype.kind == "f" and (not np.all(np.isfinite(a)) or np.any(a < -1e-6)):
                raise AssertionError(f"VC state {f.name} has negative or non-finite entries")


def screening_signal(quality, noise_sd, z):
    """Signal a fund sees: ``q + sigma * z`` (z standard normal)."""
    return quality + noise_sd * z


def guided_capital(commitment, leverage, raised_share, profit_concession):
    """New VC capital from guidance funds: ``G * L * min(1, s * (1 + c))`` (SOURCES §3: 43%
    of target sizes raised; profit concessions attract private LPs)."""
    return commitment * leverage * np.minimum(1.0, raised_share * (1.0 + profit_concession))


def guidance_fiscal_cost(commitment, expected_loss, years, discount_rate):
    """Expected fiscal cost of an equity commitment to guidance funds, booked when committed:
    ``C = G * [1 - (1 - l) / (1 + r)^T]``: the government gets back the share ``1 - l`` of
    its stake after the fund's life ``T`` years (``l`` the expected loss, net of the profit
    it concedes to private partners), worth ``1 / (1 + r)^T`` today at its opportunity cost
    ``r``. The commitment ``G`` itself is equity, not spending (a separate line).
    Standard public-finance costing of loans and equity (expected loss plus financing cost,
    as in credit-reform budgeting); parameters SOURCES §3-4."""
    return commitment * (1.0 - (1.0 - expected_loss) / (1.0 + discount_rate) ** years)


def exit_proceeds(invested, multiple_median, z, sigma=1.0):
    """Proceeds of a successful exit: ``I * M * exp(sigma z)`` — lognormal with median
    multiple ``M`` and mean ``M exp(sigma^2/2)``, skewed (SOURCES §4)."""
    return invested * multiple_median * np.exp(sigma * z)


class VCFundAgent(RowAgent):
    """Mesa view of one venture-fund row."""

    state = "funds"

    def __repr__(self) -> str:
        v = self.model.funds
        return (f"VCFundAgent(row={self.row}, guided={bool(v.guided[self.row])}, "
                f"capital={v.capital[self.row]:.0f}m, invested={v.invested[self.row]:.0f}m)")
