"""The tax levers as they apply to each firm in a given year (one vectorised read).

This is the single point where the tax levers' schedules meet firm state: the
``decide_rd``, ``report_rd``, ``certify_hightech`` and ``collect_taxes`` phases all use the
:class:`TaxContext` computed here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.agents import firms as F
from sim.params import Parameters

TECH_SME_EMPLOYEES = 500
TECH_SME_REVENUE_M_YUAN = 200.0
QUARTER = 0.25  # years per step


@dataclass
class TaxContext:
    tax_rate_std: float
    tax_rate_ht: float
    deduction_all: float
    audit: float
    staff_share: float
    ip_required: float
    validity_years: float
    tax_rate: np.ndarray        # per firm: 15% if certified else 25%
    deduction: np.ndarray       # per firm: extra deduction rate it can claim (0 if it does not claim)
    deduction_value: np.ndarray # per firm: 1 in a tax-paying position (taxable income after the deduction
                                # above the loss carry-forward), else loss_deduction_value
    tax_saving: np.ndarray      # per firm: tax saved per reported yuan through the extra deduction
    threshold: np.ndarray       # per firm: certification intensity test for its revenue band
    tech_sme: np.ndarray        # bool per firm


def firm_tax_context(f: F.FirmState, levers, year: int, p: Parameters) -> TaxContext:
    sd, ht = levers.super_deduction, levers.hightech
    std, htr = ht.standard_tax_rate.at(year), ht.tax_rate.at(year)
    tech_sme = (f.employees <= TECH_SME_EMPLOYEES) & (f.revenue <= TECH_SME_REVENUE_M_YUAN) & (f.rd_real > 0)
    d = np.full(f.n, sd.rate_all.at(year))
    d = np.where(tech_sme, np.maximum(d, sd.rate_tech_sme.at(year)), d)
    d = np.where(f.segment == F.INDUSTRIAL, np.maximum(d, sd.rate_manufacturing.at(year)), d)
    d = np.where(f.claims, d, 0.0)
    tau = np.where(f.hightech, htr, std)
    # tax position (last quarter's reported R&D): the quarter's taxable income after the
    # deduction exceeds the losses carried forward, so a yuan deducted now saves tax now
    taxable = f.margin * f.revenue - d * (f.rd_real + f.relabel)
    held = F.losses_held(f.loss_cf[:, 0])  # the actual world's losses carried forward
    paying = taxable * QUARTER > held
    value = np.where(paying, 1.0, p.loss_deduction_value)
    thr = F.certification_threshold(
        f.revenue, ht.threshold_small.at(year), ht.threshold_medium.at(year), ht.threshold_large.at(year),
        ht.band_small_m_yuan.at(year), ht.band_large_m_yuan.at(year))
    return TaxContext(
        tax_rate_std=std, tax_rate_ht=htr, deduction_all=sd.rate_all.at(year), audit=ht.audit_intensity.at(year),
        staff_share=ht.staff_share.at(year), ip_required=ht.ip_required.at(year),
        validity_years=ht.validity_years.at(year), tax_rate=tau, deduction=d, deduction_value=value,
        tax_saving=tau * value * d, threshold=thr, tech_sme=tech_sme,
    )


def tax_levers_at(levers, year: int) -> tuple:
    """Every value the tax levers that enter the user cost take in ``year``
    (super-deduction, high-tech certification, accelerated depreciation): two years with
    equal values give the same :func:`firm_tax_context` user cost for the same firms."""
    return tuple(v.at(year) if hasattr(v, "at") else v
                 for lever in (levers.super_deduction, levers.hightech, levers.accelerated_depreciation)
                 for v in vars(lever).values())
