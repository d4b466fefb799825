"""Finance levers: government guidance funds, investment-loan linkage, innovation vouchers.

Read in the ``finance_ventures`` phase (guidance funds, loans) and the ``trade_technology``
phase (vouchers).
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.policies.registry import register_lever
from sim.policies.schedule import Account, Lever, Schedule, lever_field


@register_lever
@dataclass(frozen=True)
class GuidanceFunds(Lever):
    """政府引导基金: government commitments leveraged into VC funds.

    New VC capital per year = commitment x leverage_target x raised share, where the
    raised share is ``raised_share x (1 + profit_concession)`` capped at 1 (SOURCES §3: 43%
    of targets raised). ``stage_focus`` is the share of guided capital that must go to
    seed and early rounds (start-ups); the rest follows the private funds' screening.
    Defaults: the 2015 pace (about 4.2 bn yuan guided by the transformation fund).
    """

    name = "guidance_funds"
    phases = ("finance_ventures",)
    accounts = (Account("outlay_guidance", "outlay", "outlay_guidance_bn_yuan",
                        "expected fiscal cost of the year's guidance-fund commitments (expected loss and "
                        "financing cost of the equity, guidance_fiscal_cost)", "finance_ventures",
                        "expected fiscal cost of the commitments · DT: G [1 − (1 − l)/(1 + r)^T] (the commitment G "
                        "itself → `commitment_guidance_bn_yuan`, not a cost)"),)
    mechanism = "adds guided capital to VC funds; stage focus shifts rounds to early start-ups"

    transformation_fund_bn_yuan: Schedule = lever_field(
        1.0, "billion yuan committed per year", "national S&T achievement transformation guidance fund", 0.0, 1e4)
    emerging_industry_bn_yuan: Schedule = lever_field(
        0.0, "billion yuan committed per year", "national emerging-industry VC guidance fund", 0.0, 1e4)
    sme_fund_bn_yuan: Schedule = lever_field(
        0.0, "billion yuan committed per year", "national SME development fund", 0.0, 1e4)
    leverage_target: Schedule = lever_field(4.0, "fund size / government commitment", "target leverage", 1.0, 50.0)
    raised_share: Schedule = lever_field(0.43, "share of target raised", "SOURCES §3: 4.76 of 11 trillion", 0.0, 1.0)
    profit_concession: Schedule = lever_field(0.0, "share of government profit ceded to private LPs",
                                              "raises the share of the target raised", 0.0, 1.0)
    stage_focus: Schedule = lever_field(0.5, "share of guided capital for early rounds", "stage focus", 0.0, 1.0)


@register_lever
@dataclass(frozen=True)
class InvestmentLoanLinkage(Lever):
    """投贷联动: bank credit extended alongside VC rounds (neutral default 0)."""

    name = "investment_loan"
    phases = ("finance_ventures",)
    mechanism = "a backed start-up also receives loan_ratio x round as bank credit (cash for R&D)"

    loan_ratio: Schedule = lever_field(0.0, "yuan of credit per yuan of VC", "linked lending", 0.0, 10.0)


@register_lever
@dataclass(frozen=True)
class InnovationVouchers(Lever):
    """创新券: vouchers that pay part of an SME's purchase of R&D services (neutral default 0)."""

    name = "vouchers"
    phases = ("trade_technology",)
    accounts = (Account("outlay_vouchers", "outlay", "outlay_vouchers_bn_yuan", "innovation vouchers paid",
                        "trade_technology", "budget · DT"),)
    mechanism = ("budget buys technology services for SMEs from universities and institutes "
                 "(counted in technology-contract turnover); recipients start or raise R&D")

    budget_bn_yuan: Schedule = lever_field(0.0, "billion yuan per year", "voucher budget", 0.0, 1e4)
    voucher_m_yuan: Schedule = lever_field(0.1, "million yuan per voucher", "size of one voucher", 0.001, 100.0)
    cofinance_share: Schedule = lever_field(0.5, "share of the purchase paid by the firm", "firm co-payment", 0.0, 0.95)
