"""A posterior in sweep/reach/sensitivity (issue 9): each run draws a parameter vector by weight,
keyed like its seed on (stream, replication), so every scenario or lever setting compared on a
seed also shares its parameters (pairing); the draw reaches the model; results are the same
bytes serial or pooled; bands widen with parameter uncertainty; tables say which posterior."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from experiments import Ishigami, parse_levels, run_experiment, sweep_design
from experiments.design import reach_design
from experiments.errors import ExperimentError
from experiments.model import SimModelFunction
from experiments.posterior import Posterior, load_posterior

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
POLICY = str(ROOT / "scenarios" / "policy_2016_2020.toml")
SCALE = 0.003


def _toy(keys=("x2",), particles=((-1.0,), (0.5,), (1.5,)), weights=(0.2, 0.3, 0.5)):
    w = np.asarray(weights, float)
    return Posterior("toy", "0" * 64, tuple(keys), np.asarray(particles, float), w / w.sum())


def test_draws_are_keyed_on_stream_and_replication_and_follow_the_weights():
    post = _toy(weights=(0.0, 1.0, 3.0))
    s = np.repeat(np.arange(50), 20)
    r = np.tile(np.arange(20), 50)
    idx = post.indices_for(7, s, r)
    assert 0 not in idx                                            # weight 0 never drawn
    # 1000 draws at p = 0.75: s.e. 0.014, tolerance 0.05 (> 3 s.e.)
    assert np.mean(idx == 2) == pytest.approx(0.75, abs=0.05)
    again = post.indices_for(7, s[::-1], r[::-1])[::-1]           # order of asking is irrelevant
    assert (again == idx).all()
    assert not (post.indices_for(8, s, r) == idx).all()           # the master seed matters
    assert (post.draw_indices(20, 7) == idx[:20]).all()           # run/compare = stream 0


def test_reach_pairs_parameters_across_scenarios_and_the_draw_reaches_the_model(tmp_path, write_posterior):
    post = load_posterior(write_posterior(tmp_path / "p", [[0.0, 0.3], [0.09, 1.0]], [1.0, 1.0]))
    models = [SimModelFunction(BASELINE, SCALE), SimModelFunction(POLICY, SCALE)]
    design = reach_design(models, n_lhs=0, replications=6, seed=11, posterior=post)
    runs = design.runs()
    a, b = (runs[runs.scenario == m.name].set_index(["stream", "replication"]) for m in models)
    assert (a["posterior_draw"] == b["posterior_draw"]).all() and (a["seed"] == b["seed"]).all()
    assert set(a["posterior_draw"]) == {0, 1}   # both particles used: replications differ
    run_experiment(design, models, tmp_path / "o", workers=1, progress=False)
    ind = pd.read_parquet(tmp_path / "o" / "indicators.parquet")
    rev = ind[ind.indicator == "industrial_revenue_tn_yuan"].pivot(index="run_id", columns="year", values="value")
    growth = (rev[2020] / rev[2015]).to_numpy()
    draw = runs.set_index("run_id").loc[rev.index, "posterior_draw"].to_numpy()
    assert growth[draw == 0].max() < growth[draw == 1].min()   # 0% vs 9% nominal growth a year
    man = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert man["design"]["posterior"]["digest"] == post.digest
    reach = json.loads((tmp_path / "o" / "analysis" / "reach.json").read_text())
    assert reach["posterior"]["file"] == post.path


def test_sweep_levels_share_the_draw_and_serial_equals_pool(tmp_path, digests):
    model = Ishigami(noise_sd=0.3, n_years=3)
    post = _toy()
    design = sweep_design(model, [parse_levels("x1=-1,1"), parse_levels("x3=0,2")], n_lhs=0,
                          replications=8, seed=5, chunk_size=5, posterior=post)
    runs = design.runs()
    per_level = runs.groupby(["stream", "replication"])["posterior_draw"].nunique()
    assert (per_level == 1).all() and runs["posterior_draw"].nunique() >= 2
    run_experiment(design, model, tmp_path / "serial", workers=1, progress=False)
    run_experiment(design, model, tmp_path / "pool", workers=2, progress=False)
    assert digests(tmp_path / "serial") == digests(tmp_path / "pool")
    ind = pd.read_parquet(tmp_path / "serial" / "indicators.parquet")
    row = runs.iloc[13]
    x2 = float(post.particles[row.posterior_draw, 0])
    expect = model({"x1": row.x1, "x2": x2, "x3": row.x3}, int(row.seed))["y"]
    assert ind[ind.run_id == 13].sort_values("year")["value"].tolist() == expect.tolist()


def test_bands_are_wider_with_a_posterior(tmp_path, write_posterior):
    """Same seeds with and without a two-particle posterior on nominal growth (3% or 9% a
    year, equal weight): the 5-95% band of 2020 national R&D widens at least 2-fold. With 16
    replications, all draws on one particle has probability 2 * 0.5**16 = 3e-5."""
    post = load_posterior(write_posterior(tmp_path / "p", [[0.03, 0.6], [0.09, 0.6]], [1.0, 1.0]))
    model = SimModelFunction(BASELINE, SCALE)
    spread = {}
    for name, p in (("none", None), ("posterior", post)):
        design = reach_design([model], n_lhs=0, replications=16, seed=3, posterior=p)
        run_experiment(design, model, tmp_path / name, workers=1, progress=False)
        ind = pd.read_parquet(tmp_path / name / "indicators.parquet")
        v = ind[(ind.indicator == "national_rd_bn_yuan") & (ind.year == 2020)]["value"].to_numpy()
        spread[name] = np.percentile(v, 95) - np.percentile(v, 5)
    assert spread["posterior"] > 2 * spread["none"] > 0


def test_posterior_key_cannot_also_be_a_factor(tmp_path, write_posterior):
    post = load_posterior(write_posterior(tmp_path / "p", [[0.04, 0.5]], [1.0]))
    model = SimModelFunction(BASELINE, SCALE)
    with pytest.raises(ExperimentError, match="both a design factor and a posterior parameter"):
        sweep_design(model, [parse_levels("parameters.nominal_growth=0.03,0.05")], posterior=post)
    # the scenario's own uncertainties on posterior keys are dropped (the posterior replaces them)
    d = reach_design([model], n_lhs=4, replications=1, seed=1, posterior=post)
    assert "parameters.nominal_growth" not in d.factor_names and d.factor_names
    with pytest.raises(ExperimentError, match="posterior toy"):
        reach_design([model], n_lhs=0, posterior=_toy(keys=("parameters.no_such_thing",)))


def test_cli_sweep_reach_sensitivity_take_and_report_the_posterior(tmp_path, capsys, write_posterior):
    from innosim.cli import main

    p = write_posterior(tmp_path / "p", [[0.04, 0.5], [0.06, 0.7]], [1.0, 2.0])
    digest = load_posterior(p).digest
    rc = main(["reach", BASELINE, "--lhs", "0", "--replications", "2", "--scale", str(SCALE),
               "--posterior", str(p), "--out", str(tmp_path / "r"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and out.count(f"posterior: {p / 'posterior.parquet'}") == 2  # before and in the table
    rc = main(["reach", BASELINE, "--lhs", "0", "--replications", "1", "--scale", str(SCALE),
               "--out", str(tmp_path / "r0"), "--no-progress"])
    assert rc == 0 and "posterior: none" in capsys.readouterr().out
    rc = main(["sweep", BASELINE, "--levels", "levers.super_deduction.rate_all=0.5,0.75", "--lhs", "0",
               "--replications", "2", "--scale", str(SCALE), "--posterior", str(p),
               "--out", str(tmp_path / "s"), "--no-progress"])
    assert rc == 0
    runs = pd.read_parquet(tmp_path / "s" / "design.parquet")
    assert (runs.groupby("replication")["posterior_draw"].nunique() == 1).all()
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["design"]["posterior"]["digest"] == digest
    rc = main(["sensitivity", BASELINE, "--method", "morris", "--n", "2", "--only", "parameters.innovation_zeta",
               "--replications", "1", "--scale", str(SCALE), "--posterior", str(p), "--out", str(tmp_path / "m"),
               "--no-progress"])
    assert rc == 2 and "both a design factor and a posterior parameter" in capsys.readouterr().err
    rc = main(["sensitivity", BASELINE, "--method", "morris", "--n", "2", "--only", "parameters.knowledge_depreciation",
               "--replications", "1", "--scale", str(SCALE), "--posterior", str(p), "--out", str(tmp_path / "m"),
               "--no-progress"])
    assert rc == 0
    res = json.loads((tmp_path / "m" / "analysis" / "morris.json").read_text())
    assert res["posterior"]["digest"] == digest and not math.isnan(len(res["factors"]))
