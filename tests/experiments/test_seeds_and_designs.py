"""Seeds from one SeedSequence, paired across lever options; designs and their checks."""
import numpy as np
import pytest

from experiments import (ExperimentError, Ishigami, morris_design, parse_levels, parse_range,
                         reach_design, sobol_design, sweep_design)
from experiments.seeds import child, run_seeds


def test_seed_tree_is_the_spawn_tree():
    master = 12345
    chain = np.random.SeedSequence(master).spawn(2)[1].spawn(4)[3].spawn(3)[2]
    assert np.array_equal(child(master, 1, 3, 2).generate_state(4), chain.generate_state(4))


def test_run_seeds_distinct_stable_and_in_range():
    s = run_seeds(7, np.repeat(np.arange(50), 4), np.tile(np.arange(4), 50))
    assert len(set(s.tolist())) == 200 and s.min() >= 0
    # adding replications or streams does not change the seeds already handed out
    more = run_seeds(7, np.repeat(np.arange(60), 6), np.tile(np.arange(6), 60))
    assert np.array_equal(more.reshape(60, 6)[:50, :4], s.reshape(50, 4))
    assert not np.array_equal(run_seeds(8, np.arange(3), np.zeros(3)), run_seeds(7, np.arange(3), np.zeros(3)))


def test_sweep_is_full_factorial_with_paired_seeds():
    m = Ishigami(noise_sd=1.0)
    d = sweep_design(m, [parse_levels("x1=-1,0,1"), parse_levels("x2=0.5,2")], n_lhs=7,
                     replications=3, seed=1)
    runs = d.runs()
    assert d.n_points == 3 * 2 * 7 and len(runs) == 3 * 2 * 7 * 3
    combos = runs.groupby(["x1", "x2"]).size()
    assert len(combos) == 6 and (combos == 21).all()
    # every lever combination sees exactly the same (x3, seed) pairs: paired comparison
    sets = {k: sorted(zip(g["x3"].round(12), g["seed"])) for k, g in runs.groupby(["x1", "x2"])}
    first = next(iter(sets.values()))
    assert all(v == first for v in sets.values())
    # ... and different LHS points / replications get different seeds
    assert runs.groupby(["x1", "x2"])["seed"].nunique().eq(21).all()


def test_lhs_is_stratified():
    d = sweep_design(Ishigami(), [], n_lhs=40, seed=3)
    for j, f in enumerate(d.factors):
        u = (d.points[:, j] - f.low) / (f.high - f.low)
        assert sorted(np.floor(u * 40).astype(int)) == list(range(40))


def test_reach_design_pairs_scenarios():
    a, b = Ishigami(noise_sd=1), Ishigami(noise_sd=1, a=5)
    b.name = "ishigami_b"
    d = reach_design([a, b], n_lhs=5, replications=2, seed=4)
    r = d.runs()
    ra, rb = r[r.scenario == "ishigami"], r[r.scenario == "ishigami_b"]
    assert np.array_equal(ra[["x1", "x2", "x3", "seed"]].to_numpy(), rb[["x1", "x2", "x3", "seed"]].to_numpy())


def test_saltelli_blocks_share_a_stream():
    d = sobol_design(Ishigami(), n=8, seed=0)
    assert d.n_points == 8 * 5
    assert np.array_equal(d.streams, np.repeat(np.arange(8), 5))
    r = d.runs()
    assert r.groupby("stream")["seed"].nunique().eq(1).all()


@pytest.mark.parametrize("make, msg", [
    (lambda: sobol_design(Ishigami(), n=1000), "power of two"),
    (lambda: sobol_design(Ishigami(), n=0), "power of two"),
    (lambda: morris_design(Ishigami(), n=1), "at least 2"),
    (lambda: morris_design(Ishigami(), n=10, num_levels=3), "even"),
    (lambda: sweep_design(Ishigami(), [parse_levels("x9=1,2")]), "unknown factor"),
    (lambda: sobol_design(Ishigami(), factors=(parse_range("x1=1:1"),), n=8), "empty range"),
    (lambda: parse_range("x1=1"), "KEY=LOW:HIGH"),
    (lambda: parse_range("x1=3:1"), "bad range"),
    (lambda: parse_levels("x1=a,b"), "KEY=v1"),
    (lambda: sweep_design(Ishigami(), [], n_lhs=2, replications=0), "replications"),
    (lambda: sweep_design(Ishigami(), [], seed=-1), "seed"),
])
def test_bad_designs_raise_one_line(make, msg):
    with pytest.raises(ExperimentError) as e:
        make()
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_cluster_bootstrap_interval():
    """Clustered bootstrap: identical replications inside a cluster do not narrow the
    interval. 10 clusters x 4 identical replications must give (within bootstrap noise) the
    interval of the 10 cluster outcomes alone, which is wider than a Wilson interval on 40."""
    from experiments.analysis import cluster_bootstrap, wilson
    rng = np.random.default_rng(0)
    outcome = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1], float)
    hits = np.repeat(outcome, 4)
    clusters = np.repeat(np.arange(10), 4)
    lo, hi = cluster_bootstrap(hits, clusters, rng)
    lo1, hi1 = cluster_bootstrap(outcome, np.arange(10), np.random.default_rng(0))
    assert abs(lo - lo1) <= 0.05 and abs(hi - hi1) <= 0.05
    wl, wh = wilson(int(hits.sum()), 40)
    assert hi - lo > wh - wl
    assert lo <= 0.6 <= hi
    lo_one, hi_one = cluster_bootstrap(hits, np.zeros(40), rng)
    assert np.isnan(lo_one) and np.isnan(hi_one)
