"""The speed-ups (issue 9, Speed) change no result: each fast path equals the plain
computation it replaces, byte for byte."""
import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from sim.agents import firms as F
from sim.agents.firms import _FIELD_NAMES
from sim.model import InnovationModel
from sim.phases import PHASES, QuarterStreams, stream_seed
from sim.scenario import Scenario, load_scenario

SCALE = 0.002


def corporate_tax_reference(profit, reported_rd, deduction, tax_rate, loss_cf, dt=0.25, year_end=False):
    """The loss carry-forward rule written with numpy's row reductions (the code before the
    speed-up, kept as the reference)."""
    cf = np.asarray(loss_cf, float)
    shape = cf.shape
    cf = cf.reshape(-1, shape[-1])
    taxable = np.broadcast_to(np.asarray(profit, float) - np.asarray(deduction) * np.asarray(reported_rd),
                              shape[:-1]).reshape(-1)
    q = taxable * dt
    used = np.zeros(len(q))
    new_cf = cf.copy()
    rows = np.flatnonzero(cf.any(axis=1))
    if len(rows):
        cum = np.cumsum(cf[rows], axis=1)
        used[rows] = np.minimum(cum[:, -1], np.maximum(q[rows], 0.0))
        left = np.maximum(cum - used[rows, None], 0.0)
        left[:, 1:] -= left[:, :-1].copy()
        new_cf[rows] = left
    new_cf[:, -1] += np.maximum(-q, 0.0)
    if year_end:
        new_cf[:, :-1] = new_cf[:, 1:]
        new_cf[:, -1] = 0.0
    tax = np.asarray(tax_rate) * np.maximum(q - used, 0.0).reshape(shape[:-1]) / dt
    return tax, taxable.reshape(shape[:-1]), new_cf.reshape(shape)


@pytest.mark.parametrize("seed,year_end", list(itertools.product([1, 2, 3], [False, True])))
def test_corporate_tax_equals_the_row_reduction_reference(seed, year_end):
    """Random carry-forwards over 12 orders of magnitude (rounding would show), a third of
    the rows without losses, profits of both signs, the four tax worlds' shape."""
    rng = np.random.default_rng(seed)
    n = 3000
    cf = rng.random((n, 4, F.CF_YEARS + 1)) * 10.0 ** rng.integers(-6, 6, size=(n, 4, F.CF_YEARS + 1))
    cf[rng.random((n, 4, F.CF_YEARS + 1)) < 0.5] = 0.0
    cf[rng.random(n) < 0.3] = 0.0
    profit = rng.normal(0.0, 50.0, n)[:, None] * 10.0 ** rng.integers(-3, 4, size=(n, 1))
    rep = rng.random(n)[:, None] * 20.0
    ds = np.stack([np.full(n, 0.75), np.zeros(n), np.full(n, 0.75), np.zeros(n)], axis=1)
    taus = np.where(rng.random((n, 4)) < 0.3, 0.15, 0.25)
    got = F.corporate_tax(profit, rep, ds, taus, cf, 0.25, year_end)
    ref = corporate_tax_reference(profit, rep, ds, taus, cf, 0.25, year_end)
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.tobytes() == r.tobytes()


def state_bytes(m):
    out = {n: getattr(m.firms, n).tobytes() for n in _FIELD_NAMES}
    out.update({k: np.asarray(v).tobytes() for k, v in m.recorder.as_arrays().items()})
    return out


def short(scenario, start, end):
    return dataclasses.replace(scenario, run=dataclasses.replace(scenario.run, start_year=start, end_year=end))


@pytest.mark.parametrize("name,start,end", [("policy_2016_2020", 2015, 2018), ("window_2008_2015", 2008, 2010)])
def test_start_year_user_cost_shortcut_changes_nothing(monkeypatch, name, start, end):
    """``decide_rd`` reuses the quarter's user cost as the start-year reference when the tax
    levers are the same in both years; forcing the full recomputation every quarter gives
    the same run byte for byte (the policy path changes the tax levers in 2017-2018, so
    both branches run)."""
    import sim.phases.rd_tax as rd_tax

    sc = short(load_scenario(name), start, end)
    fast = InnovationModel(sc, seed=3, scale=SCALE, collect=False)
    fast.run_model()
    calls = iter(range(10**9))
    monkeypatch.setattr(rd_tax, "tax_levers_at", lambda levers, year: next(calls))  # never equal
    slow = InnovationModel(sc, seed=3, scale=SCALE, collect=False)
    slow.run_model()
    assert state_bytes(fast) == state_bytes(slow)


def test_quarter_streams_are_made_on_first_use_and_equal_the_named_stream():
    s = QuarterStreams(11, 3)
    assert len(s) == 0
    first = s["innovate"].random(4)
    assert set(s) == {"innovate"}
    assert np.array_equal(first, np.random.default_rng(stream_seed(11, "innovate", 3)).random(4))
    assert s["innovate"] is s["innovate"]
    with pytest.raises(KeyError):
        s["not_a_phase"]
    assert set(PHASES) >= set(s)



def test_calibration_reusing_the_unpickled_job_equals_unpickling_every_job(monkeypatch, tmp_path):
    """The sampler unpickles pyabc's ``simulate_one`` once per generation and process
    (experiments/abc_sampler.py); unpickling it for every job gives the same particles."""
    import pandas as pd

    import experiments.abc_sampler as S
    from experiments.calibrate import CalibrationConfig, calibrate, synthetic_history_toml
    from sim.run import run

    root = Path(__file__).resolve().parents[2]
    baseline = str(root / "scenarios" / "baseline.toml")
    res = run(load_scenario(baseline), seed=2, scale=SCALE)
    h = tmp_path / "h.toml"
    h.write_text(synthetic_history_toml(res, {"rd": "national_rd_bn_yuan", "pct": "pct_applications"}, "test"))
    pri = tmp_path / "priors.toml"
    pri.write_text('["parameters.nominal_growth"]\ndistribution = "uniform"\n'
                   '["parameters.rd_user_cost_elasticity"]\ndistribution = "uniform"\n')
    cfg = CalibrationConfig(scenario_file=baseline, history_file=str(h), priors_file=str(pri), base_year=None,
                            years=None, population=5, generations=2, max_simulations=None, scale=SCALE, seed=3,
                            workers=1)
    calibrate(cfg, tmp_path / "cached")
    unpickled = []
    monkeypatch.setattr(S, "_unpickled", lambda blob, unpickle: unpickled.append(1) or unpickle(blob))
    calibrate(cfg, tmp_path / "fresh")
    assert len(unpickled) >= 10  # one per job: every job unpickled afresh
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cached" / "posterior.parquet"),
                                  pd.read_parquet(tmp_path / "fresh" / "posterior.parquet"))


FAULTS_CHILD = r"""
import resource, sys
import sim.memory
if sys.argv[1] == "off":
    sim.memory.keep_freed_memory = lambda: False
    import sim.model
    sim.model.keep_freed_memory = sim.memory.keep_freed_memory
from sim.run import run
from sim.scenario import load_scenario
sc = load_scenario("window_2008_2015")
run(sc, seed=1, scale=0.005)
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
run(sc, seed=2, scale=0.005)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


@pytest.mark.skipif(not __import__("sim.memory").memory.keep_freed_memory(), reason="needs glibc's mallopt")
def test_kept_heap_cuts_page_faults_of_a_run():
    """sim/memory.py: with the heap kept for reuse a training-window run takes far fewer
    page faults (measured about 500 against 6,000-10,000 with glibc's defaults)."""
    import subprocess
    import sys

    faults = {}
    for mode in ("on", "off"):
        out = subprocess.run([sys.executable, "-c", FAULTS_CHILD, mode], capture_output=True, text=True, check=True)
        faults[mode] = int(out.stdout.strip().splitlines()[-1])
    assert faults["on"] * 3 < faults["off"], faults


@pytest.mark.parametrize("name", ["baseline", "window_2008_2015"])
def test_settlement_stops_at_its_fixed_point_with_the_same_world(monkeypatch, name):
    """The start-year notch settlement stops once a sweep changes nothing (sim/initial_state.py);
    sweeping all SETTLE_ITERATIONS times builds the same world byte for byte."""
    import itertools as it

    import sim.initial_state as I

    sc = load_scenario(name)
    fast = InnovationModel(sc, seed=8, scale=0.005, collect=False)
    counter = it.count()
    monkeypatch.setattr(I, "_state_bytes", lambda *a: next(counter))  # never equal: every sweep runs
    slow = InnovationModel(sc, seed=8, scale=0.005, collect=False)
    assert next(counter) >= 2 * I.SETTLE_ITERATIONS
    assert state_bytes(fast) == state_bytes(slow)
