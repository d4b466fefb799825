"""The momentum mechanisms of the training window (sim/agents/momentum.py): each rule
against hand-computed values, each mechanism's effect on the window, and rate 0 = off."""
import math
from pathlib import Path

import numpy as np
import pytest

from sim.agents.momentum import (awareness_probability, entry_hazard, internationalisation_step,
                                 registration_step, upgrading_factor)
from sim.run import run
from sim.scenario import load_scenario

WINDOW = str(Path(__file__).resolve().parents[2] / "scenarios" / "window_2008_2015.toml")


def test_upgrading_factor_hand_values():
    # S = 0.5%, S* = 2.5%, lambda = 0.04, one quarter: exp(0.04 * ln 5 * 0.25) = exp(0.016094) = 1.016224
    assert upgrading_factor(0.005, 0.025, 0.04, 0.25) == pytest.approx(1.0162242, rel=1e-6)
    # the log gap halves when S doubles toward S*: the growth rate falls with it
    g1 = math.log(upgrading_factor(0.005, 0.04, 0.1, 1.0))
    g2 = math.log(upgrading_factor(0.01, 0.04, 0.1, 1.0))
    assert g1 == pytest.approx(0.1 * math.log(8)) and g2 == pytest.approx(0.1 * math.log(4))
    assert upgrading_factor(0.03, 0.025, 0.04, 0.25) == 1.0   # above the frontier: no upgrading
    assert upgrading_factor(0.005, 0.025, 0.0, 0.25) == 1.0   # rate 0: off


def test_registration_step_hand_values():
    # r = 0.5, kappa = 0.2, one year: 1 - 0.5 exp(-0.2) = 0.590635
    assert registration_step(0.5, 0.2, 1.0) == pytest.approx(0.5906346, rel=1e-6)
    # four quarters equal one year (constant hazard)
    r = 0.5
    for _ in range(4):
        r = registration_step(r, 0.2, 0.25)
    assert r == pytest.approx(registration_step(0.5, 0.2, 1.0), rel=1e-12)
    assert registration_step(0.5, 0.0, 1.0) == 0.5
    assert registration_step(1.0, 0.3, 1.0) == 1.0


def test_internationalisation_step_hand_values():
    # P0 = 18, P* = 50, mu = 0.1, M = 1, one year: exp(0.1 ln(50/18)) = exp(0.1021651) = 1.107566
    assert internationalisation_step(1.0, 18.0, 50.0, 0.1, 1.0) == pytest.approx(1.107566, rel=1e-6)
    # at M = 2 the gap is ln(50/36): M' = 2 exp(0.1 ln(50/36))
    assert internationalisation_step(2.0, 18.0, 50.0, 0.1, 1.0) == pytest.approx(2 * math.exp(0.1 * math.log(50 / 36)))
    assert internationalisation_step(3.0, 18.0, 50.0, 0.1, 1.0) == 3.0  # past the frontier
    assert internationalisation_step(1.0, 18.0, 50.0, 0.0, 1.0) == 1.0


def test_entry_hazard_and_segment_shares_hand_values():
    from types import SimpleNamespace

    from sim.agents.firms import INDUSTRIAL, SERVICE, STARTUP, rd_entry_probability
    from sim.phases.rd_tax import performer_shares
    # lambda = 0.01 + 0.1 * 0.2 = 0.03; with q = 0 the hazard is the constant rate
    assert entry_hazard(0.01, 0.1, 0.2) == pytest.approx(0.03)
    assert entry_hazard(0.02, 0.0, 0.9) == 0.02
    np.testing.assert_allclose(rd_entry_probability(np.array([0.03, 0.0]), 0.25), [1 - math.exp(-0.0075), 0.0])
    # industrial: weights 1, 3 (performer), 6 (dead, ignored) -> 3/4; service: 2 (performer), 2 -> 1/2
    f = SimpleNamespace(alive=np.array([True, True, False, True, True, True]),
                        segment=np.array([INDUSTRIAL, INDUSTRIAL, INDUSTRIAL, SERVICE, SERVICE, STARTUP]),
                        weight=np.array([1.0, 3.0, 6.0, 2.0, 2.0, 5.0]),
                        rd_base=np.array([0.0, 0.01, 0.02, 0.005, 0.0, 0.0]))
    np.testing.assert_allclose(performer_shares(f), [0.75, 0.5, 0.0])


def test_imitation_makes_entry_accelerate_as_the_share_rises():
    """With a constant hazard the implied yearly hazard of the industrial performer share,
    ln((1 - s_a) / (1 - s_b)) / (b - a), is about the same in 2008-2011 and 2011-2015; with
    imitation (lambda = q * s) it rises with the share. Paired seeds (same firms, same
    streams); tolerance: the later/earlier hazard ratio rises by more than 0.3 in every seed
    (measured 0.5-1.2 at scale 0.003)."""
    def ratio(vals, seed):
        r = _window(vals, seed=seed)
        s = {y: r.value("industrial_rd_performer_share_pct", y) / 100 for y in (2008, 2011, 2015)}
        return (math.log((1 - s[2011]) / (1 - s[2015])) / 4) / (math.log((1 - s[2008]) / (1 - s[2011])) / 3)

    for seed in (3, 4, 5):
        const = ratio({"parameters.rd_entry_rate": 0.02, "parameters.rd_entry_imitation": 0.0}, seed)
        imit = ratio({"parameters.rd_entry_rate": 0.0, "parameters.rd_entry_imitation": 0.2}, seed)
        assert imit > const + 0.3, (seed, const, imit)


def test_awareness_probability_hand_values():
    assert awareness_probability(0.2, 0.25) == pytest.approx(1 - math.exp(-0.05))
    assert awareness_probability(0.0, 0.25) == 0.0


def _window(values, seed=3, scale=0.003):
    return run(load_scenario(WINDOW).with_values(values), seed=seed, scale=scale)


def test_each_mechanism_moves_its_series_and_rate_zero_is_off():
    base = _window({})
    off = _window({"parameters.rd_upgrading_rate": 0.0, "parameters.contract_registration_rate": 0.0,
                   "parameters.rd_entry_imitation": 0.0,
                   "parameters.pct_internationalisation_rate": 0.0, "parameters.hightech_awareness_rate": 0.0,
                   "parameters.rd_frontier_intensity": 0.03, "parameters.pct_frontier_per_bn_rd": 40.0})
    for k in base.indicators:  # rates 0: the frontiers do not matter, byte-identical paths
        np.testing.assert_array_equal(base.indicators[k], off.indicators[k])

    def growth(res, k):
        return math.log(res.value(k, 2015) / res.value(k, 2008))

    up = _window({"parameters.rd_upgrading_rate": 0.04})
    assert growth(up, "rd_intensity_industry_pct") > growth(base, "rd_intensity_industry_pct") + 0.1
    reg = _window({"parameters.contract_registration_rate": 0.1})
    # registered share 0.5 -> 1 - 0.5 exp(-0.7) = 0.7517 by 2015: turnover x 1.5034, nothing else moves
    assert reg.value("tech_contract_turnover_bn_yuan", 2015) / base.value("tech_contract_turnover_bn_yuan", 2015) \
        == pytest.approx((1 - 0.5 * math.exp(-0.1 * 7)) / 0.5, rel=0.03)
    np.testing.assert_array_equal(reg.indicators["national_rd_bn_yuan"], base.indicators["national_rd_bn_yuan"])
    intl = _window({"parameters.pct_internationalisation_rate": 0.1})
    assert growth(intl, "pct_applications") > growth(base, "pct_applications") + 0.3
    np.testing.assert_array_equal(intl.indicators["national_rd_bn_yuan"], base.indicators["national_rd_bn_yuan"])


def test_awareness_spreads_only_among_small_firms_outside_industry():
    from sim.agents import firms as F
    from sim.model import InnovationModel

    sc = load_scenario(WINDOW).with_values({"parameters.hightech_awareness_rate": 0.3})
    m = InnovationModel(sc, seed=2, scale=0.003, collect=False)
    before = m.firms.ht_aware.copy()
    for _ in range(8):
        m.step()
    f = m.firms
    n0 = len(before)
    new = f.ht_aware[:n0] & ~before
    assert new.any()
    assert not (new & (f.segment[:n0] == F.INDUSTRIAL)).any()
    # a small firm's probability over two years at a = 0.3 is 1 - exp(-0.6) = 0.45; revenue may cross 200 m
    cand = ~before & (f.segment[:n0] != F.INDUSTRIAL) & f.alive[:n0] & (f.revenue[:n0] <= 150.0)
    assert 0.3 < new[cand].mean() < 0.6
