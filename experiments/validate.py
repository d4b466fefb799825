"""``innosim validate HISTORY.toml``: score model paths against observed series.

For each series of a history file (``sim/history.py``) that names a model indicator, over
the observed years ``t`` after the base year ``b``:

* **growth error** of a forecaster: ``e_t = |g_hat(t) - g(t)|`` with the observed growth
  since the base year ``g(t) = ln(y_t / y_b)`` and the forecast growth ``g_hat(t)``; the
  score is the mean of ``e_t`` over the scored years (0 for a perfect forecaster).
  Scoring growth, not levels, lets a model scaled to other units be compared with data.
* **model**: per replication ``r`` the growth ``ln(m_r(t) / m_r(b))`` of its indicator;
  ``g_hat`` is the median over replications and the 90% band runs from the 5th to the
  95th percentile (numpy's linear interpolation). An observation is *inside* when
  ``g(t)`` lies in the band (bounds included).
* **trend** (the naive forecaster): the least-squares line ``ln y_s = a + beta * s`` fitted
  to the series' observed years ``s <= b`` (the information at the base year; at least
  two), continued from the observed base value: ``g_hat(t) = beta * (t - b)``. Its 90% band
  is the prediction interval ``beta (t - b) +/- t_{0.95, n-2} * s_e * sqrt(1 + (t - b)^2 / S_xx)``
  (``s_e`` the residual standard error, ``S_xx = sum (s - s_bar)^2``; needs n >= 3).
* **ratio** model score / trend score: below 1 the model forecasts growth better.
* **breaks** (``breaks`` of a series, ``sim/history.py``): growth to a year after a break is
  measured from the first observed year on or after it (the *reference* ``r``) for the data,
  the model (``ln(m_r(t) / m_r(r))``) and the trend (``beta * (t - r)``, band with
  ``t - r`` for ``t - b``), and the trend is fitted on the base year's segment only; the
  reference year itself is not scored.

Levels in the plots are the observed base value times ``exp(growth)``, so fans, points and
the trend line share the series' unit.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from experiments.errors import ExperimentError

BAND = (5.0, 95.0)


# ---------------------------------------------------------------------- pure scoring
@dataclass(frozen=True)
class ForecastScore:
    """One forecaster's scores on one series."""

    growth: list[float]          # forecast growth since the base year, per scored year
    low: list[float]             # 90% band of the growth (nan when the forecaster has none)
    high: list[float]
    abs_log_error: list[float]
    inside: list[bool | None]    # None when there is no band
    score: float                 # mean |log error| of growth
    coverage: float | None       # share of scored years inside the band


@dataclass(frozen=True)
class SeriesValidation:
    series: str
    indicator: str
    unit: str
    base_year: int
    base_value: float
    years: list[int]
    observed: list[float]
    observed_growth: list[float]
    model: ForecastScore
    trend: ForecastScore | None
    trend_fit_years: list[int]
    trend_slope: float | None
    ratio: float | None          # model score / trend score
    model_years: list[int] = field(default_factory=list)
    model_growth_paths: list[list[float]] = field(default_factory=list, repr=False)
    references: list[int] = field(default_factory=list)   # year each scored year's growth is measured from
    unscored: dict[int, float] = field(default_factory=dict)   # observed after base, opening a segment
    breaks: dict[int, str] = field(default_factory=dict)

    @property
    def reference_values(self) -> list[float]:
        """Observed value in each scored year's reference year: the base value, or the value of
        the year that opened the segment (a reference after the base is never scored itself)."""
        return [self.base_value if r == self.base_year else self.unscored[r] for r in self.references]


def _score(growth, low, high, observed_growth) -> ForecastScore:
    g, o = np.asarray(growth, float), np.asarray(observed_growth, float)
    err = np.abs(g - o)
    lo, hi = np.asarray(low, float), np.asarray(high, float)
    if np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)):
        inside = [bool(a <= x <= b) for a, x, b in zip(lo, o, hi)]
        cov = float(np.mean(inside)) if inside else None
    else:
        inside, cov = [None] * len(o), None
    return ForecastScore(g.tolist(), lo.tolist(), hi.tolist(), err.tolist(), inside, float(err.mean()), cov)


def model_growth(paths: np.ndarray, model_years, base: int) -> np.ndarray:
    """Growth since ``base`` per replication: ``ln(m_r(t) / m_r(base))`` (rows r, columns years).

    Non-positive values give nan (growth undefined) for that replication and year.
    """
    paths = np.atleast_2d(np.asarray(paths, float))
    b = list(model_years).index(base)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (paths > 0) & (paths[:, [b]] > 0)
        return np.where(ok, np.log(np.where(ok, paths, 1.0) / np.where(paths[:, [b]] > 0, paths[:, [b]], 1.0)), np.nan)


def score_model(paths, model_years, observed: dict[int, float], base: int, years, refs=None) -> ForecastScore:
    """Model scores on ``years`` (median growth, 5-95% band over replications).

    ``refs``: per scored year the year its growth is measured from (default: ``base``)."""
    refs = list(refs) if refs is not None else [base] * len(years)
    my = list(model_years)
    g = model_growth(paths, model_years, base)
    sub = g[:, [my.index(t) for t in years]] - g[:, [my.index(r) for r in refs]]
    if np.isnan(sub).all(axis=0).any():
        bad = years[int(np.flatnonzero(np.isnan(sub).all(axis=0))[0])]
        raise ValueError(f"model growth undefined in {bad} (indicator not positive)")
    obs = [math.log(observed[t] / observed[r]) for t, r in zip(years, refs)]
    return _score(np.nanmedian(sub, axis=0), np.nanpercentile(sub, BAND[0], axis=0),
                  np.nanpercentile(sub, BAND[1], axis=0), obs)


def fit_trend(observed: dict[int, float], base: int, fit_years=None) -> tuple[float, float, list[int], float | None]:
    """Least-squares log-linear trend on the observed years up to ``base`` (or ``fit_years``).

    Returns (slope beta, residual standard error s_e or nan, fitted years, S_xx).
    Raises ``ValueError`` with fewer than two years.
    """
    fit = sorted(fit_years) if fit_years is not None else sorted(y for y in observed if y <= base)
    if len(fit) < 2:
        raise ValueError(f"fewer than two observed years up to {base}")
    x = np.array(fit, float)
    y = np.log([observed[t] for t in fit])
    sxx = float(((x - x.mean()) ** 2).sum())
    beta = float(((x - x.mean()) * (y - y.mean())).sum() / sxx)
    resid = y - (y.mean() + beta * (x - x.mean()))
    se = float(math.sqrt((resid ** 2).sum() / (len(fit) - 2))) if len(fit) >= 3 else float("nan")
    return beta, se, fit, sxx


def score_trend(observed: dict[int, float], base: int, years, refs=None, fit_years=None
                ) -> tuple[ForecastScore, float, list[int]]:
    """The naive trend forecaster's scores (see the module docstring)."""
    refs = list(refs) if refs is not None else [base] * len(years)
    beta, se, fit, sxx = fit_trend(observed, base, fit_years)
    h = np.array([t - r for t, r in zip(years, refs)], float)
    growth = beta * h
    if math.isfinite(se):
        half = stats.t.ppf(0.95, len(fit) - 2) * se * np.sqrt(1.0 + h ** 2 / sxx)
        low, high = growth - half, growth + half
    else:
        low = high = np.full(len(h), np.nan)
    obs = [math.log(observed[t] / observed[r]) for t, r in zip(years, refs)]
    return _score(growth, low, high, obs), beta, fit


def validate_series(series, paths, model_years, base: int, years: list[int] | None = None) -> SeriesValidation:
    """Model and trend scores of one observed series (``sim.history.Series``).

    ``paths``: the indicator's annual values, one row per replication, columns ``model_years``.
    ``years``: years to score (default: every observed year after ``base`` the model covers).
    Raises ``ValueError`` (one line) when the series cannot be scored.
    """
    obs = series.values
    model_years = [int(y) for y in model_years]
    if base not in obs:
        raise ValueError(f"not observed in the base year {base}")
    if base not in model_years:
        raise ValueError(f"the model does not cover the base year {base}")
    ref = series.references(base, model_years)
    cand = [t for t, r in ref.items() if r is not None]
    years = sorted(set(cand) & set(years)) if years is not None else sorted(cand)
    if not years:
        raise ValueError(f"no observed year after {base} within the chosen years and the model's years"
                         + (" (a break opens each)" if series.breaks else ""))
    refs = [ref[t] for t in years]
    model = score_model(paths, model_years, obs, base, years, refs)
    try:
        trend, beta, fit = score_trend(obs, base, years, refs, series.trend_years(base))
    except ValueError:
        trend, beta, fit = None, None, []
    ratio = None
    if trend is not None:
        ratio = model.score / trend.score if trend.score > 0 else (math.inf if model.score > 0 else 1.0)
    g = model_growth(paths, model_years, base)
    return SeriesValidation(
        series=series.name, indicator=series.indicator, unit=series.unit, base_year=base,
        base_value=obs[base], years=years, observed=[obs[t] for t in years],
        observed_growth=[math.log(obs[t] / obs[r]) for t, r in zip(years, refs)], model=model, trend=trend,
        trend_fit_years=fit, trend_slope=beta, ratio=ratio, model_years=model_years,
        model_growth_paths=g.tolist(), references=refs, breaks=dict(series.breaks),
        unscored={t: obs[t] for t, r in ref.items() if r is None})


def validate(history, paths_by_indicator: dict[str, np.ndarray], model_years, base: int,
             years: list[int] | None = None) -> dict:
    """Score every series of ``history`` that names an indicator. Returns plain data.

    Series that cannot be scored are listed under ``skipped`` with the reason.
    """
    rows, skipped = [], []
    for name, s in history.series.items():
        if s.indicator is None:
            skipped.append({"series": name, "reason": "names no model indicator"})
            continue
        try:
            rows.append(validate_series(s, paths_by_indicator[s.indicator], model_years, base, years))
        except ValueError as exc:
            skipped.append({"series": name, "reason": str(exc)})
    both = [r for r in rows if r.trend is not None]
    summary = {
        "series_scored": len(rows),
        "model_score_mean": float(np.mean([r.model.score for r in rows])) if rows else None,
        "model_coverage": (float(np.mean([x for r in rows for x in r.model.inside])) if rows else None),
        "series_with_trend": len(both),
        "model_score_mean_where_trend": float(np.mean([r.model.score for r in both])) if both else None,
        "trend_score_mean": float(np.mean([r.trend.score for r in both])) if both else None,
    }
    t = summary["trend_score_mean"]
    summary["ratio"] = (summary["model_score_mean_where_trend"] / t) if both and t and t > 0 else None
    return {"base_year": base, "series": rows, "skipped": skipped, "summary": summary}


# ---------------------------------------------------------------------- presentation
def _f(x, spec=".3f"):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def format_validation(res: dict) -> str:
    head = (f"{'series':32} {'years':>9} {'model |dlog|':>12} {'in 90%':>7} "
            f"{'trend |dlog|':>12} {'in 90%':>7} {'model/trend':>11}")
    lines = [head, "-" * len(head)]
    for r in res["series"]:
        yrs = f"{r.years[0]}-{r.years[-1]}" if len(r.years) > 1 else str(r.years[0])
        mi = f"{sum(r.model.inside)}/{len(r.years)}"
        if r.trend is not None:
            ti = f"{sum(bool(x) for x in r.trend.inside)}/{len(r.years)}" if r.trend.coverage is not None else "n/a"
            ts = _f(r.trend.score)
        else:
            ti, ts = "n/a", "n/a"
        name = r.series + ("*" if any(k > r.base_year for k in r.breaks) else "")
        lines.append(f"{name:32} {yrs:>9} {_f(r.model.score):>12} {mi:>7} {ts:>12} {ti:>7} {_f(r.ratio, '.2f'):>11}")
    s = res["summary"]
    lines.append("-" * len(head))
    lines.append(f"{'mean over series':32} {'':>9} {_f(s['model_score_mean']):>12} {_f(s['model_coverage'], '.2f'):>7} "
                 f"{_f(s['trend_score_mean']):>12} {'':>7} {_f(s['ratio'], '.2f'):>11}")
    lines.append(f"|dlog| = mean |log error| of growth since {res['base_year']}; in 90% = observations inside the "
                 f"90% band; trend = log-linear trend fitted to the observed years up to {res['base_year']} "
                 f"(since the series' last break before it; ratio over series with a trend)")
    marked = [r for r in res["series"] if any(k > res["base_year"] for k in r.breaks)]
    for r in marked:
        lines.append(f"* {r.series}: " + "; ".join(f"break {k}: {why}" for k, why in r.breaks.items()
                                                  if k > res["base_year"]))
    if marked:
        lines.append("* growth after a break is measured from the first observed year on or after it "
                     "(that year is not scored)")
    for k in res["skipped"]:
        lines.append(f"not scored: {k['series']}: {k['reason']}")
    return "\n".join(lines)


def to_json(res: dict, meta: dict) -> dict:
    out = {**meta, "base_year": res["base_year"], "summary": res["summary"], "skipped": res["skipped"], "series": []}
    for r in res["series"]:
        d = asdict(r)
        d.pop("model_growth_paths")
        out["series"].append(d)
    return out


def plot_series(r: SeriesValidation, folder: Path) -> str:
    from experiments.output import pyplot

    plt = pyplot()
    g = np.asarray(r.model_growth_paths, float)
    years = np.array(r.model_years)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    # one fan per segment: anchored at the observed base, and after each break at the observed
    # reference year (the model's growth since that year times its observed value)
    anchors = sorted({r.base_year: r.base_value, **dict(zip(r.references, r.reference_values))}.items())
    for i, (a, va) in enumerate(anchors):
        nxt = min((k for k in r.breaks if k > a), default=int(years[-1]) + 1)
        keep = (years >= a) & (years < nxt)
        ia = int(np.flatnonzero(years == a)[0])
        lv = va * np.exp(g[:, keep] - g[:, [ia]])
        ax.fill_between(years[keep], np.nanpercentile(lv, BAND[0], axis=0), np.nanpercentile(lv, BAND[1], axis=0),
                        color="C0", alpha=0.25, label="model 90% band" if i == 0 else None)
        ax.plot(years[keep], np.nanmedian(lv, axis=0), color="C0", lw=2, label="model median" if i == 0 else None)
    for k, why in r.breaks.items():
        if k > r.base_year:
            ax.axvline(k - 0.5, color="0.5", ls=":", lw=1, label="break (rebased)" if k == min(r.breaks) else None)
    if r.trend is not None:
        tyears = np.arange(min(r.trend_fit_years), max(max(r.years), r.base_year) + 1)
        ax.plot(tyears, r.base_value * np.exp(r.trend_slope * (tyears - r.base_year)), color="C2", ls="--",
                label=f"trend (fit {min(r.trend_fit_years)}-{max(r.trend_fit_years)})")
    ax.plot(r.years, r.observed, "o", color="k", ms=4, label="observed")
    if r.unscored:
        ax.plot(list(r.unscored), list(r.unscored.values()), "o", color="k", ms=4, mfc="none",
                label="observed, opens a segment (not scored)")
    ax.plot([a for a, _ in anchors], [v for _, v in anchors], "s", color="k", ms=5, mfc="none",
            label=f"base {r.base_year}" + (" and references" if len(anchors) > 1 else ""))
    ax.set_title(f"{r.series} ({r.indicator}); model growth from the observed base"
                 + (" (restarted at breaks)" if len(anchors) > 1 else ""), fontsize=8)
    ax.set_ylabel(r.unit[:60], fontsize=7)
    ax.legend(fontsize=6)
    fig.tight_layout()
    name = f"validate_{r.series}.png"
    fig.savefig(folder / name, dpi=90)
    plt.close(fig)
    return name


# ---------------------------------------------------------------------- command
def parse_years(text: str | None) -> list[int] | None:
    """``2013-2015`` or ``2013,2015`` -> list of years; None -> None."""
    if text is None:
        return None
    years: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if a > b:
                    raise ValueError
                years.update(range(a, b + 1))
            else:
                years.add(int(part))
    except ValueError:
        raise ExperimentError(f"--years: expected e.g. 2013-2015 or 2013,2015, got {text!r}") from None
    return sorted(years)


def paths_from_results(folder: Path) -> tuple[dict[str, np.ndarray], list[int], dict]:
    """Indicator paths from an ``innosim run`` output folder (indicators.parquet)."""
    import pandas as pd

    f = folder / "indicators.parquet"
    if not f.is_file():
        raise ExperimentError(f"--results {folder}: no indicators.parquet (an `innosim run` output folder)")
    try:
        df = pd.read_parquet(f)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise ExperimentError(f"{f}: cannot read: {exc}") from None
    need = {"replication", "year", "indicator", "value"}
    if not need <= set(df.columns):
        raise ExperimentError(f"{f}: needs columns {', '.join(sorted(need))}")
    years = sorted(int(y) for y in df["year"].unique())
    paths = {}
    for name, d in df.groupby("indicator"):
        wide = d.pivot(index="replication", columns="year", values="value").reindex(columns=years)
        paths[str(name)] = wide.to_numpy(float)
    meta = {}
    man = folder / "manifest.json"
    if man.is_file():
        try:
            m = json.loads(man.read_text())
            meta = {k: m.get(k) for k in ("scenario", "scenario_digest", "master_seed", "replications", "scale")}
        except (OSError, ValueError):
            meta = {}
    return paths, years, meta


def cmd_validate(args) -> int:
    from experiments.options import check_run_options
    from experiments.output import staged_output
    from experiments.seeds import replication_seeds
    from sim.history import load_history
    from sim.scenario import load_scenario

    history = load_history(args.history)
    if args.ignore_breaks:
        history = without_breaks(history)
    if args.results and args.posterior:
        raise ExperimentError("--posterior applies when the model is run (--scenario), not to saved --results")
    if args.results and args.scenario:
        raise ExperimentError("give either --scenario (run the model) or --results (score saved runs), not both")
    years_opt = parse_years(args.years)
    t0 = time.perf_counter()
    if args.results:
        paths, model_years, meta = paths_from_results(Path(args.results))
        meta = {"source": "results", "results": str(args.results), **meta}
    else:
        sc = load_scenario(args.scenario or default_scenario())
        check_run_options(args, sc)
        reps, scale, seed = args.replications, args.scale, args.seed
        seeds = replication_seeds(seed, reps)

        def progress(done, total):
            if sys.stderr.isatty():
                print(f"\r  replication {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

        from experiments.compare import run_paired
        from experiments.posterior import load_posterior
        posterior = load_posterior(args.posterior) if args.posterior else None
        results = run_paired([sc], seeds, scale, args.workers, progress, posterior, seed, args.scheduler)[0]
        model_years = list(results[0].years)
        paths = {k: np.array([r.indicators[k] for r in results]) for k in results[0].indicators}
        meta = {"source": "run", "scenario": sc.name, "scenario_file": sc.path, "scenario_digest": sc.digest(),
                "master_seed": seed, "seeds": seeds, "replications": reps, "scale": scale,
                "posterior": posterior.provenance(reps, seed) if posterior else None}
    base = args.base_year if args.base_year is not None else model_years[0]
    if base not in model_years:
        raise ExperimentError(f"--base-year {base}: the model covers {model_years[0]}-{model_years[-1]}")
    res = validate(history, paths, model_years, base, years_opt)
    if not res["series"]:
        why = [k for k in res["skipped"] if k["reason"] != "names no model indicator"]
        reason = f"e.g. {why[0]['series']}: {why[0]['reason']}" if why else "no series names a model indicator"
        raise ExperimentError(f"{history.path}: no series can be scored against the model's years "
                              f"{model_years[0]}-{model_years[-1]} from base year {base} ({reason})")
    meta = {"command": "validate", "history": history.path, "history_digest": history.digest,
            "breaks": "ignored" if args.ignore_breaks else "used", "posterior": None, **meta,
            "elapsed_s": round(time.perf_counter() - t0, 3), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    doc = to_json(res, meta)
    text = (f"validate {history.path} against {meta.get('scenario') or meta.get('results')} "
            f"({meta.get('replications')} replications, scale {meta.get('scale')}, "
            f"posterior: {meta['posterior']['file'] if meta['posterior'] else 'none'}), base year {base}"
            + (", statistical breaks ignored" if args.ignore_breaks else "") + "\n"
            + format_validation(res))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(text)
    if args.out or not args.json:
        out = Path(args.out) if args.out else Path("results") / f"validate-{Path(history.path).stem}"
        if out.exists() and not out.is_dir():
            raise ExperimentError(f"--out {out}: exists and is not a folder")
        with staged_output(out) as tmp:
            (tmp / "validation.json").write_text(json.dumps(doc, indent=2))
            (tmp / "validation.txt").write_text(text + "\n")
            plots = [plot_series(r, tmp) for r in res["series"]]
        if not args.json:
            print(f"wrote {out}/validation.json, validation.txt and {len(plots)} plots")
    return 0


def without_breaks(history):
    """The same history with every series' breaks dropped (``--ignore-breaks``: growth across
    a change of survey scored as if it were behaviour, for comparison)."""
    import dataclasses

    return dataclasses.replace(history, series={k: dataclasses.replace(s, breaks={})
                                                for k, s in history.series.items()})


def default_scenario() -> str:
    """The scenario validated when none is given."""
    return "window_2008_2015"  # the shipped training window, scored against the shipped history


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="score model paths against observed series, beside a trend forecaster")
    p.add_argument("history", nargs="?", help="history TOML (default: the shipped sim/data/history_2008_2015.toml)")
    p.add_argument("--scenario", help=f"scenario to run (default {default_scenario()})")
    p.add_argument("--results", help="score the runs saved in an `innosim run` output folder instead of running "
                                      "(default: run the scenario)")
    p.add_argument("--base-year", type=int, help="year growth is measured from (default: the model's first year)")
    p.add_argument("--years", help="years to score, e.g. 2013-2015 or 2013,2015 (default: all observed after the base)")
    from .options import add_run_options
    add_run_options(p, unit="runs")
    p.add_argument("--ignore-breaks", action="store_true",
                   help="score growth across the series' statistical breaks as if it were behaviour (for "
                        "comparison; default: growth after a break is measured from its first observed year)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the text table (default: text)")
    p.add_argument("--out", help="folder for validation.json, validation.txt and the plots "
                                 "(default results/validate-HISTORY)")
    p.set_defaults(func=cmd_validate)
