"""``innosim recover``: can the calibration recover known parameters? (identification)

The recovery study of issue 9: generate a synthetic history with the model itself at a
known parameter vector (the *truth*), calibrate every free parameter on it with the same
machinery as ``innosim calibrate`` (:mod:`experiments.calibrate`), and check whether the
truth lies inside the 90% posterior interval, parameter by parameter.

* **Truth** (``--truth``): ``posterior-mean`` (default) -- the weighted mean of the last
  generation of ``--posterior`` (default: the posterior shipped in ``sim/data/posterior``);
  ``default`` -- the scenario's values (``sim/data`` unless the scenario sets them); or a
  TOML file with ``[parameters]`` / ``[initial]`` tables (free parameters it does not name
  keep the scenario's value). Only the free parameters of ``--priors`` take the truth's
  values; everything else stays at the scenario's value, exactly as in the calibration, so
  the study is well specified. A truth outside its prior is refused (it could not be
  recovered by construction).
* **Synthetic data**: ``--truth-seeds N`` runs of the scenario at the truth (run seed ``i``:
  ``SeedSequence([seed, TRUTH_TAG, i])``, first 63 bits), averaged year by year. The
  synthetic history holds exactly the observed history's scored series (``--history``,
  default the shipped 2008-2015 window) and years within the scenario's years, so the
  statistics the recovery calibrates on are the ones the real calibration has. The
  micro-moments (``--moments``, default ``sim/data/moments.toml``) are recomputed from the
  same runs (a moment outside the fitted years, or whose model value is not positive, is
  dropped and the reason recorded); ``--no-moments`` drops them all.
* **Calibration**: :func:`experiments.calibrate.calibrate` on the synthetic data with master
  seed ``--seed`` (pyabc ABC-SMC, same distance, tolerance and seeds as ``calibrate``),
  into ``OUT/calibration``.
* **Report** (per free parameter): truth, posterior mean, 90% interval (weighted 5%/95%
  quantiles of the last generation), inside or not, interval width over 90% of the prior
  width (:func:`experiments.calibrate.posterior_summary`), flagged *barely informed* when
  that ratio is at least 0.85; the coverage (share inside) and pass/fail against the bar of
  80%; the effective sample size of the last generation (Kish), since weighted intervals
  carried by a few particles are too narrow to judge coverage by. ``recovery.json`` (with seeds, truth, data digests, library versions),
  ``recovery.md`` (the table), ``recovery_marginals.png`` (marginal posteriors with the
  truth marked), ``synthetic_history.toml``, ``synthetic_moments.toml``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

from experiments.errors import ExperimentError

TRUTH_TAG = 0x7472_7574  # "trut": keeps the truth runs' seeds apart from the particles' seeds
COVERAGE_BAR = 0.8        # the bar: truth inside the 90% interval for >= 80% of the parameters
BARELY_INFORMED = 0.85    # interval width / prior width at or above this: the data barely inform it
FEW_PARTICLES = 0.1       # effective sample size below this share of the population: a caution is printed
TRUTH_MODES = ("posterior-mean", "default")
SYNTH_HISTORY = "synthetic_history.toml"
SYNTH_MOMENTS = "synthetic_moments.toml"
CAL_DIR = "calibration"


# ---------------------------------------------------------------------- truth
def truth_seeds(master: int, n: int) -> list[int]:
    """Run seeds of the ``n`` truth runs: ``SeedSequence([master, TRUTH_TAG, i])``, 63 bits."""
    return [int(np.random.SeedSequence([int(master), TRUTH_TAG, i]).generate_state(1, np.uint64)[0] >> np.uint64(1))
            for i in range(n)]


def posterior_means(posterior) -> dict[str, float]:
    """Weighted mean of every parameter of a loaded posterior's last generation."""
    return {k: float(np.average(posterior.particles[:, j], weights=posterior.weights))
            for j, k in enumerate(posterior.keys)}


def read_truth_file(path: str | Path) -> dict[str, float]:
    """``{dotted key: value}`` from a truth TOML (``[parameters]``/``[initial]`` tables)."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentError(f"--truth {path}: no such file (or use --truth {' / '.join(TRUTH_MODES)})")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ExperimentError(f"--truth {path}: not a readable TOML file: {' '.join(str(exc).split())}") from None
    out = {}
    for section, table in raw.items():
        if section not in ("parameters", "initial") or not isinstance(table, dict):
            raise ExperimentError(f"--truth {path}: [{section}]: expected the tables [parameters] and [initial] only")
        for name, v in table.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ExperimentError(f"--truth {path}: {section}.{name}: expected a finite number, got {v!r}")
            out[f"{section}.{name}"] = float(v)
    if not out:
        raise ExperimentError(f"--truth {path}: no values; give [parameters] NAME = value for free parameters")
    return out


def resolve_truth(mode: str, priors, scenario, posterior_spec: str | None):
    """``(values, sources, posterior)``: the truth of every free parameter, where each value
    came from, and the posterior used (or None). One-line errors."""
    default = {p.key: float(scenario.value_of(p.key)) for p in priors}
    keys = [p.key for p in priors]
    posterior = None
    if mode == "posterior-mean":
        from experiments.posterior import DEFAULT, load_posterior
        posterior = load_posterior(posterior_spec or DEFAULT)
        means = posterior_means(posterior)
        missing = [k for k in keys if k not in means]
        if missing:
            raise ExperimentError(f"--truth posterior-mean: the posterior {posterior.path} has no {missing[0]} "
                                  "(a free parameter of --priors); use --truth default or a truth file")
        values, sources = {k: means[k] for k in keys}, dict.fromkeys(keys, "posterior mean")
    elif mode == "default":
        if posterior_spec:
            raise ExperimentError("--posterior is used only with --truth posterior-mean")
        values, sources = default, dict.fromkeys(keys, "scenario value")
    else:
        if posterior_spec:
            raise ExperimentError("--posterior is used only with --truth posterior-mean")
        given = read_truth_file(mode)
        extra = [k for k in given if k not in default]
        if extra:
            raise ExperimentError(f"--truth {mode}: {extra[0]} is not a free parameter of the priors "
                                  f"({', '.join(keys)})")
        values = {k: given.get(k, default[k]) for k in keys}
        sources = {k: "truth file" if k in given else "scenario value" for k in keys}
    for p in priors:
        v = values[p.key]
        if not p.low <= v <= p.high:
            raise ExperimentError(f"truth {p.key} = {v:g} ({sources[p.key]}) lies outside its prior "
                                  f"[{p.low:g}, {p.high:g}]: it could not be recovered")
    try:
        scenario.with_values(values)
    except Exception as exc:  # ScenarioError: the joint checks
        raise ExperimentError(f"truth not allowed: {' '.join(str(exc).split())}") from None
    return values, sources, posterior


# ---------------------------------------------------------------------- synthetic data
def simulate_truth(scenario, truth: dict[str, float], seeds: list[int], scale: float):
    """``(years, paths)``: the year-by-year mean of every indicator over the truth runs."""
    from sim.run import run

    sc = scenario.with_values(truth)
    runs = [run(sc, seed=s, scale=scale) for s in seeds]
    years = list(runs[0].years)
    paths = {k: np.mean([np.asarray(r.indicators[k], float) for r in runs], axis=0) for k in runs[0].indicators}
    return years, paths


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string


def synthetic_history(template, years, paths, note: str) -> str:
    """History TOML with the template's scored series, observed years (within ``years``) and
    breaks, valued by the model's paths, so the synthetic data are fitted exactly as the
    real ones are. One-line error for a value the history schema refuses."""
    lines = [f"# synthetic history: {note}",
             f"# series and years: those of {template.path} that name a model indicator, within the "
             f"simulated years {years[0]}-{years[-1]}", ""]
    for name, s in template.scored().items():
        ys = [y for y in s.years if y in years]
        if not ys:
            continue
        vals = []
        for y in ys:
            v = float(paths[s.indicator][years.index(y)])
            if not (math.isfinite(v) and v > 0):
                raise ExperimentError(f"the truth run gives {s.indicator} = {v!r} in {y} ({name}): a history value "
                                      "must be positive; this truth cannot make a synthetic history")
            vals.append(f"{y} = {v!r}")
        lines += [f"[{name}]", f"unit = {_q('model units of ' + s.indicator)}",
                  f"source = {_q('synthetic: ' + note)}", f"values = {{ {', '.join(vals)} }}",
                  f"indicator = {_q(s.indicator)}"]
        brk = {k: why for k, why in s.breaks.items() if ys[0] < k <= ys[-1]}
        if brk:
            lines.append("breaks = { " + ", ".join(f"{k} = {_q(why)}" for k, why in brk.items()) + " }")
        lines.append("")
    return "\n".join(lines)


def synthetic_moments(moments, years, paths, base: int, note: str) -> tuple[str, list[str], list[dict]]:
    """``(toml, used, dropped)``: the micro-moments that enter the fit, valued by the model."""
    from experiments.calibrate import statistics_from_moments

    entering = {s.series for s in statistics_from_moments(moments, years, base)}
    lines = [f"# synthetic micro-moments: {note}", ""]
    used, dropped = [], []
    for m in moments:
        if m.name not in entering:
            dropped.append({"moment": m.name, "reason": f"its years lie outside the fitted years after {base}"})
            continue
        v = float(paths[m.indicator][years.index(m.year)])
        fv = float(paths[m.indicator][years.index(m.from_year)]) if m.from_year is not None else None
        if not all(math.isfinite(x) and x > 0 for x in (v, fv if fv is not None else 1.0)):
            dropped.append({"moment": m.name, "reason": f"the truth's {m.indicator} is not positive, so the log "
                                                        "moment is undefined"})
            continue
        lines += [f"[{m.name}]", f"indicator = {_q(m.indicator)}", f"year = {m.year}", f"value = {v!r}"]
        if fv is not None:
            lines += [f"from_year = {m.from_year}", f"from_value = {fv!r}"]
        lines += [f"weight = {m.weight!r}", f"unit = {_q(m.unit)}", f"source = {_q('synthetic: ' + note)}",
                  "assumption = true", ""]
        used.append(m.name)
    return "\n".join(lines), used, dropped


# ---------------------------------------------------------------------- the report
def recovery_rows(post, priors, truth: dict[str, float]) -> list[dict]:
    """Per free parameter: truth, posterior mean, 90% interval, inside, width/prior, flag."""
    from experiments.calibrate import posterior_summary

    rows = []
    for r in posterior_summary(post, priors):
        t = truth[r["parameter"]]
        rows.append({"parameter": r["parameter"], "prior_low": r["prior_low"], "prior_high": r["prior_high"],
                     "truth": t, "mean": r["mean"], "q05": r["q05"], "q95": r["q95"],
                     "inside": bool(r["q05"] <= t <= r["q95"]),
                     "interval_vs_prior": r["interval_vs_prior"],
                     "barely_informed": bool(r["interval_vs_prior"] >= BARELY_INFORMED),
                     "error_vs_prior": (r["mean"] - t) / (r["prior_high"] - r["prior_low"])})
    return rows


def effective_sample_size(post) -> dict:
    """Kish's effective sample size of the last generation, (sum w)^2 / sum w^2, and the
    largest normalised weight: intervals from a few dominant particles are unreliable."""
    from experiments.calibrate import kish_ess, last_generation

    w = last_generation(post)["weight"].to_numpy(float)
    return {"particles": int(len(w)), "effective_sample_size": kish_ess(w),
            "largest_weight_share": float(w.max() / w.sum())}


def coverage_of(rows, ess: dict | None = None) -> dict:
    k = sum(r["inside"] for r in rows)
    cov = k / len(rows)
    return {"inside": k, "parameters": len(rows), "coverage": cov, "bar": COVERAGE_BAR,
            "passed": bool(cov >= COVERAGE_BAR), "barely_informed_threshold": BARELY_INFORMED,
            "barely_informed": [r["parameter"] for r in rows if r["barely_informed"]], **(ess or {})}


def ess_line(cov: dict) -> str:
    n, e = cov["particles"], cov["effective_sample_size"]
    few = e < FEW_PARTICLES * n
    return (f"effective sample size of the posterior (last generation): {e:.1f} of {n} particles, largest weight "
            f"{cov['largest_weight_share']:.2f}" + (f"; below {100 * FEW_PARTICLES:.0f}% of the population: the "
                                                   "intervals rest on a few particles and may be too narrow"
                                                   if few else ""))


def _g(x: float) -> str:
    return format(x, ".4g")


def format_table(rows, markdown: bool = False) -> str:
    head = ["parameter", "prior", "truth", "posterior mean", "90% interval", "inside", "width/prior",
            "barely informed"]
    body = [[r["parameter"], f"[{_g(r['prior_low'])}, {_g(r['prior_high'])}]", _g(r["truth"]), _g(r["mean"]),
             f"[{_g(r['q05'])}, {_g(r['q95'])}]", "yes" if r["inside"] else "NO", f"{r['interval_vs_prior']:.3f}",
             "yes" if r["barely_informed"] else ""] for r in rows]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(out)
    w = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    out = ["  ".join(h.ljust(w[i]) for i, h in enumerate(head)), "  ".join("-" * x for x in w)]
    out += ["  ".join(b[i].ljust(w[i]) for i in range(len(b))) for b in body]
    return "\n".join(out)


def coverage_line(cov: dict) -> str:
    verdict = "PASS" if cov["passed"] else "FAIL"
    return (f"coverage: the truth lies inside the 90% posterior interval for {cov['inside']} of "
            f"{cov['parameters']} free parameters ({100 * cov['coverage']:.0f}%); bar {100 * cov['bar']:.0f}%: "
            f"{verdict}")


def barely_line(cov: dict) -> str:
    b = cov["barely_informed"]
    return (f"barely informed (90% interval >= {cov['barely_informed_threshold']:.2f} of the prior's): "
            + (", ".join(b) if b else "none"))


def plot_marginals(post, priors, rows, path: Path) -> None:
    """Weighted marginal posterior of each free parameter over its prior range, the prior
    density, the 90% interval (shaded) and the truth (vertical line)."""
    from experiments.calibrate import last_generation
    from experiments.output import pyplot

    plt = pyplot()
    g = last_generation(post)
    w = g["weight"].to_numpy()
    n = len(priors)
    cols = min(4, n)
    nrow = math.ceil(n / cols)
    fig, axes = plt.subplots(nrow, cols, figsize=(3 * cols, 2.4 * nrow), squeeze=False)
    for ax, p, r in zip(axes.flat, priors, rows):
        ax.hist(g[p.name], bins=15, range=(p.low, p.high), weights=w, density=True, color="C0", alpha=0.7,
                label="posterior")
        ax.axhline(1.0 / (p.high - p.low), color="0.4", ls="--", lw=1, label="prior")
        ax.axvspan(r["q05"], r["q95"], color="C0", alpha=0.12, label="90% interval")
        ax.axvline(r["truth"], color="C3", lw=2, label="truth")
        ax.set_xlim(p.low, p.high)
        ax.set_title(f"{p.name}\n{'inside' if r['inside'] else 'OUTSIDE'}, width/prior "
                     f"{r['interval_vs_prior']:.3f}", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------- command
def cmd_recover(args) -> int:
    from sim.history import load_history, shipped_history_path
    from sim.scenario import load_scenario

    from .calibrate import (CalibrationConfig, _versions, calibrate, load_moments, load_priors,
                            shipped_moments_path, shipped_priors_path, statistics_from_history)
    from .execute import auto_workers
    from .options import check_run_options
    from .outdir import OutputFolder, default_out
    from .output import print_notes

    # ---- every input checked before anything is written
    sc = load_scenario(args.scenario)
    check_run_options(args, sc)
    for k in ("population", "generations", "max_simulations", "truth_seeds"):
        v = getattr(args, k)
        if v is not None and v < 1:
            raise ExperimentError(f"--{k.replace('_', '-')} must be at least 1, got {v}")
    if args.no_moments and args.moments:
        raise ExperimentError("--moments and --no-moments exclude each other")
    template = load_history(args.history) if args.history else load_history(shipped_history_path())
    priors_file = Path(args.priors).resolve() if args.priors else shipped_priors_path()
    priors = load_priors(priors_file)
    moments_file = None if args.no_moments else (Path(args.moments).resolve() if args.moments
                                                 else shipped_moments_path())
    moments = load_moments(moments_file) if moments_file else []
    model_years = list(range(sc.run.start_year, sc.run.end_year + 1))
    base = model_years[0]
    if not statistics_from_history(template, model_years, base):
        raise ExperimentError(f"{template.path}: no observed growth after {base} within the scenario's years "
                              f"{model_years[0]}-{model_years[-1]}: nothing to recover from (use a window scenario)")
    truth, sources, posterior = resolve_truth(args.truth, priors, sc, args.posterior)
    population, generations = args.population or 200, args.generations or 6
    seed, scale, n_truth = int(args.seed), float(args.scale), args.truth_seeds or 1
    seeds = truth_seeds(seed, n_truth)
    workers = auto_workers(args.workers, population * generations)
    design = {"scenario": sc.digest(), "history": template.digest,
              "priors": [dataclasses.asdict(p) for p in priors],
              "moments": [dataclasses.asdict(m) for m in moments], "truth": truth,
              "truth_seeds": seeds, "population": population, "scale": scale, "seed": seed,
              "kernel": args.kernel}
    design_hash = hashlib.sha256(json.dumps(design, sort_keys=True).encode()).hexdigest()
    out = Path(args.out) if args.out else default_out("recover", sc.name)
    show = sys.stderr.isatty()

    def say(text):
        if show:
            print(f"  {text}", file=sys.stderr)

    with OutputFolder(out, "recover", design_hash, overwrite=args.overwrite, resume=args.resume) as folder:
        print_notes(folder)
        t0 = time.perf_counter()
        # ---- synthetic data at the truth
        say(f"simulating the truth: {n_truth} run(s) of {sc.name} at scale {scale:g}")
        years, paths = simulate_truth(sc, truth, seeds, scale)
        note = (f"innosim recover, {sc.name} at the truth ({args.truth}), mean of {n_truth} run(s), "
                f"seed {seed}, scale {scale:g}")
        hist_text = synthetic_history(template, years, paths, note)
        mom_text, mom_used, mom_dropped = (synthetic_moments(moments, years, paths, base, note) if moments
                                           else ("", [], []))
        _write(out / SYNTH_HISTORY, hist_text)
        synth = load_history(out / SYNTH_HISTORY)  # checked like any history file
        if mom_used:
            _write(out / SYNTH_MOMENTS, mom_text)
        else:
            (out / SYNTH_MOMENTS).unlink(missing_ok=True)
        moments_reason = ("--no-moments" if args.no_moments else
                          None if mom_used else "no micro-moment of the moments file enters the fitted years")
        manifest = {"kind": "recover", "command": "recover", "design_hash": design_hash, "status": "calibrating"}
        _write(out / "manifest.json", json.dumps(manifest, indent=2))
        # ---- calibration on the synthetic data
        cal = out / CAL_DIR
        resume_cal = (cal / "manifest.json").is_file() and (cal / "abc.db").is_file()
        if cal.exists() and not resume_cal:
            shutil.rmtree(cal)  # a calibration killed before its first save: redo it
        cfg = CalibrationConfig(
            scenario_file=str(Path(sc.path).resolve()), history_file=str((out / SYNTH_HISTORY).resolve()),
            priors_file=str(priors_file), moments_file=str((out / SYNTH_MOMENTS).resolve()) if mom_used else None,
            base_year=None, years=None, population=population, generations=generations,
            max_simulations=args.max_simulations, kernel=args.kernel, scale=scale, seed=seed, workers=workers)

        def progress(t, total, eps, nsim, elapsed):
            say(f"generation {t}/{total}  epsilon {eps:.4g}  simulations {nsim}  {elapsed:.0f} s")

        say(f"calibrating {len(priors)} free parameters on the synthetic data (population {population}, "
            f"{generations} generations, {workers} worker(s))")
        res = calibrate(cfg, cal, resume=resume_cal, progress=progress)
        post, man = res["posterior"], res["manifest"]
        # ---- the report
        rows = recovery_rows(post, priors, truth)
        cov = coverage_of(rows, effective_sample_size(post))
        plot_marginals(post, priors, rows, out / "recovery_marginals.png")
        report = {
            "command": "recover", "kind": "recover", "design_hash": design_hash,
            "scenario": {"name": sc.name, "file": sc.path, "digest": sc.digest()},
            "years": {"model": [years[0], years[-1]], "base": base},
            "observed_history_template": {"file": template.path, "digest": template.digest,
                                          "series": sorted(synth.series)},
            "synthetic_history": {"file": SYNTH_HISTORY, "digest": synth.digest},
            "synthetic_moments": {"file": SYNTH_MOMENTS if mom_used else None,
                                  "digest": _sha(out / SYNTH_MOMENTS) if mom_used else None,
                                  "source_file": str(moments_file) if moments_file else None,
                                  "used": mom_used, "dropped": mom_dropped, "why_none": moments_reason},
            "priors": {"file": str(priors_file), "digest": _sha(Path(priors_file)),
                       "free": [dataclasses.asdict(p) for p in priors]},
            "truth": {"mode": args.truth if args.truth in TRUTH_MODES else "file",
                      "file": None if args.truth in TRUTH_MODES else str(Path(args.truth).resolve()),
                      "posterior": posterior.spec() if posterior else None,
                      "values": truth, "sources": sources},
            "seeds": {"master": seed, "truth_runs": seeds,
                      "truth_run_seed": f"SeedSequence([master, {TRUTH_TAG:#x}, i]), first 63 bits",
                      "calibration_master": seed,
                      "particle_run_seed": "SeedSequence([master, *float64 bits of theta]) (experiments/calibrate.py)"},
            "calibration": {"folder": CAL_DIR, "method": man["method"], "population": population,
                            "generations_done": man["generations_done"],
                            "generations_requested": generations, "max_simulations": args.max_simulations,
                            "simulations_total": man["simulations_total"], "scale": scale,
                            "statistics": len(res["stats"]), "config_digest": man["config_digest"],
                            "per_generation": man["per_generation"],
                            "posterior_digest": _sha(cal / "posterior.parquet")},
            "parameters": rows, "summary": cov, "versions": {**_versions(), "innosim": _innosim_version()},
            "execution": {"workers": workers, "elapsed_s_this_invocation": round(time.perf_counter() - t0, 3),
                          "created": time.strftime("%Y-%m-%dT%H:%M:%S")},
        }
        md = [f"# Recovery of known parameters: {sc.name}", "",
              f"Synthetic history: the model at the truth (`--truth {args.truth}`), mean of {n_truth} run(s) "
              f"(seeds {', '.join(map(str, seeds))}), scale {scale:g}; series and years of `{template.path}` "
              f"({len(synth.series)} series); micro-moments: "
              f"{', '.join(mom_used) if mom_used else 'none (' + str(moments_reason) + ')'}.",
              f"Calibration: pyabc ABC-SMC on {len(res['stats'])} statistics, population {population}, "
              f"{man['generations_done']} generations, {man['simulations_total']} simulations, master seed {seed}.",
              "", format_table(rows, markdown=True), "",
              f"{coverage_line(cov)}.", "", f"{barely_line(cov)}.", "", f"{ess_line(cov)}.", "",
              "width/prior: the 90% posterior interval over 90% of the prior range. One synthetic data set "
              "and one calibration at the seeds above: a different seed gives another realisation.", ""]
        _write(out / "recovery.md", "\n".join(md))
        _write(out / "recovery.json", json.dumps(report, indent=2))
        manifest.update(status="done", files=["recovery.json", "recovery.md", "recovery_marginals.png",
                                              SYNTH_HISTORY] + ([SYNTH_MOMENTS] if mom_used else []) + [CAL_DIR])
        _write(out / "manifest.json", json.dumps(manifest, indent=2))
    print(f"recover {sc.name}: truth {args.truth}, {len(priors)} free parameters, {len(res['stats'])} statistics, "
          f"population {population}, {man['generations_done']} generations, {man['simulations_total']} "
          f"simulations, scale {scale:g}, seed {seed} ({report['execution']['elapsed_s_this_invocation']:.1f} s)")
    print(format_table(rows))
    print(coverage_line(cov))
    print(barely_line(cov))
    print(ess_line(cov))
    print(f"wrote {out}/recovery.json, recovery.md, recovery_marginals.png, {SYNTH_HISTORY}"
          f"{', ' + SYNTH_MOMENTS if mom_used else ''} and {CAL_DIR}/")
    return 0


def _innosim_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("innosim")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def register(subparsers) -> None:
    from .calibrate import DEFAULT_KERNEL, KERNELS
    from .options import add_folder_options, add_run_options, number

    p = subparsers.add_parser(
        "recover", help="recovery study: calibrate on a synthetic history made at known parameters",
        description="Identification: simulate the scenario's window at a known parameter vector (the truth), "
                    "write a synthetic history with the observed history's series and years, calibrate every "
                    "free parameter on it (pyabc, as `innosim calibrate`), and report per parameter whether the "
                    "truth lies inside the 90% posterior interval and how wide the interval is against the "
                    "prior (barely informed when >= 0.85); pass when at least 80% of the truths are inside.")
    p.add_argument("scenario", nargs="?", default="window_2008_2015",
                   help="window scenario whose years cover the history after its first year "
                        "(default: window_2008_2015)")
    p.add_argument("--truth", default="posterior-mean", metavar="posterior-mean|default|FILE.toml",
                   help="the known parameters: the weighted mean of --posterior, the scenario's values (sim/data "
                        "unless the scenario sets them), or a TOML file with [parameters]/[initial] values of free "
                        "parameters (others keep the scenario's value) (default: posterior-mean)")
    p.add_argument("--posterior", metavar="DIR",
                   help="posterior whose mean is the truth (an `innosim calibrate` folder, or `default`: the one "
                        "shipped in sim/data/posterior) (default: default)")
    p.add_argument("--truth-seeds", type=number(int), metavar="N",
                   help="truth runs averaged into the synthetic data (default 1)")
    p.add_argument("--history", help="observed history whose series and years the synthetic one copies "
                                     "(default: sim/data/history_2008_2015.toml)")
    p.add_argument("--priors", help="priors TOML: the free parameters (default: sim/data/priors.toml)")
    p.add_argument("--moments", help="micro-moments TOML recomputed from the truth runs (default: "
                                     "sim/data/moments.toml)")
    p.add_argument("--no-moments", action="store_true", help="no micro-moments (default: they are used)")
    p.add_argument("--population", type=number(int), help="particles per generation (default 200)")
    p.add_argument("--generations", type=number(int), help="ABC-SMC generations (default 6)")
    p.add_argument("--max-simulations", type=number(int),
                   help="stop after the generation that passes this many simulations (default: no limit)")
    p.add_argument("--kernel", choices=list(KERNELS), default=DEFAULT_KERNEL,
                   help=f"ABC-SMC perturbation kernel, as in calibrate (default {DEFAULT_KERNEL})")
    add_run_options(p, with_replications=False, posterior=False, scheduler=False)
    add_folder_options(p)
    p.add_argument("--out", help="output folder (default results/recover-SCENARIO)")
    p.set_defaults(func=cmd_recover)
