"""``innosim compare``: paired differences on hand numbers, end to end, and bad input."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.compare import paired_diff
from innosim.cli import main
from sim.indicators import TARGETS

ROOT = Path(__file__).resolve().parents[2]
POLICY = str(ROOT / "scenarios" / "policy_2016_2020.toml")
NO_DED = str(ROOT / "scenarios" / "cf_no_deduction_increase.toml")


# ---------------------------------------------------------------------------- paired_diff
def test_paired_diff_hand_numbers():
    a = np.array([10.0, 20.0, 30.0])
    d = paired_diff(a + [1, 2, 3], a)
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sd of [1,2,3] is 1
    assert d.n == 3
    assert d.mean == pytest.approx(2.0)
    assert (d.low, d.high) == pytest.approx((2.0 - half, 2.0 + half))
    assert half == pytest.approx(2.4841377, rel=1e-6)


def test_paired_diff_sign_and_conf():
    d = paired_diff([0, 0, 0, 0], [1, 2, 3, 4], conf=0.90)
    half = stats.t.ppf(0.95, 3) * np.std([1, 2, 3, 4], ddof=1) / 2.0
    assert d.mean == pytest.approx(-2.5)
    assert (d.low, d.high) == pytest.approx((-2.5 - half, -2.5 + half))


def test_paired_diff_single_pair_has_no_interval():
    d = paired_diff([3.0], [1.0])
    assert d.mean == 2.0 and d.n == 1 and math.isnan(d.low) and math.isnan(d.high)


def test_paired_diff_identical_runs_zero_width():
    d = paired_diff([1.0, 2.0], [1.0, 2.0])
    assert (d.mean, d.low, d.high) == (0.0, 0.0, 0.0)


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "out"
    import contextlib
    import io
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        rc = main(["compare", POLICY, NO_DED, "--replications", "8", "--scale", "0.005",
                   "--workers", "1", "--out", str(out)])
    return rc, out, o.getvalue(), e.getvalue()


def test_compare_exit_and_files(compared):
    rc, out, stdout, stderr = compared
    assert rc == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["compare_targets.csv", "compare_fiscal.csv", "compare_targets.png", "compare_fiscal.png", "manifest.json"])
    for png in ("compare_targets.png", "compare_fiscal.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # no staging folders left beside the output
    assert [p.name for p in out.parent.iterdir()] == ["out"]
    assert "compare: 2 scenarios x 8 shared seeds" in stdout


def test_compare_targets_csv(compared):
    _, out, _, _ = compared
    t = pd.read_csv(out / "compare_targets.csv")
    assert len(t) == 11  # T1..T9 and real T5 beside T5
    assert list(t.target) == ["T1", "T2", "T3", "T4", "T5", "T5real", "T6a", "T6b", "T7", "T8", "T9"]
    assert set(TARGETS) < set(t.target)
    assert set(t.scenario) == {"cf_no_deduction_increase"}
    assert np.allclose(t["diff"], t.scenario_mean - t.reference_mean)
    assert (t.ci_low <= t["diff"]).all() and (t["diff"] <= t.ci_high).all()
    t5 = t.set_index("target").loc["T5"]
    assert t5["diff"] < 0, t5


def test_compare_fiscal_csv(compared):
    _, out, _, _ = compared
    f = pd.read_csv(out / "compare_fiscal.csv")
    assert len(f) == 1
    row = f.iloc[0]
    assert row.scenario == "cf_no_deduction_increase"
    assert row.extra_cost_bn_yuan < 0
    assert row.extra_cost_ci_high < 0  # the saving is clear on 8 paired seeds
    assert row.extra_real_rd_bn_yuan < 0
    assert row.real_rd_per_yuan == pytest.approx(row.extra_real_rd_bn_yuan / row.extra_cost_bn_yuan)


def test_compare_manifest(compared):
    _, out, _, _ = compared
    m = json.loads((out / "manifest.json").read_text())
    assert m["command"] == "compare"
    assert [s["name"] for s in m["scenarios"]] == ["policy_2016_2020", "cf_no_deduction_increase"]
    assert len(m["seeds"]) == 8 and len(set(m["seeds"])) == 8
    assert all(isinstance(s, int) for s in m["seeds"])
    assert m["scale"] == 0.005


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("argv", [
    [POLICY],
    [POLICY, POLICY],
    [POLICY, NO_DED, "--replications", "0"],
    [POLICY, NO_DED, "--workers", "0"],
    [POLICY, NO_DED, "--scale", "-1"],
], ids=["one-scenario", "duplicate-names", "replications-0", "workers-0", "bad-scale"])
def test_compare_bad_input(argv, tmp_path, capsys):
    out = tmp_path / "never"
    opts = ([] if "--replications" in argv else ["--replications", "1"]) + \
        ([] if "--scale" in argv else ["--scale", "0.005"])
    rc = main(["compare", *argv, *opts, "--workers", "1", "--out", str(out)] if "--workers" not in argv
              else ["compare", *argv, *opts, "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("innosim: "), cap.err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
