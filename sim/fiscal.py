"""Fiscal accounts per lever and the effectiveness ratios of paired runs.

Every lever's public cost is booked by the government agent in the phase that applies
the lever: revenue forgone (tax expenditures) and budget outlays. The tax expenditures of
the super-deduction and the high-tech rate are the joint expenditure
``T(neither lever) - T(actual)``, each world with its own loss carry-forward, split between
the two by the Shapley rule (``sim.agents.firms.shapley_tax_expenditures``).

Two effectiveness ratios compare paired runs (same seeds) with and without a lever;
additional R&D is *real* R&D, so relabelled costs never count as additional R&D:

* **static**: per yuan of additional public cost (tax expenditures at each run's own
  behaviour + budget outlays), ``paired_ratio``;
* **dynamic**: per yuan of additional net budget cost, i.e. budget outlays minus
  corporate tax actually collected (with audit recoveries), so the tax base's response
  to the lever counts, ``paired_dynamic_ratio``.
"""
from __future__ import annotations

import numpy as np

from sim.policies.registry import LEVER_COSTS

# LEVER_COSTS: lever family -> the indicators holding its public cost (billion yuan per year), generated
# from the levers' declared accounts (``sim/policies/registry.py``); levers without
# accounts (talent, investment_loan, instrument_sharing, soe_assessment, procurement) have
# no modelled budget cost (regulatory levers, bank money, or spending outside the accounts).

POLICY_YEARS = slice(1, None)  # every year after the start year: 2016..2020 in a 2015..2020 result


def accounts(result) -> dict[str, np.ndarray]:
    """Public cost per lever family and policy year (``POLICY_YEARS``; 2016–2020 by default),
    billion yuan, plus the total."""
    out = {lever: sum(result.indicators[i][POLICY_YEARS] for i in names) for lever, names in LEVER_COSTS.items()}
    out["total"] = result.indicators["public_cost_bn_yuan"][POLICY_YEARS]
    return out


def effectiveness_ratio(rd_with, rd_without, cost_with, cost_without) -> float:
    """Additional real R&D per yuan of additional public cost over the policy years.

    ``ratio = sum_t (R_t^with - R_t^without) / sum_t (C_t^with - C_t^without)``

    with R real enterprise R&D and C public cost (tax expenditures + outlays), both from
    runs that share their seeds. Returns nan when the lever costs nothing extra.
    """
    d_rd = float(np.sum(np.asarray(rd_with) - np.asarray(rd_without)))
    d_cost = float(np.sum(np.asarray(cost_with) - np.asarray(cost_without)))
    if abs(d_cost) < 1e-12:
        return float("nan")
    return d_rd / d_cost


def paired_ratio(with_results, without_results) -> tuple[float, float, float]:
    """Effectiveness ratio pooled over paired replications, with the added R&D and cost.

    Returns (ratio, additional real R&D, additional public cost), both in billion yuan
    summed over the policy years (2016–2020 by default) and averaged over replications.
    Pairs must share seeds.
    """
    if [r.seed for r in with_results] != [r.seed for r in without_results]:
        raise ValueError("paired runs must share seeds, in the same order")
    d_rd = np.mean([np.sum(a.indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS]
                           - b.indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS])
                    for a, b in zip(with_results, without_results)])
    d_cost = np.mean([np.sum(a.indicators["public_cost_bn_yuan"][POLICY_YEARS]
                             - b.indicators["public_cost_bn_yuan"][POLICY_YEARS])
                      for a, b in zip(with_results, without_results)])
    ratio = float(d_rd / d_cost) if abs(d_cost) > 1e-12 else float("nan")
    return ratio, float(d_rd), float(d_cost)


def net_budget_cost(result) -> np.ndarray:
    """Budget outlays minus corporate tax collected and audit recoveries, per policy year (bn yuan a year)."""
    ind = result.indicators
    return (ind["budget_outlays_bn_yuan"] - ind["tax_revenue_bn_yuan"] - ind["audit_recoveries_bn_yuan"])[POLICY_YEARS]


def paired_dynamic_ratio(with_results, without_results) -> tuple[float, float, float]:
    """Additional real R&D per yuan of additional *net budget cost* (outlays minus tax
    collected), pooled over paired replications: (ratio, additional real R&D, additional net
    cost), billion yuan summed over the policy years and averaged over replications."""
    if [r.seed for r in with_results] != [r.seed for r in without_results]:
        raise ValueError("paired runs must share seeds, in the same order")
    d_rd = np.mean([np.sum(a.indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS]
                           - b.indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS])
                    for a, b in zip(with_results, without_results)])
    d_cost = np.mean([np.sum(net_budget_cost(a) - net_budget_cost(b)) for a, b in zip(with_results, without_results)])
    ratio = float(d_rd / d_cost) if abs(d_cost) > 1e-12 else float("nan")
    return ratio, float(d_rd), float(d_cost)


def uncosted_levers(scenario, reference) -> list[str]:
    """Lever families a scenario changes against ``reference`` that have no modelled public
    cost (not in LEVER_COSTS): an effectiveness ratio of such a scenario credits their R&D
    to the costed levers' spending (issue 11 #8)."""
    import dataclasses
    out = []
    for fam in dataclasses.fields(scenario.levers):
        if fam.name in LEVER_COSTS:
            continue
        if getattr(scenario.levers, fam.name) != getattr(reference.levers, fam.name):
            out.append(fam.name)
    return out
