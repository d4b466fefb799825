"""The model's micro-moments, measured on simulated firms the way the studies measured
real ones (benchmarks/micro_moments.py), hold SOURCES §4/§5 within +-25%.

Pooled over 6 paired seeds at scale 0.05 (about 20 s). Bunching is "visible" when the
weighted count of industrial firms in [t, t+0.5pp) exceeds the count in [t-0.5pp, t) by at
least 30%.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from micro_moments import measure  # noqa: E402

TOL = 0.25


@pytest.fixture(scope="module")
def moments():
    return measure(n_seeds=6, scale=0.05, seed0=1)


@pytest.mark.parametrize("key,target", [
    ("elasticity_real", 1.1),
    ("productivity_per_doubling", 0.09),
    ("no_rd_share_industrial_2015", 0.81),
])
def test_moment_within_25pct(moments, key, target):
    assert abs(abs(moments[key]) - target) <= TOL * target, (key, moments[key], target)


def test_elasticities_are_negative_and_reported_exceeds_real(moments):
    assert moments["elasticity_real"] < 0 and moments["elasticity_reported"] < moments["elasticity_real"]


def test_relabelling_sits_at_the_notch(moments):
    """Issue 11 #3: relabelling is located where Chen et al. measured it. The reported-R&D
    elasticity of about 2 and the 24% relabelled share are notch quantities (the share phi
    of the bunching response is a parameter, notch_relabel_fraction); away from the notch
    (the elasticity sample: uncertified claimers) relabelling is the small declared
    background, so bunchers relabel a larger share of what they report than firms overall."""
    assert moments["relabel_share_bunchers_2017"] > 1.5 * moments["relabel_share_2015"]
    assert moments["relabel_share_2015"] < 0.12


@pytest.mark.parametrize("year,thresholds,least", [("bunching_2015", (0.06, 0.04, 0.03), 1.3),
                                                   ("bunching_2017", (0.05, 0.04, 0.03), 1.0)])
def test_bunching_just_above_thresholds(moments, year, thresholds, least):
    """2015 (the rules Chen et al. studied): visible excess mass (>= 1.3). 2017 under the
    2016 rules is a prediction, not evidence: bunching persists (> 1). Since issue 11 the
    notch is worth less (the deduction nets the tax base; uncertified firms wait for the
    certificate), so the new 5% small-firm threshold draws an excess of about 1.2."""
    for t in thresholds:
        assert moments[year][t] > least, (year, t, moments[year][t])
