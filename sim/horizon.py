"""The simulated window: start and end year as run settings (defaults 2015 and 2020).

The start year is the year of the initial state (the model records it as the first year
and simulates from its first quarter after); the end year is the last simulated year.
A horizon is valid when

* ``start < end <= LATEST_END``;
* an initial state exists for the start year (``sim/data/initial_<year>.toml``);
* no lever schedule changes policy in or before the start year: the initial state is
  the policy in force then, and a change the state already embodies would be applied
  twice (lever schedules run 2015..2020; years outside hold the nearest value, so a run
  past 2020 continues the 2020 policy and a run from before 2015 starts on 2015 policy).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sim.policies.schedule import FIRST_YEAR, LeverError

DEFAULT_START, DEFAULT_END = 2015, 2020
EARLIEST_START = 2000   # no history data before (sim/data, SOURCES §6 starts in 2008)
LATEST_END = 2035       # policy beyond 2020 is not legislated: runs past it hold the 2020 levers


class HorizonError(ValueError):
    """A start/end year pair that cannot be simulated (message is one line)."""


def initial_state_years() -> tuple[int, ...]:
    """Years with an initial-state data file ``sim/data/initial_<year>.toml``."""
    out = []
    for entry in resources.files("sim.data").iterdir():
        stem = entry.name.removesuffix(".toml")
        if entry.name.endswith(".toml") and stem.startswith("initial_") and stem[8:].isdigit():
            out.append(int(stem[8:]))
    return tuple(sorted(out))


@dataclass(frozen=True)
class Horizon:
    start: int = DEFAULT_START
    end: int = DEFAULT_END

    @property
    def steps(self) -> int:
        """Quarters simulated."""
        return 4 * (self.end - self.start)

    @property
    def years(self) -> tuple[int, ...]:
        """Recorded years: the start year (initial state) and every simulated year."""
        return tuple(range(self.start, self.end + 1))

    def check(self, levers=None) -> "Horizon":
        """Raise :class:`HorizonError` unless the window can be simulated with ``levers``."""
        s, e = self.start, self.end
        if not (EARLIEST_START <= s < e <= LATEST_END):
            raise HorizonError(f"run.start_year {s} / run.end_year {e}: need "
                               f"{EARLIEST_START} <= start < end <= {LATEST_END}")
        have = initial_state_years()
        if s not in have:
            raise HorizonError(f"run.start_year {s}: no initial state for that year "
                               f"(sim/data has initial_<year>.toml for {', '.join(map(str, have))})")
        if levers is not None and s > FIRST_YEAR:
            for name in type(levers).__dataclass_fields__:
                lever = getattr(levers, name)
                for fld in lever.field_specs():
                    sched = getattr(lever, fld.name)
                    for y in range(FIRST_YEAR + 1, s + 1):
                        if sched.at(y) != sched.at(FIRST_YEAR):
                            raise HorizonError(f"run.start_year {s}: levers.{name}.{fld.name} changes policy in {y}, "
                                               "not after the start year")
        return self


__all__ = ["Horizon", "HorizonError", "LeverError", "DEFAULT_START", "DEFAULT_END"]
