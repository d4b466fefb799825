"""The one number formatter of every table the tool prints (command line, reports, the page)."""
from __future__ import annotations

import math


def fmt_number(x: float, digits: int = 3) -> str:
    """Compact number: ``n/a`` when not finite; thousands separators from 10,000; whole
    numbers from 100; otherwise ``digits`` significant digits."""
    x = float(x)
    if not math.isfinite(x):
        return "n/a"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"
