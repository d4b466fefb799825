"""``run(scenario, seed, scale) -> Result``: the model as a plain function.

It neither prints, nor plots, nor writes files; experiments and the command line do that.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.model import InnovationModel
from sim.scenario import Scenario


@dataclass(frozen=True)
class Result:
    """Annual indicators of one run, with the seed and scale that produced them."""

    scenario: str
    seed: int
    scale: float
    years: tuple[int, ...]
    indicators: dict[str, np.ndarray] = field(repr=False)
    calibration: dict[str, float] = field(default_factory=dict, repr=False)

    def value(self, indicator: str, year: int) -> float:
        return float(self.indicators[indicator][self.years.index(year)])

    def rows(self):
        """Tidy rows: (year, indicator, value)."""
        for name, arr in self.indicators.items():
            for y, v in zip(self.years, arr):
                yield y, name, float(v)


def run(scenario: Scenario, seed: int = 0, scale: float | None = None) -> Result:
    """Simulate 2015 -> 2020 once and return the annual indicators."""
    model = InnovationModel(scenario, seed=seed, scale=scale)
    model.run_model()
    cal = model.cal
    return Result(
        scenario=scenario.name, seed=seed, scale=model.scale, years=tuple(model.recorder.years),
        indicators=model.recorder.as_arrays(),
        calibration={"hightech_shortfall_firms": float(cal.hightech_shortfall),
                     "hightech_revenue_shortfall_tn_yuan": float(cal.hightech_revenue_shortfall) / 1e6,
                     "hightech_revenue_bridge": float(model.recorder.ht_bridge)},
    )
