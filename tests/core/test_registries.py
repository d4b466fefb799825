"""Registries (issue 7): an indicator or a lever is one declaration plus its rule.

Collecting the indicators never changes the model; every phase reads exactly the levers
that declare it and books exactly the accounts declared as booked there; a toy indicator
and a toy lever with a fiscal account, declared through the registries, show up in
``innosim levers``, the fiscal table, the Result and the Parquet output of ``innosim run``."""
import dataclasses
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.model as M
from sim import doc_tables, fiscal
from sim import indicators as I
from innosim.cli import main
from sim.model import InnovationModel
from sim.phases import DT, PHASES
from sim.policies import registry as R
from sim.policies.schedule import Account, Lever, LeverError, Schedule, lever_field
from sim.run import run
from sim.scenario import Scenario, load_scenario

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
    regs = (I.INDICATORS, I.TARGETS, I.COMPANIONS, I.QUARTER_RATES, R.LEVER_CLASSES, R.LEVER_COSTS)
    saved = [dict(d) for d in regs]
    yield
    for d, s in zip(regs, saved):
        d.clear()
        d.update(s)
    R.generate_levers()


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


# ------------------------------------------------------------------------------ levers
class _Reads:
    """Which levers each phase reads and which accounts it books (``phase`` = the one running)."""

    def __init__(self):
        self.phase = "outside"
        self.levers = defaultdict(set)
        self.books = defaultdict(set)


class _LeverView:
    """A lever whose every field read is recorded for the running phase (so a lever object
    fetched in one phase and read in another is charged to the reader)."""

    def __init__(self, lever, name, reads):
        object.__setattr__(self, "_x", (lever, name, reads))

    def __getattr__(self, attr):
        lever, name, reads = self._x
        reads.levers[reads.phase].add(name)
        return getattr(lever, attr)


class _LeversView:
    def __init__(self, levers, reads):
        object.__setattr__(self, "_x", (levers, reads))

    def __getattr__(self, name):
        levers, reads = self._x
        reads.levers[reads.phase].add(name)
        return _LeverView(getattr(levers, name), name, reads)


class _QuarterView:
    """The quarter's record; reading the tax context or the relabelling ratios (built from
    the tax levers in ``open_quarter``) counts as reading the levers they were built from."""

    def __init__(self, q, reads, derived):
        object.__setattr__(self, "_x", (q, reads, derived))

    def __getattr__(self, name):
        q, reads, derived = self._x
        if name in ("tax", "psi", "phi"):
            reads.levers[reads.phase] |= derived
        return getattr(q, name)

    def __setattr__(self, name, value):
        setattr(self._x[0], name, value)


def all_levers_active():
    """plan_full plus every lever that is neutral there, so every lever's code path runs."""
    sc = load_scenario(ROOT / "scenarios" / "plan_full.toml")
    lv = sc.levers.updated({"vouchers": {"budget_bn_yuan": 5.0}, "investment_loan": {"loan_ratio": 0.5},
                            "instrument_sharing": {"open_share": 0.3}, "soe_assessment": {"rd_weight": 0.2},
                            "procurement": {"sme_demand_boost": 0.05}, "accelerated_depreciation": {"pv_gain": 0.1},
                            "programmes": {"leading_quota": 20.0, "centre_quota": 5.0}}, "levers")
    return dataclasses.replace(sc, levers=lv)


def trace_reads(monkeypatch, scenario, quarters=8):
    """Run ``quarters`` steps with the levers, the quarter record and the government's
    book behind recording views; returns the reads and bookings per phase."""
    m = InnovationModel(scenario, seed=1, scale=0.003, collect=False)
    reads = _Reads()
    monkeypatch.setattr(m, "levers", _LeversView(m.levers, reads))
    for name in PHASES:
        def traced(model, q, _f=getattr(M, name), _n=name):
            reads.phase = _n
            try:
                return _f(model, q)
            finally:
                reads.phase = "outside"
        monkeypatch.setattr(M, name, traced)
    book = m.government.book

    def traced_book(account, amount):
        reads.books[reads.phase].add(account)
        return book(account, amount)
    monkeypatch.setattr(m.government, "book", traced_book)
    open_quarter = m.open_quarter

    def traced_open():
        reads.phase = "open_quarter"
        before = set(reads.levers["open_quarter"])
        reads.levers["open_quarter"] = set()
        q = open_quarter()
        derived = reads.levers["open_quarter"]
        reads.levers["open_quarter"] |= before
        reads.phase = "outside"
        return _QuarterView(q, reads, frozenset(derived))
    monkeypatch.setattr(m, "open_quarter", traced_open)
    for _ in range(quarters):
        m.step()
    return reads


def test_each_phase_reads_exactly_the_levers_that_declare_it(monkeypatch):
    """Run two years with every lever away from neutral and every lever read recorded per
    phase (at field level, through the quarter's tax context too): a phase reads a lever
    if and only if the lever declares that phase, and books a lever account if and only
    if the account declares that phase. A stale or missing declaration fails here."""
    reads = trace_reads(monkeypatch, all_levers_active())
    assert reads.levers["outside"] == set()
    assert reads.levers["open_quarter"] == {"super_deduction", "hightech"}
    for phase in PHASES:
        declared = {n for n, cls in R.LEVER_CLASSES.items() if phase in cls.phases}
        assert reads.levers[phase] == declared, phase
        booked = {a.name for a in R.lever_accounts() if a.booked_in == phase}
        assert reads.books[phase] - set(R.GENERAL_ACCOUNTS) == booked, phase


def test_lever_declarations_are_checked():
    """A declaration naming no real phase, a duplicate name or a shared account is refused."""
    def make(name, phases, accounts=()):
        return dataclass(frozen=True)(type("Bad", (Lever,), {"name": name, "phases": phases, "accounts": accounts,
                                                             "__annotations__": {}}))
    with pytest.raises(LeverError, match="phases"):
        R.register_lever(make("bad1", ("applied_somewhere",)))
    with pytest.raises(LeverError, match="already used"):
        R.register_lever(make("vouchers", ("designate",)))
    acc = Account("outlay_vouchers", "outlay", "x_bn_yuan", "x", "designate")
    with pytest.raises(LeverError, match="account"):
        R.register_lever(make("bad2", ("designate",), (acc,)))
    assert "bad1" not in R.LEVER_CLASSES and "bad2" not in R.LEVER_CLASSES
    assert [f.name for f in dataclasses.fields(R.Levers)] == list(R.LEVER_CLASSES)


TOY_TOML = """[scenario]
name = "toy"
[levers.toy_prizes]
budget_bn_yuan = 3.0
"""


def test_toy_lever_with_a_fiscal_account(scratch_registry, monkeypatch, tmp_path, capsys):
    """One declaration (the class) plus its rule (booked in ``designate``) adds a lever with
    a fiscal account: it is a field of Levers and a scenario table, listed by ``innosim
    levers``, booked into its own indicator (3 bn yuan a year, by hand: 4 quarters of
    budget x DT), counted in budget outlays and the public cost, in the fiscal table and the
    ODD table, and written to the Parquet output; the model's other results do not move."""

    @R.register_lever
    @dataclass(frozen=True)
    class ToyPrizes(Lever):
        """Toy: innovation prizes paid from the budget (no behavioural effect)."""

        name = "toy_prizes"
        phases = ("designate",)
        accounts = (Account("outlay_toy_prizes", "outlay", "outlay_toy_prizes_bn_yuan", "toy prizes paid",
                            "designate", "budget · DT"),)
        mechanism = "pays budget_bn_yuan a year in prizes"

        budget_bn_yuan: Schedule = lever_field(0.0, "billion yuan per year", "prize budget", 0.0, 100.0)

    designate = M.designate

    def designate_with_prizes(m, q):   # the lever's rule, in the phase it declares
        designate(m, q)
        m.government.book("outlay_toy_prizes", m.levers.toy_prizes.budget_bn_yuan.at(q.year) * DT)
    monkeypatch.setattr(M, "designate", designate_with_prizes)

    assert isinstance(R.Levers().toy_prizes, ToyPrizes)
    assert main(["levers"]) == 0
    text = capsys.readouterr().out
    assert "[levers.toy_prizes]" in text and "fiscal account outlay_toy_prizes" in text
    assert "`outlay_toy_prizes` → `outlay_toy_prizes_bn_yuan`" in doc_tables.render_fiscal()
    assert R.LEVER_COSTS["toy_prizes"] == ("outlay_toy_prizes_bn_yuan",)

    path = tmp_path / "toy.toml"
    path.write_text(TOY_TOML)
    sc = load_scenario(path)
    base = run(Scenario(name="base"), seed=3, scale=SCALE)
    toy = run(sc, seed=3, scale=SCALE)
    ind = toy.indicators
    assert np.isnan(ind["outlay_toy_prizes_bn_yuan"][0]) and np.all(base.indicators["outlay_toy_prizes_bn_yuan"][1:] == 0)
    np.testing.assert_allclose(ind["outlay_toy_prizes_bn_yuan"][1:], 3.0, rtol=1e-12)
    np.testing.assert_allclose(ind["budget_outlays_bn_yuan"][1:] - base.indicators["budget_outlays_bn_yuan"][1:], 3.0,
                               rtol=1e-9)
    np.testing.assert_allclose(ind["public_cost_bn_yuan"][1:] - base.indicators["public_cost_bn_yuan"][1:], 3.0,
                               rtol=1e-9)
    np.testing.assert_allclose(fiscal.accounts(toy)["toy_prizes"], 3.0, rtol=1e-12)
    for k, v in base.indicators.items():
        if k not in ("budget_outlays_bn_yuan", "public_cost_bn_yuan", "outlay_toy_prizes_bn_yuan"):
            assert np.array_equal(v, ind[k], equal_nan=True), k

    out = tmp_path / "o"
    assert main(["run", str(path), "--replications", "1", "--scale", str(SCALE), "--out", str(out)]) == 0
    df = pd.read_parquet(out / "indicators.parquet")
    cols = set(df.columns) | set(df.get("indicator", pd.Series(dtype=str)))
    assert "outlay_toy_prizes_bn_yuan" in cols
