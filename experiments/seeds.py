"""Run seeds derived from one master seed through ``numpy.random.SeedSequence``.

Layout of the spawn tree under ``SeedSequence(master)``::

    child 0                 -> design sampling (LHS, Sobol scrambling, Morris)
    child 1 -> stream s -> replication r  -> the seed of every run of stream s, replication r
    child 2                 -> analysis resampling (bootstrap confidence intervals)
    child 3 -> stream s -> replication r  -> the posterior particle of those runs
                               (``experiments.posterior``; shared wherever the seed is)

A *stream* is a common-random-numbers group: all runs that should be compared
pairwise (the same uncertainty point under different lever settings or scenarios,
the rows of one Saltelli block, the points of one Morris trajectory) share a stream,
so they share their seeds.  Adding replications or streams never changes the seeds
already handed out, because the tree is indexed, not consumed.
"""
from __future__ import annotations

import numpy as np

DESIGN_CHILD = 0
RUN_CHILD = 1
ANALYSIS_CHILD = 2
POSTERIOR_CHILD = 3


def check_master_seed(master: int) -> int:
    from .errors import ExperimentError

    try:
        value = int(master)
    except (TypeError, ValueError):
        raise ExperimentError(f"seed must be a non-negative integer, got {master!r}") from None
    if value < 0 or value != master or value >= 2 ** 63:
        raise ExperimentError(f"seed must be a whole number in 0..2^63-1 (as for innosim run), "
                              f"got {master!r}")
    return value


def child(master: int, *path: int) -> np.random.SeedSequence:
    """The SeedSequence reached from ``SeedSequence(master)`` by the spawn indices ``path``.

    ``child(m, 1, s, r)`` equals ``SeedSequence(m).spawn(2)[1].spawn(s+1)[s].spawn(r+1)[r]``
    (spawning is defined through ``spawn_key``; this builds the key directly).
    """
    return np.random.SeedSequence(master, spawn_key=tuple(int(p) for p in path))


def design_rng(master: int) -> np.random.Generator:
    return np.random.default_rng(child(master, DESIGN_CHILD))


def analysis_seed(master: int) -> int:
    return int(child(master, ANALYSIS_CHILD).generate_state(1, np.uint32)[0])


def run_seeds(master: int, streams: np.ndarray, replications: np.ndarray) -> np.ndarray:
    """One int64 seed (< 2**63) per (stream, replication) pair, as an array."""
    streams = np.asarray(streams, dtype=np.int64)
    replications = np.asarray(replications, dtype=np.int64)
    cache: dict[tuple[int, int], int] = {}
    out = np.empty(streams.shape, dtype=np.int64)
    for i, key in enumerate(zip(streams.tolist(), replications.tolist())):
        seed = cache.get(key)
        if seed is None:
            state = child(master, RUN_CHILD, key[0], key[1]).generate_state(2, np.uint32)
            seed = (int(state[0]) | (int(state[1]) << 32)) >> 1
            cache[key] = seed
        out[i] = seed
    return out


def replication_seeds(master: int, n: int) -> list[int]:
    """The seeds of replications 0..n-1 of stream 0: what ``run``, ``compare`` and
    ``validate`` use (the first design point of a ``reach --lhs 0`` gets the same)."""
    return [int(x) for x in run_seeds(master, np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64))]
