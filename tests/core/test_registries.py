"""Registries (issue 7): an indicator is one declaration plus its rule; collecting the
indicators never changes the model; a toy indicator declared through the registry shows up
in the Result, the annual frame and the Parquet output of ``innosim run``."""
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import indicators as I
from sim.cli import main
from sim.model import InnovationModel
from sim.run import run
from sim.scenario import Scenario

SCALE = 0.002
ROOT = Path(__file__).resolve().parents[2]


def state_digest(m) -> str:
    """Hash of everything the model owns that a phase or the recorder could touch: the
    agent arrays, the government's counters, clusters and accounts, the year's flows, the
    researcher ledger and the quarter counter."""
    h = hashlib.sha256()
    for obj in (m.firms, m.orgs, m.funds):
        for k, v in sorted(vars(obj).items()):
            if isinstance(v, np.ndarray):
                h.update(k.encode())
                h.update(np.ascontiguousarray(v).tobytes())
    g = m.government
    h.update(repr((g.pilot_firms, g.leading_firms, g.centres, g.alliances, g.clusters,
                   sorted(g.accounts.items()))).encode())
    for rows in g.cluster_members:
        h.update(np.ascontiguousarray(rows).tobytes())
    h.update(repr((sorted(m.flows.sums.items()), sorted(m.flows.rates.items()),
                   sorted(m.researcher_ledger.items()), m.quarter)).encode())
    return h.hexdigest()


@pytest.fixture
def scratch_registry():
    """Declarations made in a test are removed afterwards."""
    saved = [dict(d) for d in (I.INDICATORS, I.TARGETS, I.COMPANIONS, I.QUARTER_RATES)]
    yield
    for d, s in zip((I.INDICATORS, I.TARGETS, I.COMPANIONS, I.QUARTER_RATES), saved):
        d.clear()
        d.update(s)


def test_collecting_twice_gives_the_same_state_hash():
    """In the second year (after quarters 6 and 7): snapshot, quarterly rates and a
    full year's record computed twice give equal values and leave the state hash as it was."""
    m = InnovationModel(Scenario(name="base"), seed=4, scale=SCALE, collect=False)
    for stop in (6, 7):
        while m.quarter < stop:
            m.step()
        before = state_digest(m)
        rows = []
        for _ in range(2):
            rec = I.Recorder(m)
            rec.record_year(m.year, m.flows, dict(m.government.accounts))
            rows.append((rec.snapshot(), rec.flow_rates(), {k: v[0] for k, v in rec.values.items()}))
            assert state_digest(m) == before
        a, b = rows
        assert a[0] == b[0] and a[1] == b[1]
        assert np.array_equal(list(a[2].values()), list(b[2].values()), equal_nan=True)
        assert before == state_digest(m)


def test_indicator_rules_see_the_state_read_only():
    """A rule that tries to write the state fails loudly instead of changing the model."""
    m = InnovationModel(Scenario(name="base"), seed=4, scale=SCALE, collect=False)
    m.step()
    v = I.IndicatorView(m, flows=m.flows, accounts=m.government.accounts)
    with pytest.raises(ValueError):
        v.f.revenue[0] = 1.0
    with pytest.raises(ValueError):
        v.w[0] = 0.0   # shared sums are read-only too (one rule cannot spoil another's)
    with pytest.raises(AttributeError):
        v.f.revenue = np.zeros(3)
    with pytest.raises(TypeError):
        v.acc["tax_revenue"] = 0.0
    with pytest.raises(TypeError):
        v.sums["pct"] = 0.0
    assert isinstance(v.gov.cluster_members, tuple)


def test_declarations_fill_targets_and_companions():
    """TARGETS and COMPANIONS come from the indicator declarations, in the plan's order."""
    assert list(I.TARGETS) == ["T1", "T2", "T3", "T4", "T5", "T6a", "T6b", "T7", "T8", "T9"]
    assert all(t.id in [x.id for x in I.INDICATORS[t.indicator].targets] for t in I.TARGETS.values())
    assert I.COMPANIONS["T5"].indicator == "rd_intensity_industry_real_pct"
    # the start-year NaN list is the flows without a start declaration
    nan_2015 = {k for k, s in I.INDICATORS.items() if s.start is None}
    assert "public_cost_bn_yuan" in nan_2015 and "pct_applications" not in nan_2015
    assert all(I.INDICATORS[k].kind == "flow" for k in nan_2015)
    r = run(Scenario(name="base"), seed=2, scale=SCALE)
    assert {k for k, v in r.indicators.items() if np.isnan(v[0])} == nan_2015
    with pytest.raises(ValueError, match="declared twice"):
        I.indicator("pilot_firms", "firms", "again")(lambda s: 0.0)


def test_toy_indicator_through_the_registry(scratch_registry, tmp_path):
    """One declaration (plus its rule) adds an indicator everywhere: the recorder, Result,
    the annual frame, the target table and the Parquet file of ``innosim run``. The rules
    are checked by hand against the state, and the other indicators do not move."""
    plain = run(Scenario(name="base"), seed=3, scale=SCALE)

    @I.indicator("toy_rd_staff_per_firm", "FTE per firm", "toy: R&D staff per alive firm",
                 target=("T99", 1e-6, "toy target: any R&D staff at all"))
    def _toy_stock(s):
        return float((s.w * s.f.rd_staff).sum()) / float(s.w.sum())

    @I.indicator("toy_revenue_rate_tn_yuan", "trillion yuan per year", "toy: all firms' revenue, mean of quarters",
                 kind="flow", per_quarter=True, start=lambda s: float((s.w * s.f.revenue).sum()) / 1e6)
    def _toy_flow(s):
        return float(s.w @ s.f.revenue) / 1e6

    m = InnovationModel(Scenario(name="base"), seed=3, scale=SCALE, collect=False)
    f = m.firms
    w = f.weight * f.alive
    assert m.recorder.values["toy_rd_staff_per_firm"] == [float((w * f.rd_staff).sum()) / float(w.sum())]
    quarters = []
    for _ in range(4):
        m.step()
        w = m.firms.weight * m.firms.alive
        quarters.append(float(w @ m.firms.revenue) / 1e6)
    assert m.recorder.values["toy_revenue_rate_tn_yuan"][1] == pytest.approx(np.mean(quarters), rel=1e-12)
    assert "toy_rd_staff_per_firm" in m.annual_frame().columns
    assert I.TARGETS["T99"].indicator == "toy_rd_staff_per_firm"

    r = run(Scenario(name="base"), seed=3, scale=SCALE)
    assert set(r.indicators) == set(plain.indicators) | {"toy_rd_staff_per_firm", "toy_revenue_rate_tn_yuan"}
    for k, v in plain.indicators.items():
        assert np.array_equal(v, r.indicators[k], equal_nan=True), k
    assert "toy_revenue_rate_tn_yuan" in set(r.to_frame()["indicator"])

    out = tmp_path / "o"
    assert main(["run", str(ROOT / "scenarios" / "baseline.toml"), "--replications", "1", "--scale", str(SCALE),
                 "--out", str(out)]) == 0
    df = pd.read_parquet(out / "indicators.parquet")
    cols = set(df.columns) | set(df.get("indicator", pd.Series(dtype=str)))
    assert {"toy_rd_staff_per_firm", "toy_revenue_rate_tn_yuan"} <= cols
    assert "T99" in (out / "summary.csv").read_text()
