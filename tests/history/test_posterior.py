"""Posterior-aware run/compare/validate: draws by weight, shared across scenarios (pairing),
a one-particle posterior equals running at that parameter vector, provenance recorded."""
import json
from pathlib import Path

import numpy as np
import pytest

from experiments.compare import run_paired
from experiments.errors import ExperimentError
from experiments.posterior import load_posterior
from experiments.seeds import replication_seeds as derive_seeds
from innosim.cli import main
from sim.run import run
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
POLICY = str(ROOT / "scenarios" / "policy_2016_2020.toml")
SCALE = 0.003


def test_draws_follow_weights_and_depend_only_on_master_seed_and_count(tmp_path, write_posterior):
    post = load_posterior(write_posterior(tmp_path / "p", [[0.01, 0.4], [0.07, 0.9], [0.03, 0.5]], [0.0, 3.0, 1.0]))
    idx = post.draw_indices(400, 1)
    assert 0 not in idx                                   # weight 0 is never drawn
    assert np.mean(idx == 1) == pytest.approx(0.75, abs=0.07)  # 3:1 weights (400 draws, > 3 s.e.)
    assert (post.draw_indices(400, 1) == idx).all() and not (post.draw_indices(400, 2) == idx).all()
    assert post.draws(2, 1)[0].keys() == {"parameters.nominal_growth", "parameters.innovation_zeta"}


def test_one_particle_posterior_equals_running_at_that_vector(tmp_path, write_posterior):
    post = load_posterior(write_posterior(tmp_path / "p", [[0.07, 0.9]], [1.0]))
    sc = load_scenario(BASELINE)
    seeds = derive_seeds(3, 2)
    res = run_paired([sc], seeds, SCALE, 1, posterior=post, master_seed=3)[0]
    direct = run(sc.with_values({"parameters.nominal_growth": 0.07, "parameters.innovation_zeta": 0.9}),
                 seed=seeds[0], scale=SCALE)
    for k, v in direct.indicators.items():
        assert np.array_equal(res[0].indicators[k], v, equal_nan=True), k
    plain = run(sc, seed=seeds[0], scale=SCALE)
    assert not np.array_equal(plain.indicators["national_rd_bn_yuan"], direct.indicators["national_rd_bn_yuan"])


def test_compared_scenarios_share_each_replications_draw(tmp_path, write_posterior):
    post = load_posterior(write_posterior(tmp_path / "p", [[0.0, 0.3], [0.08, 1.0]], [1.0, 1.0]))
    sc = load_scenario(BASELINE)
    seeds = derive_seeds(5, 4)
    a, b = run_paired([sc, sc], seeds, SCALE, 1, posterior=post, master_seed=5)
    idx = post.draw_indices(4, 5)
    assert len(set(idx.tolist())) == 2  # both particles used, so replications differ in parameters
    for ra, rb, i in zip(a, b, idx):
        assert np.array_equal(ra.indicators["national_rd_bn_yuan"], rb.indicators["national_rd_bn_yuan"])
    # growth to 2020 follows the drawn nominal growth (0 vs 8% a year)
    g = [r.value("industrial_revenue_tn_yuan", 2020) / r.value("industrial_revenue_tn_yuan", 2015) for r in a]
    slow, fast = [x for x, i in zip(g, idx) if i == 0], [x for x, i in zip(g, idx) if i == 1]
    assert max(slow) < min(fast)


def test_run_and_compare_cli_record_the_posterior(tmp_path, capsys, write_posterior):
    p = write_posterior(tmp_path / "p", [[0.04, 0.5], [0.06, 0.7]], [1.0, 2.0])
    rc = main(["run", BASELINE, "--replications", "2", "--scale", str(SCALE), "--posterior", str(p),
               "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert rc == 0 and "posterior: " + str(p / "posterior.parquet") in out
    man = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert man["posterior"]["digest"] == load_posterior(p).digest and len(man["posterior"]["draw_indices"]) == 2
    rc = main(["run", BASELINE, "--replications", "1", "--scale", str(SCALE), "--out", str(tmp_path / "r0")])
    assert rc == 0 and "posterior: none" in capsys.readouterr().out
    rc = main(["compare", BASELINE, POLICY, "--replications", "2", "--scale", str(SCALE), "--posterior", str(p),
               "--out", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert rc == 0 and "posterior: " in out and "none" not in out.splitlines()[1]
    man = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert man["posterior"]["draw_indices"] == load_posterior(p).draw_indices(2, man["master_seed"]).tolist()


def test_bad_posterior_is_a_one_line_error(tmp_path, capsys, write_posterior):
    with pytest.raises(ExperimentError, match="no posterior.parquet"):
        load_posterior(tmp_path)
    p = write_posterior(tmp_path / "p", [[0.04, 0.5]], [-1.0])
    with pytest.raises(ExperimentError, match="negative"):
        load_posterior(p)
    (tmp_path / "p" / "manifest.json").write_text("{}")
    rc = main(["run", BASELINE, "--replications", "1", "--posterior", str(p)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "manifest.json" in err


def test_shipped_default_posterior_is_the_window_calibration_of_the_default_free_set():
    """`--posterior default`: sim/data/posterior, calibrated on the shipped window and history
    with the shipped priors; every particle is an allowed parameter vector."""
    from experiments.calibrate import load_priors
    from sim.history import load_history, shipped_history_path

    post = load_posterior("default")
    man = json.loads((Path(post.path).parent / "manifest.json").read_text())
    assert post.keys == tuple(p.key for p in load_priors())
    assert man["scenario"]["name"] == "window_2008_2015" and man["base_year"] == 2008
    assert man["history"]["digest"] == load_history(shipped_history_path()).digest
    assert man["simulations_total"] >= 1000 and len(post.weights) >= 100
    sc = load_scenario("baseline")
    for d in post.draws(5, 1):
        sc.with_values(d)  # inside every allowed range (raises otherwise)
    assert abs(post.weights.sum() - 1) < 1e-9
