"""Issue 8: property-based tests (hypothesis) over scenario files and command-line
arguments. The only outcomes allowed are a valid run (finite indicators, results written)
or the clean error (exit 2, one line ``innosim: ...`` on stderr, nothing written).
Derandomised and bounded in examples so the suite stays fast and reproducible in CI."""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.validity import reason_of
from sim.bounds import allowed_ranges
from innosim.cli import main
from sim.policies import LEVER_CLASSES
from sim.run import run
from sim.scenario import MIN_SCALE, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
PROFILE = dict(deadline=None, derandomize=True, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])

RANGES = allowed_ranges()
LEVER_FIELDS = {f"levers.{n}.{f.name}": (f.metadata["low"], f.metadata["high"])
                for n, c in LEVER_CLASSES.items() for f in c.field_specs()}
KEYS = sorted(RANGES) + sorted(LEVER_FIELDS)


def bounds(key):
    if key in RANGES:
        return RANGES[key].low, RANGES[key].high
    return LEVER_FIELDS[key]


@st.composite
def value_for(draw, key):
    lo, hi = bounds(key)
    kind = draw(st.sampled_from(["inside"] * 6 + ["edge", "outside", "weird"]))
    if kind == "inside":
        return draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    if kind == "edge":
        return draw(st.sampled_from([lo, hi]))
    if kind == "outside":
        return draw(st.sampled_from([lo - 1 - abs(lo), hi * 2 + 1, -1e300, 1e300]))
    return draw(st.sampled_from(['"text"', "true", "nan", "inf", "-inf", "[1, 2]", "{}",
                                 "{2017 = 0.5}", "{2030 = 0.5}", '[{from = 2017, to = 2016, value = 0.1}]']))


def toml_value(v):
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return f"{v:.1f}"
    return repr(float(v))


@st.composite
def scenario_text(draw):
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=4, unique=True))
    tables: dict[str, list[str]] = {}
    for key in keys:
        section, rest = key.split(".", 1)
        if section == "levers":
            lever, fld = rest.split(".")
            head, name = f"levers.{lever}", fld
        else:
            head, name = section, rest
        v = draw(value_for(key))
        if section == "levers" and not isinstance(v, str) and draw(st.booleans()):
            v = "{%d = %s}" % (draw(st.integers(2016, 2020)), toml_value(v))   # a step schedule
        tables.setdefault(head, []).append(f"{name} = {toml_value(v)}")
    junk = draw(st.sampled_from(["", "", "", "[levers.warp]\nspeed = 1.0\n", "[parameters]\nnope = 1.0\n",
                                 "[run]\nscale = 0.0\n", "[uncertainties]\n\"parameters.nominal_growth\" = [0.1, 0.0]\n",
                                 "[uncertainties]\n\"parameters.nominal_growth\" = \"data\"\n", "[[oops]]\n", "x = \n"]))
    name = draw(st.sampled_from(["p", "../../up", "/abs", "a b", "é", "x" * 300]))
    body = "".join(f"[{h}]\n" + "\n".join(lines) + "\n" for h, lines in tables.items())
    return f'[scenario]\nname = {json.dumps(name)}\nextends = "{BASELINE}"\n{body}{junk}'


@settings(max_examples=40, **PROFILE)
@given(text=scenario_text(), seed=st.integers(0, 2 ** 32))
def test_property_scenario_files_give_a_valid_run_or_a_clean_error(tmp_path_factory, text, seed):
    """Any generated scenario file either loads and runs at the smallest scale with every
    indicator finite, or is refused with a one-line ScenarioError."""
    d = tmp_path_factory.mktemp("scen")
    path = d / "s.toml"
    path.write_text(text)
    try:
        sc = load_scenario(path)
    except ScenarioError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg
        return
    res = run(sc, seed=seed, scale=MIN_SCALE)
    names = list(res.indicators)
    why = reason_of(np.array([res.indicators[k] for k in names]), res.years, names)
    assert why is None, (why, text)


OPTION_VALUES = ["0", "1", "2", "-1", "3", "nan", "inf", "1e9", "abc", "", "0.5", str(2 ** 63), "\0"]


@st.composite
def cli_args(draw, tmp):
    cmd = draw(st.sampled_from(["run", "sweep", "sensitivity", "reach", "compare", "report", "levers"]))
    model = "builtin:ishigami?noise_sd=0.3&n_years=2"
    argv = [cmd]
    if cmd == "run":
        argv += [draw(st.sampled_from([BASELINE, str(tmp / "missing.toml"), str(tmp)]))]
        argv += ["--replications", draw(st.sampled_from(["1", "0", "-2", "x", str(10 ** 8)])),
                 "--scale", draw(st.sampled_from(["0.0001", "0.0002", "0", "2", "nan"]))]
    elif cmd == "compare":
        argv += [BASELINE, draw(st.sampled_from([BASELINE, str(ROOT / "scenarios" / "plan_full.toml")]))]
        argv += ["--replications", draw(st.sampled_from(["1", "0", "x"])), "--scale", "0.0001", "--workers", "1"]
    elif cmd in ("sweep", "reach", "sensitivity"):
        # the simulator behind a design is covered by the scenario property above; here the
        # analytic model keeps a hundred generated experiments within seconds
        argv += [draw(st.sampled_from([model, model, model, "builtin:nope", str(tmp / "missing.toml")]))]
        if cmd == "sensitivity":
            argv += ["--method", draw(st.sampled_from(["sobol", "morris", "pca"]))]
        argv += ["--workers", "1", "--no-progress"]
        for opt in draw(st.lists(st.sampled_from(
                ["--lhs", "--n", "--replications", "--seed", "--scale", "--chunk-size", "--num-levels",
                 "--tolerate-invalid", "--factor", "--levels", "--only", "--second-order", "--resume",
                 "--overwrite", "--scheduler"]), max_size=4, unique=True)):
            if opt in ("--second-order", "--resume", "--overwrite"):
                argv.append(opt)
            elif opt == "--factor":
                argv += [opt, draw(st.sampled_from(["x1=-1:1", "x1=1:-1", "x9=0:1", "x1", "x2=nan:1",
                                                    "parameters.nominal_growth=0:0.1"]))]
            elif opt == "--levels":
                argv += [opt, draw(st.sampled_from(["x1=-1,1", "x1=", "x1=1,1", "x3=0,1,2"]))]
            elif opt == "--only":
                argv += [opt, draw(st.sampled_from(["x1", "x2", "x9"]))]
            elif opt == "--scheduler":
                argv += [opt, "tcp://127.0.0.1:9"]
            elif opt in ("--lhs", "--n"):
                argv += [opt, draw(st.sampled_from(["0", "2", "4", "-3", "x", str(10 ** 12), "3", "8"]))]
            else:
                argv += [opt, draw(st.sampled_from(OPTION_VALUES))]
    elif cmd == "report":
        argv += [draw(st.sampled_from([str(tmp / "nothing"), str(tmp)]))]
    if cmd not in ("levers", "report"):
        argv += ["--out", str(tmp / "out")]
    return argv


@settings(max_examples=60, **PROFILE)
@given(data=st.data())
def test_property_cli_arguments_give_a_result_or_a_clean_error(tmp_path_factory, capsys, data):
    tmp = tmp_path_factory.mktemp("cli")
    argv = data.draw(cli_args(tmp))
    if "\0" in " ".join(argv) or any(a == "" for a in argv):
        pass  # still must be a clean error, below
    rc = main(argv)
    cap = capsys.readouterr()
    out = tmp / "out"
    if rc == 2:
        lines = cap.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("innosim: "), (argv, cap.err)
        assert not out.exists(), argv                               # nothing written
    else:
        assert rc == 0, (argv, rc, cap.err)
        if "--out" in argv:
            assert (out / "manifest.json").is_file(), argv
            assert not any(p.name.startswith((".staging", ".innosim")) for p in out.iterdir())
    shutil.rmtree(tmp, ignore_errors=True)
