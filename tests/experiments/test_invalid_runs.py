"""Issue 8, failure class "silently wrong probabilities": a run whose indicator is NaN or
infinite is invalid, recorded with its reason, excluded (and counted) by reachability and
PRIM, refused by Sobol'/Morris, never counted as a miss; commands exit 3 unless told to
tolerate the share. Also the Wilson-interval rounding that crashed `report` at P = 0 or 1."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.analysis import wilson
from experiments.report import reach_plot
from experiments.validity import INVALID_EXIT, invalid_runs, reason_of
from innosim.cli import main

ROOT = Path(__file__).resolve().parents[2]
NAN_MODEL = "builtin:ishigami?noise_sd=0.2&n_years=3&nan_above=1.0"


def test_invalid_definition_by_hand():
    ind = pd.DataFrame({
        "run_id": [0, 0, 1, 1, 2, 2, 3, 3],
        "year": [2015, 2016] * 4,
        "indicator": ["a"] * 8,
        "value": [np.nan, 1.0,        # run 0: NaN only in the first year (an undefined flow): valid
                  1.0, np.nan,        # run 1: NaN later: invalid
                  np.inf, 1.0,        # run 2: infinite, even in the first year: invalid
                  1.0, -np.inf],      # run 3: invalid
    })
    bad = invalid_runs(ind)
    assert bad["run_id"].tolist() == [1, 2, 3]
    assert bad["reason"].tolist() == ["NaN a in 2016", "infinite a in 2015", "infinite a in 2016"]
    assert reason_of(np.array([[np.nan, 1.0], [2.0, 3.0]]), (2015, 2016), ["a", "b"]) is None
    assert reason_of(np.array([[1.0, np.nan], [2.0, np.inf]]), (2015, 2016), ["a", "b"]) == \
        "NaN a in 2016 (and 1 more values)"


def test_silently_wrong_probabilities_sweep_excludes_and_counts_invalid_runs(tmp_path, run_cli):
    out = tmp_path / "s"
    r = run_cli("sweep", NAN_MODEL, "--lhs", "60", "--replications", "2", "--seed", "3",
                "--workers", "1", "--no-progress", "--out", out)
    assert r.returncode == INVALID_EXIT, r.stderr
    assert "invalid (NaN/inf" in r.stderr and "never counted as a miss" in r.stderr
    runs = pd.read_parquet(out / "design.parquet")
    ind = pd.read_parquet(out / "indicators.parquet")
    nan_runs = set(runs.loc[runs["x1"] > 1.0, "run_id"])
    assert 0 < len(nan_runs) < len(runs)
    inv = json.loads((out / "analysis" / "invalid.json").read_text())
    assert inv["n_invalid"] == len(nan_runs) and {x["run_id"] for x in inv["runs"]} == nan_runs
    assert all(x["reason"] == "NaN y in 2020" for x in inv["runs"])
    reach = json.loads((out / "analysis" / "reach.json").read_text())
    rec = reach["groups"][0]["targets"]["TY"]
    final = ind[(ind.year == 2020)].set_index("run_id")["value"]
    valid = final.drop(index=list(nan_runs))
    assert rec["n_invalid"] == len(nan_runs) and rec["n"] == len(valid)
    assert rec["k"] == int((valid >= 3.5).sum())
    assert rec["p"] == pytest.approx((valid >= 3.5).mean())       # not k / (all runs)
    assert rec["p"] != pytest.approx((valid >= 3.5).sum() / len(runs))
    disc = json.loads((out / "analysis" / "discovery.json").read_text())
    assert disc["n_invalid_excluded"] == len(nan_runs)
    assert disc["targets"]["TY"]["ishigami"]["n_runs"] == len(valid)
    assert f"({len(nan_runs)} invalid excluded)" in r.stdout
    # the same experiment with a tolerated share: exit 0
    r2 = run_cli("sweep", NAN_MODEL, "--lhs", "60", "--replications", "2", "--seed", "3",
                 "--workers", "1", "--no-progress", "--out", tmp_path / "s2", "--tolerate-invalid", "0.5")
    assert r2.returncode == 0, r2.stderr
    assert "within the tolerated share 0.5" in r2.stderr


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_silently_wrong_probabilities_sensitivity_refuses_invalid_points(tmp_path, run_cli, method):
    out = tmp_path / method
    r = run_cli("sensitivity", NAN_MODEL, "--method", method, "--n", "8", "--replications", "1",
                "--workers", "1", "--no-progress", "--out", out)
    assert r.returncode == INVALID_EXIT, r.stderr
    res = json.loads((out / "analysis" / f"{method}.json").read_text())
    rec = res["indicators"]["y"]
    assert rec["status"].startswith("invalid runs (NaN/inf) at") and rec["n_invalid_points"] > 0
    assert res["n_invalid_runs"] > 0 and "S1" not in rec and "mu_star" not in rec


def test_silently_wrong_probabilities_run_exits_3_and_never_counts_a_miss(tmp_path, capsys, monkeypatch):
    import experiments.compare as cmp

    real = cmp._run_one

    def poisoned(job):          # the first replication's T5 turns NaN in 2019
        res = real(job)
        if job[1] == seeds[0]:
            res.indicators["rd_intensity_industry_pct"] = res.indicators["rd_intensity_industry_pct"].copy()
            res.indicators["rd_intensity_industry_pct"][4] = np.nan
        return res

    from experiments.seeds import replication_seeds as derive_seeds
    seeds = derive_seeds(9, 2)
    monkeypatch.setattr(cmp, "_run_one", poisoned)
    base = ["run", str(ROOT / "scenarios" / "policy_2016_2020.toml"), "--replications", "2",
            "--scale", "0.002", "--seed", "9", "--workers", "1"]
    assert main(base + ["--out", str(tmp_path / "a")]) == INVALID_EXIT
    cap = capsys.readouterr()
    assert "1 of 2 replications are INVALID" in cap.out and "NaN rd_intensity_industry_pct in 2019" in cap.out
    summary = pd.read_csv(tmp_path / "a" / "summary.csv")
    assert (summary["n_valid"] == 1).all()
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert m["invalid_replications"] == [{"replication": 0, "seed": seeds[0],
                                          "reason": "NaN rd_intensity_industry_pct in 2019"}]
    assert main(base + ["--out", str(tmp_path / "b"), "--tolerate-invalid", "0.5"]) == 0
    assert main(base + ["--out", str(tmp_path / "c"), "--tolerate-invalid", "1.5"]) == 2
    assert not (tmp_path / "c").exists()


def test_report_wilson_bounds_never_on_the_wrong_side_of_p():
    for n in range(1, 3000):
        lo, hi = wilson(0, n)
        assert lo == 0.0 and hi >= 0.0
        lo, hi = wilson(n, n)
        assert hi == 1.0 and lo <= 1.0
        k = n // 3
        lo, hi = wilson(k, n)
        assert lo <= k / n <= hi


def test_report_survives_stored_bounds_on_the_wrong_side_and_no_valid_runs(tmp_path):
    reach = {"final_year": 2020, "groups": [
        {"label": "a", "targets": {"T5": {"p": 0.0, "ci": [1e-17, 0.03]}}},
        {"label": "b", "targets": {"T5": {"p": 1.0, "ci": [0.97, 1 - 1e-16]}}},
        {"label": "c", "targets": {"T5": {"p": None, "ci": [None, None]}}}]}
    assert reach_plot(reach, tmp_path) == "analysis/reachability.png"
    assert (tmp_path / "reachability.png").stat().st_size > 1000


def test_silently_wrong_probabilities_compare_leaves_invalid_pairs_out(tmp_path, capsys, monkeypatch):
    import experiments.compare as cmp
    from experiments.seeds import replication_seeds as derive_seeds

    real = cmp._run_one
    seeds = derive_seeds(9, 3)

    def poisoned(job):          # the baseline's first replication turns invalid (T5 infinite)
        res = real(job)
        if job[0].name == "baseline" and job[1] == seeds[0]:
            res.indicators["rd_intensity_industry_pct"] = np.full(6, np.inf)
        return res

    monkeypatch.setattr(cmp, "_run_one", poisoned)
    rc = main(["compare", str(ROOT / "scenarios" / "policy_2016_2020.toml"), str(ROOT / "scenarios" / "baseline.toml"),
               "--replications", "3", "--scale", "0.002", "--seed", "9", "--workers", "1",
               "--out", str(tmp_path / "c")])
    cap = capsys.readouterr()
    assert rc == INVALID_EXIT
    assert "INVALID run: baseline replication 0: infinite rd_intensity_industry_pct in 2015" in cap.out
    rows = pd.read_csv(tmp_path / "c" / "compare_targets.csv")
    assert (rows["n_pairs"] == 2).all() and (rows["n_pairs_invalid"] == 1).all()
    assert np.isfinite(rows["diff"]).all() and np.isfinite(rows["p_reach_scenario"]).all()
