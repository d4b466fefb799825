"""Pseudo-out-of-sample mechanics (issue 9): calibrate on the years up to 2012 only
(`innosim calibrate --until 2012`), forecast 2013-2015 from the calibrated model
(`innosim validate --base-year 2012 --posterior`), score it beside the trend forecaster
fitted to the years up to 2012.

The claims, each of which a wrong program fails:
* the calibration never sees an observation after 2012: perturbing every 2013-2015 value of
  the history leaves the posterior identical to the last bit, while perturbing one 2011 value
  changes it (so the comparison can fail);
* the forecast is scored on 2013-2015 only, growth measured from the 2012 observation, and
  the perturbed 2013-2015 values do change the score (they are what is scored);
* the trend forecaster is fitted to the observed years up to 2012 only, and its score equals
  a hand computation (numpy.polyfit on the log values, independent of experiments/validate.py).

Tiny budget (3 free parameters, population 6, 2 generations, scale 0.003): about 20 s.
"""
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from innosim.cli import main
from sim.history import load_history, shipped_history_path

ROOT = Path(__file__).resolve().parents[2]
WINDOW = str(ROOT / "scenarios" / "window_2008_2015.toml")
PRIORS3 = """
["parameters.rd_entry_rate"]
distribution = "uniform"
["parameters.rd_user_cost_elasticity"]
distribution = "uniform"
["parameters.tech_purchase_elasticity"]
distribution = "uniform"
"""
CAL = ["--population", "6", "--generations", "2", "--scale", "0.003", "--seed", "3", "--workers", "1",
       "--draws", "2"]


def _perturbed(src: Path, dst: Path, years: set[int], factor: float) -> Path:
    """The history file with every value of ``years`` multiplied by ``factor`` (text edit)."""
    def edit(m):
        y, v = int(m.group(1)), float(m.group(2))
        return f"{y} = {v * factor!r}" if y in years else m.group(0)

    out = []
    for line in src.read_text().splitlines():
        if line.startswith("values"):
            line = re.sub(r"(\d{4}) = ([0-9.eE+-]+)", edit, line)
        out.append(line)
    dst.write_text("\n".join(out) + "\n")
    return dst


def _calibrate(tmp: Path, history: Path, name: str, capsys, scenario: str = WINDOW) -> Path:
    out = tmp / name
    rc = main(["calibrate", scenario, "--history", str(history), "--priors", str(tmp / "priors.toml"),
               "--until", "2012", "--out", str(out), *CAL])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    return out


@pytest.fixture(scope="module")
def calibrations(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oos")
    (tmp / "priors.toml").write_text(PRIORS3)
    shipped = Path(shipped_history_path())
    late = _perturbed(shipped, tmp / "late.toml", {2013, 2014, 2015}, 1.3)
    early = _perturbed(shipped, tmp / "early.toml", {2011}, 1.3)
    return tmp, shipped, late, early


def test_calibration_until_2012_ignores_every_later_observation(calibrations, capsys):
    tmp, shipped, late, early = calibrations
    a = _calibrate(tmp, shipped, "a", capsys, scenario="window_2008_2015")  # a shipped scenario by name
    b = _calibrate(tmp, late, "b", capsys)
    c = _calibrate(tmp, early, "c", capsys)
    man = json.loads((a / "manifest.json").read_text())
    years = {s["year"] for s in man["statistics"]}
    assert years and max(years) == 2012 and min(years) > 2008 and man["base_year"] == 2008
    assert tuple(man["config"]["years"]) == (2009, 2010, 2011, 2012)
    pa, pb, pc = (pd.read_parquet(d / "posterior.parquet") for d in (a, b, c))
    pd.testing.assert_frame_equal(pa, pb)          # 2013-2015 changed by 30%: not one bit moves
    assert not pa.equals(pc)                        # 2011 changed by 30%: the posterior moves
    # the statistics hold the same observed values, the manifests differ only by the history digest
    mb = json.loads((b / "manifest.json").read_text())
    assert man["statistics"] == mb["statistics"] and man["history"]["digest"] != mb["history"]["digest"]


def test_forecast_from_2012_is_scored_on_2013_2015_beside_a_hand_computed_trend(calibrations, capsys):
    tmp, shipped, late, _ = calibrations
    post = tmp / "a"
    if not (post / "posterior.parquet").is_file():
        _calibrate(tmp, shipped, "a", capsys)
    docs = {}
    for name, hist in (("shipped", shipped), ("late", late)):
        rc = main(["validate", str(hist), "--scenario", "window_oos_2012", "--posterior", str(post), "--base-year", "2012",
                   "--replications", "3", "--scale", "0.003", "--seed", "3", "--json",
                   "--out", str(tmp / f"v-{name}")])
        cap = capsys.readouterr()
        assert rc == 0, cap.err
        docs[name] = json.loads(cap.out)
    doc = docs["shipped"]
    assert doc["base_year"] == 2012 and doc["posterior"]["file"].endswith("posterior.parquet")
    h = load_history(shipped)
    checked = 0
    for s in doc["series"]:
        obs = h.series[s["series"]].values
        assert s["years"] == [t for t in (2013, 2014, 2015) if t in obs]
        assert s["base_value"] == obs[2012]
        assert s["observed_growth"] == pytest.approx([math.log(obs[t] / obs[2012]) for t in s["years"]])
        fit = h.series[s["series"]].trend_years(2012)   # the years up to 2012 since the last break
        assert s["trend_fit_years"] == fit and fit == [t for t in sorted(obs) if t <= 2012 and t >= min(fit)]
        # hand computation of the trend forecaster: OLS of ln y on the year over the fit years
        beta = np.polyfit(fit, np.log([obs[t] for t in fit]), 1)[0]
        hand = np.mean([abs(beta * (t - 2012) - math.log(obs[t] / obs[2012])) for t in s["years"]])
        assert s["trend"]["score"] == pytest.approx(hand, rel=1e-9, abs=1e-12)
        assert s["ratio"] == pytest.approx(s["model"]["score"] / s["trend"]["score"])
        checked += 1
    assert checked >= 6
    # T5, by hand from the shipped numbers: the 2011 threshold break leaves 2011, 2012 (0.71, 0.77)
    t5 = next(s for s in doc["series"] if s["series"] == "industrial_rd_intensity")
    assert t5["trend_fit_years"] == [2011, 2012]
    # slope ln(0.77/0.71) = 0.0811 a year; forecast growth 0.0811, 0.1623, 0.2434 against observed
    # ln(0.80/0.77) = 0.0382, ln(0.84/0.77) = 0.0870, ln(0.90/0.77) = 0.1560:
    # mean |error| = (0.0429 + 0.0752 + 0.0874) / 3 = 0.0685
    assert t5["trend_slope"] == pytest.approx(0.0811, abs=1e-4)
    assert t5["trend"]["score"] == pytest.approx(0.0685, abs=1e-4)
    # national R&D: the census year is a segment of its own, so the trend sees 2010-2012
    nat = next(s for s in doc["series"] if s["series"] == "national_rd")
    assert nat["trend_fit_years"] == [2010, 2011, 2012]
    # the 2013-2015 observations are what is scored: perturbing them moves both scores
    late_t5 = next(s for s in docs["late"]["series"] if s["series"] == "industrial_rd_intensity")
    assert late_t5["trend"]["score"] != pytest.approx(t5["trend"]["score"])
    assert late_t5["trend_slope"] == pytest.approx(t5["trend_slope"])   # fit years unchanged
    assert late_t5["model"]["growth"] == pytest.approx(t5["model"]["growth"])  # same forecast


def test_until_must_leave_a_training_year(tmp_path, capsys):
    rc = main(["calibrate", WINDOW, "--until", "2008", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "--until 2008" in err and err.count("\n") == 1
    rc = main(["calibrate", WINDOW, "--until", "2010", "--years", "2012-2015", "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert rc == 2 and "--until 2010" in err and not (tmp_path / "y").exists()


def test_the_pseudo_out_of_sample_scenario_holds_nothing_known_only_after_2012():
    """window_oos_2012 = the training window with demand growth 2013-2015 and the average
    growth at their 2008-2012 values (hand computation from the history file), all else equal."""
    from sim.scenario import load_scenario

    w, o = load_scenario("window_2008_2015"), load_scenario("window_oos_2012")
    h = load_history()
    rd, t5 = h.series["industrial_rd"].values, h.series["industrial_rd_intensity"].values
    rev = {y: rd[y] / t5[y] * 100 / 1000 for y in (2008, 2012)}   # tn yuan: 50.4, 93.5
    assert rev[2008] == pytest.approx(50.4, abs=0.05) and rev[2012] == pytest.approx(93.5, abs=0.05)
    ratio = rev[2012] / rev[2008]
    assert o.parameters.nominal_growth == pytest.approx(math.log(ratio) / 4, abs=2e-4)      # 0.1545
    for y in (2013, 2014, 2015):
        assert o.nominal_growth(y) == pytest.approx(4 * (ratio ** (1 / 16) - 1), abs=2e-4)  # 0.1575
        assert o.nominal_growth(y) != pytest.approx(w.nominal_growth(y), abs=1e-3)
    for y in range(2009, 2013):
        assert o.nominal_growth(y) == w.nominal_growth(y)
    assert (o.run.start_year, o.run.end_year) == (w.run.start_year, w.run.end_year)
    assert o.levers == w.levers and o.initial == w.initial
    assert o.with_values({"parameters.nominal_growth": w.parameters.nominal_growth}).parameters == w.parameters
