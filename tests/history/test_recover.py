"""`innosim recover`: recovery of known parameters through the command path (issue 9,
identification). A CI-sized study (five free parameters, population 16, three generations,
scale 0.002) with the issue's claim as the assertion; its table and JSON checked against the
posterior computed here from the calibration's particles; the synthetic data checked
against direct model runs at the truth; bad input; determinism and resumption."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.calibrate import load_priors, weighted_quantile
from experiments.errors import ExperimentError
from experiments.recover import resolve_truth, synthetic_history, truth_seeds
from innosim.cli import main
from sim.history import History, Series, load_history, shipped_history_path
from sim.run import run
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
WINDOW = "window_2008_2015"
SCALE = 0.002
PRIORS5 = "".join(f'["parameters.{k}"]\ndistribution = "uniform"\n' for k in (
    "rd_entry_rate", "rd_upgrading_rate", "contract_registration_rate", "pct_internationalisation_rate",
    "hightech_apply_rate"))
# a truth inside every prior, away from the prior edges (a 90% central interval cannot hold an edge)
TRUTH5 = {"rd_entry_rate": 0.022, "rd_upgrading_rate": 0.015, "contract_registration_rate": 0.06,
          "pct_internationalisation_rate": 0.15, "hightech_apply_rate": 0.14}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("recover")
    (d / "p5.toml").write_text(PRIORS5)
    (d / "truth5.toml").write_text("[parameters]\n" + "".join(f"{k} = {v!r}\n" for k, v in TRUTH5.items()))
    (d / "p2.toml").write_text('["parameters.rd_entry_rate"]\ndistribution = "uniform"\n'
                               '["parameters.pct_internationalisation_rate"]\ndistribution = "uniform"\n')
    return d


@pytest.fixture(scope="module")
def study(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "r"
    rc = main(["recover", WINDOW, "--priors", str(files / "p5.toml"), "--truth", str(files / "truth5.toml"),
               "--population", "16", "--generations", "3", "--scale", str(SCALE), "--seed", "3",
               "--workers", "1", "--out", str(out)])
    assert rc == 0
    return out


def test_recovery_through_the_command_meets_the_bar(study):
    """The issue's claim at CI size: the truth lies inside the 90% posterior interval for
    at least 80% of the free parameters (one study at fixed seeds; deterministic). And the
    intervals are informative, so coverage is not bought with the prior: a calibration that
    ignored the data would return intervals as wide as the priors (width/prior near 1)."""
    rep = json.loads((study / "recovery.json").read_text())
    inside = [r["inside"] for r in rep["parameters"]]
    assert np.mean(inside) >= 0.8, rep["parameters"]
    width = {r["parameter"]: r["interval_vs_prior"] for r in rep["parameters"]}
    assert width["parameters.rd_entry_rate"] < 0.6 and np.mean(list(width.values())) < 0.75, width
    assert rep["summary"]["passed"] and rep["summary"]["inside"] == sum(inside)
    assert {r["parameter"]: r["truth"] for r in rep["parameters"]} == {f"parameters.{k}": v
                                                                      for k, v in TRUTH5.items()}


def test_table_and_json_match_the_posterior_computed_from_the_particles(study):
    rep = json.loads((study / "recovery.json").read_text())
    post = pd.read_parquet(study / "calibration" / "posterior.parquet")
    last = post[post.generation == post.generation.max()]
    assert post.generation.max() + 1 == rep["calibration"]["generations_done"] == 3
    assert len(last) == 16
    w = last.weight.to_numpy()
    md = (study / "recovery.md").read_text()
    for r in rep["parameters"]:
        name = r["parameter"].split(".", 1)[1]
        x = last[name].to_numpy()
        mean = float(np.sum(x * w) / np.sum(w))
        lo, hi = weighted_quantile(x, w, 0.05), weighted_quantile(x, w, 0.95)
        assert r["mean"] == pytest.approx(mean, rel=1e-12)
        assert (r["q05"], r["q95"]) == (pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
        t = TRUTH5[name]
        assert r["inside"] == (lo <= t <= hi)
        ratio = (hi - lo) / (0.9 * (r["prior_high"] - r["prior_low"]))
        assert r["interval_vs_prior"] == pytest.approx(ratio, rel=1e-9)
        assert r["barely_informed"] == (ratio >= 0.85)
        row = (f"| {r['parameter']} | [{r['prior_low']:.4g}, {r['prior_high']:.4g}] | {t:.4g} | {mean:.4g} | "
               f"[{lo:.4g}, {hi:.4g}] | {'yes' if r['inside'] else 'NO'} | {ratio:.3f} | "
               f"{'yes' if ratio >= 0.85 else ''} |")
        assert row in md
    k = sum(r["inside"] for r in rep["parameters"])
    assert f"for {k} of 5 free parameters ({100 * k / 5:.0f}%); bar 80%: {'PASS' if k >= 4 else 'FAIL'}" in md
    ess = float(w.sum() ** 2 / np.sum(w ** 2))  # Kish
    assert rep["summary"]["effective_sample_size"] == pytest.approx(ess, rel=1e-12)
    assert rep["summary"]["particles"] == 16 and f"{ess:.1f} of 16 particles" in md
    assert rep["summary"]["barely_informed"] == [r["parameter"] for r in rep["parameters"] if r["barely_informed"]]
    assert rep["calibration"]["posterior_digest"] == hashlib.sha256(
        (study / "calibration" / "posterior.parquet").read_bytes()).hexdigest()
    assert (study / "recovery_marginals.png").stat().st_size > 10_000


def test_synthetic_data_are_the_model_at_the_truth_on_the_observed_series_and_years(study):
    rep = json.loads((study / "recovery.json").read_text())
    seed = truth_seeds(3, 1)[0]
    assert rep["seeds"]["truth_runs"] == [seed] and rep["seeds"]["master"] == 3
    sc = load_scenario(WINDOW)
    res = run(sc.with_values({f"parameters.{k}": v for k, v in TRUTH5.items()}), seed=seed, scale=SCALE)
    years = list(res.years)
    synth = load_history(study / "synthetic_history.toml")
    assert rep["synthetic_history"]["digest"] == synth.digest
    observed = load_history(shipped_history_path()).scored()
    assert set(synth.series) == set(observed)  # every scored series (all lie in 2008-2015)
    for name, s in observed.items():
        assert synth.series[name].years == tuple(y for y in s.years if y in years)
        assert synth.series[name].indicator == s.indicator
        for y, v in synth.series[name].values.items():
            assert v == res.indicators[s.indicator][years.index(y)]
    # the micro-moments, recomputed from the same run
    from experiments.calibrate import load_moments
    mom = {m.name: m for m in load_moments(study / "synthetic_moments.toml")}
    assert sorted(mom) == sorted(rep["synthetic_moments"]["used"]) == [
        "hightech_enterprises_growth_2014_2015", "industrial_rd_performer_share_2015"]
    g = mom["hightech_enterprises_growth_2014_2015"]
    ht = res.indicators["hightech_enterprises"]
    assert (g.value, g.from_value, g.weight) == (ht[years.index(2015)], ht[years.index(2014)], 0.5)
    assert mom["industrial_rd_performer_share_2015"].value == \
        res.indicators["industrial_rd_performer_share_pct"][years.index(2015)]
    cal = json.loads((study / "calibration" / "manifest.json").read_text())
    assert cal["history"]["digest"] == synth.digest and len(cal["statistics"]) == rep["calibration"]["statistics"]


def test_synthetic_history_keeps_only_scored_series_and_simulated_years():
    h = History("obs.toml", "0", {
        "a": Series("a", "u", "s", {2007: 1.0, 2008: 2.0, 2010: 3.0}, frozenset(), "national_rd_bn_yuan"),
        "b": Series("b", "u", "s", {2009: 5.0}, frozenset(), None),
        "c": Series("c", "u", "s", {2001: 5.0}, frozenset(), "pct_applications")})
    years = [2008, 2009, 2010]
    paths = {"national_rd_bn_yuan": np.array([10.0, 11.0, 12.5]), "pct_applications": np.ones(3)}
    import tomllib
    raw = tomllib.loads(synthetic_history(h, years, paths, "n"))
    assert list(raw) == ["a"] and raw["a"]["values"] == {"2008": 10.0, "2010": 12.5}
    with pytest.raises(ExperimentError, match="must be positive"):
        synthetic_history(h, years, {"national_rd_bn_yuan": np.array([0.0, 1.0, 1.0])}, "n")


def test_synthetic_history_keeps_the_breaks_inside_its_years(tmp_path):
    h = History("obs.toml", "0", {
        "a": Series("a", "u", "s", {2008: 2.0, 2009: 2.5, 2010: 3.0}, frozenset(), "national_rd_bn_yuan", "",
                    {2009: "census \"two\""}),
        "b": Series("b", "u", "s", {2005: 1.0, 2008: 2.0, 2010: 3.0}, frozenset(), "pct_applications", "",
                    {2007: "old break, before the simulated years"})})
    years = [2008, 2009, 2010]
    paths = {"national_rd_bn_yuan": np.array([10.0, 11.0, 12.5]), "pct_applications": np.array([1.0, 2.0, 3.0])}
    f = tmp_path / "syn.toml"
    f.write_text(synthetic_history(h, years, paths, "n"))
    syn = load_history(f)
    assert syn.series["a"].breaks == {2009: 'census "two"'} and syn.series["b"].breaks == {}
    # so the synthetic data are fitted like the real ones: 2010 measured from 2009
    assert syn.series["a"].reference(2010, 2008) == 2009


def test_truth_from_a_posterior_mean_is_its_weighted_mean(files, tmp_path):
    post = tmp_path / "post"
    post.mkdir()
    pd.DataFrame({"generation": [0, 0, 1, 1, 1], "rd_entry_rate": [0.04, 0.04, 0.01, 0.02, 0.04],
                  "pct_internationalisation_rate": [0.3, 0.3, 0.1, 0.2, 0.3],
                  "weight": [0.5, 0.5, 1.0, 1.0, 2.0]}).to_parquet(post / "posterior.parquet")
    (post / "manifest.json").write_text(json.dumps({"priors": [{"key": "parameters.rd_entry_rate"},
                                                               {"key": "parameters.pct_internationalisation_rate"}]}))
    sc = load_scenario(WINDOW)
    values, sources, p = resolve_truth("posterior-mean", load_priors(files / "p2.toml"), sc, str(post))
    # last generation only, weights 1,1,2: (0.01 + 0.02 + 2 * 0.04) / 4 = 0.0275; (0.1 + 0.2 + 0.6) / 4 = 0.225
    assert values == {"parameters.rd_entry_rate": pytest.approx(0.0275),
                      "parameters.pct_internationalisation_rate": pytest.approx(0.225)}
    assert set(sources.values()) == {"posterior mean"} and p is not None
    with pytest.raises(ExperimentError, match="has no parameters.rd_upgrading_rate"):
        resolve_truth("posterior-mean", load_priors(files / "p5.toml"), sc, str(post))
    # --truth default: the scenario's values
    values, sources, p = resolve_truth("default", load_priors(files / "p2.toml"), sc, None)
    assert values == {"parameters.rd_entry_rate": sc.parameters.rd_entry_rate,
                      "parameters.pct_internationalisation_rate": sc.parameters.pct_internationalisation_rate}
    assert p is None


def test_truth_seeds_are_derived_from_the_master_seed():
    assert truth_seeds(3, 2) == truth_seeds(3, 2)
    assert len(set(truth_seeds(3, 3))) == 3 and truth_seeds(3, 1) != truth_seeds(4, 1)
    assert all(0 <= s < 2 ** 63 for s in truth_seeds(3, 3))


def _strip(rep: dict) -> dict:
    rep = dict(rep)
    rep.pop("execution")
    return rep


def test_same_seed_same_recovery_json_and_resume_redoes_it(files, tmp_path, capsys):
    """Determinism byte for byte (minus timings), across --workers, and --resume; the
    synthetic data of --truth-seeds 2 are the mean of the two truth runs."""
    t2 = tmp_path / "t2.toml"
    t2.write_text("[parameters]\nrd_entry_rate = 0.022\n")

    def args(seed, out, workers="1"):
        return ["recover", WINDOW, "--priors", str(files / "p2.toml"), "--truth", str(t2), "--population", "5",
                "--generations", "1", "--scale", str(SCALE), "--seed", str(seed), "--truth-seeds", "2",
                "--no-moments", "--workers", workers, "--out", str(tmp_path / out)]

    assert main(args(8, "a")) == 0
    assert main(args(8, "b", workers="2")) == 0
    a = json.loads((tmp_path / "a" / "recovery.json").read_text())
    b = json.loads((tmp_path / "b" / "recovery.json").read_text())
    assert _strip(a) == _strip(b)
    assert (tmp_path / "a" / "synthetic_history.toml").read_bytes() == \
        (tmp_path / "b" / "synthetic_history.toml").read_bytes()
    assert a["truth"]["sources"] == {"parameters.rd_entry_rate": "truth file",
                                     "parameters.pct_internationalisation_rate": "scenario value"}
    assert a["synthetic_moments"]["used"] == [] and a["synthetic_moments"]["why_none"] == "--no-moments"
    assert not (tmp_path / "a" / "synthetic_moments.toml").exists()
    # --truth-seeds 2: the mean of the two runs at the truth
    sc = load_scenario(WINDOW).with_values({"parameters.rd_entry_rate": 0.022})
    runs = [run(sc, seed=s, scale=SCALE) for s in a["seeds"]["truth_runs"]]
    years = list(runs[0].years)
    synth = load_history(tmp_path / "a" / "synthetic_history.toml")
    v = synth.series["pct_applications"].values[2013]
    assert v == pytest.approx(np.mean([r.indicators["pct_applications"][years.index(2013)] for r in runs]),
                              rel=1e-12)
    # --resume of the same study (redone from its calibration) gives the same report
    assert main(args(8, "a") + ["--resume"]) == 0
    assert _strip(json.loads((tmp_path / "a" / "recovery.json").read_text())) == _strip(a)
    capsys.readouterr()


@pytest.mark.parametrize("extra, fragment", [
    (["--truth", "nope.toml"], "no such file"),
    (["--truth", "{bad_key}"], "is not a free parameter of the priors"),
    (["--truth", "{outside}"], "lies outside its prior"),
    (["--truth", "default", "--posterior", "default"], "--posterior is used only with --truth posterior-mean"),
    (["--population", "0"], "--population must be at least 1"),
    (["--truth-seeds", "0"], "--truth-seeds must be at least 1"),
    (["--moments", "x.toml", "--no-moments"], "exclude each other"),
    (["--overwrite", "--resume"], "exclude each other"),
    (["--priors", "{bad_priors}"], "not a parameter or initial value"),
    (["--scale", "0"], "scale"),
    (["--generations", "two"], "expected a whole number"),
    (["--posterior", "{nowhere}"], "no posterior.parquet"),
])
def test_bad_input_one_line_exit_2_nothing_written(files, tmp_path, capsys, extra, fragment):
    (tmp_path / "bad_key.toml").write_text("[parameters]\nnominal_growth = 0.1\n")
    (tmp_path / "outside.toml").write_text("[parameters]\nrd_entry_rate = 0.5\n")
    (tmp_path / "bad_priors.toml").write_text('["parameters.nope"]\ndistribution = "uniform"\n')
    extra = [e.format(bad_key=tmp_path / "bad_key.toml", outside=tmp_path / "outside.toml",
                      bad_priors=tmp_path / "bad_priors.toml", nowhere=tmp_path / "nowhere") for e in extra]
    args = ["recover", WINDOW, "--priors", str(files / "p2.toml"), "--out", str(tmp_path / "o")]
    if "--priors" in extra:
        args = ["recover", WINDOW, "--out", str(tmp_path / "o")]
    rc = main(args + extra)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and fragment in err, err
    assert not (tmp_path / "o").exists()


def test_a_scenario_without_the_window_and_a_foreign_folder_are_refused(files, tmp_path, capsys):
    rc = main(["recover", str(ROOT / "scenarios" / "baseline.toml"), "--priors", str(files / "p2.toml"),
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "nothing to recover from" in err and not (tmp_path / "o").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    rc = main(["recover", WINDOW, "--priors", str(files / "p2.toml"), "--out", str(tmp_path / "full")])
    err = capsys.readouterr().err
    assert rc == 2 and "is not empty" in err and err.count("\n") == 1
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
