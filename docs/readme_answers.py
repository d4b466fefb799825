"""The README's answers from the outputs of docs/make_figures.sh: tables and composite figures.

Reads (folders under RESULTS, default ``results``)::

    readme-window/validation.json       the training-window fit (validate, shipped posterior, base 2008)
    readme-oos/validation.json          pseudo-out-of-sample: calibrated --until 2012, base 2012
    readme-oos-default/validation.json  the same forecast at the default parameters (no calibration)
    readme-oos-cal/manifest.json        the --until 2012 calibration
    readme-oos-nobreaks/validation.json the same forecast, trend fitted across the statistical breaks
    readme-reach/analysis/reach.json    P(reach) with the posterior
    readme-reach-seed/analysis/reach.json  P(reach) without it (seed and scenario uncertainty only)

Writes ``RESULTS/readme-answers.md`` (markdown tables pasted into README.md and docs/ODD.md)
and ``docs/img/window_fit.png``, ``docs/img/pseudo_oos.png``.

    python docs/readme_answers.py [RESULTS] [POSTERIOR_DIR]
"""
from __future__ import annotations

import json
import math
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
SCENARIOS = [("baseline", "2015 policy (baseline)"), ("policy_2016_2020", "legislated path"),
             ("plan_full", "plan_full")]


def _load(p: Path):
    return json.loads(p.read_text()) if p.is_file() else None


def _f(x, spec=".3f"):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def _history():
    from sim.history import load_history
    return load_history()


# ---------------------------------------------------------------------- tables
def fit_table(v: dict) -> str:
    lines = ["| series | years | growth measured from | mean abs. log error of growth | "
             "observations inside the 90% band |", "|---|---|---|---|---|"]
    for s in v["series"]:
        inside = sum(bool(x) for x in s["model"]["inside"])
        refs = sorted(set(s.get("references") or [v["base_year"]]))
        since = ", ".join(str(r) for r in refs) + (" (after breaks)" if refs != [v["base_year"]] else "")
        lines.append(f"| {s['series']} | {s['years'][0]}–{s['years'][-1]} | {since} | {_f(s['model']['score'])} | "
                     f"{inside}/{len(s['years'])} |")
    sm = v["summary"]
    n_in = sum(sum(bool(x) for x in s["model"]["inside"]) for s in v["series"])
    n_all = sum(len(s["years"]) for s in v["series"])
    lines.append(f"| **mean over series** | | | **{_f(sm['model_score_mean'])}** | **{n_in}/{n_all}** |")
    return "\n".join(lines)


def oos_table(cal: dict, default: dict | None) -> str:
    dflt = {s["series"]: s for s in (default or {}).get("series", [])}
    lines = ["| series (2013–2015, from 2012) | calibrated model | inside 90% | default parameters | trend | "
             "inside 90% | calibrated / trend |", "|---|---|---|---|---|---|---|"]
    for s in cal["series"]:
        n = len(s["years"])
        t = s["trend"]
        d = dflt.get(s["series"])
        lines.append(
            f"| {s['series']} | {_f(s['model']['score'])} | {sum(bool(x) for x in s['model']['inside'])}/{n} | "
            f"{_f(d['model']['score']) if d else 'n/a'} | {_f(t['score']) if t else 'n/a'} | "
            f"{(str(sum(bool(x) for x in t['inside'])) + '/' + str(n)) if t and t['coverage'] is not None else 'n/a'} | "
            f"{_f(s['ratio'], '.2f')} |")
    sm = cal["summary"]
    ds = (default or {}).get("summary", {})
    lines.append(f"| **mean over series** | **{_f(sm['model_score_mean_where_trend'])}** | | "
                 f"{_f(ds.get('model_score_mean_where_trend'))} | **{_f(sm['trend_score_mean'])}** | | "
                 f"**{_f(sm['ratio'], '.2f')}** |")
    return "\n".join(lines)


def reach_table(post: dict, seed: dict | None) -> str:
    def cell(reach, scen, tid):
        if reach is None:
            return "n/a"
        g = next((g for g in reach["groups"] if g["scenario"] == scen and not g["levers"]), None)
        r = (g or {}).get("targets", {}).get(tid)
        if not r or r.get("p") is None:
            return "n/a"
        return f"{r['p']:.2f} [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]"

    targets = post["targets"]
    head = "| target | " + " | ".join(f"{lab}: with posterior | without" for _, lab in SCENARIOS) + " |"
    lines = [head, "|---|" + "---|" * (2 * len(SCENARIOS))]
    for tid, t in targets.items():
        cells = [f"{cell(post, s, tid)} | {cell(seed, s, tid)}" for s, _ in SCENARIOS]
        lines.append(f"| {tid} ({t['indicator']} ≥ {t['threshold']:g}) | " + " | ".join(cells) + " |")
    g0 = post["groups"][0]
    n = next(iter(g0["targets"].values()))["n"] if g0["targets"] else 0
    lines.append(f"\nP(reach in {post['final_year']}) [95% Wilson interval], n = {n} runs per scenario.")
    return "\n".join(lines)


def posterior_table(manifest: dict) -> str:
    lines = ["| parameter | prior | posterior mean [5%, 95%] | width / prior |", "|---|---|---|---|"]
    for r in manifest.get("posterior_summary", []):
        lines.append(f"| {r['parameter'].split('.', 1)[1]} | [{r['prior_low']:.3g}, {r['prior_high']:.3g}] | "
                     f"{r['mean']:.3g} [{r['q05']:.3g}, {r['q95']:.3g}] | {r['interval_vs_prior']:.2f} |")
    return "\n".join(lines)


def calibration_line(manifest: dict, label: str) -> str:
    pg = manifest.get("per_generation", [])
    eps = pg[-1]["epsilon"] if pg else float("nan")
    cfg = manifest.get("config", {})
    sims = manifest.get("simulations_total")
    acc = (manifest.get("population", 0) * manifest.get("generations_done", 0) / sims) if sims else float("nan")
    return (f"{label}: {len(manifest.get('priors', []))} free parameters, {len(manifest.get('statistics', []))} "
            f"statistics, population {manifest.get('population')}, {manifest.get('generations_done')} generations, "
            f"{sims} simulations (acceptance {acc:.2f}), final epsilon {eps:.3g}, scale {cfg.get('scale')}, "
            f"seed {cfg.get('seed')}, years {cfg.get('years') or 'all'}")


# ---------------------------------------------------------------------- figures
def _grid(n):
    cols = 4 if n > 6 else 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.6 * rows), squeeze=False)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def fit_figure(v: dict, hist, path: Path, title: str, default: dict | None = None) -> None:
    series = v["series"]
    dflt = {s["series"]: s for s in (default or {}).get("series", [])}
    fig, axes = _grid(len(series))
    for ax, s in zip(axes, series):
        obs = hist.series[s["series"]].values
        b, bv = s["base_year"], s["base_value"]
        refs = s.get("references") or [b] * len(s["years"])
        d = dflt.get(s["series"])
        # one fan per segment: from the base, and after each statistical break from its reference year
        for k, ref in enumerate(sorted(set(refs))):
            idx = [i for i, r in enumerate(refs) if r == ref]
            yrs = [ref] + [s["years"][i] for i in idx]
            lv = lambda g: obs[ref] * np.exp(np.r_[0.0, np.asarray(g, float)[idx]])  # noqa: B023
            ax.fill_between(yrs, lv(s["model"]["low"]), lv(s["model"]["high"]), color="C0", alpha=0.25,
                            label="model 90% band" if k == 0 else None)
            ax.plot(yrs, lv(s["model"]["growth"]), color="C0", lw=1.8, label="model median" if k == 0 else None)
            if d is not None:
                ax.plot(yrs, lv(d["model"]["growth"]), color="C1", lw=1.2, ls=":",
                        label="default parameters" if k == 0 else None)
        for k in (s.get("breaks") or {}):
            if int(k) > b:
                ax.axvline(int(k) - 0.5, color="0.5", ls=":", lw=0.8)
        if s.get("trend") is not None and s.get("trend_slope") is not None:
            ty = np.arange(min(s["trend_fit_years"]), max(s["years"]) + 1)
            ax.plot(ty, bv * np.exp(s["trend_slope"] * (ty - b)), color="C2", ls="--", lw=1.2,
                    label=f"trend fitted {min(s['trend_fit_years'])}–{max(s['trend_fit_years'])}")
        oy = sorted(obs)
        ax.plot(oy, [obs[t] for t in oy], "o", color="k", ms=3.5, label="observed")
        ax.axvline(b, color="0.6", lw=0.8)
        ax.set_title(s["series"].replace("_", " ") + (" (breaks dotted)" if any(
            int(k) > b for k in (s.get("breaks") or {})) else ""), fontsize=8)
        unit = hist.series[s["series"]].unit.split("(")[0].split("--")[0].strip()
        ax.set_ylabel(textwrap.fill(unit, 24), fontsize=6.5)
        ax.tick_params(labelsize=7)
        ax.set_xticks(range(min(oy), max(oy) + 1, 2 if max(oy) - min(oy) > 5 else 1))
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab.startswith("trend") and not any(l.startswith("trend") for l in labels):
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    res = Path(argv[0]) if argv else ROOT / "results"
    post_dir = Path(argv[1]) if len(argv) > 1 else None
    hist = _history()
    out = ["# README answers (generated by docs/readme_answers.py from docs/make_figures.sh outputs)\n"]
    if post_dir is not None:
        man = _load(post_dir / "manifest.json")
        if man:
            out += ["## Posterior used\n", f"`{post_dir}` — " + calibration_line(man, "calibration") + "\n",
                    posterior_table(man) + "\n"]
    win = _load(res / "readme-window" / "validation.json")
    if win:
        post = win.get("posterior") or {}
        out += [f"## Training-window fit (base {win['base_year']}, {win['replications']} replications, scale "
                f"{win['scale']}, posterior {post.get('file', 'none')})\n", fit_table(win) + "\n"]
        fit_figure(win, hist, IMG / "window_fit.png",
                   f"Training window 2008–2015: model ({win['replications']} runs, "
                   + (f"parameters drawn from the posterior sha256 {post['digest'][:12]}" if post else "default parameters")
                   + ") against the observed series; growth from the observed 2008 value")
    oos, oosd = _load(res / "readme-oos" / "validation.json"), _load(res / "readme-oos-default" / "validation.json")
    ocal = _load(res / "readme-oos-cal" / "manifest.json")
    if oos:
        out += ["## Pseudo-out-of-sample: calibrated on 2008–2012, forecast 2013–2015\n"]
        if ocal:
            out.append(calibration_line(ocal, "calibration --until 2012") + "\n")
        out += [oos_table(oos, oosd) + "\n"]
        nob = _load(res / "readme-oos-nobreaks" / "validation.json")
        if nob:
            c = nob["summary"]
            out.append(f"With the trend fitted across the statistical breaks (`--ignore-breaks`: every observed year "
                       f"up to 2012): model {_f(c['model_score_mean_where_trend'])} against the trend's "
                       f"{_f(c['trend_score_mean'])} (ratio {_f(c['ratio'], '.2f')}).\n")
        cond = _load(res / "readme-oos-cond" / "validation.json")
        if cond:
            c = cond["summary"]
            out.append(f"Conditional on the realised 2013-2015 demand growth (window_2008_2015, same posterior): "
                       f"model {_f(c['model_score_mean_where_trend'])} against the trend's "
                       f"{_f(c['trend_score_mean'])} (ratio {_f(c['ratio'], '.2f')}), "
                       f"{sum(sum(bool(x) for x in s['model']['inside']) for s in cond['series'])}/"
                       f"{sum(len(s['years']) for s in cond['series'])} observations inside the 90% band.\n")
        fit_figure(oos, hist, IMG / "pseudo_oos.png",
                   "Pseudo-out-of-sample: calibrated on the years up to 2012, forecast of 2013–2015 from 2012 "
                   "(model) against the 2008–2012 trend", oosd)
    reach = _load(res / "readme-reach" / "analysis" / "reach.json")
    if reach:
        seed = _load(res / "readme-reach-seed" / "analysis" / "reach.json")
        out += ["## P(reach) of the 2020 targets\n", reach_table(reach, seed) + "\n"]
    (res / "readme-answers.md").write_text("\n".join(out))
    print(f"wrote {res / 'readme-answers.md'}, {IMG / 'window_fit.png'}, {IMG / 'pseudo_oos.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
