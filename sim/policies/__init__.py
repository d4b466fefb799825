"""Policy levers of the plan: one module per family, bundled in :class:`Levers`.

Each lever class is declared once (fields, phases, fiscal accounts) and registered by
``@register_lever`` (``sim/policies/registry.py``), which generates :class:`Levers`,
``LEVER_COSTS`` and the government's lever accounts. The family modules are imported in
the order the levers appear in scenarios, tables and ``innosim levers``.
"""
from __future__ import annotations

from sim.policies import tax, finance, talent, programmes, other  # noqa: F401,E401  (registers the levers, in order)
from sim.policies.registry import (GENERAL_ACCOUNTS, LEVER_CLASSES, LEVER_COSTS, Levers, account_names,
                                   lever_accounts, register_lever)
from sim.policies.schedule import SWEEP_RULE, YEARS, Account, Lever, LeverError, Schedule

__all__ = ["SWEEP_RULE", "Levers", "Lever", "LeverError", "Schedule", "LEVER_CLASSES", "LEVER_COSTS", "YEARS",
           "Account", "GENERAL_ACCOUNTS", "account_names", "lever_accounts", "register_lever"]
