"""Issue 11 #7: indicator definitions against the official statistics, and issue 7's one
firm factory (the 2015 population, entrants and start-ups made by ``new_firms``)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.agents import firms as F
from sim.initial_state import empty_firms, margin_sd
from sim.model import InnovationModel
from sim.phases import demography as D
from sim.scenario import Scenario

SCALE = 0.01


def scenario_with(**params) -> Scenario:
    sc = Scenario(name="t")
    return dataclasses.replace(sc, parameters=dataclasses.replace(sc.parameters, **params))


@pytest.fixture(scope="module")
def run2020():
    m = InnovationModel(Scenario(name="t"), seed=3, scale=SCALE, collect=False)
    n0 = m.firms.n
    seg0 = m.firms.segment.copy()
    m.run_model()
    return m, n0, seg0


# ------------------------------------------------------------------ one firm factory
def test_entrants_and_startups_are_drawn_like_the_2015_population():
    """New rows share the 2015 rows' rules (old code: start-ups at a fixed -5% margin and no
    landing point above a threshold, entrants at the mean margin, quality 0 and no cash)."""
    m = InnovationModel(Scenario(name="t"), seed=1, scale=SCALE, collect=False)
    rng = np.random.default_rng(0)
    mu, sd = m.ic.industrial_profit_margin, margin_sd(m.ic)
    for new in (D.new_startups(m, rng, 4000, quality_shift=0.0),
                D.entrants(m, rng, 4000, F.INDUSTRIAL, m.cal.industrial_weight)):
        # 4000 draws: s.e. of the mean sd/63, of the s.d. about sd/89
        assert new.margin.mean() == pytest.approx(mu, abs=4 * sd / 63)
        assert new.margin.std() == pytest.approx(sd, rel=0.05)
        assert new.quality.std() == pytest.approx(1.0, rel=0.05)
        assert new.notch_margin.mean() == pytest.approx(m.p.notch_margin / 2, rel=0.05)
        # R&D state from the intensity, as at set-up: K = R / (delta + g), staff R / c
        assert np.allclose(new.knowledge, new.rd_real / (m.p.knowledge_depreciation + m.p.nominal_growth))
        assert np.allclose(new.rd_staff, new.rd_real / m.cal.cost_fte)
    ent = D.entrants(m, rng, 500, F.INDUSTRIAL, m.cal.industrial_weight)
    assert np.allclose(ent.cash, 0.1 * ent.revenue)  # like every 2015 established firm
    st = D.new_startups(m, rng, 500, quality_shift=0.0)
    assert np.allclose(st.rd_real, m.p.startup_entry_rd_intensity * st.revenue)
    assert np.allclose(st.cash, st.rd_real / (m.p.startup_burn_rate * m.p.startup_rd_share))


# ------------------------------------------------------------------ T5: the above-size universe
def test_above_size_is_the_universe_of_the_moment():
    """Hand-built rows: alive industrial firms at or above the cut-off only."""
    f = empty_firms(5)
    f.segment[:] = [F.INDUSTRIAL, F.INDUSTRIAL, F.INDUSTRIAL, F.SERVICE, F.STARTUP]
    f.revenue[:] = [20.0, 19.99, 500.0, 500.0, 500.0]
    f.alive[:] = [True, True, False, True, True]
    assert F.above_size(f, 20.0).tolist() == [True, False, False, False, False]


def test_t5_universe_is_redrawn_by_revenue(run2020):
    """The NBS universe changes: firms enter it (count grows at about universe_entry_rate
    less exits and drop-outs: 4.5% a year gross, so 1.15-1.30x in five years), alive firms
    fall below the cut-off and leave it, start-ups graduate into industry. The old fixed
    panel kept 383,000 industrial firms, all counted, and no start-up became industrial."""
    m, n0, seg0 = run2020
    f, cut = m.firms, m.ic.min_industrial_revenue_m_yuan
    universe = float(f.weight @ F.above_size(f, cut))
    assert 1.15 * 383_000 < universe < 1.30 * 383_000
    below = f.alive & (f.segment == F.INDUSTRIAL) & (f.revenue < cut)
    assert below.any()
    assert ((seg0 == F.STARTUP) & (f.segment[:n0] == F.INDUSTRIAL)).any()
    # T5 is computed over the universe: firms below the cut-off do not count
    snap = m.recorder.snapshot()
    ind = F.above_size(f, cut)
    w = f.weight * ind
    assert snap["industrial_revenue_tn_yuan"] == pytest.approx(float(w @ f.revenue) / 1e6, rel=1e-12)


# ------------------------------------------------------------------ T6a: patents
def test_patents_of_exited_firms_count_until_they_lapse(run2020):
    m, _, _ = run2020
    f = m.firms
    assert (f.patents[~f.alive] > 0).any()
    assert m.recorder.snapshot()["enterprise_invention_patents"] == pytest.approx(float(f.weight @ f.patents), rel=1e-12)


def test_grants_come_lag_quarters_after_filing():
    """Without lapses, a quarter's grants are exactly the applications filed
    lag_quarters earlier (pipeline), for firms still alive."""
    m = InnovationModel(scenario_with(patent_grant_lag_years=0.5, patent_lapse_rate=0.0), seed=2, scale=SCALE,
                        collect=False)
    assert len(m.patent_pipeline) == 2
    rows, filed = m.patent_pipeline[0]
    before = m.firms.patents.copy()
    m.step()
    after = m.firms.patents[:len(before)]
    expect = before.copy()
    np.add.at(expect, rows, np.where(m.firms.alive[rows], filed, 0))
    assert np.array_equal(after, expect)
    assert filed.sum() > 0


# ------------------------------------------------------------------ T6b: applicant base
def test_other_pct_applicants_hand_computed():
    from sim.phases.innovation import other_pct_filings
    # (1 - 0.85) * 29,800 * 1.2 = 5,364 filings a year
    assert other_pct_filings(0.85, 29_800, 1.2, 1.0) == pytest.approx(5364.0)


# ------------------------------------------------------------------ T8: sellers, vouchers
def test_enterprise_sellers_calibrated_on_their_knowledge():
    """2015: enterprise sellers' sales chi * sum w K^eta are the enterprises' seller share of
    the 983.5 bn yuan (the split is by seller, so is the rule)."""
    m = InnovationModel(Scenario(name="t"), seed=4, scale=SCALE, collect=False)
    f, ic, p = m.firms, m.ic, m.p
    sales = F.tech_sales(f.knowledge, m.cal.chi, p.tech_purchase_elasticity)
    assert float(f.weight @ sales) == pytest.approx((1 - ic.academic_seller_share) * ic.tech_contract_turnover_bn_yuan * 1e3,
                                                    rel=1e-9)


def test_vouchers_add_face_value_times_additionality():
    """A 10 bn yuan voucher budget adds 0.8 x 10 = 8 bn yuan a year to T8 (the old rule added
    the grossed-up 10 / (1 - 0.5) = 20 bn, all of it additional)."""
    from sim.phases.markets import use_vouchers
    from sim.scenario import load_scenario
    m = InnovationModel(load_scenario("cf_vouchers_at_scale"), seed=5, scale=SCALE, collect=False)
    for _ in range(4):
        m.step()
    m.quarter += 1
    q = m.open_quarter()
    assert q.year == 2017 and m.levers.vouchers.budget_bn_yuan.at(2017) == 10.0
    assert use_vouchers(m, q) == pytest.approx(m.p.voucher_additionality * 10.0e3)
    assert m.p.voucher_additionality == 0.8


# ------------------------------------------------------------------ T3: per-firm bridge
def test_t3_bridges_only_the_2015_certificate_holders(run2020):
    """T3 = sum w Y (B if certified at the start else 1) over certified firms, B = 22 tn /
    model 2015 level; firms certified later count at their own revenue."""
    m, n0, _ = run2020
    f, rec = m.firms, m.recorder
    b = rec.ht_bridge
    ht0 = rec.ht_factor > 1.0
    assert b > 1.0 and ht0.any() and len(rec.ht_factor) == n0
    factor = np.ones(f.n)
    factor[:n0] = np.where(ht0, b, 1.0)
    w = f.weight * f.alive * f.hightech
    snap = rec.snapshot()
    assert snap["hightech_revenue_tn_yuan"] == pytest.approx(float(w @ (f.revenue * factor)) / 1e6, rel=1e-12)
    later = f.hightech & f.alive & (factor == 1.0)
    assert later.any()  # so the constant bridge would have scaled someone it should not
    assert snap["hightech_revenue_tn_yuan"] < b * snap["hightech_revenue_model_tn_yuan"]
    assert rec.values["hightech_revenue_tn_yuan"][0] == pytest.approx(m.ic.hightech_revenue_tn_yuan, rel=1e-12)
