"""Issue 8, failure classes "allowed values that crash", "inconsistent arguments" and
"tracebacks instead of errors": every input has ONE allowed range enforced identically on
every path (TOML, with_values, --factor, --levels, CLI options), joint checks name the
combination, and every bad input is one line on stderr, exit 2, nothing written."""
import os
from pathlib import Path

import pytest

from sim.bounds import allowed_ranges
from innosim.cli import main
from sim.params import InitialConditions, Parameters, data_entries
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
POLICY = str(ROOT / "scenarios" / "policy_2016_2020.toml")


def one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("innosim: "), err
    return err[0]


def scenario(tmp_path, body, name="s.toml"):
    p = tmp_path / name
    p.write_text(f'[scenario]\nname = "s"\nextends = "{BASELINE}"\n{body}')
    return str(p)


CASES = [  # key, a value just outside its allowed range, a value inside it but outside the uncertainty range
    ("parameters.rd_user_cost_elasticity", 3.0, 2.0),
    ("parameters.nominal_growth", -0.01, 0.12),
    ("initial.universities", 0, 1500),
    ("initial.industrial_firms", 10_000_000, 500_000),
    ("levers.super_deduction.rate_all", 3.5, 1.0),
]


def _toml(key, value):
    section, rest = key.split(".", 1)
    if section == "levers":
        lever, fld = rest.split(".")
        return f"[levers.{lever}]\n{fld} = {value}\n"
    return f"[{section}]\n{rest} = {value}\n"


@pytest.mark.parametrize("key,bad,ok", CASES)
def test_allowed_values_same_range_on_every_path(tmp_path, capsys, key, bad, ok):
    # TOML
    with pytest.raises(ScenarioError) as e_file:
        load_scenario(scenario(tmp_path, _toml(key, bad)))
    load_scenario(scenario(tmp_path, _toml(key, ok), "ok.toml"))
    # with_values
    base = load_scenario(BASELINE)
    with pytest.raises(ScenarioError) as e_with:
        base.with_values({key: bad})
    base.with_values({key: ok})
    rng = "allowed range" if not key.startswith("levers") else "allowed range"
    assert rng in str(e_file.value) and rng in str(e_with.value)
    # --factor and --levels: refused before anything is written
    out = tmp_path / "out"
    for opt in (["--factor", f"{key}={min(bad, ok)}:{max(bad, ok)}", "--lhs", "2"],
                ["--levels", f"{key}={ok},{bad}", "--lhs", "0"]):
        assert main(["sweep", BASELINE, *opt, "--replications", "1", "--out", str(out)]) == 2
        assert "allowed range" in one_line(capsys)
        assert not out.exists()


def test_allowed_values_levers_lists_every_parameter_and_initial_value(capsys):
    assert main(["levers"]) == 0
    text = capsys.readouterr().out
    ranges = allowed_ranges()
    for kind, section in ((Parameters, "parameters"), (InitialConditions, "initial")):
        assert f"[{section}]" in text
        for key in data_entries(kind):
            line = next(l for l in text.splitlines() if l.strip().startswith(key + " "))
            assert f"allowed {ranges[f'{section}.{key}'].text()}" in line


def test_allowed_values_defaults_and_uncertainty_ranges_lie_inside_the_allowed_range():
    ranges = allowed_ranges()
    for kind, section in ((Parameters, "parameters"), (InitialConditions, "initial")):
        for key, e in data_entries(kind).items():
            b = ranges[f"{section}.{key}"]
            assert b.contains(e.value), key
            if e.range:
                assert b.contains(e.range[0]) and b.contains(e.range[1]), key


@pytest.mark.parametrize("body,words", [
    ("[levers.hightech]\nstandard_tax_rate = 0.5\n[levers.super_deduction]\nrate_all = 1.0\n",
     ["levers.hightech.standard_tax_rate = 0.5", "super-deduction of 1", "user cost"]),
    ("[levers.hightech]\nband_small_m_yuan = 500.0\n", ["band_small_m_yuan = 500", "band_large_m_yuan = 200", "out of order"]),
    ("[levers.hightech]\ntax_rate = 0.3\n", ["tax_rate = 0.3", "standard_tax_rate = 0.25"]),
    ("[parameters]\ninnovation_step_low = 0.0\ninnovation_step_high = 0.0\n", ["innovation_step_low", "innovation_step_high"]),
    ("[initial]\nindustrial_rd_bn_yuan = 1100.0\n", ["industrial_rd_bn_yuan = 1100", "enterprise_rd_bn_yuan = 1088"]),
])
def test_allowed_values_that_crash_are_refused_jointly_naming_the_combination(tmp_path, capsys, body, words):
    out = tmp_path / "out"
    assert main(["run", scenario(tmp_path, body), "--replications", "1", "--out", str(out)]) == 2
    msg = one_line(capsys)
    assert "invalid combination" in msg and all(w in msg for w in words), msg
    assert not out.exists()


def test_allowed_values_joint_check_on_the_factor_path(tmp_path, capsys):
    """A high deduction is allowed alone, not with a high tax rate: the design is refused
    before a run starts (it used to crash mid-way with `lam value too large`)."""
    sc = scenario(tmp_path, "[levers.hightech]\nstandard_tax_rate = 0.4\n")
    out = tmp_path / "out"
    assert main(["sweep", sc, "--levels", "levers.super_deduction.rate_all=0.5,2.0", "--lhs", "0",
                 "--replications", "1", "--out", str(out)]) == 2
    assert "user cost" in one_line(capsys)
    assert not out.exists()
    base = load_scenario(sc)
    with pytest.raises(ScenarioError, match="invalid combination.*user cost"):
        base.with_values({"levers.super_deduction.rate_all": 2.0})


# ----------------------------------------------------------------------------- clean errors

def _files(tmp_path):
    (tmp_path / "a.toml").write_text('[scenario]\nname = "a"\nextends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('[scenario]\nname = "b"\nextends = "a.toml"\n')
    for i in range(30):
        (tmp_path / f"d{i}.toml").write_text(f'[scenario]\nname = "d{i}"\nextends = "d{i + 1}.toml"\n')
    (tmp_path / "d30.toml").write_text('[scenario]\nname = "d30"\n')
    os.symlink(tmp_path / "loop1", tmp_path / "loop2")
    os.symlink(tmp_path / "loop2", tmp_path / "loop1")
    (tmp_path / "file").write_text("x")


ARGV = {
    "cyclic_extends": ["run", "{t}/a.toml"],
    "deep_extends": ["run", "{t}/d0.toml"],
    "symlink_loop": ["run", "{t}/loop1"],
    "nul_in_file_name": ["run", "{t}/x\0y.toml"],
    "overlong_file_name": ["run", "{t}/" + "x" * 300 + ".toml"],
    "out_under_a_file": ["run", BASELINE, "--replications", "1", "--out", "{t}/file/sub"],
    "out_impossible": ["run", BASELINE, "--replications", "1", "--out", "/proc/innosim/x"],
    "out_nul": ["run", BASELINE, "--replications", "1", "--out", "{t}/o\0ut"],
    "sweep_scale_0": ["sweep", BASELINE, "--scale", "0", "--lhs", "1"],
    "sweep_scale_negative": ["sweep", BASELINE, "--scale", "-0.5", "--lhs", "1"],
    "sweep_scale_above_1": ["sweep", BASELINE, "--scale", "1.5", "--lhs", "1"],
    "sweep_scale_nan": ["sweep", BASELINE, "--scale", "nan", "--lhs", "1"],
    "sobol_n_0": ["sensitivity", BASELINE, "--method", "sobol", "--n", "0"],
    "morris_n_0": ["sensitivity", BASELINE, "--method", "morris", "--n", "0"],
    "seed_2_70_sweep": ["sweep", BASELINE, "--seed", str(2 ** 70), "--lhs", "1"],
    "seed_2_70_run": ["run", BASELINE, "--seed", str(2 ** 70)],
    "seed_2_70_compare": ["compare", BASELINE, POLICY, "--seed", str(2 ** 70)],
    "huge_lhs": ["sweep", BASELINE, "--lhs", str(10 ** 9)],
    "huge_reach": ["reach", BASELINE, "--lhs", "100000", "--replications", "100"],
    "huge_sobol_n": ["sensitivity", BASELINE, "--method", "sobol", "--n", str(2 ** 40)],
    "huge_replications": ["run", BASELINE, "--replications", str(10 ** 7)],
    "huge_compare": ["compare", BASELINE, POLICY, "--replications", "90000"],
    "factor_dropped_lhs_0": ["sweep", BASELINE, "--lhs", "0", "--factor", "parameters.nominal_growth=0:0.1"],
    "factor_dropped_only": ["sensitivity", BASELINE, "--method", "morris", "--only", "parameters.nominal_growth",
                            "--factor", "parameters.innovation_zeta=0.3:1"],
    "factor_and_levels": ["sweep", BASELINE, "--levels", "levers.vouchers.budget_bn_yuan=0,1",
                          "--factor", "levers.vouchers.budget_bn_yuan=0:2"],
    "ignored_num_levels": ["sensitivity", BASELINE, "--method", "sobol", "--num-levels", "6"],
    "ignored_second_order": ["sensitivity", BASELINE, "--method", "morris", "--second-order"],
    "workers_and_scheduler": ["sweep", BASELINE, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
    "workers_0": ["run", BASELINE, "--workers", "0"],
    "tolerate_above_1": ["run", BASELINE, "--tolerate-invalid", "2"],
    "overwrite_and_resume": ["sweep", BASELINE, "--overwrite", "--resume"],
    "levels_nan": ["sweep", BASELINE, "--levels", "levers.vouchers.budget_bn_yuan=nan,1"],
    "report_missing": ["report", "{t}/nothing"],
}


@pytest.mark.parametrize("case", sorted(ARGV))
def test_tracebacks_instead_of_errors_every_class_is_one_line_exit_2(tmp_path, capsys, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    _files(tmp_path)
    argv = [a.replace("{t}", str(tmp_path)) for a in ARGV[case]]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(argv) == 2
    one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == before       # nothing written
