"""History as data: the shipped training window and the one schema for observed series."""
import tomllib
from pathlib import Path

import pytest

from innosim.cli import main
from sim.history import HistoryError, load_history, shipped_history_path
from sim.indicators import INDICATORS

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent.parent / "shared" / "data" / "history_2008_2015.toml"


def test_shipped_history_loads_with_units_sources_and_indicators():
    h = load_history()
    assert len(h.series) == 15
    for s in h.series.values():
        assert s.unit and s.source and s.values
        assert all(v > 0 for v in s.values.values())
        assert s.indicator is None or s.indicator in INDICATORS
    t5 = h.series["industrial_rd_intensity"]
    assert t5.values[2008] == 0.61 and t5.values[2015] == 0.90 and t5.derived == {2014}
    assert t5.indicator == "rd_intensity_industry_pct"
    assert h.series["tech_contract_turnover"].derived == {2011, 2014}
    assert set(h.scored()) == {"national_rd", "enterprise_rd", "enterprise_rd_share", "industrial_rd",
                               "industrial_rd_intensity", "industrial_firms_with_rd_share",
                               "tech_contract_turnover", "pct_applications", "rd_personnel_fte",
                               "high_tech_enterprises"}
    assert h.years == tuple(range(2008, 2016))
    assert len(h.digest) == 64


@pytest.mark.skipif(not SHARED.is_file(), reason="shared data folder not beside the repository")
def test_shipped_values_equal_the_shared_file():
    shared = tomllib.loads(SHARED.read_text())
    h = load_history()
    assert set(shared) == set(h.series)
    for name, e in shared.items():
        assert h.series[name].values == {int(k): float(v) for k, v in e["values"].items()}, name
        assert h.series[name].unit == e["unit"]
        assert h.series[name].derived == set(e.get("derived", []))


GOOD = 'unit = "bn"\nsource = "s"\nvalues = {2010 = 1.0, 2011 = 2.0}\n'


@pytest.mark.parametrize("body, fragment", [
    ("[a]\n" + GOOD + "colour = 'red'\n", "a.colour: unknown key"),
    ("[a]\nunit = 'bn'\nvalues = {2010 = 1.0}\n", "a.source: missing"),
    ("[a]\nunit = 'bn'\nsource = 's'\nvalues = {2010 = -1.0}\n", "a.values.2010: must be > 0"),
    ("[a]\nunit = 'bn'\nsource = 's'\nvalues = {2010 = 'x'}\n", "a.values.2010: expected a finite number"),
    ("[a]\nunit = 'bn'\nsource = 's'\nvalues = {twenty = 1.0}\n", "a.values: 'twenty' is not a year"),
    ("[a]\nunit = 'bn'\nsource = 's'\nvalues = {1850 = 1.0}\n", "outside 1900..2100"),
    ("[a]\nunit = 'bn'\nsource = 's'\nvalues = {}\n", "a.values: expected a table"),
    ("[a]\n" + GOOD + "derived = [2012]\n", "a.derived: year 2012 has no value"),
    ("[a]\n" + GOOD + "indicator = 'gdp'\n", "a.indicator: unknown model indicator 'gdp'"),
    ("[a]\n" + GOOD + "unit = 3\n", "not valid TOML"),
    ("a = 3\n", "a: must be a table"),
    ("", "no series"),
    ("[a\n", "not valid TOML"),
    ("[a]\n" + GOOD + "breaks = [2011]\n", "a.breaks: expected a table"),
    ("[a]\n" + GOOD + "breaks = {soon = 'x'}\n", "a.breaks: 'soon' is not a year"),
    ("[a]\n" + GOOD + "breaks = {2011 = ''}\n", "a.breaks.2011: expected a non-empty string"),
    ("[a]\n" + GOOD + "breaks = {2010 = 'census'}\n", "a.breaks.2010: must lie after the first observed year"),
    ("[a]\n" + GOOD + "breaks = {2012 = 'census'}\n", "a.breaks.2012: must lie after the first observed year"),
])
def test_bad_history_files_get_one_line_errors(tmp_path, body, fragment, one_line_error):
    f = tmp_path / "h.toml"
    assert one_line_error(f, body, load_history, HistoryError, fragment).startswith(str(f))


def test_reference_year_after_breaks_by_hand():
    from sim.history import Series

    s = Series("a", "u", "s", {2008: 1.0, 2009: 2.0, 2011: 3.0, 2012: 4.0, 2014: 5.0}, frozenset(), None, "",
               {2010: "census", 2012: "threshold"})
    base = 2008
    # 2009 before any break; the 2010 break's first observed year is 2011 (opens a segment);
    # 2012 is itself a break year (opens the next segment); 2014 is measured from 2012
    assert [s.reference(t, base) for t in (2009, 2011, 2012, 2014)] == [2008, None, None, 2012]
    # a break at or before the base year is not crossed
    assert s.reference(2014, 2012) == 2012 and s.reference(2012, 2011) is None
    assert s.trend_years(2011) == [2011] and s.trend_years(2009) == [2008, 2009]
    assert s.trend_years(2014) == [2012, 2014]


def test_shipped_breaks_are_the_documented_statistical_ones():
    h = load_history()
    census = {"national_rd", "enterprise_rd", "enterprise_rd_share", "industrial_rd", "industrial_rd_intensity",
              "industrial_firms_with_rd_share"}
    threshold = {"industrial_rd", "industrial_rd_intensity", "industrial_firms_with_rd_share"}
    for name, s in h.series.items():
        # the census year is a segment of its own: breaks in 2009 and 2010
        assert (2009 in s.breaks) == (2010 in s.breaks) == (name in census), name
        assert (2011 in s.breaks) == (name in threshold), name
        assert set(s.breaks) <= {2009, 2010, 2011}, name
    assert "census" in h.series["national_rd"].breaks[2009]
    nat = h.series["national_rd"]
    assert [nat.reference(t, 2008) for t in (2009, 2010, 2011, 2015)] == [None, None, 2010, 2010]
    assert "20 million" in h.series["industrial_rd"].breaks[2011]


def test_bad_history_through_the_cli_exits_2_with_one_line_and_no_output(tmp_path, capsys):
    f = tmp_path / "h.toml"
    f.write_text("[a]\nunit = 'bn'\nvalues = {2010 = 1.0}\n")
    out = tmp_path / "out"
    rc = main(["validate", str(f), "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 2
    assert cap.err.count("\n") == 1 and cap.err.startswith("innosim: ") and "a.source: missing" in cap.err
    assert not out.exists()
    rc = main(["validate", str(tmp_path / "missing.toml")])
    assert rc == 2 and "no such history file" in capsys.readouterr().err


def test_shipped_path_is_inside_the_package():
    assert shipped_history_path().name == "history_2008_2015.toml"
    assert shipped_history_path().is_file()
