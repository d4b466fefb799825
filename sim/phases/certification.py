"""High-tech certification phase (InnoCom): expiry, renewal and new certificates.
"""
from __future__ import annotations

import numpy as np

from sim.agents import firms as F
from sim.agents.momentum import awareness_probability
from sim.phases import DT, Quarter


def certify_hightech(m, q: Quarter) -> None:
    """Expiry and renewal of certificates; eligible firms apply at ``hightech_apply_rate``;
    small technology firms outside industry become aware of certification
    (:func:`sim.agents.momentum.awareness_probability`; they may apply from the next quarter)."""
    f, c, p, rng = m.firms, q.tax, m.p, q.streams["certify_hightech"]
    rep = f.rd_real + f.relabel
    staff_ok = p.st_staff_ratio * f.rd_staff / f.employees >= c.staff_share
    ip_ok = f.core_ip | (f.patents > 0) | (c.ip_required < 0.5)
    meets = f.alive & (rep >= c.threshold * f.revenue) & staff_ok & ip_ok
    expired = f.hightech & (f.ht_expiry <= q.index)
    renew = expired & meets
    f.hightech &= ~(expired & ~meets)
    apply = ~f.hightech & f.ht_aware & meets & (rng.random(f.n) < p.hightech_apply_rate)
    f.hightech |= apply
    validity = int(round(c.validity_years * 4))
    f.ht_expiry = np.where(renew | apply, q.index + validity, f.ht_expiry)
    if p.hightech_awareness_rate > 0.0:  # drawn after the applications: rate 0 leaves every other draw as it was
        small = f.alive & ~f.ht_aware & (f.segment != F.INDUSTRIAL) & (f.revenue <= 200.0)
        f.ht_aware |= small & (rng.random(f.n) < awareness_probability(p.hightech_awareness_rate, DT))
