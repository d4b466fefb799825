"""Universities and government research institutes.

Their R&D is funded mostly by government; researchers build a stock of transferable
technology that firms buy on the technology market; researchers move to firms (part-time
posts) and leave to found spin-offs. State per row in :class:`ResearchOrgState` (a row
stands for ``weight`` real institutions); :class:`ResearchOrgAgent` is the Mesa view.
Money in million yuan, flows as annual rates.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.agents import RowAgent

UNIVERSITY, INSTITUTE = 0, 1
KINDS = ("university", "institute")


@dataclass
class ResearchOrgState:
    weight: np.ndarray        # real institutions per row
    kind: np.ndarray          # UNIVERSITY / INSTITUTE
    researchers: np.ndarray   # R&D FTE per institution
    rd: np.ndarray            # million yuan per year (government funded mostly)
    tech_stock: np.ndarray    # million yuan of transferable technology
    tech_stock0: np.ndarray   # 2015 stock (reference)
    sales: np.ndarray         # million yuan per year of technology sold
    spinoffs: np.ndarray      # cumulative spin-offs per institution

    @property
    def n(self) -> int:
        return len(self.weight)

    def check(self) -> None:
        for f in fields(self):
            a = getattr(self, f.name)
            if a.dtype.kind == "f" and (not np.all(np.isfinite(a)) or np.any(a < 0)):
                raise AssertionError(f"research-org state {f.name} has negative or non-finite entries")


def academic_sales(tech_stock, tech_stock0, base_sales, transfer_share, share_ref, elasticity, demand_ratio):
    """Technology sold by an institution per year.

    ``S = S_2015 * (T / T_2015) * (s / s_ref)^e * D`` — proportional to the transferable
    stock, rising with researchers' share of proceeds ``s`` (2015 law: 50%) with
    elasticity ``e``, and with firms' demand ``D`` (their real R&D relative to 2015).
    """
    return base_sales * (tech_stock / tech_stock0) * (transfer_share / share_ref) ** elasticity * demand_ratio


def researcher_flows(researchers, mobility_rate, part_time, retirement, inflow, dt=0.25):
    """Quarterly academic researcher flows: (to firms, retiring, entering).

    ``to_firms = m * part_time * R dt``; ``retiring = r R dt``; ``entering = i R dt``.
    """
    return (mobility_rate * part_time * researchers * dt, retirement * researchers * dt, inflow * researchers * dt)


class ResearchOrgAgent(RowAgent):
    """Mesa view of one university or institute row."""

    state = "orgs"

    def __repr__(self) -> str:
        o = self.model.orgs
        return (f"ResearchOrgAgent(row={self.row}, {KINDS[int(o.kind[self.row])]}, "
                f"researchers={o.researchers[self.row]:.0f}, rd={o.rd[self.row]:.1f}m)")
