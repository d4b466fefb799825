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
