"""pyabc's MappingSampler with deterministic per-job seeds (imports pyabc; loaded lazily).

pyabc's ``MappingSampler`` maps ``n`` jobs (each samples until one particle is accepted)
over any ``map``; its jobs reseed numpy from entropy, so results are not reproducible.
Here job ``j`` of a generation is seeded with the ``j``-th draw from numpy's global
generator, which ``experiments.calibrate`` reseeds at the start of every generation. The
jobs' results come back in job order from ``map`` (built-in or a process pool's), so a
calibration gives the same particles whatever the number of worker processes (tested).

A job's first step unpickles pyabc's ``simulate_one`` (the model, the prior's scipy
distributions, the transition kernels: 10-25 ms, about a tenth of a simulation). Every
job of a generation gets the same bytes, so each process unpickles them once per
generation and reuses the object (:func:`_unpickled`); jobs share no state through it
(each reseeds numpy's global generator), so the particles are the same (tested).
"""
from __future__ import annotations

import functools
import random

import numpy as np
import pyabc
from pyabc.parameters import Parameter
from pyabc.sampler import MappingSampler


_LAST: list = [None, None]  # this process's last (pickled simulate_one, unpickled object)


def _unpickled(blob: bytes, unpickle):
    if _LAST[0] is not blob and _LAST[0] != blob:
        _LAST[:] = [None, None]
        _LAST[:] = [blob, unpickle(blob)]
    return _LAST[1]


class SeededMappingSampler(MappingSampler):
    def map_function(self, simulate_one, seed):  # noqa: D102 - pyabc's job, seeded
        simulate_one = _unpickled(simulate_one, self.unpickle)
        np.random.seed(int(seed))
        random.seed(int(seed))
        nr_simulations = 0
        sample = self._create_empty_sample()
        while True:
            new_sim = simulate_one()
            nr_simulations += 1
            sample.append(new_sim)
            if new_sim.accepted:
                break
        return sample, nr_simulations

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
        seeds = np.random.randint(0, 2**31 - 1, size=n).tolist()
        fn = functools.partial(self.map_function, self.pickle(simulate_one))
        np_state, py_state = np.random.get_state(), random.getstate()
        try:  # a serial map runs the jobs here: keep the caller's generator where a pool leaves it
            results, evals = zip(*self.map_(fn, seeds))
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        self.nr_evaluations_ = sum(evals)
        sample = self._create_empty_sample()
        for result in results:
            sample += result
        return sample


class BoxedNormalTransition(pyabc.MultivariateNormalTransition):
    """:class:`pyabc.MultivariateNormalTransition` that draws its proposals inside the prior box.

    pyabc redraws a proposal outside the prior's support one at a time (a mixture draw, a
    ``Parameter`` and 17 scipy densities each: about 1 ms), and with a wide kernel and a
    posterior against the bounds most draws fall outside (measured: most of a generation's
    time). Here a batch of mixture draws (component by weight, then the normal perturbation
    through a cached Cholesky factor) is made at once and the first inside the box
    ``[low, high]`` is returned. That is the same law as pyabc's loop, the mixture restricted
    to the box, so the density (:meth:`pdf`, pyabc's, unchanged) and the weights are pyabc's.
    Draws use numpy's global generator, as pyabc's do, so seeded jobs stay reproducible.
    ``bandwidth_selector`` as in pyabc (``experiments.calibrate.KERNELS``).
    """

    BATCH = 64

    def __init__(self, low: dict, high: dict, bandwidth_selector):
        super().__init__(bandwidth_selector=bandwidth_selector)
        self.low, self.high = dict(low), dict(high)

    def fit(self, X, w):
        super().fit(X, w)
        self._cols = list(self.X.columns)
        self._lo = np.array([self.low[c] for c in self._cols], float)
        self._hi = np.array([self.high[c] for c in self._cols], float)
        cov = np.asarray(self.cov, float)
        jitter = 0.0
        while True:
            try:
                self._chol = np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
                break
            except np.linalg.LinAlgError:  # a singular covariance (collapsed particles): smallest jitter
                jitter = jitter * 10 if jitter else 1e-12 * max(float(np.trace(cov)), 1e-300)

    def rvs_single(self):
        d = len(self._cols)
        for _ in range(100_000):
            idx = np.random.choice(self._range, size=self.BATCH, p=self.w, replace=True)
            x = self._X_arr[idx] + np.random.standard_normal((self.BATCH, d)) @ self._chol.T
            inside = np.flatnonzero(((x >= self._lo) & (x <= self._hi)).all(axis=1))
            if len(inside):
                return Parameter(dict(zip(self._cols, x[inside[0]].tolist())))
        raise RuntimeError("no proposal inside the prior box in 6.4 million draws")
