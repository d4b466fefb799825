"""The Mesa-native API: running/horizon, DataCollector, Result frames, shipped scenarios, batch_run."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from sim import INDICATORS, InnovationModel, load_scenario, run
from sim.agents.firms import SEGMENTS, FirmAgent
from sim.model import SAMPLE_PER_SEGMENT

STEPS = 20  # quarters of the default horizon 2015-2020
from sim.scenario import ScenarioError, scenario_catalogue, shipped_scenarios


@pytest.fixture(scope="module")
def stepped():
    m = InnovationModel("policy_2016_2020", seed=3)
    n = 0
    while m.running:  # the Mesa idiom must stop at the horizon
        m.step()
        n += 1
        assert n <= STEPS
    return m, n


def test_running_turns_false_at_the_horizon_and_stepping_past_is_a_noop(stepped):
    m, n = stepped
    assert n == STEPS == 20 and m.quarter == 20 and m.year == 2020 and not m.running
    before = m.recorder.as_arrays()
    rev = m.firms.revenue.copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            m.step()
    assert len(caught) == 3 and "horizon" in str(caught[0].message)
    assert m.quarter == 20 and not m.running and m.recorder.years == [2015, 2016, 2017, 2018, 2019, 2020]
    assert np.array_equal(rev, m.firms.revenue)
    after = m.recorder.as_arrays()
    assert all(np.array_equal(before[k], after[k], equal_nan=True) for k in before)
    assert len(m.datacollector.get_model_vars_dataframe()) == 20  # no rows for no-op steps


def test_model_reporters_cover_every_indicator_and_equal_the_annual_record(stepped):
    m, _ = stepped
    df = m.datacollector.get_model_vars_dataframe()
    assert set(INDICATORS) <= set(df.columns)
    assert list(df["year"]) == [y for y in range(2016, 2021) for _ in range(4)]
    assert list(df["quarter"]) == [1, 2, 3, 4] * 5
    q4 = df[df["quarter"] == 4].set_index("year")
    annual = m.annual_frame()
    for k in INDICATORS:
        assert np.array_equal(q4[k].to_numpy(), annual.loc[2016:2020, k].to_numpy(), equal_nan=True), k
        assert df.loc[df["quarter"] != 4, k].isna().all(), k  # annual values only at the year's close
    assert annual.index[0] == 2015


def test_agent_reporters_follow_the_documented_firm_sample(stepped):
    m, _ = stepped
    f = m.firms
    m0 = InnovationModel("policy_2016_2020", seed=3)  # the sample is drawn at set-up (segments may change later)
    assert m0.firm_sample == m.firm_sample and len(m.firm_sample) <= 3 * SAMPLE_PER_SEGMENT
    for seg in range(3):
        rows = [r for r in m0.firm_sample if m0.firms.segment[r] == seg]
        assert 0 < len(rows) <= SAMPLE_PER_SEGMENT
        rev = np.sort(m0.firms.revenue[rows])
        alive = m0.firms.revenue[m0.firms.alive & (m0.firms.segment == seg)]
        assert rev[0] <= np.quantile(alive, 0.1) and rev[-1] >= np.quantile(alive, 0.9)  # spans the distribution
    ag = m.datacollector.get_agenttype_vars_dataframe(FirmAgent)
    last = ag.xs(20, level="Step")
    assert len(last) == len(m.firm_sample)
    for r in m.firm_sample:
        a = m.firm(r)
        row = last.loc[a.unique_id]
        assert row["revenue_m_yuan"] == f.revenue[r] and row["segment"] == SEGMENTS[f.segment[r]]
        assert row["rd_reported_m_yuan"] == pytest.approx(f.rd_real[r] + f.relabel[r], rel=1e-12)
        assert bool(row["hightech"]) == bool(f.hightech[r])


def test_collecting_does_not_change_results():
    sc = load_scenario("baseline")
    m = InnovationModel(sc, seed=11)
    m.run_model()
    r = run(sc, seed=11)
    for k in INDICATORS:
        assert np.array_equal(m.recorder.as_arrays()[k], r.indicators[k], equal_nan=True)


def test_result_frames():
    r = run("baseline", seed=2)
    tidy = r.to_frame()
    assert list(tidy.columns) == ["scenario", "seed", "scale", "year", "indicator", "unit", "value"]
    assert len(tidy) == 6 * len(INDICATORS) and set(tidy["year"]) == set(range(2015, 2021))
    row = tidy[(tidy.year == 2020) & (tidy.indicator == "rd_intensity_industry_pct")].iloc[0]
    assert row.value == r.value("rd_intensity_industry_pct", 2020) and row.unit == "percent"
    wide = r.to_wide()
    assert list(wide.index) == list(range(2015, 2021)) and list(wide.columns) == list(INDICATORS)
    assert wide.loc[2018, "pilot_firms"] == r.value("pilot_firms", 2018)
    back = tidy.pivot(index="year", columns="indicator", values="value")[list(INDICATORS)]
    assert np.array_equal(back.to_numpy(), wide.to_numpy(), equal_nan=True)


def test_shipped_scenarios_load_by_name_outside_the_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = set(shipped_scenarios())
    assert {"baseline", "policy_2016_2020", "plan_full"} <= names
    sc = load_scenario("policy_2016_2020")
    assert sc.levers.super_deduction.rate_all.at(2018) == 0.75
    assert sc.levers.super_deduction.rate_all.at(2017) == 0.5
    with pytest.raises(ScenarioError, match="shipped: .*baseline"):
        load_scenario("no_such_scenario")
    cat = scenario_catalogue(tmp_path)
    assert {c["name"] for c in cat} == names and all(c["description"] for c in cat)
    (tmp_path / "mine.toml").write_text('[scenario]\nname = "mine"\ndescription = "my test"\nextends = "x.toml"\n')
    cat = {c["name"]: c for c in scenario_catalogue(tmp_path)}
    assert cat["mine"]["origin"] == "local" and "cannot load" in cat["mine"]["description"]


def test_repository_scenarios_folder_is_the_shipped_one():
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2] / "scenarios"
    assert {p.stem for p in repo.glob("*.toml")} == set(shipped_scenarios())
    assert load_scenario(repo / "plan_full.toml").digest() == load_scenario("plan_full").digest()


def test_mesa_batch_run_gives_the_same_2020_values_as_run():
    import mesa

    out = mesa.batch_run(InnovationModel, parameters={"scenario": "policy_2016_2020", "seed": [5, 6]},
                         iterations=1, max_steps=100, number_processes=1, display_progress=False)
    assert len(out) == 2
    for row in out:
        ref = run("policy_2016_2020", seed=row["seed"])
        assert (row["year"], row["quarter"]) == (2020, 4)
        for k in INDICATORS:
            v, w = row[k], ref.value(k, 2020)
            assert (math.isnan(v) and math.isnan(w)) or v == w, k
    assert out[0]["rd_intensity_industry_pct"] != out[1]["rd_intensity_industry_pct"]  # seeds differ
