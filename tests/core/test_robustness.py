"""The model runs and keeps its invariants anywhere in the uncertainty box experiments
sweep: at the all-low and all-high corners and at Latin-hypercube points of every ranged
entry of sim/data (parameters and initial conditions), for the baseline and plan_full."""
from pathlib import Path

import numpy as np
import pytest

from sim.model import InnovationModel
from sim.params import InitialConditions, Parameters, data_entries
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
RANGED = {**{f"parameters.{k}": e.range for k, e in data_entries(Parameters).items() if e.range},
          **{f"initial.{k}": e.range for k, e in data_entries(InitialConditions).items() if e.range}}


def points():
    keys = sorted(RANGED)
    lo = {k: RANGED[k][0] for k in keys}
    hi = {k: RANGED[k][1] for k in keys}
    rng = np.random.default_rng(7)
    u = (rng.permuted(np.tile(np.arange(4), (len(keys), 1)), axis=1).T + rng.random((4, len(keys)))) / 4
    lhs = [{k: RANGED[k][0] + x * (RANGED[k][1] - RANGED[k][0]) for k, x in zip(keys, row)} for row in u]
    return [("low", lo), ("high", hi)] + [(f"lhs{i}", p) for i, p in enumerate(lhs)]


@pytest.mark.parametrize("scenario", ["baseline", "plan_full"])
@pytest.mark.parametrize("name,values", points(), ids=lambda x: x if isinstance(x, str) else "")
def test_runs_with_invariants_across_the_box(scenario, name, values):
    sc = load_scenario(ROOT / "scenarios" / f"{scenario}.toml").with_values(values)
    m = InnovationModel(sc, seed=5, scale=0.005)
    while m.quarter < m.n_quarters:
        m.step()
        m.firms.check(), m.orgs.check(), m.funds.check()
    for k, v in m.recorder.as_arrays().items():
        assert np.all(np.isfinite(v[1:])), k
