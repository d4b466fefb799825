"""Yearly schedules for lever fields and the base class of every lever.

A lever field holds a :class:`Schedule`: one value per year 2015..2020. In a scenario file
a field is written as

* a number — the value in every year 2016–2020 (2015 keeps the field's default, the
  state the model is initialised from);
* a table of years — a step function: ``{2017 = 0.75, 2018 = 1.0}`` means the default
  until 2016, 0.75 in 2017, 1.0 from 2018 on;
* an array of periods — ``[{from = 2017, to = 2018, value = 0.75}]``; periods must lie
  in 2016–2020 and must not overlap; years outside every period keep the default.

A time-limited lever therefore computes its value from the schedule and never undoes
itself.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

FIRST_YEAR = 2015
LAST_YEAR = 2020
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))


class LeverError(ValueError):
    """A lever specification that cannot be used (message is one line)."""


@dataclass(frozen=True)
class Schedule:
    """One value per year 2015..2020 (index 0 is 2015)."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) != len(YEARS):
            raise LeverError(f"schedule needs {len(YEARS)} yearly values, got {len(self.values)}")

    @classmethod
    def constant(cls, value: float) -> "Schedule":
        return cls(tuple(float(value) for _ in YEARS))

    def at(self, year: int) -> float:
        """Value in force in ``year`` (years past 2020 keep the 2020 value)."""
        i = min(max(year, FIRST_YEAR), LAST_YEAR) - FIRST_YEAR
        return self.values[i]

    def final_setting_year(self) -> int:
        """First year (2016..2020) from which the schedule holds its 2020 value unchanged.

        This is where a swept or sampled value takes over (:meth:`swept`): 2018 for a
        deduction legislated ``{2018 = 0.75}``, 2016 for a field the scenario never changes.
        """
        year = LAST_YEAR
        while year > FIRST_YEAR + 1 and self.values[year - 1 - FIRST_YEAR] == self.values[-1]:
            year -= 1
        return year

    def swept(self, value: float) -> "Schedule":
        """The schedule with its final setting replaced by ``value``: from
        :meth:`final_setting_year` to 2020; earlier years keep the scenario's path."""
        start = self.final_setting_year() - FIRST_YEAR
        return Schedule(tuple(self.values[:start]) + (float(value),) * (len(YEARS) - start))


SWEEP_RULE = ("a swept or sampled lever value replaces the scenario's final setting of that field: "
              "it applies from the year that setting takes effect (its last change in the scenario; "
              "2016 if the scenario never changes the field) to 2020, and after 2020 in a longer run, to the same firms the field "
              "applies to; earlier years keep the scenario's path")
"""How experiment factors on lever fields apply (stated in ``innosim levers`` and manifests)."""


def parse_schedule(raw: Any, default: Schedule, where: str, low: float, high: float) -> Schedule:
    """Turn a scenario value into a Schedule, checking the window, overlaps and range."""

    def check(v: Any, at: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise LeverError(f"{at}: expected a number, got {type(v).__name__} {v!r}")
        v = float(v)
        if not (low <= v <= high):
            raise LeverError(f"{at}: {v:g} is outside the allowed range [{low:g}, {high:g}]")
        return v

    vals = list(default.values)
    if isinstance(raw, Schedule):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        v = check(raw, where)
        for i in range(1, len(YEARS)):
            vals[i] = v
        return Schedule(tuple(vals))
    if isinstance(raw, dict):
        steps = {}
        for k, v in raw.items():
            try:
                year = int(k)
            except ValueError:
                raise LeverError(f"{where}: schedule key {k!r} is not a year") from None
            if not (FIRST_YEAR < year <= LAST_YEAR):
                raise LeverError(f"{where}: year {year} is outside the window 2016-2020")
            steps[year] = check(v, f"{where}.{year}")
        current = None
        for i, y in enumerate(YEARS):
            current = steps.get(y, current)
            if current is not None:
                vals[i] = current
        return Schedule(tuple(vals))
    if isinstance(raw, list):
        taken: dict[int, int] = {}
        for n, period in enumerate(raw):
            at = f"{where}[{n}]"
            if not isinstance(period, dict) or set(period) != {"from", "to", "value"}:
                raise LeverError(f"{at}: a period needs exactly the keys from, to, value")
            a, b = period["from"], period["to"]
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (a, b)):
                raise LeverError(f"{at}: from and to must be whole years")
            if not (FIRST_YEAR < a <= b <= LAST_YEAR):
                raise LeverError(f"{at}: period {a}-{b} is outside the window 2016-2020 or reversed")
            v = check(period["value"], f"{at}.value")
            for y in range(a, b + 1):
                if y in taken:
                    raise LeverError(f"{at}: period overlaps period {taken[y]} in {y}")
                taken[y] = n
                vals[y - FIRST_YEAR] = v
        return Schedule(tuple(vals))
    raise LeverError(f"{where}: expected a number, a table of years or a list of periods")


def lever_field(default: float, unit: str, doc: str, low: float = 0.0, high: float = float("inf")) -> Any:
    """Declare a scheduled lever field with its unit, meaning and allowed range."""
    return field(
        default=Schedule.constant(default),
        metadata={"unit": unit, "doc": doc, "low": low, "high": high, "default": default},
    )


ACCOUNT_KINDS = ("tax_expenditure", "outlay")


@dataclass(frozen=True)
class Account:
    """A fiscal account of a lever: the government books the lever's public cost into it
    (billion yuan, running total of the year) and the account becomes an annual indicator.

    ``kind``: ``"tax_expenditure"`` (revenue forgone; summed into
    ``tax_expenditure_rd_bn_yuan``) or ``"outlay"`` (budget spending; summed into
    ``budget_outlays_bn_yuan``); both enter ``public_cost_bn_yuan``. ``booked_in`` is the
    phase that books it (checked by tests/core/test_registries.py); ``amount`` says what is
    booked each quarter (ODD §7.7).
    """

    name: str            # government account key, e.g. "outlay_vouchers"
    kind: str            # "tax_expenditure" or "outlay"
    indicator: str       # annual indicator, billion yuan per year
    description: str     # one line for the indicator table
    booked_in: str       # the phase of the schedule that books it
    amount: str = ""     # per-quarter amount (ODD)


@dataclass(frozen=True)
class Lever:
    """Base of every lever: a frozen bundle of scheduled fields.

    Subclasses set ``name`` (the scenario table name), ``phases`` (the phases of
    ``InnovationModel.step`` that read it, names from ``sim.phases.PHASES``; a test checks
    every phase reads only levers that declare it), ``accounts`` (its fiscal accounts,
    :class:`Account`, if it has a public cost) and ``mechanism`` (one line for docs and
    ``innosim levers``), and are registered with ``sim.policies.registry.register_lever``.
    """

    name: ClassVar[str] = ""
    phases: ClassVar[tuple[str, ...]] = ()
    accounts: ClassVar[tuple[Account, ...]] = ()
    mechanism: ClassVar[str] = ""

    @classmethod
    def field_specs(cls) -> list[dataclasses.Field]:
        return list(dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str, base: "Lever | None" = None) -> "Lever":
        """Build from a scenario table; unknown fields are errors, missing ones keep ``base``."""
        if not isinstance(raw, dict):
            raise LeverError(f"{where}: expected a table of fields")
        specs = {f.name: f for f in cls.field_specs()}
        unknown = sorted(set(raw) - set(specs))
        if unknown:
            raise LeverError(
                f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(specs))}"
            )
        base = base if base is not None else cls()
        kwargs = {}
        for name, value in raw.items():
            f = specs[name]
            kwargs[name] = parse_schedule(
                value, getattr(base, name), f"{where}.{name}", f.metadata["low"], f.metadata["high"]
            )
        return dataclasses.replace(base, **kwargs)
