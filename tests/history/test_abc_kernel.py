"""The ABC-SMC perturbation kernel and sampling space (experiments.calibrate.KERNELS).

pyabc's default kernel (multivariate normal, Silverman bandwidth, on the bounded parameters)
let the importance weights of the 17-parameter window calibration collapse (effective
sample size 300 -> 22.5 -> 2.5). The default is now a multivariate normal with four times
the weighted particle covariance, drawing its proposals inside the prior box. These tests check the pieces by hand values and the claim on a toy problem whose
simulations cost microseconds."""
import math

import numpy as np
import pandas as pd
import pyabc
import pytest
from scipy import stats

from experiments.calibrate import (DEFAULT_KERNEL, CalibrationConfig, Prior, Statistic, _make_abc,
                                   beaumont_bandwidth, kish_ess, wide_bandwidth)


def test_boxed_transition_draws_the_mixture_restricted_to_the_box():
    """Law of a proposal: pyabc's (draw from the kernel mixture, redraw while outside the prior
    box), made in batches. One particle at 0.9 in [0, 1] with kernel variance 2 x 0.05^2:
    the proposal is N(0.9, 0.0707^2) truncated to [0, 1]. KS test on 3,000 draws; the
    untruncated law, or a redraw of the perturbation only, would put mass above 1."""
    from experiments.abc_sampler import BoxedNormalTransition

    X = pd.DataFrame({"a": [0.85, 0.95]})   # weighted covariance 0.05^2 * 2 (unbiased), mean 0.9
    tr = BoxedNormalTransition({"a": 0.0}, {"a": 1.0}, bandwidth_selector=beaumont_bandwidth)
    tr.fit(X, np.array([0.5, 0.5]))
    sd = math.sqrt(tr.cov[0, 0])
    assert sd == pytest.approx(0.1)
    np.random.seed(4)
    x = np.array([tr.rvs()["a"] for _ in range(3000)])
    assert x.max() <= 1.0 and x.min() >= 0.0
    # the mixture of the two components, each N(c, sd^2), restricted to [0, 1]
    def cdf(v):
        raw = 0.5 * (stats.norm.cdf(v, 0.85, sd) + stats.norm.cdf(v, 0.95, sd))
        lo = 0.5 * (stats.norm.cdf(0, 0.85, sd) + stats.norm.cdf(0, 0.95, sd))
        hi = 0.5 * (stats.norm.cdf(1, 0.85, sd) + stats.norm.cdf(1, 0.95, sd))
        return (raw - lo) / (hi - lo)
    assert stats.kstest(x, cdf).pvalue > 1e-3
    assert tr.pdf(pd.Series({"a": 0.9})) == pytest.approx(
        0.5 * (stats.norm.pdf(0.9, 0.85, sd) + stats.norm.pdf(0.9, 0.95, sd)))


def test_beaumont_kernel_covariance_is_twice_the_weighted_covariance():
    rs = np.random.RandomState(0)
    X = pd.DataFrame(rs.normal(size=(400, 3)) @ np.array([[1, 0.5, 0], [0, 2, 0], [0, 0, 0.1]]), columns=list("xyz"))
    w = rs.uniform(0.5, 1.5, 400)
    w /= w.sum()
    tr = pyabc.MultivariateNormalTransition(bandwidth_selector=beaumont_bandwidth)
    tr.fit(X, w)
    m = (X.to_numpy() * w[:, None]).sum(0)
    d = X.to_numpy() - m
    cov = (d * w[:, None]).T @ d / (1 - (w ** 2).sum())  # pyabc's smart_cov: unbiased weighted covariance
    assert tr.cov == pytest.approx(2 * cov, rel=1e-9)
    assert beaumont_bandwidth(10, 17) == pytest.approx(math.sqrt(2))
    wide = pyabc.MultivariateNormalTransition(bandwidth_selector=wide_bandwidth)
    wide.fit(X, w)
    assert wide.cov == pytest.approx(4 * cov, rel=1e-9)


def test_kish_ess_hand_values():
    assert kish_ess([1, 1, 1, 1]) == pytest.approx(4.0)
    assert kish_ess([3, 1]) == pytest.approx(16 / 10)
    assert kish_ess([1, 0, 0]) == pytest.approx(1.0)
    assert kish_ess([]) == 0.0


class _Toy:
    """A cheap 'model': statistics = the parameters (theta, mapped from the sampling space)."""

    def __init__(self, priors):
        self.priors = priors
        self.stats = [Statistic(f"s{i}", "x", 0, 1, 0.0, 1.0) for i in range(len(priors))]

    def __call__(self, par):
        return {st.name: float(par[p.name]) for st, p in zip(self.stats, self.priors)}


def _ess_by_generation(kernel, dim=10, generations=4, population=150):
    priors = [Prior(f"parameters.p{i}", 0.0, 1.0) for i in range(dim)]
    toy = _Toy(priors)
    cfg = CalibrationConfig(scenario_file="", history_file="", priors_file="", base_year=None, years=None,
                            population=population, generations=generations, max_simulations=None, scale=1.0,
                            seed=1, workers=1, kernel=kernel)
    observed = {st.name: 0.15 for st in toy.stats}   # a posterior near one corner of the box, as in the window
    np.random.seed(11)
    abc = _make_abc(toy, priors, cfg)
    abc.new("sqlite://", observed)
    hist = abc.run(max_nr_populations=generations)
    return [kish_ess(hist.get_distribution(m=0, t=t)[1]) for t in range(hist.max_t + 1)]


def test_default_kernel_keeps_the_effective_sample_size_where_silverman_collapses():
    """Toy: 10 uniform parameters, statistics = parameters, observed near a corner. Claim:
    after the first generation, the default kernel's ESS stays above 60% of the population
    in every generation, while pyabc's default falls below a fifth of it in at least one
    (seeded; measured minima 132 and 3.8 of 150)."""
    assert DEFAULT_KERNEL == "wide"
    new = _ess_by_generation("wide")
    old = _ess_by_generation("silverman")
    assert min(new[1:]) > 0.6 * 150, new
    assert min(old[1:]) < 150 / 5, old
