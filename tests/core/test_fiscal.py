"""Fiscal accounts and the effectiveness ratio: hand-computed answers and model-level
known answers (a lever whose only effect is a budget outlay)."""
import math

import numpy as np
import pytest

from sim.fiscal import LEVER_COSTS, POLICY_YEARS, accounts, effectiveness_ratio, paired_ratio
from sim.indicators import INDICATORS
from sim.run import Result, run
from sim.scenario import Scenario

SCALE = 0.01
BASE = Scenario(name="t")
YEARS = tuple(range(2015, 2021))


def fake(seed, rd, cost, **extra):
    """A Result with made-up indicator arrays (2015..2020); other indicators are zero."""
    ind = {k: np.zeros(6) for k in INDICATORS}
    ind["enterprise_rd_real_bn_yuan"] = np.asarray(rd, float)
    ind["public_cost_bn_yuan"] = np.asarray(cost, float)
    for k, v in extra.items():
        ind[k] = np.asarray(v, float)
    return Result(scenario="x", seed=seed, scale=SCALE, years=YEARS, indicators=ind)


# ---------------------------------------------------------------------------- effectiveness_ratio
def test_effectiveness_ratio_hand_numbers():
    assert effectiveness_ratio([110, 120], [100, 100], [15, 15], [10, 10]) == 3.0


def test_effectiveness_ratio_negative_and_saving():
    # a lever that saves 5 and loses 20 of R&D: ratio (-20)/(-5) = 4
    assert effectiveness_ratio([90, 90], [100, 100], [7.5, 7.5], [10, 10]) == 4.0


def test_effectiveness_ratio_zero_extra_cost_is_nan():
    assert math.isnan(effectiveness_ratio([110, 120], [100, 100], [10, 10], [10, 10]))


def test_effectiveness_ratio_zero_rd_is_zero():
    assert effectiveness_ratio([100, 100], [100, 100], [12, 13], [10, 10]) == 0.0


# ---------------------------------------------------------------------------- paired_ratio
def test_paired_ratio_known_answer():
    """2015 is excluded. Pair 1: dR = 10+20+0+0+10 = 40, dC = 5*4 = 20; pair 2: dR = 20,
    dC = 0. Means: dR 30, dC 10 -> ratio 3 (pooled, not the mean of per-pair ratios)."""
    base_rd, base_cost = [999, 100, 100, 100, 100, 100], [999, 10, 10, 10, 10, 10]
    w = [fake(1, [0, 110, 120, 100, 100, 110], [0, 14, 14, 14, 14, 14]),
         fake(2, [5, 104, 104, 104, 104, 104], [7, 10, 10, 10, 10, 10])]
    wo = [fake(1, base_rd, base_cost), fake(2, base_rd, base_cost)]
    ratio, d_rd, d_cost = paired_ratio(w, wo)
    assert (ratio, d_rd, d_cost) == pytest.approx((3.0, 30.0, 10.0))


def test_paired_ratio_no_extra_cost_is_nan():
    r = [fake(1, [0, 110, 100, 100, 100, 100], [0, 10, 10, 10, 10, 10])]
    b = [fake(1, [0, 100, 100, 100, 100, 100], [0, 10, 10, 10, 10, 10])]
    ratio, d_rd, d_cost = paired_ratio(r, b)
    assert math.isnan(ratio) and d_rd == 10.0 and d_cost == 0.0


@pytest.mark.parametrize("seeds_with,seeds_without", [([1, 2], [2, 1]), ([1, 2], [1, 3]), ([1, 2], [1])])
def test_paired_ratio_mismatched_seeds_raise(seeds_with, seeds_without):
    z = [0] * 6
    with pytest.raises(ValueError):
        paired_ratio([fake(s, z, z) for s in seeds_with], [fake(s, z, z) for s in seeds_without])


# ---------------------------------------------------------------------------- accounts
def test_accounts_sums_the_right_indicators():
    names = [n for group in LEVER_COSTS.values() for n in group]
    extra = {n: np.arange(6) * 10.0 ** i for i, n in enumerate(names)}  # distinct per indicator
    r = fake(0, np.zeros(6), np.full(6, 7.0), **extra)
    acc = accounts(r)
    assert set(acc) == set(LEVER_COSTS) | {"total"}
    for lever, group in LEVER_COSTS.items():
        expect = sum(extra[n][1:] for n in group)
        assert acc[lever].tolist() == expect.tolist(), lever
        assert len(acc[lever]) == 5  # 2016..2020
    assert acc["total"].tolist() == [7.0] * 5


def test_accounts_of_a_model_run_add_up_to_public_cost():
    sc = BASE.with_values({"levers.vouchers.budget_bn_yuan": 5.0, "levers.programmes.centre_quota": 3.0,
                           "levers.accelerated_depreciation.pv_gain": 0.5})
    acc = accounts(run(sc, 1, SCALE))
    parts = sum(v for k, v in acc.items() if k != "total")
    assert parts == pytest.approx(acc["total"], rel=1e-12)
    assert acc["vouchers"] == pytest.approx(np.full(5, 5.0))


# ---------------------------------------------------------------------------- model-level known answers
CENTRES = BASE.with_values({"levers.programmes.centre_quota": 4.0})
FUNDED = CENTRES.with_values({"levers.programmes.centre_funding_bn_yuan": 0.6})
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def centre_pairs():
    return [run(FUNDED, s, SCALE) for s in SEEDS], [run(CENTRES, s, SCALE) for s in SEEDS]


def test_centre_funding_is_a_pure_outlay(centre_pairs):
    """Funding 0.1 -> 0.6 bn yuan per centre: every indicator except the programme outlay
    and the totals that include it is identical byte for byte; the outlay rises by exactly
    0.5 x (centres at the end of the previous year) in each year, so over 2016-2020 by
    0.5 x the sum of centre-years."""
    costs = {"outlay_programmes_bn_yuan", "budget_outlays_bn_yuan", "public_cost_bn_yuan"}
    for a, b in zip(*centre_pairs):
        for k in INDICATORS:
            if k not in costs:
                assert a.indicators[k].tobytes() == b.indicators[k].tobytes(), k
        centres = b.indicators["innovation_centres"]
        assert centres[-1] > 0
        d = a.indicators["public_cost_bn_yuan"][POLICY_YEARS] - b.indicators["public_cost_bn_yuan"][POLICY_YEARS]
        assert d == pytest.approx(0.5 * centres[:-1], rel=1e-9, abs=1e-9)
        da = accounts(a)["programmes"] - accounts(b)["programmes"]
        assert da == pytest.approx(0.5 * centres[:-1], rel=1e-9, abs=1e-9)
        assert d.sum() == pytest.approx(0.5 * centres[:-1].sum())


def test_centre_funding_ratio_is_exactly_zero(centre_pairs):
    ratio, d_rd, d_cost = paired_ratio(*centre_pairs)
    assert d_rd == 0.0
    assert d_cost > 0
    assert ratio == 0.0
    a, b = centre_pairs
    assert effectiveness_ratio(a[0].indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS],
                               b[0].indicators["enterprise_rd_real_bn_yuan"][POLICY_YEARS],
                               a[0].indicators["public_cost_bn_yuan"][POLICY_YEARS],
                               b[0].indicators["public_cost_bn_yuan"][POLICY_YEARS]) == 0.0


def test_guidance_commitment_raises_outlay_exactly_by_the_commitment():
    """SME fund 0 -> 30 bn yuan a year: the commitment line rises by exactly 30 in every
    policy year, the guidance outlay (and budget outlays) by its expected fiscal cost
    c = 1 - 0.8 / 1.03^8 = 0.3685 per yuan (issue 11 #8: the commitment is equity); public
    cost rises by 30c plus the change in tax expenditures (guided capital changes firms'
    R&D, hence the tax expenditures)."""
    c = 1.0 - 0.8 / 1.03 ** 8
    sc = BASE.with_values({"levers.guidance_funds.sme_fund_bn_yuan": 30.0})
    for s in (0, 1):
        a, b = run(sc, s, SCALE), run(BASE, s, SCALE)
        ia, ib = a.indicators, b.indicators
        assert ib["commitment_guidance_bn_yuan"][1:] == pytest.approx(np.full(5, 1.0))  # transformation fund
        assert ib["outlay_guidance_bn_yuan"][1:] == pytest.approx(np.full(5, c))
        assert ia["commitment_guidance_bn_yuan"][1:] - ib["commitment_guidance_bn_yuan"][1:] == pytest.approx(np.full(5, 30.0))
        assert ia["outlay_guidance_bn_yuan"][1:] - ib["outlay_guidance_bn_yuan"][1:] == pytest.approx(np.full(5, 30.0 * c))
        assert ia["budget_outlays_bn_yuan"][1:] - ib["budget_outlays_bn_yuan"][1:] == pytest.approx(np.full(5, 30.0 * c))
        assert accounts(a)["guidance_funds"] - accounts(b)["guidance_funds"] == pytest.approx(np.full(5, 30.0 * c))
        d_cost = ia["public_cost_bn_yuan"][1:] - ib["public_cost_bn_yuan"][1:]
        d_tax = ia["tax_expenditure_rd_bn_yuan"][1:] - ib["tax_expenditure_rd_bn_yuan"][1:]
        assert d_cost == pytest.approx(30.0 * c + d_tax, abs=1e-9)
