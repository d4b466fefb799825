"""Government: applies the levers, collects corporate income tax, books tax expenditures
and programme outlays, and runs the designation programmes.

One Mesa agent. Its accounts are running totals for the current year (billion yuan): the
general ones and each registered lever's (``sim.policies.registry.account_names``);
the recorder reads them at each year end and the schedule then starts a new year. The designation rules are
pure functions of the firm arrays (ranked by real R&D, quotas in real firms); the agent
applies them once a year (``run_programmes``) and in 2015 (``designate_2015``).
"""
from __future__ import annotations

import math

import mesa
import numpy as np

from sim.agents import firms as F
from sim.policies.registry import account_names



def designate_firms(f: F.FirmState, eligible: np.ndarray, bit: int, quota: float, u: float) -> float:
    """Give designation ``bit`` to up to ``quota`` real firms among ``eligible`` rows not yet
    holding it, largest real R&D first. A row standing for more firms than the quota left is
    designated with probability ``left / weight`` (``u`` uniform), so the expected count is
    the quota at any scale. Returns the number of real firms designated."""
    cand = np.flatnonzero(eligible & ((f.designations & bit) == 0))
    if quota <= 0 or len(cand) == 0:
        return 0.0
    order = cand[np.argsort(-f.rd_real[cand], kind="stable")]
    cum = np.cumsum(f.weight[order])
    n_full = int(np.searchsorted(cum, quota + 1e-9, side="right"))
    take = list(order[:n_full])
    left = quota - (cum[n_full - 1] if n_full else 0.0)
    if n_full < len(order) and left > 0 and u < left / f.weight[order[n_full]]:
        take.append(order[n_full])
    take = np.asarray(take, dtype=np.int64)
    f.designations[take] |= bit
    return float(f.weight[take].sum())


def form_clusters(f: F.FirmState, free: np.ndarray, count: int, need: float, first_id: int) -> list[np.ndarray]:
    """Up to ``count`` clusters of at least ``need`` certified firms among ``free`` rows:
    each seeded by the free firm with the largest real R&D and filled with free firms of its
    sector (technological proximity), else of any sector. Marks the members and returns
    the member rows of each new cluster."""
    idx = np.flatnonzero(free)
    order = idx[np.argsort(-f.rd_real[idx], kind="stable")]
    avail = np.ones(len(order), bool)
    clusters = []
    for _ in range(count):
        pos = np.flatnonzero(avail)
        if f.weight[order[pos]].sum() < need:
            break
        same = pos[f.sector[order[pos]] == f.sector[order[pos[0]]]]
        pick = same if f.weight[order[same]].sum() >= need else pos
        cum = np.cumsum(f.weight[order[pick]])
        pick = pick[: int(np.searchsorted(cum, need)) + 1]
        avail[pick] = False
        members = order[pick]
        f.cluster_id[members] = first_id + len(clusters)
        f.designations[members] |= F.CLUSTER
        clusters.append(members)
    return clusters


class GovernmentAgent(mesa.Agent):
    """The state: one agent holding fiscal accounts and running the designation programmes."""

    def __init__(self, model):
        super().__init__(model)
        self.accounts = dict.fromkeys(account_names(), 0.0)
        self.pilot_firms = 0.0
        self.leading_firms = 0.0
        self.centres = 0.0
        self.alliances = 0.0
        self.clusters = 0.0
        self.cluster_members: list[np.ndarray] = []   # member rows of each cluster

    def book(self, account: str, amount_bn: float) -> None:
        """Add to a fiscal account for the current year (billion yuan)."""
        self.accounts[account] += amount_bn

    def new_year(self) -> None:
        """Start the accounts of a new year (the schedule calls this after recording)."""
        self.accounts = dict.fromkeys(account_names(), 0.0)

    def designate_2015(self, f: F.FirmState, ic, p, rng) -> None:
        """The 2015 designations: pilot firms, alliance members and cluster pilots (plan)."""
        self.pilot_firms = designate_firms(f, f.alive & (f.rd_real > 0) & (f.segment != F.STARTUP), F.PILOT,
                                           ic.pilot_firms, rng.random())
        self.centres = float(ic.innovation_centres)
        designate_firms(f, f.alive & (f.rd_real > 0), F.ALLIANCE, ic.alliances * p.alliance_firms, rng.random())
        self.alliances = float(ic.alliances)
        self._add_clusters(f, f.alive & f.hightech, ic.clusters, p)

    def run_programmes(self, f: F.FirmState, lv, year: int, p, rng) -> None:
        """Year-end designations by the programme rules (quotas from the programmes lever)."""
        alive = f.alive & (f.segment != F.STARTUP)
        intensity = f.rd_real / f.revenue
        self.pilot_firms += designate_firms(f, alive & (intensity >= lv.pilot_min_intensity.at(year)), F.PILOT,
                                            lv.pilot_quota.at(year), rng.random())
        self.leading_firms += designate_firms(f, alive & ((f.designations & F.PILOT) > 0), F.LEADING,
                                              lv.leading_quota.at(year), rng.random())
        hosts = alive & (f.rd_real >= p.centre_host_rd_bn_yuan * 1e3)
        self.centres += designate_firms(f, hosts, F.CENTRE, lv.centre_quota.at(year), rng.random())
        # alliances: each needs alliance_firms R&D performers not yet in an alliance
        free = alive & (f.rd_real > 0) & ((f.designations & F.ALLIANCE) == 0)
        new_alliances = min(lv.alliance_quota.at(year), math.floor(float((f.weight * free).sum()) / p.alliance_firms))
        if new_alliances > 0:
            designate_firms(f, free, F.ALLIANCE, new_alliances * p.alliance_firms, rng.random())
            self.alliances += new_alliances
        # clusters: each forms from cluster_min_hightech certified firms outside clusters
        self._add_clusters(f, alive & f.hightech & (f.cluster_id < 0), int(lv.cluster_quota.at(year)), p)

    def _add_clusters(self, f, free, count, p) -> None:
        new = form_clusters(f, free, count, p.cluster_min_hightech, len(self.cluster_members))
        self.cluster_members.extend(new)
        self.clusters += len(new)

    def __repr__(self) -> str:
        return (f"GovernmentAgent(pilot={self.pilot_firms:.0f}, centres={self.centres:.0f}, "
                f"alliances={self.alliances:.0f}, clusters={self.clusters:.0f})")
