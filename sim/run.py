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

    def to_frame(self):
        """Tidy pandas DataFrame: one row per (year, indicator) with
        ``scenario, seed, scale, year, indicator, unit, value`` (units from ``INDICATORS``)."""
        import pandas as pd

        from sim.indicators import INDICATORS
        df = pd.DataFrame(list(self.rows()), columns=["year", "indicator", "value"])
        df.insert(0, "scenario", self.scenario)
        df.insert(1, "seed", self.seed)
        df.insert(2, "scale", self.scale)
        df.insert(5, "unit", df["indicator"].map(lambda k: INDICATORS[k].unit if k in INDICATORS else ""))
        return df

    def to_wide(self):
        """Wide pandas DataFrame: index ``year`` (the horizon, default 2015..2020), one column per indicator."""
        import pandas as pd

        return pd.DataFrame({k: np.asarray(v, float) for k, v in self.indicators.items()},
                            index=pd.Index(self.years, name="year"))


def run(scenario: Scenario | str, seed: int = 0, scale: float | None = None) -> Result:
    """Simulate the scenario's horizon (default 2015 -> 2020) once and return the annual indicators.

    ``scenario`` is a :class:`Scenario` or the name of a shipped scenario."""
    if isinstance(scenario, str):
        from sim.scenario import load_scenario
        scenario = load_scenario(scenario)
    model = InnovationModel(scenario, seed=seed, scale=scale, collect=False)
    model.run_model()
    cal = model.cal
    return Result(
        scenario=scenario.name, seed=seed, scale=model.scale, years=tuple(model.recorder.years),
        indicators=model.recorder.as_arrays(),
        calibration={"hightech_shortfall_firms": float(cal.hightech_shortfall),
                     "hightech_revenue_shortfall_tn_yuan": float(cal.hightech_revenue_shortfall) / 1e6,
                     "hightech_revenue_bridge": float(model.recorder.ht_bridge)},
    )
