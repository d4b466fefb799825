"""Talent levers: researcher mobility, S&T commissioners, researchers' share of transfer proceeds.

Read in the ``move_researchers`` and ``spin_off`` phases (mobility) and in
``trade_technology`` (transfer share, commissioners).
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.policies.registry import register_lever
from sim.policies.schedule import Lever, Schedule, lever_field


@register_lever
@dataclass(frozen=True)
class TalentMobility(Lever):
    """科研人员兼职/离岗创业, 科技特派员, 成果转化收益分配.

    Defaults are 2015 policy: part-time posts and leave to found firms as practised in
    2015 (multipliers 1), 700,000 commissioners (plan), and the 2015 law's 50% share.
    """

    name = "talent"
    phases = ("innovate", "trade_technology", "move_researchers", "spin_off")
    mechanism = ("part_time scales academic-to-firm flows (absorptive capacity), leave_to_found "
                 "scales spin-offs, commissioners raise SME absorptive capacity, the transfer "
                 "share raises academic technology sales")

    part_time: Schedule = lever_field(1.0, "multiple of the 2015 mobility rate", "part-time posts in firms", 0.0, 10.0)
    leave_to_found: Schedule = lever_field(1.0, "multiple of the 2015 spin-off rate", "leave to found companies", 0.0, 10.0)
    commissioners_k: Schedule = lever_field(700.0, "thousand S&T commissioners", "plan §一(一): over 700,000", 0.0, 1e4)
    transfer_share: Schedule = lever_field(0.5, "share of transfer proceeds kept by research teams",
                                           "2015 law: at least 50%", 0.0, 1.0)
