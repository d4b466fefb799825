"""Fieller's interval for the cost-effectiveness ratio of paired differences."""
import numpy as np
import pytest
from scipy import stats

from experiments.compare import fieller_ratio


def _by_definition(x, y, conf=0.95):
    """The Fieller set {theta: |mean(x - theta y)| <= t se(x - theta y)} on a fine grid."""
    n = len(x)
    t = stats.t.ppf(0.5 + conf / 2, n - 1)
    grid = np.linspace(-20, 20, 400_001)
    mx, my = x.mean(), y.mean()
    vxx, vyy = x.var(ddof=1) / n, y.var(ddof=1) / n
    vxy = np.cov(x, y, ddof=1)[0, 1] / n
    inside = (mx - grid * my) ** 2 <= t * t * (vxx - 2 * grid * vxy + grid * grid * vyy)
    return grid[inside].min(), grid[inside].max()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fieller_matches_its_definition(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 15, 12)                 # extra cost, clearly positive
    x = 2.0 * y + rng.normal(0, 30, 12)        # extra R&D, correlated with cost
    q, lo, hi = fieller_ratio(x, y)
    assert q == pytest.approx(x.mean() / y.mean())
    glo, ghi = _by_definition(x, y)
    assert lo == pytest.approx(glo, abs=2e-4) and hi == pytest.approx(ghi, abs=2e-4)
    assert lo < q < hi


def test_not_defined_when_the_cost_interval_spans_zero():
    rng = np.random.default_rng(0)
    y = rng.normal(1.0, 20.0, 10)              # cost difference indistinguishable from 0
    x = rng.normal(30.0, 10.0, 10)
    t = stats.t.ppf(0.975, 9)
    assert abs(y.mean()) < t * y.std(ddof=1) / np.sqrt(10)
    q, lo, hi = fieller_ratio(x, y)
    assert np.isnan(lo) and np.isnan(hi) and np.isfinite(q)


def test_hand_computed_case():
    # x = 2y exactly: the ratio is 2 with a zero-width interval
    y = np.array([10.0, 12.0, 9.0, 11.0])
    q, lo, hi = fieller_ratio(2 * y, y)
    assert q == pytest.approx(2.0) and lo == pytest.approx(2.0) and hi == pytest.approx(2.0)
