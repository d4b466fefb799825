"""Output tables and labels follow the run's horizon: no year is written into a column name,
and the years printed (start year, year read, public-cost years) are the run's own.

Cheap horizons at a tiny scale: 2015 -> 2017 (ends before the plan's 2020 targets: values are
2017's, P(reach) is not assessed), 2015 -> 2022 (targets read in 2020, public cost summed
over 2016-2022) and the 2008 -> 2015 training window.
"""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from innosim.cli import main
from sim.indicators import TARGETS

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "sim" / "scenarios"
TINY = ["--replications", "2", "--scale", "0.001", "--workers", "1"]


def horizon_scenario(tmp_path: Path, name: str, base: str, end_year: int) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[scenario]\nname = "{name}"\nextends = "{SCEN / base}"\n[run]\nend_year = {end_year}\n')
    return str(path)


def no_year_in_columns(df: pd.DataFrame):
    bad = [c for c in df.columns if re.search(r"(19|20)\d\d", c)]
    assert not bad, f"columns naming a year: {bad}"


@pytest.fixture(scope="module")
def short_compare(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("short")
    ref = horizon_scenario(tmp, "short_ref", "policy_2016_2020.toml", 2017)
    cf = horizon_scenario(tmp, "short_cf", "cf_vouchers_at_scale.toml", 2017)
    return tmp, ref, cf


def test_compare_on_a_2015_2017_horizon_names_its_own_years(short_compare, capsys):
    tmp, ref, cf = short_compare
    out = tmp / "cmp"
    assert main(["compare", ref, cf, *TINY, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "paired differences in 2017 against short_ref" in text
    assert "public cost 2016-2017 (tax expenditures + outlays)" in text
    assert "before the target year 2020" in text
    # 2020 appears only where it is true: the targets' own year in that note
    lines_2020 = [ln for ln in text.splitlines() if "2020" in ln and not ln.startswith("T1:")]
    assert lines_2020 == [ln for ln in lines_2020 if "target year 2020" in ln or "policy_2016_2020" in ln]
    tgt = pd.read_csv(out / "compare_targets.csv")
    fis = pd.read_csv(out / "compare_fiscal.csv")
    no_year_in_columns(tgt)
    no_year_in_columns(fis)
    assert (tgt["year"] == 2017).all() and (tgt["target_year"] == 2020).all()
    assert tgt[["p_reach_reference", "p_reach_scenario"]].isna().all().all()   # not assessed before 2020
    assert np.allclose(tgt["diff"], tgt["scenario_mean"] - tgt["reference_mean"])
    assert set(tgt["target"]) >= set(TARGETS)   # every target still compared (at 2017)
    assert list(fis["cost_first_year"]) == [2016] and list(fis["cost_last_year"]) == [2017]
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "public cost and additional real R&amp;D, 2016-2017" in html
    assert "<h2>2017 differences per target" in html
    assert "2016-2020" not in html and "2020 differences" not in html


def test_run_on_a_2015_2017_horizon_reads_2017_and_does_not_claim_reach(short_compare, capsys):
    tmp, ref, _ = short_compare
    out = tmp / "run"
    assert main(["run", ref, *TINY, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    head = next(ln for ln in text.splitlines() if ln.startswith("target "))
    assert "2015" in head and "2017 median [5%, 95%]" in head and "2020" not in head
    summary = pd.read_csv(out / "summary.csv")
    no_year_in_columns(summary)
    assert (summary["start_year"] == 2015).all() and (summary["year"] == 2017).all()
    assert summary["share_reaching"].isna().all()
    ind = pd.read_parquet(out / "indicators.parquet")
    t5 = ind[(ind.indicator == TARGETS["T5"].indicator) & (ind.year == 2017)]["value"]
    assert summary.set_index("target").loc["T5", "median"] == pytest.approx(float(np.median(t5)))
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "<h2>Headline: the targets in 2017</h2>" in html and "2020 median" not in html


def test_run_past_2020_reads_the_targets_in_2020_and_sums_cost_to_the_end(tmp_path, capsys):
    ref = horizon_scenario(tmp_path, "long_ref", "policy_2016_2020.toml", 2022)
    cf = horizon_scenario(tmp_path, "long_cf", "cf_vouchers_at_scale.toml", 2022)
    assert main(["compare", ref, cf, *TINY, "--out", str(tmp_path / "cmp")]) == 0
    text = capsys.readouterr().out
    assert "paired differences in 2020 against long_ref" in text
    assert "public cost 2016-2022" in text and "2016-2020" not in text
    tgt = pd.read_csv(tmp_path / "cmp" / "compare_targets.csv")
    assert (tgt["year"] == 2020).all() and tgt["p_reach_reference"].notna().all()


def test_training_window_table_starts_in_2008_and_ends_in_2015(tmp_path, capsys):
    assert main(["run", "window_2008_2015", *TINY, "--out", str(tmp_path / "win")]) == 0
    text = capsys.readouterr().out
    head = next(ln for ln in text.splitlines() if ln.startswith("target "))
    assert re.split(r"\s{2,}", head.strip())[1:3] == ["2008", "2015 median [5%, 95%]"]
    summary = pd.read_csv(tmp_path / "win" / "summary.csv")
    assert (summary["start_year"] == 2008).all() and (summary["year"] == 2015).all()
    assert "T3: simulated certified firms' 2015 revenue" not in text


def test_report_reads_tables_written_with_the_old_column_names(tmp_path):
    """Folders written before the rename (all 2015-2020) still make a report."""
    import json
    out = tmp_path / "old"
    out.mkdir()
    pd.DataFrame([{"target": "T5", "indicator": "rd_intensity_industry_pct", "value_2015": 0.9,
                   "median_2020": 1.0, "p05_2020": 0.95, "p95_2020": 1.05, "target_2020": 1.1,
                   "share_reaching": 0.5, "n_valid": 4}]).to_csv(out / "summary.csv", index=False)
    (out / "manifest.json").write_text(json.dumps({"command": "run", "scenario": "x", "replications": 4}))
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "<h2>Headline: the targets in 2020</h2>" in html and "<th>2015</th>" in html
    assert "0.5 [" in html or "0.50 [" in html


def test_designs_know_the_horizon_before_any_run_and_refuse_a_lever_outside_it(tmp_path, capsys):
    """The sweep model's years (recorded in the manifest before the first run) are the
    scenario's; a lever swept on the 2008-2015 window would apply from 2016, after the window:
    refused in one line, nothing written (it used to run and change nothing)."""
    from experiments.model import SimModelFunction
    assert SimModelFunction("window_2008_2015", 0.001).years == tuple(range(2008, 2016))
    assert SimModelFunction("policy_2016_2020", 0.001).years == tuple(range(2015, 2021))
    out = tmp_path / "sw"
    rc = main(["sweep", "window_2008_2015", "--levels", "levers.super_deduction.rate_all=0.5,1.0", "--lhs", "0",
               "--replications", "1", "--scale", "0.001", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "applies from 2016" in err and "end year 2015" in err
    assert not out.exists()
