"""Programme phase: the government's year-end designations (pilot and leading firms,
innovation centres, alliances, cluster pilots).
"""
from __future__ import annotations

from sim.phases import Quarter


def designate(m, q: Quarter) -> None:
    """Year-end designations by the government's programme rules (last quarter of a year)."""
    if q.index % 4 == 0:
        m.government.run_programmes(m.firms, m.levers.programmes, q.year, m.p, q.streams["designate"])
