"""Tax levers: R&D super-deduction, high-tech certification, accelerated depreciation.

All three act on the firm's user cost of R&D and its tax bill; the model reads them in
the ``decide_rd`` and ``collect_taxes`` phases (and ``certify_hightech`` for the
certification rules).
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.policies.registry import register_lever
from sim.policies.schedule import Account, Lever, Schedule, lever_field


@register_lever
@dataclass(frozen=True)
class SuperDeduction(Lever):
    """研发费用加计扣除: extra deduction of reported R&D from taxable income.

    Defaults are the 2015 rule (SOURCES §3): 50% for every eligible firm.
    """

    name = "super_deduction"
    phases = ("decide_rd", "report_rd", "certify_hightech", "collect_taxes")  # the last three via the tax context
    accounts = (Account("tax_exp_deduction", "tax_expenditure", "tax_expenditure_deduction_bn_yuan",
                        "revenue forgone through the super-deduction", "collect_taxes",
                        "Σ w E_D DT (Shapley share of T_neither − T_both)"),)
    mechanism = ("extra deduction d lowers the user cost (1 - tau v(1+d))/(1 - tau v) of claiming firms, "
                 "v = 1 in a tax-paying position (else loss_deduction_value); "
                 "d = max(rate_all, rate_tech_sme if a tech SME, rate_manufacturing if industrial); "
                 "tax expenditure: Shapley share of T(no deduction, no high-tech rate) - T(actual)")

    rate_all: Schedule = lever_field(0.5, "share of reported R&D",
                                     "floor for every claiming firm; a firm gets the LARGEST rate it qualifies for, "
                                     "so rate_all moves industrial firms only above rate_manufacturing and tech SMEs "
                                     "only above rate_tech_sme", 0.0, 3.0)
    rate_tech_sme: Schedule = lever_field(0.5, "share of reported R&D",
                                          "for technology-based SMEs (<=500 staff, revenue <=200m yuan, doing R&D) "
                                          "when larger than the other rates that apply", 0.0, 3.0)
    rate_manufacturing: Schedule = lever_field(0.5, "share of reported R&D",
                                               "for industrial (above-size) firms when larger than rate_all "
                                               "(the rate that moves T5)", 0.0, 3.0)


@register_lever
@dataclass(frozen=True)
class HighTechCertification(Lever):
    """高新技术企业认定 (InnoCom): 15% tax for firms meeting R&D-intensity, staff and IP tests.

    Defaults are the 2008 rules in force in 2015 (SOURCES §3): 6%/4%/3% by revenue band,
    30% S&T staff, core IP required, three-year validity.
    """

    name = "hightech"
    phases = ("decide_rd", "report_rd", "certify_hightech", "collect_taxes")  # notch, audit, certificates, tax
    accounts = (Account("tax_exp_hightech", "tax_expenditure", "tax_expenditure_hightech_bn_yuan",
                        "revenue forgone through the 15% high-tech rate", "collect_taxes",
                        "Σ w E_H DT (Shapley share of T_neither − T_both)"),)
    mechanism = ("firms meeting the thresholds pay tax_rate instead of standard_tax_rate; "
                 "firms just below a threshold bunch when the tax saved, (tau_std - tau_ht)(profit - d R), "
                 "beats the cost, relabelling a share of the gap; audits recover a multiple of the tax saved")

    standard_tax_rate: Schedule = lever_field(0.25, "share of taxable profit", "corporate income tax rate", 0.0, 1.0)
    tax_rate: Schedule = lever_field(0.15, "share of taxable profit", "tax rate of certified firms", 0.0, 1.0)
    threshold_small: Schedule = lever_field(0.06, "reported R&D / revenue", "intensity test, revenue < band_small", 0.0, 1.0)
    threshold_medium: Schedule = lever_field(0.04, "reported R&D / revenue", "intensity test, band_small..band_large", 0.0, 1.0)
    threshold_large: Schedule = lever_field(0.03, "reported R&D / revenue", "intensity test, revenue > band_large", 0.0, 1.0)
    band_small_m_yuan: Schedule = lever_field(50.0, "million yuan revenue", "upper edge of the small band", 0.0, 1e6)
    band_large_m_yuan: Schedule = lever_field(200.0, "million yuan revenue", "lower edge of the large band", 0.0, 1e6)
    staff_share: Schedule = lever_field(0.30, "S&T staff / employees", "staff test", 0.0, 1.0)
    ip_required: Schedule = lever_field(1.0, "0 or 1", "whether core IP is required", 0.0, 1.0)
    validity_years: Schedule = lever_field(3.0, "years", "validity of a certificate", 1.0, 10.0)
    audit_intensity: Schedule = lever_field(0.05, "probability per year", "share of certified firms audited", 0.0, 1.0)


@register_lever
@dataclass(frozen=True)
class AcceleratedDepreciation(Lever):
    """加速折旧 of R&D equipment: earlier deductions lower the user cost of the equipment part.

    Neutral default 0: the 2015 treatment is already in the calibrated user cost.
    """

    name = "accelerated_depreciation"
    phases = ("decide_rd", "collect_taxes")
    accounts = (Account("tax_exp_depreciation", "tax_expenditure", "tax_expenditure_depreciation_bn_yuan",
                        "revenue forgone through accelerated depreciation of R&D equipment", "collect_taxes",
                        "Σ_{π>0} w · equipment_share · τ · v · pv_gain · rd_real · DT"),)
    mechanism = "user cost (1 - tau v (1+d) - tau v equipment_share pv_gain)/(1 - tau v): the gain enters like the deduction"

    equipment_share: Schedule = lever_field(0.2, "share of R&D spent on equipment", "base the rule applies to", 0.0, 1.0)
    pv_gain: Schedule = lever_field(0.0, "present value per yuan of equipment, beyond 2015 rules",
                                    "gain from depreciating faster", 0.0, 1.0)
