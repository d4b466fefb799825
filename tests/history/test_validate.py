"""`innosim validate`: known-answer scores for a perfect forecaster, the trend forecaster
(hand computation) and the model band; the command end to end."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.validate import fit_trend, parse_years, score_model, score_trend, validate, validate_series
from innosim.cli import main
from sim.history import History, Series, load_history

ROOT = Path(__file__).resolve().parents[2]
OBS = {2008: 100.0, 2009: 110.0, 2010: 125.0, 2011: 130.0, 2012: 150.0}
YEARS = [2008, 2009, 2010, 2011, 2012]


def _series(values=OBS, indicator="national_rd_bn_yuan"):
    return Series("x", "bn", "test", dict(values), frozenset(), indicator)


def test_perfect_forecaster_scores_zero_and_covers_everything():
    paths = np.tile([OBS[y] for y in YEARS], (5, 1)) * 3.7  # any level: growth is scored
    r = validate_series(_series(), paths, YEARS, 2010)
    assert r.years == [2011, 2012]
    assert r.model.score == 0.0
    assert r.model.abs_log_error == [0.0, 0.0]
    assert r.model.inside == [True, True] and r.model.coverage == 1.0
    assert r.ratio == 0.0


def test_trend_forecaster_matches_hand_computation():
    # fit years 2008, 2009, 2010 (<= base): equally spaced, so the OLS slope is (y3 - y1) / 2
    beta = (math.log(125) - math.log(100)) / 2
    e2011 = abs(beta * 1 - math.log(130 / 125))
    e2012 = abs(beta * 2 - math.log(150 / 125))
    tr, b, fit = score_trend(OBS, 2010, [2011, 2012])
    assert fit == [2008, 2009, 2010]
    assert b == pytest.approx(beta, abs=1e-14)
    assert tr.abs_log_error == pytest.approx([e2011, e2012], abs=1e-14)
    assert tr.score == pytest.approx((e2011 + e2012) / 2, abs=1e-14)
    # prediction band: residuals of three equally spaced points are (d, -2d, d) with
    # d = (y1 - 2 y2 + y3) / 6; s_e^2 = 6 d^2 / (n - 2); S_xx = 2
    y = [math.log(OBS[t]) for t in (2008, 2009, 2010)]
    d = (y[0] - 2 * y[1] + y[2]) / 6
    se = math.sqrt(6 * d * d / 1)
    t95 = 6.313751514675041  # Student t, 1 degree of freedom, 95th percentile
    for h, lo, hi in zip((1, 2), tr.low, tr.high):
        half = t95 * se * math.sqrt(1 + h * h / 2)
        assert lo == pytest.approx(beta * h - half, rel=1e-9) and hi == pytest.approx(beta * h + half, rel=1e-9)
    # the observations lie inside that (wide) band
    assert tr.inside == [True, True]


def test_trend_with_two_fit_years_has_no_band_and_one_year_is_refused():
    tr, b, fit = score_trend({2009: 100.0, 2010: 121.0, 2012: 150.0}, 2010, [2012])
    assert b == pytest.approx(math.log(1.21))
    assert tr.coverage is None and tr.inside == [None]
    with pytest.raises(ValueError, match="fewer than two"):
        fit_trend({2010: 1.0, 2012: 2.0}, 2010)


def test_model_median_and_band_are_percentiles_of_replication_growth():
    # three replications growing 0%, 10% and 30% from 2010 to 2011
    paths = np.array([[1.0, 1.0], [2.0, 2.2], [1.0, 1.3]])
    obs = {2010: 50.0, 2011: 50.0 * 1.25}
    s = score_model(paths, [2010, 2011], obs, 2010, [2011])
    g = sorted([0.0, math.log(1.1), math.log(1.3)])
    assert s.growth == pytest.approx([g[1]])
    assert s.low == pytest.approx([g[0] + 0.1 * (g[1] - g[0])])   # linear interpolation at 5%
    assert s.high == pytest.approx([g[1] + 0.9 * (g[2] - g[1])])  # and at 95%
    assert s.abs_log_error == pytest.approx([abs(g[1] - math.log(1.25))])
    assert s.inside == [True]
    s2 = score_model(paths, [2010, 2011], {2010: 50.0, 2011: 50.0 * 1.4}, 2010, [2011])
    assert s2.inside == [False] and s2.coverage == 0.0


def test_validate_summarises_and_skips_with_reasons():
    h = History("mem", "0" * 64, {
        "a": _series(),
        "b": Series("b", "bn", "t", {2011: 1.0, 2012: 2.0}, frozenset(), "national_rd_bn_yuan"),
        "c": Series("c", "bn", "t", {2010: 1.0}, frozenset(), None),
    })
    paths = {"national_rd_bn_yuan": np.tile([OBS[y] for y in YEARS], (3, 1))}
    res = validate(h, paths, YEARS, 2010, parse_years("2011-2012"))
    assert [r.series for r in res["series"]] == ["x"]
    assert {k["series"]: k["reason"] for k in res["skipped"]} == {
        "b": "not observed in the base year 2010", "c": "names no model indicator"}
    assert res["summary"]["model_score_mean"] == 0.0 and res["summary"]["ratio"] == 0.0
    # --years restricts the scored years
    res = validate(h, paths, YEARS, 2010, [2012])
    assert res["series"][0].years == [2012]


def test_parse_years():
    assert parse_years("2013-2015") == [2013, 2014, 2015]
    assert parse_years("2015,2013") == [2013, 2015]
    assert parse_years(None) is None


def _results_folder(tmp_path, history, years, factor=1.0):
    """An `innosim run`-shaped folder whose paths reproduce the observed series (x factor)."""
    recs = []
    for rep in range(3):
        for s in history.scored().values():
            last = None
            for y in years:
                last = s.values.get(y, last if last is not None else next(iter(s.values.values())))
                recs.append((rep, 1, y, s.indicator, last * factor ** (y - years[0])))
    folder = tmp_path / "runs"
    folder.mkdir()
    pd.DataFrame(recs, columns=["replication", "seed", "year", "indicator", "value"]).to_parquet(folder / "indicators.parquet")
    return folder


def test_cli_on_saved_paths_perfect_forecaster_json(tmp_path, capsys):
    h = load_history()
    folder = _results_folder(tmp_path, h, list(range(2008, 2016)))
    out = tmp_path / "v"
    rc = main(["validate", "--results", str(folder), "--base-year", "2008", "--json", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    doc = json.loads(cap.out)
    assert doc["history_digest"] == h.digest and doc["base_year"] == 2008
    scored = {s["series"]: s for s in doc["series"]}
    # series observed in 2008 and later are scored; the rest are skipped with a reason
    assert set(scored) == {"national_rd", "enterprise_rd", "enterprise_rd_share", "industrial_rd",
                           "industrial_rd_intensity", "industrial_firms_with_rd_share",
                           "tech_contract_turnover", "pct_applications"}
    for s in scored.values():
        assert s["model"]["score"] == pytest.approx(0.0, abs=1e-12)
        assert s["trend"] is None  # nothing observed before 2008
    assert {k["series"] for k in doc["skipped"]} >= {"rd_personnel_fte", "high_tech_enterprises"}
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["validation.json", "validation.txt"] + [f"validate_{n}.png" for n in scored])


def test_cli_ignore_breaks_scores_growth_across_them(tmp_path, capsys):
    h = load_history()
    folder = _results_folder(tmp_path, h, list(range(2008, 2016)))
    docs = {}
    for flag in ([], ["--ignore-breaks"]):
        rc = main(["validate", "--results", str(folder), "--json", *flag])
        cap = capsys.readouterr()
        assert rc == 0, cap.err
        docs[bool(flag)] = json.loads(cap.out)
    nat = {k: next(s for s in d["series"] if s["series"] == "national_rd") for k, d in docs.items()}
    assert docs[False]["breaks"] == "used" and docs[True]["breaks"] == "ignored"
    assert nat[False]["years"] == list(range(2011, 2016)) and nat[False]["references"] == [2010] * 5
    assert nat[True]["years"] == list(range(2009, 2016)) and nat[True]["references"] == [2008] * 7
    obs = h.series["national_rd"].values
    assert nat[True]["observed_growth"][-1] == pytest.approx(math.log(obs[2015] / obs[2008]))
    assert nat[False]["observed_growth"][-1] == pytest.approx(math.log(obs[2015] / obs[2010]))


def test_cli_pseudo_out_of_sample_base_2012_scores_model_against_trend(tmp_path, capsys):
    h = load_history()
    folder = _results_folder(tmp_path, h, list(range(2008, 2016)))
    rc = main(["validate", str(h.path), "--results", str(folder), "--base-year", "2012",
               "--years", "2013-2015", "--out", str(tmp_path / "v")])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    line = next(l for l in cap.out.splitlines() if l.startswith("industrial_rd_intensity"))
    # the saved paths are the observations, so the model scores 0 against a positive trend score
    # the trend sees only the years since the 2011 break (2011, 2012: two points, so no band)
    s5 = h.series["industrial_rd_intensity"]
    tr, _, fit = score_trend(s5.values, 2012, [2013, 2014, 2015], fit_years=s5.trend_years(2012))
    assert fit == [2011, 2012] and tr.coverage is None
    assert f"{tr.score:.3f}" in line and "0.000" in line and "3/3" in line


def test_cli_runs_the_model_for_a_history_beyond_2015(tmp_path, capsys):
    f = tmp_path / "h.toml"
    f.write_text('[t5]\nunit = "pct"\nsource = "made up for the test"\n'
                 'values = {2013 = 0.80, 2014 = 0.84, 2015 = 0.90, 2017 = 0.95}\n'
                 'indicator = "rd_intensity_industry_pct"\n')
    out = tmp_path / "v"
    rc = main(["validate", str(f), "--scenario", str(ROOT / "scenarios" / "baseline.toml"),
               "--replications", "2", "--scale", "0.003", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    doc = json.loads((out / "validation.json").read_text())
    assert doc["source"] == "run" and doc["replications"] == 2 and len(doc["seeds"]) == 2
    s = doc["series"][0]
    assert s["years"] == [2017] and s["trend_fit_years"] == [2013, 2014, 2015]
    assert s["ratio"] == pytest.approx(s["model"]["score"] / s["trend"]["score"])


def test_cli_refuses_a_history_the_model_cannot_score(capsys):
    rc = main(["validate", "--results", "/nonexistent"])
    assert rc == 2 and "no indicators.parquet" in capsys.readouterr().err
    rc = main(["validate", "--scenario", str(ROOT / "scenarios" / "baseline.toml"), "--replications", "1",
               "--scale", "0.003", "--json"])
    err = capsys.readouterr().err
    assert rc == 2 and "no series can be scored" in err and err.count("\n") == 1


def test_a_break_rebases_growth_for_data_model_and_trend_by_hand():
    # the data jump x1.5 at the 2010 break (a new survey); the model has no jump
    obs = {2007: 80.0, 2008: 100.0, 2009: 110.0, 2010: 180.0, 2011: 200.0, 2012: 230.0}
    model = np.tile([100.0, 110.0, 120.0, 200.0 / 1.5, 230.0 / 1.5], (4, 1)) * 2.0
    years = [2008, 2009, 2010, 2011, 2012]
    plain = Series("x", "bn", "t", obs, frozenset(), "national_rd_bn_yuan")
    broken = Series("x", "bn", "t", obs, frozenset(), "national_rd_bn_yuan", "", {2010: "census"})
    # without the break the jump is an error of ln(1.5) in every later year
    r0 = validate_series(plain, model, years, 2008)
    assert r0.model.abs_log_error == pytest.approx([0.0, math.log(1.5), math.log(1.5), math.log(1.5)], abs=1e-12)
    # with it, 2010 opens a segment (not scored) and 2011, 2012 are measured from 2010:
    # model ln((200/1.5)/120) against data ln(200/180), i.e. exact here
    r = validate_series(broken, model, years, 2008)
    assert r.years == [2009, 2011, 2012] and r.references == [2008, 2010, 2010]
    assert r.reference_values == [100.0, 180.0, 180.0] and r.unscored == {2010: 180.0}
    assert r.observed_growth == pytest.approx([math.log(1.1), math.log(200 / 180), math.log(230 / 180)])
    assert r.model.growth == pytest.approx([math.log(1.1), math.log(200 / 1.5 / 120), math.log(230 / 1.5 / 120)])
    assert r.model.abs_log_error == pytest.approx([0.0, abs(math.log(200 / 1.5 / 120) - math.log(200 / 180)),
                                                   abs(math.log(230 / 1.5 / 120) - math.log(230 / 180))], abs=1e-12)
    # the trend from base 2009 is fitted on the base's segment (2007-2009: no break before 2010)
    # and forecasts 2011, 2012 from the reference 2010: beta * (t - 2010)
    r9 = validate_series(broken, model, years, 2009)
    assert r9.years == [2011, 2012] and r9.trend_fit_years == [2007, 2008, 2009]
    beta = (math.log(110) - math.log(80)) / 2
    assert r9.trend.growth == pytest.approx([beta, 2 * beta])
    # from base 2011 the trend sees only the segment after the break
    r11 = validate_series(broken, model, years, 2011)
    assert r11.trend_fit_years == [2010, 2011] and r11.trend_slope == pytest.approx(math.log(200 / 180))
    assert r11.years == [2012] and r11.references == [2011]


def test_break_without_a_later_observation_leaves_nothing_to_score():
    s = Series("x", "bn", "t", {2008: 1.0, 2010: 2.0}, frozenset(), "national_rd_bn_yuan", "", {2009: "census"})
    with pytest.raises(ValueError, match="a break opens each"):
        validate_series(s, np.ones((2, 3)), [2008, 2009, 2010], 2008)


def test_validate_text_marks_series_with_breaks(tmp_path):
    f = tmp_path / "h.toml"
    f.write_text('[a]\nunit = "bn"\nsource = "s"\nindicator = "national_rd_bn_yuan"\n'
                 'values = {2015 = 1.0, 2016 = 2.0, 2017 = 3.0, 2018 = 4.0}\nbreaks = {2017 = "census"}\n')
    from experiments.validate import format_validation
    h = load_history(f)
    paths = np.array([[1.0, 1.1, 1.2, 1.3], [1.0, 1.2, 1.3, 1.4]])
    res = validate(h, {"national_rd_bn_yuan": paths}, [2015, 2016, 2017, 2018], 2015)
    text = format_validation(res)
    assert "a*" in text and "break 2017: census" in text and "first observed year on or after it" in text
    assert res["series"][0].years == [2016, 2018] and res["series"][0].references == [2015, 2017]
