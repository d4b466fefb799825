"""innosim: an agent-based simulator of China's technology-innovation system, 2015-2020.

Typical use::

    from sim import load_scenario, run
    sc = load_scenario("scenarios/baseline.toml")
    res = run(sc, seed=1)
    res.indicators["rd_intensity_industry_pct"]   # 2015..2020
"""
from sim.indicators import INDICATORS, TARGETS
from sim.model import InnovationModel
from sim.run import Result, run
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["InnovationModel", "Result", "run", "Scenario", "ScenarioError", "load_scenario", "INDICATORS", "TARGETS"]
