"""End to end through the command line: sweep, sensitivity, reach, report; bad input."""
import json

import pytest

M = "builtin:ishigami?noise_sd=0.5&n_years=4"


def test_sweep_reach_sensitivity_report_end_to_end(tmp_path, run_cli):
    r = run_cli("sweep", M, "--levels", "x1=-2,0,1.5", "--levels", "x3=-1,2", "--lhs", "20",
                "--workers", "2", "--out", tmp_path / "sweep", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "box ishigami TY" in r.stdout
    r = run_cli("report", tmp_path / "sweep")
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "sweep" / "report.html").read_text()
    import base64
    for png in ("reachability.png", "heat_ishigami_TY.png", "fan_y.png"):
        data = (tmp_path / "sweep" / "analysis" / png).read_bytes()
        assert len(data) > 1000
        assert base64.b64encode(data).decode() in html  # embedded: one file to send
    assert 'src="analysis/' not in html
    assert "P(TY" in html and "Scenario discovery" in html
    assert html.index("Headline") < html.index("Provenance")

    r = run_cli("reach", M, f"{M}&a=5" .replace("ishigami", "ishigami"), "--lhs", "10",
                "--workers", "1", "--out", tmp_path / "reach")
    # two builtins share a name: refused with one line
    assert r.returncode == 2 and "names must differ" in r.stderr

    r = run_cli("reach", M, "--lhs", "30", "--replications", "3", "--workers", "1",
                "--out", tmp_path / "reach")
    assert r.returncode == 0, r.stderr
    reach = json.loads((tmp_path / "reach" / "analysis" / "reach.json").read_text())
    t = reach["groups"][0]["targets"]["TY"]
    assert t["n"] == 90 and t["ci"][0] <= t["p"] <= t["ci"][1]
    assert set(t["p_by_year"]) == {"2017", "2018", "2019", "2020"}

    for method, n in (("sobol", "64"), ("morris", "10")):
        out = tmp_path / method
        r = run_cli("sensitivity", M, "--method", method, "--n", n, "--workers", "1", "--out", out)
        assert r.returncode == 0, r.stderr
        r = run_cli("report", out)
        assert r.returncode == 0, r.stderr
        assert (out / "analysis" / f"{method}_y.png").exists()
        m = json.loads((out / "manifest.json").read_text())
        assert m["status"] == "complete" and m["master_seed"] == 20151231
        assert set(m["packages"]) >= {"numpy", "SALib", "pyarrow"} and "commit" in m["code"]
        assert len(m["chunks"]) == m["design"]["n_chunks"]


@pytest.mark.parametrize("args, msg", [
    (["sensitivity", M, "--method", "sobol", "--n", "100"], "power of two"),
    (["sensitivity", M, "--method", "morris", "--num-levels", "5"], "even"),
    (["sensitivity", M, "--method", "sobol", "--factor", "levers.nope=0:1"], "unknown factor"),
    (["sweep", M, "--levels", "x7=1,2"], "unknown factor"),
    (["sweep", M, "--factor", "x1=1"], "KEY=LOW:HIGH"),
    (["sweep", "no/such/scenario.toml"], "scenario file not found"),
    (["sweep", "builtin:nosuch"], "unknown builtin"),
    (["report", "no/such/dir"], "no results directory"),
    (["sweep", M, "--workers", "0"], "--workers"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, run_cli, args, msg):
    out = tmp_path / "out"
    extra = [] if args[0] == "report" else ["--out", out]
    r = run_cli(*args, *extra)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("innosim: ") and msg in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not out.exists()


def test_existing_results_are_not_overwritten(tmp_path, run_cli, all_digests):
    out = tmp_path / "o"
    assert run_cli("sweep", M, "--lhs", "5", "--workers", "1", "--out", out).returncode == 0
    before = all_digests(out)
    r = run_cli("sweep", M, "--lhs", "5", "--workers", "1", "--out", out)
    assert r.returncode == 2 and "--resume" in r.stderr
    # resuming a complete experiment re-verifies it and changes no table
    r = run_cli("sweep", M, "--lhs", "5", "--workers", "1", "--out", out, "--resume")
    assert r.returncode == 0, r.stderr
    after = all_digests(out)
    assert {k: v for k, v in after.items() if k.endswith(".parquet")} == \
        {k: v for k, v in before.items() if k.endswith(".parquet")}
