"""Schedules, levers and scenario files: parsing, merging, validation, factors, digests."""
from pathlib import Path

import pytest

from sim.policies import LEVER_CLASSES, Levers
from sim.policies.schedule import LeverError, Schedule, parse_schedule
from sim.policies.tax import SuperDeduction
from sim.scenario import Scenario, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "scenarios"
DEFAULT = Schedule.constant(0.5)


def parse(raw, low=0.0, high=3.0):
    return parse_schedule(raw, DEFAULT, "levers.x.f", low, high)


# --- schedules ---------------------------------------------------------------------------
def test_scalar_keeps_2015_default():
    s = parse(0.75)
    assert s.values == (0.5, 0.75, 0.75, 0.75, 0.75, 0.75)
    assert s.at(2015) == 0.5 and s.at(2030) == 0.75 and s.at(2000) == 0.5


def test_year_table_is_step_function():
    s = parse({"2017": 0.75})
    assert [s.at(y) for y in range(2015, 2021)] == [0.5, 0.5, 0.75, 0.75, 0.75, 0.75]
    s = parse({"2017": 0.75, "2019": 1.0})
    assert s.values == (0.5, 0.5, 0.75, 0.75, 1.0, 1.0)


def test_periods():
    s = parse([{"from": 2017, "to": 2018, "value": 0.75}, {"from": 2020, "to": 2020, "value": 1.0}])
    assert s.values == (0.5, 0.5, 0.75, 0.75, 0.5, 1.0)


@pytest.mark.parametrize("raw", [
    [{"from": 2017, "to": 2019, "value": 0.75}, {"from": 2019, "to": 2020, "value": 1.0}],  # overlap
    {"2015": 0.75},                          # 2015 is the initial state
    {"2021": 0.75},
    [{"from": 2015, "to": 2017, "value": 0.75}],
    [{"from": 2018, "to": 2017, "value": 0.75}],  # reversed
    [{"from": 2017, "to": 2018}],            # missing value
    -0.1,                                    # negative
    3.5,                                     # above range
    {"2017": 4.0},
    "0.5",                                   # wrong type
    True,
    {"abc": 0.5},
])
def test_bad_schedules(raw):
    with pytest.raises(LeverError) as e:
        parse(raw)
    assert "\n" not in str(e.value)


def test_unknown_lever_and_field():
    with pytest.raises(LeverError, match="unknown lever 'nope'"):
        Levers().updated({"nope": {"x": 1.0}}, "levers")
    with pytest.raises(LeverError, match="unknown field 'rate_nope'"):
        Levers().updated({"super_deduction": {"rate_nope": 1.0}}, "levers")


def test_lever_from_dict_keeps_base_for_missing_fields():
    base = SuperDeduction.from_dict({"rate_all": 0.75}, "levers.super_deduction")
    sd = SuperDeduction.from_dict({"rate_tech_sme": 1.0}, "levers.super_deduction", base)
    assert sd.rate_all.at(2020) == 0.75 and sd.rate_tech_sme.at(2020) == 1.0
    assert sd.rate_manufacturing.at(2020) == 0.5


# --- scenario files ----------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(SCEN.glob("*.toml")), ids=lambda p: p.name)
def test_every_scenario_loads(path):
    sc = load_scenario(path)
    assert sc.name == path.stem
    assert isinstance(sc.levers, Levers)


def test_extends_merges():
    base = load_scenario(SCEN / "baseline.toml")
    pol = load_scenario(SCEN / "policy_2016_2020.toml")
    assert pol.levers.super_deduction.rate_all.at(2017) == 0.5
    assert pol.levers.super_deduction.rate_all.at(2018) == 0.75
    assert base.levers.super_deduction.rate_all.at(2018) == 0.5
    assert [u.name for u in pol.uncertainties] == [u.name for u in base.uncertainties]
    assert len(base.uncertainties) == 28
    assert pol.run == base.run
    # grandchild overrides one key and inherits the rest
    cf = load_scenario(SCEN / "cf_no_deduction_increase.toml")
    assert cf.levers.super_deduction.rate_all.at(2020) == 0.5
    assert cf.levers.hightech.threshold_small.at(2016) == 0.05
    assert cf.description.startswith("Counterfactual")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def one_line_error(path):
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_cycle_is_error(tmp_path):
    write(tmp_path, "a.toml", '[scenario]\nname = "a"\nextends = "b.toml"\n')
    write(tmp_path, "b.toml", '[scenario]\nname = "b"\nextends = "a.toml"\n')
    msg = one_line_error(tmp_path / "a.toml")
    assert "a.toml" in msg and "cycle" in msg


def test_missing_parent_is_error(tmp_path):
    p = write(tmp_path, "c.toml", '[scenario]\nname = "c"\nextends = "nothere.toml"\n')
    msg = one_line_error(p)
    assert "c.toml" in msg and "nothere.toml" in msg


@pytest.mark.parametrize("text,needle", [
    ('[scenario]\nname = "x"\n[bogus]\na = 1\n', "bogus"),
    ('[scenario]\nname = "x"\n[parameters]\nno_such_key = 1.0\n', "no_such_key"),
    ('[scenario]\nname = "x"\n[parameters]\nnominal_growth = "fast"\n', "nominal_growth"),
    ('[scenario]\nname = "x"\n[levers.super_deduction]\nrate_all = "high"\n', "rate_all"),
    ('[scenario]\nname = "x"\n[levers.warp_drive]\nspeed = 1.0\n', "warp_drive"),
    ('[scenario]\ndescription = "no name"\n', "name"),
    ('[parameters]\nnominal_growth = 0.05\n', "[scenario]"),
    ('[scenario]\nname = "x"\n[run]\nscale = 7.0\n', "scale"),
    ('[scenario]\nname = "x"\n[uncertainties]\n"parameters.nominal_growth" = [0.1, 0.0]\n', "nominal_growth"),
    ('[scenario\nname = ', "TOML"),
])
def test_bad_scenario_files(tmp_path, text, needle):
    p = write(tmp_path, "bad.toml", text)
    msg = one_line_error(p)
    assert needle in msg
    assert "bad.toml" in msg


def test_missing_file():
    msg = one_line_error(SCEN / "does_not_exist.toml")
    assert "does_not_exist.toml" in msg


# --- factors and digests -----------------------------------------------------------------
def test_with_values_sets_each_section():
    sc = Scenario(name="t")
    new = sc.with_values({"parameters.nominal_growth": 0.05, "initial.alliances": 150,
                          "levers.super_deduction.rate_all": 1.0})
    assert new.parameters.nominal_growth == 0.05
    assert new.initial.alliances == 150
    assert new.levers.super_deduction.rate_all.values == (0.5, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert new.value_of("levers.super_deduction.rate_all") == 1.0
    # the original is untouched
    assert sc.levers.super_deduction.rate_all.at(2020) == 0.5
    assert sc.parameters.nominal_growth != 0.05 or sc.parameters == new.parameters


@pytest.mark.parametrize("values", [
    {"levers.super_deduction.rate_all": 5.0},     # outside lever range 0..3
    {"levers.super_deduction.nope": 1.0},
    {"levers.nope.rate_all": 1.0},
    {"parameters.nope": 1.0},
    {"nope": 1.0},
    {"parameters.nominal_growth": float("nan")},
    {"parameters.nominal_growth": -1.0},
    {"parameters.loss_making_share": 1.0},        # not a parameter key
])
def test_with_values_errors(values):
    with pytest.raises(ScenarioError) as e:
        Scenario(name="t").with_values(values)
    assert "\n" not in str(e.value)


def test_with_values_respects_the_one_allowed_range_not_the_uncertainty_range():
    """Issue 8: the same bounds on every path; the uncertainty range is what experiments
    sweep by default (--factor may widen it), the allowed range is the limit."""
    base = load_scenario(SCEN / "baseline.toml")
    u = {x.name: x for x in base.uncertainties}["parameters.rd_user_cost_elasticity"]
    base.with_values({u.name: u.low})
    base.with_values({u.name: u.high * 1.5})            # allowed: 0.475..2.9
    with pytest.raises(ScenarioError, match="outside its allowed range 0.475..2.9"):
        base.with_values({u.name: u.high * 2.5})


def test_digest_tracks_values_only():
    a = Scenario(name="t")
    assert a.digest() == Scenario(name="t").digest()
    assert a.digest() == Scenario(name="t", description="words", path="x.toml").digest()
    assert a.with_values({"parameters.nominal_growth": a.parameters.nominal_growth}).digest() == a.digest()
    assert a.with_values({"levers.super_deduction.rate_all": 0.75}).digest() != a.digest()
    assert a.with_values({"parameters.nominal_growth": 0.061}).digest() != a.digest()
    assert a.with_values({"initial.alliances": 147}).digest() != a.digest()
    base = load_scenario(SCEN / "baseline.toml")
    assert base.digest() != a.digest()  # uncertainties differ


def test_lever_classes_complete():
    assert set(LEVER_CLASSES) == {f for f in Levers.__dataclass_fields__}
