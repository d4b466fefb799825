"""Lead-in: from the start year's annual flows to its year-end rates (run once at set-up).

The start-year state is calibrated to the start year's *annual* flows (revenue, R&D,
contract turnover, PCT filings of the year), and the start year is recorded at those
values. But the model's flows are annual *rates* read at the end of each quarter, and a
simulated year's flow is the mean of its four end-of-quarter rates, so by the model's own
convention an annual flow is the rate at about 5/8 of its year
(mean of (1 + g)^(k/4), k = 1..4, is (1 + g)^(5/8) to first order). A state holding the
annual flows as its end-of-year rates therefore sits 3/8 of a year behind, and the first
simulated year shows only 5/8 of a year's growth over the start year (the "first-year
stall" of ODD §12: national R&D +4.2% in 2016 against the window's +8 to +17% a year).

:func:`lead_in` advances the state by those 3/8 of a year with the model's own smooth
dynamics, after the start year has been recorded and before the first quarter:

* nominal demand growth g of the first simulated year (``Scenario.nominal_growth``):
  revenue Y <- Y (1 + g)^(3/8), employees <- employees (1 + g)^(3/16) (as in
  ``grow_revenue``: L moves with sqrt(Y)); research organisations' R&D appropriations
  rd <- rd (1 + 3/8 g_pub) with g_pub the year's ``Scenario.public_rd_growth`` (g unless a
  window observes it; as in ``trade_technology``);
* upgrading of desired R&D intensity (:func:`sim.agents.momentum.upgrading_factor` with
  dt = 3/8) on ``rd_base`` and the smoothly adjusted intensity of performing above-size
  industrial firms; real R&D = intensity x revenue + top-up (the top-up and relabelled
  costs move with revenue);
* the registered share of contract value (:func:`sim.agents.momentum.registration_step`)
  and the PCT-propensity multiplier (:func:`sim.agents.momentum.internationalisation_step`),
  each advanced by dt = 3/8.

Stocks (knowledge, patents, cash, certificates, fund capital) are year-end values
already and are not touched; stochastic events (entry into R&D, awareness, births) are
not advanced (they start in the first quarter). The references the rules compare against
(``Reference``: start-year R&D, sales, registered share, PCT per R&D) stay at the start
year's annual values, so the first quarter's ratios carry the lead-in's growth.
"""
from __future__ import annotations

import numpy as np

from sim.agents.momentum import internationalisation_step, registration_step, upgrading_factor
from sim.phases.rd_tax import upgrading_rows

LEAD_IN_YEARS = 3.0 / 8.0
"""Years from the centre of the start year's annual flow (5/8 of the year, by the model's
end-of-quarter convention) to the end of the start year."""


def lead_in_factors(growth: float, intensity: float, frontier: float, upgrading_rate: float,
                    years: float = LEAD_IN_YEARS) -> tuple[float, float]:
    """(revenue factor, intensity factor) of the lead-in.

    revenue factor = (1 + g)^years; intensity factor = ``upgrading_factor(S, S*, lambda, years)``
    = exp(lambda max(ln(S*/S), 0) years) (1 when lambda = 0 or S >= S*).
    """
    return (1.0 + growth) ** years, upgrading_factor(intensity, frontier, upgrading_rate, years)


def lead_in(m) -> None:
    """Advance the start state by :data:`LEAD_IN_YEARS` (module docstring)."""
    f, o, p = m.firms, m.orgs, m.p
    g = m.scenario.nominal_growth(m.start_year + 1)
    up, s = upgrading_rows(f)  # the rows and industry intensity of upgrade_rd
    k_rev, k_int = lead_in_factors(g, s, p.rd_frontier_intensity, p.rd_upgrading_rate)
    f.rd_base = np.where(up, f.rd_base * k_int, f.rd_base)
    f.rd_intensity = np.where(up, f.rd_intensity * k_int, f.rd_intensity)
    f.revenue = f.revenue * k_rev
    f.employees = f.employees * np.sqrt(k_rev)
    f.rd_topup = f.rd_topup * k_rev
    f.relabel = f.relabel * k_rev
    f.rd_real = np.where(f.alive, f.rd_intensity * f.revenue + f.rd_topup, 0.0)
    o.rd = o.rd * (1.0 + m.scenario.public_rd_growth(m.start_year + 1) * LEAD_IN_YEARS)
    m.momentum.registered = registration_step(m.momentum.registered, p.contract_registration_rate, LEAD_IN_YEARS)
    m.momentum.pct = internationalisation_step(m.momentum.pct, m.ref.pct_per_rd0, p.pct_frontier_per_bn_rd,
                                               p.pct_internationalisation_rate, LEAD_IN_YEARS)
