"""Hand-computed checks of the pure rule functions (sim/agents/*).

Every expected value below is worked out by hand from the equation in the docstring,
not by calling the function under test.
"""
import math

import numpy as np
import pytest

from sim.agents import firms as F
from sim.agents.academia import academic_sales, researcher_flows
from sim.agents.vc import exit_proceeds, guided_capital, screening_signal

approx = pytest.approx


# --- user cost ---------------------------------------------------------------------
def test_user_cost_half_deduction():
    # tau v = 0.25: (1 - 0.25*1.5) / (1 - 0.25) = 0.625 / 0.75
    assert F.user_cost(0.25, 0.5, 1.0) == approx(0.8333333, rel=1e-6)


def test_user_cost_75pct_deduction():
    # (1 - 0.25*1.75) / 0.75 = 0.5625 / 0.75 = 0.75
    assert F.user_cost(0.25, 0.75, 1.0) == approx(0.75, rel=1e-9)


def test_user_cost_loss_maker_half_value():
    # tau v = 0.125: (1 - 0.125*1.5) / 0.875 = 0.8125 / 0.875
    assert F.user_cost(0.25, 0.5, 0.5) == approx(0.9285714, rel=1e-6)
    # accelerated depreciation enters additively: (1 - 0.4375 - 0.25 * 0.2) / 0.75 = 0.68333;
    # the old multiplicative form gave 0.75 * (1 - 0.05) = 0.7125 (effect understated 1.78x)
    assert F.user_cost(0.25, 0.75, 1.0, 0.2) == approx(0.5125 / 0.75, rel=1e-9)


def test_user_cost_no_deduction_is_one_and_vectorised():
    uc = F.user_cost(np.array([0.25, 0.15]), np.array([0.0, 0.0]), np.array([1.0, 1.0]))
    assert uc == approx([1.0, 1.0])


# --- R&D decision ---------------------------------------------------------------------
def test_desired_rd_intensity():
    # 0.02 * (0.75/0.8333)^-1.1 * 1.1 = 0.02 * 0.9^-1.1 * 1.1
    expected = 0.02 * math.exp(1.1 * -math.log(0.9)) * 1.1
    assert expected == approx(0.0247034, rel=1e-4)
    assert F.desired_rd_intensity(0.02, 0.75, 0.75 / 0.9, 1.1, 0.1) == approx(expected, rel=1e-9)


def test_desired_rd_intensity_unchanged_at_2015_cost():
    assert F.desired_rd_intensity(0.03, 0.8, 0.8, 1.1) == approx(0.03)


def test_partial_adjustment():
    # 10 + 0.25 * (18 - 10) = 12
    assert F.partial_adjustment(10.0, 18.0, 0.25) == approx(12.0)
    assert F.partial_adjustment(10.0, 2.0, 0.5) == approx(6.0)


# --- relabelling and the notch ---------------------------------------------------------
def test_relabel_ratio_incentive():
    # v/v_ref = 0.1875/0.125 = 1.5; psi = 0.3 * 1.5^1 * 0.95/0.95 = 0.45
    assert F.relabel_ratio(np.array([0.1875]), 0.125, 0.3, 1.0, 0.05, 0.05) == approx([0.45])
    # elasticity 2: 0.3 * 2.25 = 0.675
    assert F.relabel_ratio(np.array([0.1875]), 0.125, 0.3, 2.0, 0.05, 0.05) == approx([0.675])


def test_relabel_ratio_zero_incentive_is_zero():
    assert F.relabel_ratio(np.array([0.0, 0.0]), 0.125, 0.3, 0.7, 0.05, 0.05) == approx([0.0, 0.0])


def test_relabel_ratio_audit_effect():
    # 0.3 * 1.5 * (1 - 0.5) / (1 - 0.05) = 0.2368421
    assert F.relabel_ratio(np.array([0.1875]), 0.125, 0.3, 1.0, 0.5, 0.05) == approx([0.2368421], rel=1e-6)
    # full audit: nothing relabelled
    assert F.relabel_ratio(np.array([0.1875]), 0.125, 0.3, 1.0, 1.0, 0.05) == approx([0.0])


def test_certification_threshold_band_edges():
    rev = np.array([10.0, 49.99, 50.0, 200.0, 200.01, 5000.0])
    thr = F.certification_threshold(rev, 0.06, 0.04, 0.03, 50.0, 200.0)
    assert thr == approx([0.06, 0.06, 0.04, 0.04, 0.03, 0.03])


def test_notch_gain():
    # (0.25 - 0.15) * max(profit - d R, 0); no deduction: the whole profit
    assert F.notch_gain(np.array([100.0, -10.0]), 0.0, 0.0, 0.25, 0.15) == approx([10.0, 0.0])
    assert F.notch_gain(np.array([100.0, 20.0]), 40.0, 0.75, 0.25, 0.15) == approx([7.0, 0.0])


def test_notch_cost():
    # real: 10 * 0.6 * (1 - 0.15*1.75) = 4.425; caught: + 0.05 * 2 * 8 = 0.8
    assert F.notch_cost(10.0, 0.4, 0.15, 0.75, 0.05, 2.0, 8.0, True) == approx(5.225)
    # nothing relabelled, real R&D at the threshold (not caught): 10 * (1 - 0.15*1.5) = 7.75
    assert F.notch_cost(10.0, 0.0, 0.15, 0.5, 0.05, 2.0, 8.0, False) == approx(7.75)
    assert F.notch_cost(0.0, 0.4, 0.15, 0.75, 0.05, 2.0, 8.0, False) == approx(0.0)


# --- innovation and knowledge ----------------------------------------------------------
def test_innovation_probability():
    # 1 - exp(-0.2 * 2 * 0.25) = 1 - exp(-0.1)
    assert F.innovation_probability(2.0, 0.2) == approx(0.0951626, rel=1e-6)
    assert F.innovation_probability(2.0, 0.2, dt=1.0) == approx(1 - math.exp(-0.4))
    assert F.innovation_probability(np.array([-3.0, 0.0]), 0.2) == approx([0.0, 0.0])


def test_innovation_step_never_below_one():
    u = np.array([0.0, 0.2, 0.5, 1.0])
    # low=-0.1, high=0.2: 1 + (-0.1 + 0.3u) -> 0.9, 0.96, 1.05, 1.2; floor at 1
    assert F.innovation_step(u, -0.1, 0.2) == approx([1.0, 1.0, 1.05, 1.2])
    assert np.all(F.innovation_step(np.linspace(0, 1, 101), -0.5, 0.1) >= 1.0)


def test_imitation_level():
    # 1 + 0.3 * (1.5 - 1) = 1.15; above the frontier: unchanged
    assert F.imitation_level(np.array([1.0, 2.0]), 1.5, 0.3) == approx([1.15, 2.0])


def test_knowledge_update():
    # (1 - 0.15*0.25) * 100 + 20*0.25 = 96.25 + 5
    assert F.knowledge_update(100.0, 20.0, 0.15) == approx(101.25)
    assert F.knowledge_update(100.0, 20.0, 0.15, dt=1.0) == approx(105.0)


def test_productivity_doubling_knowledge():
    # B = 0: 2^0.124 = 1.0897
    assert F.productivity(1.0, 200.0, 100.0, 0.0, 0.124) == approx(1.0897, abs=5e-4)
    # with B = 100: (300/200)^0.124 = 1.0516; tech level multiplies
    assert F.productivity(2.0, 200.0, 100.0, 100.0, 0.124) == approx(2.0 * 1.5 ** 0.124)
    # no R&D but a base: unchanged knowledge keeps productivity = tech level
    assert F.productivity(1.3, 0.0, 0.0, 5.0, 0.124) == approx(1.3)


def test_revenue_growth():
    # 100 * (1 + 0.1*0.25) * 1.1^0.5 = 102.5 * 1.0488088
    assert F.revenue_growth(100.0, 1.1, 0.08, 0.5, 0.0, 0.02) == approx(107.50290, rel=1e-6)
    # shock log(1.1) multiplies by 1.1; no growth, ratio 1
    assert F.revenue_growth(100.0, 1.0, 0.0, 0.5, math.log(1.1)) == approx(110.0)


# --- taxes ----------------------------------------------------------------------------
def _cf(*losses):
    """A one-firm carry-forward with the given losses, oldest first (columns end at the current year)."""
    cf = np.zeros((1, F.CF_YEARS + 1))
    cf[0, :len(losses)] = losses
    return cf


def test_corporate_tax_uses_loss_carry_forward():
    # taxable = 100 - 0.5*40 = 80 a year, 20 this quarter; uses all 5 of losses;
    # tax = 0.25 * (20 - 5) / 0.25 = 15 a year
    tax, taxable, cf = F.corporate_tax(100.0, 40.0, 0.5, 0.25, _cf(5.0))
    assert (tax[0], taxable[0], cf.sum()) == approx((15.0, 80.0, 0.0))


def test_corporate_tax_partial_use_of_losses_oldest_first():
    # 20 of quarterly income uses 12 (oldest) then 8 of 30: left 0, 22
    tax, taxable, cf = F.corporate_tax(100.0, 40.0, 0.5, 0.25, _cf(12.0, 30.0))
    assert tax[0] == 0.0 and taxable[0] == 80.0
    assert cf[0, :3].tolist() == approx([0.0, 22.0, 0.0])


def test_corporate_tax_creates_a_quarter_of_the_annual_loss():
    # taxable = 10 - 0.5*40 = -10 a year: the quarter's loss is 2.5 (not 10), added to the
    # current year's column
    tax, taxable, cf = F.corporate_tax(10.0, 40.0, 0.5, 0.25, _cf(5.0))
    assert (tax[0], taxable[0]) == approx((0.0, -10.0))
    assert cf[0].tolist() == approx([5.0, 0, 0, 0, 0, 2.5])


def test_corporate_tax_losses_expire_after_five_years():
    """A loss of year t offsets income of years t..t+5 and then expires: a firm with a
    loss of 4 in 2016 Q1 and no income after it still holds it in the last quarter of
    2021 and loses it at that year end."""
    cf = np.zeros((1, F.CF_YEARS + 1))
    _, _, cf = F.corporate_tax(-16.0, 0.0, 0.0, 0.25, cf)  # 2016 Q1: loss 4
    quarter = 1
    for year in range(2016, 2022):
        while quarter < 4 * (year - 2015):
            quarter += 1
            _, _, cf = F.corporate_tax(0.0, 0.0, 0.0, 0.25, cf, year_end=quarter % 4 == 0)
            if quarter == 24:
                assert cf.sum() == 0.0
            elif quarter in (4, 23):
                assert cf.sum() == 4.0
    # with income, the expired loss no longer shields it
    tax, _, _ = F.corporate_tax(16.0, 0.0, 0.0, 0.25, cf)
    assert tax[0] == 4.0


def test_tech_sales():
    # 2 * 16^0.5 = 8; a negative stock sells nothing
    assert F.tech_sales(np.array([16.0, -4.0]), 2.0, 0.5) == approx([8.0, 0.0])


# --- academia -------------------------------------------------------------------------
def test_academic_sales():
    # 50 * 1.2 * (0.75/0.5)^1 * 1.2 = 108
    assert academic_sales(120.0, 100.0, 50.0, 0.75, 0.5, 1.0, 1.2) == approx(108.0)
    # elasticity 0: the share does not matter
    assert academic_sales(120.0, 100.0, 50.0, 0.75, 0.5, 0.0, 1.2) == approx(72.0)


def test_researcher_flows():
    # to firms: 0.02*1.5*1000*0.25 = 7.5; retiring 0.03*1000*0.25 = 7.5; entering 0.05*1000*0.25 = 12.5
    assert researcher_flows(1000.0, 0.02, 1.5, 0.03, 0.05) == approx((7.5, 7.5, 12.5))
    assert researcher_flows(1000.0, 0.02, 0.0, 0.03, 0.05)[0] == 0.0


# --- venture capital ------------------------------------------------------------------
def test_guided_capital_and_cap():
    assert guided_capital(1000.0, 4.0, 0.43, 0.0) == approx(1720.0)
    # 0.43 * 1.5 = 0.645 -> 2580
    assert guided_capital(1000.0, 4.0, 0.43, 0.5) == approx(2580.0)
    # 0.43 * 2.5 = 1.075 capped at 1 -> 4000
    assert guided_capital(1000.0, 4.0, 0.43, 1.5) == approx(4000.0)


def test_exit_proceeds_formula():
    # 10 * 3 * exp(1 * 1) = 30 * e
    assert exit_proceeds(10.0, 3.0, 1.0) == approx(30.0 * math.e)
    # sigma 0: deterministic multiple
    assert exit_proceeds(10.0, 3.0, 2.0, sigma=0.0) == approx(30.0)


def test_exit_proceeds_median_is_the_median_multiple():
    # z = 0 is the median draw of a standard normal, so the median exit returns I * M
    assert exit_proceeds(10.0, 8.0, 0.0) == approx(80.0)


def test_exit_proceeds_mean_multiple():
    z = np.random.default_rng(0).standard_normal(400_000)
    # E[exp(z)] = e^0.5, so the mean multiple is M e^0.5 (tolerance: 4 standard errors,
    # sd of exp(z) = sqrt(e^2 - e) ~ 2.16)
    assert exit_proceeds(1.0, 8.0, z).mean() == approx(8.0 * math.exp(0.5), abs=4 * 8 * 2.16 / math.sqrt(len(z)))


def test_screening_signal():
    assert screening_signal(1.0, 0.5, 2.0) == approx(2.0)
    assert screening_signal(np.array([0.0, -1.0]), 0.0, np.array([5.0, 5.0])) == approx([0.0, -1.0])
