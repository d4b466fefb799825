"""The command line a new user meets: usage, --version, defaults, scenarios, levers, reports
on every output folder, sweep semantics and printed caveats."""
from __future__ import annotations

import argparse
import base64
import json

import pytest

from innosim.cli import build_parser, main
from sim.policies import SWEEP_RULE, Levers
from sim.scenario import DEFAULT_SEED, load_scenario, shipped_scenarios


def _subparsers(parser):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a.choices
    return {}


def test_bare_innosim_prints_usage(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: innosim")
    for cmd in ("run", "compare", "sweep", "reach", "sensitivity", "report", "levers", "scenarios"):
        assert cmd in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("innosim 0.1.0 (mesa 3.3")


def test_every_option_has_help_with_its_default_and_defaults_agree():
    subs = _subparsers(build_parser())
    seeds, workers = set(), set()
    for name, p in subs.items():
        for a in p._actions:
            if isinstance(a, argparse._HelpAction) or not a.option_strings:
                continue
            assert a.help, f"{name} {a.option_strings}: no help"
            assert "default" in a.help or a.required, f"{name} {a.option_strings}: help does not state the default"
            if "--seed" in a.option_strings:
                seeds.add(str(DEFAULT_SEED) in a.help)
            if "--workers" in a.option_strings:
                workers.add(a.help)
    assert seeds == {True}                                  # one default master seed
    assert len(workers) == 1 and "auto" in workers.pop()   # one --workers default


def test_calibrate_shares_the_run_options_and_their_checks(tmp_path, capsys):
    """calibrate's --seed, --scale and --workers are run's (same help, type and checks);
    its own options keep the one-line error of the shared number type."""
    subs = _subparsers(build_parser())
    opts = {name: {a.option_strings[0]: a for a in subs[name]._actions if a.option_strings}
            for name in ("run", "calibrate")}
    for opt in ("--seed", "--scale", "--workers"):
        a, b = opts["run"][opt], opts["calibrate"][opt]
        assert (a.help, a.type.__name__, a.default, a.metavar) == (b.help, b.type.__name__, b.default, b.metavar)
    assert "--replications" not in opts["calibrate"] and "--posterior" not in opts["calibrate"]
    for bad, words in ((["--scale", "5"], "scale"), (["--workers", "0"], "--workers must be between 1 and 1024"),
                       (["--seed", "-1"], "seed")):
        out = tmp_path / "never"
        rc = main(["calibrate", "window_2008_2015", *bad, "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and words in err and not out.exists(), (bad, err)
    assert main(["calibrate", "window_2008_2015", "--population", "many"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--population: expected a whole number, got 'many'" in err


def test_scenarios_lists_shipped_and_local(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "mine.toml").write_text('[scenario]\nname = "mine"\ndescription = "my own variant"\n')
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name, path in shipped_scenarios().items():
        assert name in out and load_scenario(path).description[:30] in out
    assert "mine" in out and "local" in out and "my own variant" in out


def test_levers_says_how_a_swept_value_applies_and_how_rates_combine(capsys):
    assert main(["levers"]) == 0
    out = capsys.readouterr().out
    assert SWEEP_RULE in out
    assert "LARGEST rate" in out and "max(rate_all, rate_tech_sme" in out


def test_a_swept_lever_keeps_the_schedule_shape():
    sc = load_scenario("policy_2016_2020")
    lv = sc.levers
    assert lv.super_deduction.rate_all.values == (0.5, 0.5, 0.5, 0.75, 0.75, 0.75)
    new = lv.with_value("super_deduction", "rate_all", 1.0).super_deduction.rate_all.values
    assert new == (0.5, 0.5, 0.5, 1.0, 1.0, 1.0)            # the law's 2018 start is kept
    tech = lv.with_value("super_deduction", "rate_tech_sme", 1.0).super_deduction.rate_tech_sme.values
    assert tech == (0.5, 0.5, 1.0, 1.0, 1.0, 1.0)           # legislated from 2017
    flat = Levers().with_value("super_deduction", "rate_all", 0.9).super_deduction.rate_all.values
    assert flat == (0.5, 0.9, 0.9, 0.9, 0.9, 0.9)           # never changed: 2016-2020
    text = lv.sweep_description("super_deduction", "rate_all")
    assert "applies 2018-2020" in text and "2016-2017 as in the scenario (0.5)" in text
    assert sc.with_values({"levers.super_deduction.rate_all": 1.0}).levers.super_deduction.rate_all.values == new


def test_sweep_manifest_and_console_state_the_years(tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["sweep", "policy_2016_2020", "--levels", "levers.super_deduction.rate_all=0.5,1.0",
                 "--lhs", "0", "--replications", "1", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "levers.super_deduction.rate_all: swept value applies 2018-2020" in printed
    m = json.loads((out / "manifest.json").read_text())
    assert m["master_seed"] == DEFAULT_SEED and m["lever_rule"] == SWEEP_RULE
    assert m["lever_factors"]["levers.super_deduction.rate_all"]["from"] == 2018


def _embedded_pngs(html_text, folder, pattern):
    return [p for p in folder.glob(pattern) if base64.b64encode(p.read_bytes()).decode() in html_text]


def test_report_works_on_run_and_compare_folders(tmp_path, capsys):
    run_dir, cmp_dir = tmp_path / "run", tmp_path / "cmp"
    assert main(["run", "baseline", "--replications", "3", "--out", str(run_dir)]) == 0
    assert main(["report", str(run_dir)]) == 0
    html_text = (run_dir / "report.html").read_text()
    assert len(_embedded_pngs(html_text, run_dir, "T*.png")) == 10
    assert html_text.index("Headline") < html_text.index("T1 ") < html_text.index("T9 ") < html_text.index("Provenance")
    assert "Wilson" in html_text
    assert main(["compare", "policy_2016_2020", "cf_no_deduction_increase", "--replications", "4",
                 "--out", str(cmp_dir)]) == 0
    printed = capsys.readouterr().out
    assert "Fieller" in printed
    assert main(["report", str(cmp_dir)]) == 0
    html_text = (cmp_dir / "report.html").read_text()
    assert len(_embedded_pngs(html_text, cmp_dir, "compare_*.png")) == 2
    assert "Fieller" in html_text and 'src="compare' not in html_text


def test_report_refuses_a_folder_innosim_did_not_write(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a folder written by innosim" in capsys.readouterr().err


def test_sensitivity_console_prints_the_caveats():
    from experiments.cli import sensitivity_lines
    res = {"factors": ["parameters.a", "parameters.b"], "indicators": {
        "x": {"status": "ok", "ST": [1.14, 0.2], "ST_conf": [0.4, 0.1], "S1": [-0.2, 0.1],
              "converged": False, "noise": {"noise_share_single_run": 1.0}}}}
    text = "\n".join(sensitivity_lines(res, "sobol"))
    assert "a ST=1.14±0.4" in text and "NOT CONVERGED" in text and "noise share 100%" in text
    assert "caveat: 1 indicator(s) NOT CONVERGED" in text and "ST > 1 or S1 < 0" in text
    assert "noise dominates" in text
