"""Invalid runs: their own category, never a miss.

A run is **invalid** when any indicator is NaN or infinite in a year where it is defined
(every year but the first, in which flows such as tax expenditures have no value yet;
infinity is invalid in every year). An invalid run is recorded with its reason and
excluded from reachability (with the count excluded beside every probability) and from
scenario discovery; Sobol' and Morris need every design point, so they refuse to compute
indices for an indicator with invalid values and say how many runs are invalid. Nothing
ever counts an invalid run as "target not reached".

Commands exit with :data:`INVALID_EXIT` when the invalid share exceeds what the user
tolerates (``--tolerate-invalid SHARE``, default 0), after writing the results and the
list of invalid runs.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import ExperimentError

INVALID_EXIT = 3
MAX_LISTED = 1000


def reason_of(values: np.ndarray, years, names) -> str | None:
    """Why a run with ``values[indicator, year]`` is invalid (None if it is valid)."""
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values)
    bad[:, 0] &= np.isinf(values[:, 0])           # NaN in the first year: undefined flow
    if not bad.any():
        return None
    i, j = np.argwhere(bad)[0]
    kind = "NaN" if np.isnan(values[i, j]) else "infinite"
    more = int(bad.sum()) - 1
    return f"{kind} {names[i]} in {years[j]}" + (f" (and {more} more values)" if more else "")


def invalid_runs(ind: pd.DataFrame) -> pd.DataFrame:
    """Invalid runs of a tidy table (run_id, year, indicator, value): run_id and reason."""
    if ind.empty:
        return pd.DataFrame({"run_id": pd.Series([], dtype="int64"), "reason": []})
    first = ind["year"].min()
    v = ind["value"].to_numpy(dtype=float)
    bad = np.isinf(v) | (np.isnan(v) & (ind["year"].to_numpy() != first))
    sub = ind[bad].sort_values(["run_id", "year", "indicator"])
    rows = []
    for run_id, g in sub.groupby("run_id", sort=True):
        x = g["value"].iloc[0]
        kind = "NaN" if np.isnan(x) else "infinite"
        more = len(g) - 1
        rows.append((int(run_id), f"{kind} {g['indicator'].iloc[0]} in {int(g['year'].iloc[0])}"
                     + (f" (and {more} more values)" if more else "")))
    return pd.DataFrame(rows, columns=["run_id", "reason"]).astype({"run_id": "int64"})


def check_share(option: str, value) -> float:
    """``--tolerate-invalid``: a share in [0, 1]."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ExperimentError(f"{option}: expected a share between 0 and 1, got {value!r}") from None
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise ExperimentError(f"{option}: expected a share between 0 and 1, got {value!r}")
    return x


def summary_line(n_invalid: int, n_runs: int, tolerated: float, what: str = "runs") -> str:
    share = n_invalid / n_runs if n_runs else 0.0
    verdict = ("within" if share <= tolerated else "above") + f" the tolerated share {tolerated:g}"
    return (f"{n_invalid} of {n_runs} {what} invalid (NaN/inf indicator; {verdict}); they are "
            "excluded from every probability and never counted as a miss")


def exceeds(n_invalid: int, n_runs: int, tolerated: float) -> bool:
    return n_runs > 0 and n_invalid / n_runs > tolerated
