"""Rules of the 2008-2015 momentum: the mechanisms the training window calibrates.

China's innovation system moved fast under a roughly constant policy in 2008-2015
(SOURCES §6). Entry into R&D (:func:`entry_hazard`, with
``sim.agents.firms.rd_entry_probability``) and four more mechanisms carry that movement,
each a pure rule with its equation and source, its parameters declared in ``sim/data/parameters.toml`` (priors in ``sim/data/priors.toml``).
Every rate defaults to 0, which switches its mechanism off (the model before the training
window); the shipped posterior (``sim/data/posterior/``) sets them.

* :func:`entry_hazard` -- entry into R&D, faster as more of a firm's peers do R&D;
* :func:`upgrading_factor` -- upgrading and catch-up in desired R&D intensity;
* :func:`registration_step` -- deepening of the technology market through the tax
  treatment of registered technology contracts;
* :func:`internationalisation_step` -- internationalisation of patenting (PCT propensity);
* :func:`awareness_probability` -- certification spreading among small technology firms
  outside above-size industry.

None of them is a trend on an indicator: each moves a state (firms' desired intensity,
the registered share of contracts, the PCT propensity, firms' awareness of certification)
whose effect on the indicators passes through the model's other rules, and each slows
down as its gap closes (catch-up, diffusion), so a forecast from the 2015 state continues
the momentum that the 2015 gaps imply.
"""
from __future__ import annotations

import math

import numpy as np


def entry_hazard(rate: float, imitation: float, share: np.ndarray | float) -> np.ndarray | float:
    """Hazard (per year) that a firm without R&D starts R&D, given its segment's performer share.

    Equation (epidemic diffusion with an innovation and an imitation term, Bass 1969):

        lambda = lambda_0 + q * s

    with lambda_0 = ``rd_entry_rate``, q = ``rd_entry_imitation`` and s the weighted share
    of living firms of the firm's own segment (industrial or service) that do R&D. Firms
    start R&D both on their own (lambda_0) and by seeing peers do it: suppliers' and
    competitors' R&D, the public programmes that reach more firms as more take part, and
    a norm of R&D-performing enterprises (Mansfield 1961; Geroski 2000, "Models of
    technology diffusion"). With q = 0 the hazard is constant. Source: the training window
    (SOURCES §6): the share of above-size industrial firms doing R&D rose faster after
    2011 (11.5% -> 19.2%, about 0.023 a year in hazard) than over 2008-2011 (6.5% -> 11.5%
    across the 2011 change of population, about 0.018): a rising hazard as the share rose.
    """
    return rate + imitation * share


def upgrading_factor(intensity: float, frontier: float, rate: float, dt: float) -> float:
    """Factor by which performing industrial firms' desired R&D intensity grows in ``dt`` years.

    Equation (Gompertz catch-up of the aggregate intensity S toward a frontier S*):

        d ln s_i / dt = lambda * max(ln(S* / S), 0)    =>    factor = exp(lambda * max(ln(S*/S), 0) * dt)

    with S the real R&D intensity of above-size industry (R&D / main business revenue),
    S* = ``rd_frontier_intensity`` and lambda = ``rd_upgrading_rate``; above the frontier
    (or with lambda = 0) the factor is 1. The growth rate is proportional to the log gap, so
    upgrading is fastest far from the frontier and fades as it closes (conditional
    convergence of R&D intensity, Griffith, Redding & Van Reenen 2004; the catch-up logic of
    industrial upgrading policy: the 2006 Medium- and Long-Term S&T Plan and Made in China
    2025 (May 2015) set rising R&D-intensity goals for enterprises). Source of S*: advanced
    economies' manufacturing R&D / turnover about 2-3.5% around 2012 (assumption with a
    range, sim/data/parameters.toml).
    """
    if rate <= 0.0 or intensity <= 0.0 or intensity >= frontier:
        return 1.0
    return math.exp(rate * math.log(frontier / intensity) * dt)


def registration_step(share: float, rate: float, dt: float) -> float:
    """Registered share of technology-contract value after ``dt`` years.

    Equation (diffusion of registration, a constant hazard kappa for unregistered value):

        r(t + dt) = 1 - (1 - r(t)) * exp(-kappa * dt)

    kappa = ``contract_registration_rate``. Registration with a provincial technology-market
    office is the condition for the tax treatment of technology contracts in force since
    2008 and legislated to continue (SOURCES §6: income from technology transfer exempt up
    to 5 m yuan a year and taxed at half rate above; business tax, then VAT, exemption of
    transfer and development contracts, Caishui [2016] 36), so contracts traded before
    informally move onto the register; the registered turnover (T8) grows faster than the
    trade itself until the register covers it. The start year's share is an initial
    condition (``tech_contract_registered_share``).
    """
    if rate <= 0.0:
        return share
    return 1.0 - (1.0 - share) * math.exp(-rate * dt)


def internationalisation_step(multiplier: float, ratio0: float, frontier: float, rate: float, dt: float) -> float:
    """PCT-propensity multiplier after ``dt`` years (1 in the start year).

    Equation (Gompertz catch-up of PCT filings per unit of enterprise R&D, P = P0 * M,
    toward the frontier P*):

        d ln M / dt = mu * max(ln(P* / (P0 * M)), 0)

    with P0 the start year's PCT applications per billion yuan of enterprise R&D (initial
    state: 18.0 in 2008, 27.4 in 2015), P* = ``pct_frontier_per_bn_rd`` and
    mu = ``pct_internationalisation_rate``. Chinese firms filed far fewer international
    applications per yuan of R&D than firms of the economies they export to (2014-2015:
    Japan about 60, Korea about 50, Germany about 40 per bn yuan of business R&D; WIPO PCT
    yearly review, OECD MSTI: assumption with a range), and the gap narrowed as they
    internationalised; the multiplier scales every firm's PCT propensity.
    """
    p = ratio0 * multiplier
    if rate <= 0.0 or p <= 0.0 or p >= frontier:
        return multiplier
    return multiplier * math.exp(rate * math.log(frontier / p) * dt)


def awareness_probability(rate: float, dt: float) -> float:
    """Probability that a small technology firm outside above-size industry becomes aware of
    high-tech certification (and so considers applying and bunching) within ``dt`` years.

    Equation: P = 1 - exp(-a * dt), a constant hazard a = ``hightech_awareness_rate`` for
    service firms and start-ups with revenue up to 200 m yuan that are not yet aware.
    Source: SOURCES §2 and issue 9: certified firms rose to about 62,000 in 2014 (the 145
    national high-tech zones hosted over 25,000, said to be 40%) and 79,000 in 2015, while
    above-size industry's count of firms was stable; the growth was among small technology
    firms (software, services, start-ups in the zones) learning of the 2008 certification
    rules. The hazard is set by calibration.
    """
    return 1.0 - float(np.exp(-rate * dt))
