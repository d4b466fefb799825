"""Behavioural parameters and 2015 initial conditions as typed, frozen dataclasses.

The numbers, with unit, source, assumption flag and uncertainty range, live in
``sim/data/parameters.toml`` and ``sim/data/initial_2015.toml``; field names here map one
to one onto their keys (a test checks both directions). Parameters (behaviour) are kept
apart from initial conditions (the 2015 state), as in ``Model(parameters, initial)``.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


class DataError(ValueError):
    """A data file or override that cannot be used (message is one line)."""


@dataclass(frozen=True)
class DataEntry:
    """One number of ``sim/data``: value with unit, source, assumption flag and range."""

    key: str
    value: float
    unit: str
    source: str
    assumption: bool
    range: tuple[float, float] | None


@dataclass(frozen=True)
class InitialConditions:
    """The 2015 state (``sim/data/initial_2015.toml``)."""

    industrial_firms: int
    industrial_revenue_tn_yuan: float
    industrial_rd_bn_yuan: float
    industrial_rd_performer_share: float
    min_industrial_revenue_m_yuan: float
    industrial_employees_m: float
    industrial_profit_margin: float
    loss_making_share: float
    national_rd_bn_yuan: float
    enterprise_rd_bn_yuan: float
    institute_rd_bn_yuan: float
    university_rd_bn_yuan: float
    gdp_tn_yuan: float
    rd_personnel_fte_m: float
    enterprise_rd_personnel_share: float
    university_researcher_share_of_academia: float
    universities: int
    institutes: int
    gov_st_appropriations_bn_yuan: float
    service_firms: int
    service_revenue_tn_yuan: float
    startups: int
    startup_revenue_bn_yuan: float
    startup_rd_share_of_nonindustrial: float
    hightech_enterprises: int
    hightech_industrial_share: float
    hightech_revenue_tn_yuan: float
    pilot_firms: int
    innovation_centres: int
    alliances: int
    alliance_members: int
    clusters: int
    tech_contract_turnover_bn_yuan: float
    academic_seller_share: float
    enterprise_invention_patents_valid: int
    enterprise_invention_grants: int
    pct_applications: int
    pct_enterprise_share: float
    vc_capital_bn_yuan: float
    vc_funds: int
    guided_vc_bn_yuan: float
    st_commissioners: int
    rd_cost_per_fte_k_yuan: float
    largest_firm_revenue_tn_yuan: float
    rd_performer_size_slope: float
    rd_intensity_size_slope: float
    rd_intensity_sigma: float
    tech_contract_registered_share: float


@dataclass(frozen=True)
class Parameters:
    """Behavioural constants (``sim/data/parameters.toml``)."""

    rd_user_cost_elasticity: float
    rd_adjustment_speed: float
    relabel_background: float
    relabel_survey_passthrough: float
    relabel_incentive_elasticity: float
    relabel_penalty: float
    notch_relabel_fraction: float
    loss_deduction_value: float
    deduction_takeup: float
    hightech_apply_rate: float
    core_ip_share: float
    st_staff_ratio: float
    knowledge_depreciation: float
    productivity_knowledge_elasticity: float
    innovation_zeta: float
    innovation_step_low: float
    innovation_step_high: float
    innovation_beta_shape: float
    imitation_zeta: float
    imitation_catch_up: float
    revenue_productivity_elasticity: float
    nominal_growth: float
    revenue_noise: float
    margin_reversion: float
    frontier_sd: float
    entrant_rd_intensity: float
    voucher_rd_intensity: float
    voucher_rd_stop_rate: float
    guidance_expected_loss: float
    guidance_fund_years: float
    public_discount_rate: float
    knowledge_base_share: float
    vc_follow_on_milestone: float
    vc_follow_on_size: float
    vc_max_age: float
    vc_private_age_preference: float
    patent_knowledge_elasticity: float
    patent_lapse_rate: float
    pct_size_elasticity: float
    tech_purchase_elasticity: float
    academic_transfer_elasticity: float
    mobility_rate: float
    mobility_absorptive_gain: float
    researcher_inflow_rate: float
    researcher_retirement_rate: float
    spinoffs_per_k_researchers: float
    spinoff_team_fte: float
    startup_entry: int
    startup_failure_rate: float
    startup_graduation_revenue_m_yuan: float
    vc_investment_rate: float
    vc_round_m_yuan: float
    vc_screening_noise: float
    vc_success_rate: float
    vc_failure_rate: float
    vc_exit_multiple: float
    vc_growth_boost: float
    firm_exit_rate: float
    designation_spillover: float
    leading_firm_rd_bn_yuan: float
    leading_firm_threshold_growth: float
    cluster_competitive_intensity: float
    notch_margin: float
    centre_host_rd_bn_yuan: float
    cluster_min_hightech: int
    alliance_firms: int
    startup_burn_rate: float
    startup_rd_share: float
    rd_entry_rate: float
    rd_entry_imitation: float
    rd_entry_intensity: float
    universe_entry_rate: float
    patent_grant_lag_years: float
    voucher_additionality: float
    startup_industrial_share: float
    startup_entry_revenue_m_yuan: float
    startup_entry_rd_intensity: float
    rd_upgrading_rate: float
    rd_frontier_intensity: float
    contract_registration_rate: float
    pct_internationalisation_rate: float
    pct_frontier_per_bn_rd: float
    hightech_awareness_rate: float


_FILES = {InitialConditions: "initial_2015.toml", Parameters: "parameters.toml"}


def data_file(kind: type, year: int | None = None) -> str:
    """Data file of ``kind``; initial conditions exist per start year (``initial_<year>.toml``)."""
    if kind is InitialConditions and year is not None:
        return f"initial_{int(year)}.toml"
    return _FILES[kind]


@lru_cache(maxsize=None)
def data_entries(kind: type, year: int | None = None) -> dict[str, DataEntry]:
    """Read a data file once per process (read-only cache) and check it against ``kind``.

    ``year`` selects the initial state of that year (default: 2015's)."""
    fname = data_file(kind, year)
    if not resources.files("sim.data").joinpath(fname).is_file():
        raise DataError(f"sim/data/{fname}: no initial state for {year}")
    raw = tomllib.loads(resources.files("sim.data").joinpath(fname).read_text(encoding="utf-8"))
    names = {f.name for f in dataclasses.fields(kind)}
    if set(raw) != names:
        extra, missing = sorted(set(raw) - names), sorted(names - set(raw))
        raise DataError(f"sim/data/{fname}: keys do not match {kind.__name__}: extra {extra}, missing {missing}")
    out = {}
    for key, e in raw.items():
        needed = {"value", "unit", "source", "assumption"}
        if not needed <= set(e) or not set(e) <= needed | {"range"}:
            raise DataError(f"sim/data/{fname}: [{key}] needs value, unit, source, assumption (and optional range)")
        rng = tuple(float(x) for x in e["range"]) if "range" in e else None
        out[key] = DataEntry(key, e["value"], e["unit"], e["source"], bool(e["assumption"]), rng)
    return out


def _check(kind: type, key: str, value: Any) -> float | int:
    """Type, finiteness and the key's one allowed range (``sim.bounds``); counts are rounded."""
    from sim.bounds import allowed_ranges

    where = f"{'initial' if kind is InitialConditions else 'parameters'}.{key}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise DataError(f"{where}: must be finite, got {value!r}")
    b = allowed_ranges()[where]
    if not b.contains(value):
        raise DataError(f"{where}: {value:g} is outside its allowed range {b.text()} ({b.reason}; "
                        "see `innosim levers`)")
    ftype = {f.name: f.type for f in dataclasses.fields(kind)}[key]
    if ftype in ("int", int):
        return int(round(value))
    return float(value)


def build(kind: type, overrides: dict[str, Any] | None = None, where: str = "", year: int | None = None):
    """Build ``kind`` from its data file (initial state: of ``year``) with ``overrides``
    (unknown keys are errors)."""
    entries = data_entries(kind, year)
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(entries))
    if unknown:
        section = "initial" if kind is InitialConditions else "parameters"
        raise DataError(f"{where}{section}: unknown key {unknown[0]!r}; see sim/data/{_FILES[kind]} for allowed keys")
    values = {k: _check(kind, k, overrides.get(k, e.value)) for k, e in entries.items()}
    return kind(**values)


def default_parameters() -> Parameters:
    return build(Parameters)


def default_initial() -> InitialConditions:
    return build(InitialConditions)
