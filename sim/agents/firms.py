"""Firms: above-size industrial enterprises, high-tech service firms and tech start-ups.

State lives in :class:`FirmState`, one numpy array per variable (one row per agent; a row
stands for ``weight`` real firms). Rules are pure functions of arrays with their equation
and source; the model writes their results into the state. :class:`FirmAgent` is the Mesa
agent: a view of one row, for identity, selection and inspection.

Money is in million yuan; flows (revenue, R&D, profit) are annual rates.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.agents import RowAgent

INDUSTRIAL, SERVICE, STARTUP = 0, 1, 2
SEGMENTS = ("industrial", "service", "startup")
STATE, PRIVATE, FOREIGN = 0, 1, 2
OWNERSHIPS = ("state", "private", "foreign")
N_SECTORS = 10

# designation bits
PILOT, LEADING, CENTRE, ALLIANCE, CLUSTER = 1, 2, 4, 8, 16
DESIGNATIONS = {"pilot": PILOT, "leading": LEADING, "centre": CENTRE, "alliance": ALLIANCE, "cluster": CLUSTER}


@dataclass
class FirmState:
    """Arrays of firm state; every array has one entry per agent row."""

    weight: np.ndarray            # real firms per row
    alive: np.ndarray             # bool
    segment: np.ndarray           # INDUSTRIAL / SERVICE / STARTUP
    sector: np.ndarray            # 0..N_SECTORS-1 (technological proximity)
    ownership: np.ndarray         # STATE / PRIVATE / FOREIGN
    age: np.ndarray               # years
    revenue: np.ndarray           # million yuan per year
    employees: np.ndarray         # persons
    margin: np.ndarray            # profit / revenue
    rd_staff: np.ndarray          # R&D FTE
    rd_base: np.ndarray           # desired real R&D intensity at 2015 user cost
    rd_real: np.ndarray           # million yuan per year, real R&D (includes rd_topup)
    rd_topup: np.ndarray          # million yuan per year, real R&D added at once to reach a threshold
    rd_intensity: np.ndarray      # real R&D intensity of the smoothly adjusted part (without the top-up)
    relabel: np.ndarray           # million yuan per year, other costs reported as R&D
    knowledge: np.ndarray         # million yuan, knowledge stock
    knowledge0: np.ndarray        # million yuan, knowledge stock at entry or 2015 (productivity reference)
    knowledge_base: np.ndarray    # million yuan, knowledge embodied in any going concern (1% of first revenue)
    tech_level: np.ndarray        # productivity index from innovation/imitation (2015 = 1)
    productivity: np.ndarray      # tech_level * (knowledge/knowledge0)^beta
    absorptive: np.ndarray        # absorptive-capacity bonus from academic researchers
    cash: np.ndarray              # million yuan
    loss_cf: np.ndarray           # (n, 4, CF_YEARS + 1) million yuan of losses carried forward by year of
                                  # origin, oldest first; [:, 0] actual, [:, 1:] counterfactual tax worlds
    claims: np.ndarray            # bool: claims the super-deduction
    core_ip: np.ndarray           # bool: holds core IP other than invention patents
    patents: np.ndarray           # valid invention patents per real firm
    pct_propensity: np.ndarray    # multiplier of the PCT rule (1; set where a firm's filings are published)
    hightech: np.ndarray          # bool: certified
    ht_expiry: np.ndarray         # quarter index when the certificate lapses
    buncher: np.ndarray           # bool: reports at a threshold because of the notch
    notch_margin: np.ndarray      # persistent landing point above the threshold
    ht_aware: np.ndarray          # bool: considers certification (bunches, applies)
    designations: np.ndarray      # bitmask of DESIGNATIONS
    vc_backed: np.ndarray         # bool
    vc_invested: np.ndarray       # million yuan invested by VC (cost basis)
    vc_fund: np.ndarray           # index of the lead fund, -1 none
    vc_milestone: np.ndarray      # productivity at the last round (staged financing)
    quality: np.ndarray           # latent start-up quality (standard normal)
    cluster_id: np.ndarray        # -1 or cluster number
    voucher_rd: np.ndarray        # bool: performs R&D because an innovation voucher started it

    @property
    def n(self) -> int:
        return len(self.weight)

    def append(self, *others: "FirmState") -> None:
        """Add rows (births) at the end; existing rows keep their index."""
        for name in _FIELD_NAMES:
            setattr(self, name, np.concatenate([getattr(self, name), *(getattr(o, name) for o in others)]))

    def rows(self, sl: slice) -> "FirmState":
        """A FirmState of views on the rows ``sl`` (no copies)."""
        return FirmState(**{name: getattr(self, name)[sl] for name in _FIELD_NAMES})

    def check(self) -> None:
        """Raise if a stock is negative or not finite (used by tests and debug runs)."""
        for name in ("revenue", "rd_real", "relabel", "knowledge", "patents", "rd_staff", "cash",
                     "loss_cf", "vc_invested", "employees", "weight"):
            a = getattr(self, name)
            if not np.all(np.isfinite(a)) or np.any(a < 0):
                raise AssertionError(f"firm state {name} has negative or non-finite entries")


_FIELD_NAMES = tuple(f.name for f in fields(FirmState))


# ----------------------------------------------------------------------------------------
# Rules (pure functions)
# ----------------------------------------------------------------------------------------

def above_size(f: "FirmState", cutoff: float) -> np.ndarray:
    """The NBS above-size industrial universe of the moment (T5's population): alive
    industrial firms with main business revenue ``Y >= cutoff`` (20 m yuan since 2011). NBS
    redraws it every year, so firms enter by growing past the cut-off and leave by exit
    or by falling below it."""
    return f.alive & (f.segment == INDUSTRIAL) & (f.revenue >= cutoff)


def user_cost(tax_rate, deduction, deduction_value, depreciation_gain=0.0):
    """User cost of one yuan of current R&D relative to output, after tax.

    ``UC = (1 - tau v (1 + d) - tau v s pv) / (1 - tau v)``

    with corporate tax rate ``tau``, extra deduction ``d``, ``v`` the value of a yuan of
    deduction now (1 in a tax-paying position, ``loss_deduction_value`` otherwise), and
    ``s pv = depreciation_gain`` the accelerated-depreciation gain per yuan of R&D
    (equipment share times the present-value gain of faster write-off), which enters
    additively like the deduction. Expensed R&D under a pure profit tax has UC = 1.
    Source: Hall & Jorgenson user cost for expensed R&D (Bloom, Griffith & Van Reenen
    2002); SOURCES §3 for the deduction rule.
    """
    tv = np.asarray(tax_rate) * np.asarray(deduction_value)
    return (1.0 - tv * (1.0 + np.asarray(deduction)) - tv * np.asarray(depreciation_gain)) / (1.0 - tv)


def desired_rd_intensity(base_intensity, uc, uc_2015, elasticity, support=0.0):
    """Desired real R&D intensity: ``s* = s0 * (UC / UC_2015)^(-eps) * (1 + support)``.

    ``s0`` is the firm's 2015 intensity (the 2015 state is a steady state under 2015
    policy), ``eps`` the real-R&D user-cost elasticity (SOURCES §4: about 1.1), ``support``
    any programme or assessment boost.
    """
    return base_intensity * (uc / uc_2015) ** (-elasticity) * (1.0 + support)


def partial_adjustment(current, desired, speed):
    """``x' = x + lambda (x* - x)`` per quarter (SOURCES §4: short- vs long-run elasticity).

    The model adjusts the R&D *intensity* (x = R/Y), so with revenue growing at g a quarter
    R&D settles at its desired intensity s*; adjusting the level instead would settle at
    ``lambda / (lambda + g)`` of it (issue 11 #4)."""
    return current + speed * (desired - current)


def margin_update(margin, mean, reversion, stationary_sd, z):
    """Profit margin per quarter: ``m' = m + k (mu - m) + sd * sqrt(1 - (1 - k)^2) * z``, an
    AR(1) whose stationary standard deviation is ``stationary_sd``: the dispersion of the
    2015 set-up (mean 5.9%, 12% loss-makers), so the share of loss-makers does not drift
    for reasons unrelated to policy (issue 11 #5)."""
    return margin + reversion * (mean - margin) + stationary_sd * np.sqrt(1.0 - (1.0 - reversion) ** 2) * z


def financed_rd(cash, burn_rate, rd_share):
    """R&D a start-up finances from its cash: ``R = b * s * C`` per year (it spends the share
    b of its cash a year, the share s of spending on R&D). Venture rounds and linked loans
    raise C; unbacked start-ups run their cash down."""
    return burn_rate * rd_share * cash


def notch_topup(gap, relabel_fraction):
    """Real R&D a bunching firm adds at once: ``(1 - phi) * gap``. Crossing a threshold is
    a discrete budget decision shown in the year's accounts, so it is not smoothed by
    partial adjustment; the rest of the gap is relabelled (Chen et al., SOURCES §4)."""
    return (1.0 - relabel_fraction) * gap


def relabel_ratio(tax_saving, tax_saving_ref, psi0, elasticity, audit, audit_ref):
    """Background relabelled cost per yuan of real R&D, away from the notch.

    ``psi = psi0 * (v / v_ref)^eta * (1 - a) / (1 - a_ref)``, where ``v`` is the extra tax
    saved per reported yuan through the super-deduction (``tau * value * d``; ordinary
    expensing saves the same on relabelled and real costs), ``a`` the audit intensity, and
    ``psi0`` (``relabel_background``) the ratio at the 2015 incentive, an assumption: the
    evidence locates relabelling at the certification notch (Chen et al., SOURCES §4), where
    bunching firms relabel a share phi of their gap (``notch_topup``). Firms with no tax
    saving relabel nothing.
    """
    v = np.asarray(tax_saving, dtype=float)
    ratio = np.where(v > 0, v / np.where(tax_saving_ref > 0, tax_saving_ref, 1.0), 0.0)
    return psi0 * ratio ** elasticity * (1.0 - audit) / (1.0 - audit_ref)


def certification_threshold(revenue, small, medium, large, band_small, band_large):
    """Reported-R&D-intensity test of high-tech certification by revenue band (SOURCES §3).

    revenue < band_small: ``small``; band_small..band_large: ``medium``; above: ``large``.
    """
    return np.where(revenue < band_small, small, np.where(revenue <= band_large, medium, large))


def notch_gain(profit, reported_rd, deduction, std_rate, ht_rate):
    """Yearly tax saved by certification for a firm reporting ``reported_rd``:
    ``(tau_std - tau_ht) * max(profit - d * R, 0)``. The super-deduction shrinks the base
    the lower rate applies to, so a higher deduction lowers the notch's value."""
    return (std_rate - ht_rate) * np.maximum(np.asarray(profit) - np.asarray(deduction) * np.asarray(reported_rd), 0.0)


def certification_wait_factor(validity_years, apply_rate, dt=0.25):
    """Share of a certification cycle an uncertified firm that starts bunching holds the
    certificate: ``V / (V + dt / h)``, with V the validity (years) and ``dt / h`` the expected
    wait (years) when it applies with probability h per quarter. Certified firms: 1.
    A firm that never applies (h = 0) never holds the certificate: 0."""
    if apply_rate <= 0.0:
        return 0.0
    return validity_years / (validity_years + dt / apply_rate)


def notch_cost(gap, relabel_fraction, ht_rate, deduction, audit, penalty, tax_saved, caught):
    """Yearly cost of closing a reported-R&D ``gap`` to reach the threshold.

    ``C = gap (1 - phi)(1 - tau_ht (1 + d)) + a * penalty * S * caught``: the real part
    costs its after-tax price; a firm whose real R&D stays below the threshold (``caught``)
    is found by an audit (probability ``a`` a year) and repays ``penalty`` times the tax the
    certificate saved, ``S`` (back taxes and fine; the same amount ``report_rd`` books).
    Chen et al. (SOURCES §4)."""
    real_cost = gap * (1.0 - relabel_fraction) * (1.0 - ht_rate * (1.0 + deduction))
    return real_cost + audit * penalty * tax_saved * caught


def innovation_probability(effort, zeta, dt=0.25):
    """``P = 1 - exp(-zeta * effort * dt)`` per step of ``dt`` years (Dosi, Fagiolo &
    Roventini 2010; SOURCES §4). ``effort`` is real R&D intensity in percent, scaled by
    absorptive capacity and programme support."""
    return 1.0 - np.exp(-zeta * np.maximum(effort, 0.0) * dt)


def innovation_step(u_beta, low, high):
    """Productivity draw ``x = low + (high - low) * B`` with ``B ~ Beta(a, a)``; a firm
    adopts only improvements, so the multiplier is ``max(1, 1 + x)`` (Dosi et al. 2010)."""
    return np.maximum(1.0, 1.0 + low + (high - low) * u_beta)


def imitation_level(level, frontier, catch_up):
    """After successful imitation: ``A' = A + c * max(F - A, 0)`` (closes part of the gap
    to the sector frontier, technologically close firms first)."""
    return level + catch_up * np.maximum(frontier - level, 0.0)


def knowledge_update(stock, rd_real, depreciation, dt=0.25):
    """Perpetual inventory: ``K' = (1 - delta dt) K + R dt`` (Griliches; delta = 15%/yr)."""
    return (1.0 - depreciation * dt) * stock + rd_real * dt


def productivity(tech_level, knowledge, knowledge0, base, beta):
    """``phi = A * ((K + B) / (K_0 + B))^beta`` with beta from 'doubling R&D raises
    productivity about 9%' (Chen et al., SOURCES §4); ``B`` is the knowledge any going
    concern embodies, so firms without R&D keep their productivity."""
    return tech_level * ((knowledge + base) / (knowledge0 + base)) ** beta


def relative_productivity(prod_ratio, revenue_weight, sector, n_sectors=N_SECTORS):
    """Productivity growth relative to the firm's sector: ``r_i = g_i / sum_s(w Y g) / sum_s(w Y)``
    with ``g`` this quarter's productivity ratio and ``w Y`` the revenue weights of the
    sector's live firms. Demand is a market: a firm gains revenue from productivity only
    at its competitors' expense (replicator dynamics, as the market shares of Dosi,
    Fagiolo & Roventini's Keynes+Schumpeter model), so innovation shifts revenue among
    firms instead of raising the sector's revenue one for one (issue 11 #6)."""
    num = np.bincount(sector, revenue_weight * prod_ratio, n_sectors)
    den = np.bincount(sector, revenue_weight, n_sectors)
    mean = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
    return prod_ratio / mean[sector]


def revenue_growth(revenue, prod_ratio, nominal_growth, elasticity, shock, extra_growth=0.0, dt=0.25):
    """``Y' = Y * (1 + (g + extra) dt) * (phi'/phi)^sigma * exp(shock)``."""
    effect = prod_ratio if elasticity == 1.0 else prod_ratio ** elasticity
    return revenue * (1.0 + (nominal_growth + extra_growth) * dt) * effect * np.exp(shock)


CF_YEARS = 5  # years a loss may be carried forward (EIT Law art. 18)


def losses_held(loss_cf):
    """Losses carried forward summed over vintages (million yuan), ``sum_j loss_cf[..., j]``.

    Column by column, oldest first: numpy's reductions along a short last axis are slow,
    and this is the same sequential sum that :func:`corporate_tax` accumulates."""
    cf = np.asarray(loss_cf, float)
    held = cf[..., 0]
    for j in range(1, cf.shape[-1]):
        held = held + cf[..., j]
    return held


def corporate_tax(profit, reported_rd, deduction, tax_rate, loss_cf, dt=0.25, year_end=False):
    """Annual-rate tax of one quarter and the new loss carry-forward (oldest loss first).

    ``taxable = profit - d * reported R&D`` (annual rate); the quarter's taxable income
    ``q = taxable * dt`` first absorbs losses carried forward, oldest first; tax =
    ``tau * max(q - used, 0) / dt`` (annual rate). ``loss_cf`` holds the losses (million
    yuan, a stock) by year of origin, shape (..., CF_YEARS + 1): column 0 the oldest, the
    last column the current year, to which a quarter's loss ``max(-q, 0)`` is added. At
    the year end the columns shift and the oldest expire, so a loss of year t offsets
    income of year t and the five years after it. Returns (tax, taxable, loss_cf').
    SOURCES §3; EIT Law art. 18.
    """
    cf = np.asarray(loss_cf, float)
    shape = cf.shape
    k = shape[-1]
    cf = cf.reshape(-1, k)
    taxable = np.broadcast_to(np.asarray(profit, float) - np.asarray(deduction) * np.asarray(reported_rd),
                              shape[:-1]).reshape(-1)
    q = taxable * dt
    used = np.zeros(len(q))
    new_cf = cf.copy()
    # only rows holding losses need the vintages. Column by column: numpy's reductions and
    # cumsum along a short last axis are slow; the sums are the same sequential sums.
    held = cf[:, 0] != 0
    for j in range(1, k):
        held |= cf[:, j] != 0
    rows = np.flatnonzero(held)
    if len(rows):
        sub = cf.take(rows, axis=0)
        cum = [sub[:, 0]]  # cumulative losses, oldest first
        for j in range(1, k):
            cum.append(cum[-1] + sub[:, j])
        u = np.minimum(cum[-1], np.maximum(q[rows], 0.0))
        used[rows] = u
        left = [np.maximum(c - u, 0.0) for c in cum]  # FIFO: the oldest losses are used first
        sub[:, 0] = left[0]
        for j in range(1, k):
            np.subtract(left[j], left[j - 1], out=sub[:, j])
        new_cf[rows] = sub
    new_cf[:, -1] += np.maximum(-q, 0.0)
    if year_end:  # (into a new array: an overlapping in-place shift copies twice)
        shifted = np.empty_like(new_cf)
        shifted[:, :-1] = new_cf[:, 1:]
        shifted[:, -1] = 0.0
        new_cf = shifted
    tax = np.asarray(tax_rate) * np.maximum(q - used, 0.0).reshape(shape[:-1]) / dt
    return tax, taxable.reshape(shape[:-1]), new_cf.reshape(shape)


#: The four tax worlds of ``tax_worlds``: (deduction on, high-tech rate on).
TAX_WORLDS = ("both", "no_deduction", "standard_rate", "neither")


def tax_worlds(profit, reported_rd, deduction, tax_rate_std, tax_rate_ht, hightech, loss_cf, dt=0.25,
               year_end=False):
    """Tax of each firm in the actual world and the counterfactual worlds without the
    super-deduction, without the high-tech rate, and without both, each with its own
    loss carry-forward, so losses a lever creates are costed when they are used.

    ``loss_cf`` has shape (n, 4, CF_YEARS + 1), worlds in TAX_WORLDS order (world 0 is the
    actual carry-forward). Returns (taxes of shape (4, n), loss_cf'). Static costing: profit
    and reported R&D are the actual ones in every world.
    """
    rate = np.where(hightech, tax_rate_ht, tax_rate_std)
    d = np.asarray(deduction, float) * np.ones_like(rate)
    ds = np.stack([d, 0.0 * d, d, 0.0 * d], axis=1)
    taus = np.stack([rate, rate, np.full_like(rate, tax_rate_std), np.full_like(rate, tax_rate_std)], axis=1)
    tax, _, cf = corporate_tax(np.asarray(profit)[:, None], np.asarray(reported_rd)[:, None], ds, taus, loss_cf,
                               dt, year_end)
    return tax.T, cf


def shapley_tax_expenditures(t_both, t_no_ded, t_std, t_neither):
    """Split the joint tax expenditure ``T(neither) - T(both)`` of the super-deduction (D)
    and the high-tech rate (H) by the Shapley rule (average over the two orders):

    ``E_D = [(T(no D) - T(both)) + (T(neither) - T(no H))] / 2``
    ``E_H = [(T(no H) - T(both)) + (T(neither) - T(no D))] / 2``

    so ``E_D + E_H = T(neither) - T(both)``, interaction (tau_std - tau_ht) d R included
    and shared equally. Returns (E_D, E_H)."""
    e_d = 0.5 * ((t_no_ded - t_both) + (t_neither - t_std))
    e_h = 0.5 * ((t_std - t_both) + (t_neither - t_no_ded))
    return e_d, e_h


def tech_sales(knowledge, chi, elasticity):
    """Technology-contract sales per year of an enterprise *seller*: ``S = chi * K^eta``.

    T8 is registered by contract and reported by seller (SOURCES §7), and its 2015 split
    by seller (enterprises ``1 - academic_seller_share``) is calibrated on sellers, so an
    enterprise's sales grow with what it has to sell, its own knowledge stock ``K``, not with
    its purchases or its own R&D spending."""
    return chi * np.maximum(knowledge, 0.0) ** elasticity


class FirmAgent(RowAgent):
    """Mesa view of one firm row: attribute reads go to the model's arrays."""

    state = "firms"

    @property
    def reported_rd(self) -> float:
        return float(self.model.firms.rd_real[self.row] + self.model.firms.relabel[self.row])

    @property
    def segment_name(self) -> str:
        return SEGMENTS[int(self.model.firms.segment[self.row])]

    def __repr__(self) -> str:
        f = self.model.firms
        return (f"FirmAgent(row={self.row}, {self.segment_name}, revenue={f.revenue[self.row]:.1f}m, "
                f"rd_real={f.rd_real[self.row]:.2f}m, hightech={bool(f.hightech[self.row])}, "
                f"weight={f.weight[self.row]:.1f})")


def rd_stop_probability(rate: float, dt: float) -> float:
    """Probability that a firm whose R&D a voucher started stops within ``dt`` years:
    ``P = 1 - exp(-mu * dt)``, a constant hazard mu (``voucher_rd_stop_rate``; SOURCES §4,
    R&D persistence: first-time performers whose first project sank little often stop)."""
    return 1.0 - float(np.exp(-rate * dt))


def rd_entry_probability(rate, dt: float):
    """Probability that a firm without R&D starts R&D within ``dt`` years.

    Equation: P = 1 - exp(-lambda * dt), an adoption hazard lambda held over the step
    (``sim.agents.momentum.entry_hazard``: ``rd_entry_rate`` plus imitation of the firm's
    segment). Source: the training window (SOURCES §6): the share of above-size industrial
    firms doing R&D rose from 6.5% to 19.2% over 2008-2015, about lambda = ln(0.935 / 0.808)
    / 7 = 0.021 a year on average if no performer stops; set by calibration.
    """
    return 1.0 - np.exp(-np.asarray(rate, dtype=float) * dt)
