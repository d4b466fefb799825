"""The end-2008 initial state (start of the training window) is consistent with the
2008 values of the training series and has every key of the 2015 state."""
import pytest

from sim.history import load_history
from sim.params import InitialConditions, build, data_entries


def test_initial_2008_has_the_2015_keys_and_the_2008_aggregates():
    e08, e15 = data_entries(InitialConditions, 2008), data_entries(InitialConditions)
    assert set(e08) == set(e15)
    for e in e08.values():
        assert e.unit and e.source
        if e.range is not None:
            assert e.range[0] <= e.value <= e.range[1], e.key
    ic = build(InitialConditions, year=2008)
    h = {k: s.values for k, s in load_history().series.items()}
    assert ic.industrial_rd_bn_yuan == h["industrial_rd"][2008]
    assert 100 * ic.industrial_rd_bn_yuan / (ic.industrial_revenue_tn_yuan * 1e3) == pytest.approx(
        h["industrial_rd_intensity"][2008], abs=0.005)
    assert ic.industrial_rd_performer_share == pytest.approx(h["industrial_firms_with_rd_share"][2008] / 100)
    assert ic.national_rd_bn_yuan == h["national_rd"][2008] and ic.enterprise_rd_bn_yuan == h["enterprise_rd"][2008]
    assert ic.enterprise_rd_bn_yuan + ic.institute_rd_bn_yuan + ic.university_rd_bn_yuan == pytest.approx(
        ic.national_rd_bn_yuan, abs=0.1)
    assert 100 * ic.national_rd_bn_yuan / (ic.gdp_tn_yuan * 1e3) == pytest.approx(h["national_rd_gdp_pct"][2008], abs=0.01)
    assert ic.tech_contract_turnover_bn_yuan == h["tech_contract_turnover"][2008]
    assert ic.pct_applications == h["pct_applications"][2008]
    # every published-2008 entry is marked as data, the rest as assumptions
    assert not e08["industrial_rd_bn_yuan"].assumption and e08["hightech_enterprises"].assumption
    assert build(InitialConditions) == build(InitialConditions, year=2015)
