"""The lever registry: a lever is declared once, by its class, and registered here.

A lever class (``sim/policies/*.py``) carries its fields (scheduled, with unit, doc and
allowed range), the phases that read it and its fiscal accounts. From the registered
classes this module generates

* :class:`Levers`, the frozen dataclass bundling one instance of every lever (its fields
  are the registered levers, in registration order, each defaulting to the neutral
  2015 policy);
* ``LEVER_COSTS``: lever -> the indicators holding its public cost (``sim/fiscal.py``);
* the government's lever accounts (``lever_accounts()``, read by
  ``sim/agents/government.py``) and, through a hook, the fiscal indicators
  (``sim/indicators.py``); the ODD lever and fiscal tables (``sim/doc_tables.py``) and
  ``innosim levers`` read ``LEVER_CLASSES``.

Adding a lever with a fiscal cost is one declaration (the class, decorated with
:func:`register_lever`) plus its rule in the phase(s) it names (docs/ODD.md §7.8).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from sim.phases import PHASES
from sim.policies.schedule import ACCOUNT_KINDS, YEARS, Account, Lever, LeverError

#: name -> lever class, in registration (output) order.
LEVER_CLASSES: dict[str, type[Lever]] = {}
#: lever -> the indicators holding its public cost (billion yuan per year); levers without
#: accounts have no modelled budget cost (regulatory levers, bank money, spending outside).
LEVER_COSTS: dict[str, tuple[str, ...]] = {}
#: accounts the government keeps that belong to no lever (tax collected, the no-lever
#: counterfactual, audit recoveries, equity committed to guidance funds: not a cost).
GENERAL_ACCOUNTS = ("tax_revenue", "tax_no_levers", "audit_recoveries", "commitment_guidance")
#: called with each newly registered class (sim.indicators declares its account indicators)
ON_REGISTER: list[Callable[[type[Lever]], None]] = []


def lever_accounts(kind: str | None = None) -> list[Account]:
    """The registered levers' accounts (of ``kind``), in registration order."""
    return [a for cls in LEVER_CLASSES.values() for a in cls.accounts if kind is None or a.kind == kind]


def account_names() -> tuple[str, ...]:
    """Every account the government keeps: the general ones and each lever's."""
    return GENERAL_ACCOUNTS + tuple(a.name for a in lever_accounts())


class Levers:
    """Every lever, each at its neutral (2015-policy) default unless a scenario sets it.

    A frozen dataclass whose fields are generated from the registered lever classes
    (:func:`register_lever`): ``Levers().vouchers`` is an ``InnovationVouchers``."""

    def updated(self, raw: dict[str, Any], where: str) -> "Levers":
        """Return a copy with the scenario's ``[levers.NAME]`` tables applied."""
        if not isinstance(raw, dict):
            raise LeverError(f"{where}: expected a table of levers")
        changes = {}
        for name, table in raw.items():
            if name not in LEVER_CLASSES:
                raise LeverError(f"{where}: unknown lever {name!r}; allowed: {', '.join(sorted(LEVER_CLASSES))}")
            changes[name] = LEVER_CLASSES[name].from_dict(table, f"{where}.{name}", getattr(self, name))
        return dataclasses.replace(self, **changes)

    def with_value(self, lever: str, fld: str, value: float) -> "Levers":
        """Replace one field's final setting by ``value``, keeping the schedule's shape
        (``SWEEP_RULE``; used by experiment factors): from the year the scenario's final
        setting takes effect to 2020."""
        sched = getattr(getattr(self, lever), fld)
        period = [{"from": sched.final_setting_year(), "to": YEARS[-1], "value": value}]
        return self.updated({lever: {fld: period}}, "levers")

    def sweep_description(self, lever: str, fld: str) -> str:
        """Plain words: which years and firms a swept value of ``levers.LEVER.FLD`` reaches."""
        sched = getattr(getattr(self, lever), fld)
        y = sched.final_setting_year()
        cls = LEVER_CLASSES[lever]
        spec = {f.name: f for f in cls.field_specs()}[fld]
        who = spec.metadata["doc"]
        before = "" if y == YEARS[1] else (
            f"; {YEARS[1]}-{y - 1} as in the scenario ("
            + ", ".join(f"{v:g}" for v in dict.fromkeys(sched.values[1:y - YEARS[0]])) + ")")
        return (f"levers.{lever}.{fld}: swept value applies {y}-{YEARS[-1]} (and after {YEARS[-1]} in a longer run)"
                f"{before}; {who}")


_GENERATED = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__match_args__",
              "__dataclass_fields__", "__dataclass_params__", "__annotations__")


def generate_levers() -> None:
    """(Re)generate the fields of :class:`Levers` from ``LEVER_CLASSES``, in place: the
    class object stays the same, so every module that imported it sees the new fields."""
    for n in _GENERATED:
        if n in Levers.__dict__:
            delattr(Levers, n)
    Levers.__annotations__ = dict.fromkeys(LEVER_CLASSES, "Lever")
    for name, cls in LEVER_CLASSES.items():
        setattr(Levers, name, field(default_factory=cls))
    dataclass(frozen=True)(Levers)


def register_lever(cls: type[Lever]) -> type[Lever]:
    """Class decorator: register a lever (after ``@dataclass(frozen=True)``). Checks the
    declaration: a new name, phases of the schedule, accounts of a known kind with new names."""
    name = cls.name
    if not name or not name.isidentifier() or name in LEVER_CLASSES or hasattr(Levers, name):
        raise LeverError(f"lever {cls.__name__}: name {name!r} is empty, not an identifier or already used")
    if not cls.phases or any(p not in PHASES for p in cls.phases):
        raise LeverError(f"lever {name}: phases {cls.phases!r} must name phases of the schedule: {', '.join(PHASES)}")
    taken = set(account_names())
    for a in cls.accounts:
        if a.kind not in ACCOUNT_KINDS or a.name in taken or a.booked_in not in cls.phases:
            raise LeverError(f"lever {name}: account {a.name!r} needs a kind in {ACCOUNT_KINDS}, a new name and "
                             f"a booking phase among the lever's phases")
        taken.add(a.name)
    LEVER_CLASSES[name] = cls
    if cls.accounts:
        LEVER_COSTS[name] = tuple(a.indicator for a in cls.accounts)
    generate_levers()
    for hook in ON_REGISTER:
        hook(cls)
    return cls


generate_levers()
