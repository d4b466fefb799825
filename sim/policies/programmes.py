"""Designation programmes: pilot firms, leading firms, innovation centres, alliances, clusters.

The government designates by stated rules from agent states in the ``designate`` phase,
at most ``quota`` new designations per year; designated firms receive the support
(collaboration spill-overs raise their innovation and imitation probabilities).
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.policies.registry import register_lever
from sim.policies.schedule import Account, Lever, Schedule, lever_field


@register_lever
@dataclass(frozen=True)
class Programmes(Lever):
    """Quotas and selection thresholds of the plan's designation programmes.

    Defaults continue the pre-2016 pace (assumptions: pilot firms since 2008 about 75 a
    year; alliances about 20 a year; cluster pilots since 2013 about 8 a year; no
    innovation centres or leading-firm programme before the plan).
    """

    name = "programmes"
    phases = ("decide_rd", "innovate", "collect_taxes", "designate")
    accounts = (Account("outlay_programmes", "outlay", "outlay_programmes_bn_yuan",
                        "leading-firm subsidies and innovation-centre funding", "collect_taxes",
                        "leading_subsidy_share · Σ w · extra · DT + centres · centre_funding · DT"),)
    mechanism = ("each year the government designates up to quota eligible firms/groups, "
                 "ranked by real R&D; members get the designation_spillover support")

    pilot_quota: Schedule = lever_field(75.0, "new pilot firms per year", "innovative (pilot) enterprises", 0.0, 1e5)
    pilot_min_intensity: Schedule = lever_field(0.015, "real R&D / revenue", "eligibility for pilot status", 0.0, 1.0)
    leading_quota: Schedule = lever_field(0.0, "firms per year", "leading-firm cultivation (extra R&D support)", 0.0, 1e4)
    leading_support: Schedule = lever_field(0.1, "rise in desired R&D of cultivated leading firms", "support", 0.0, 2.0)
    centre_quota: Schedule = lever_field(0.0, "new centres per year", "national technology innovation centres", 0.0, 1e3)
    alliance_quota: Schedule = lever_field(20.0, "new pilot alliances per year", "industrial technology alliances", 0.0, 1e4)
    cluster_quota: Schedule = lever_field(8.0, "new cluster pilots per year", "innovative industrial clusters", 0.0, 1e3)
    leading_subsidy_share: Schedule = lever_field(0.5, "share of cultivated firms' extra R&D paid by the budget",
                                                  "budget cost of leading-firm support", 0.0, 1.0)
    centre_funding_bn_yuan: Schedule = lever_field(0.1, "billion yuan per centre per year",
                                                   "central funding of each innovation centre (assumption)", 0.0, 100.0)
    spillover_scale: Schedule = lever_field(1.0, "multiple of designation_spillover", "strength of programme support", 0.0, 10.0)
