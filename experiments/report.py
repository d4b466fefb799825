"""``innosim report RESULTS_DIR``: PNG plots and one HTML page for reviewers."""
from __future__ import annotations

import html
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ExperimentError
from .output import fmt_number, pyplot
from .store import ResultStore, atomic_write_bytes, load_results

MAX_PLOTS = 30


def _save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return f"analysis/{path.name}"


def _slug(s: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in s)[:80]


def _tid_key(tid: str) -> tuple:
    """T1 < T2 < ... < T6a < T6b < ... < T9."""
    digits = "".join(ch for ch in tid if ch.isdigit())
    return (int(digits) if digits else 99, tid)


def indicator_order(names, targets: dict) -> list[str]:
    """Target indicators first in target order (T1..T9), then the rest alphabetically."""
    first = {}
    for tid in sorted(targets, key=_tid_key):
        first.setdefault(targets[tid]["indicator"], len(first))
    return sorted(names, key=lambda n: (0, first[n], "") if n in first else (1, 0, n))


def _target_of(name: str, targets: dict) -> str:
    ids = [tid for tid, t in sorted(targets.items(), key=lambda kv: _tid_key(kv[0])) if t["indicator"] == name]
    return f"{'/'.join(ids)}: " if ids else ""


def _setting_labels(manifest, runs) -> pd.Series:
    """Per run: the scenario, plus the lever setting for sweeps (so settings are not pooled)."""
    levers = manifest["design"].get("options", {}).get("levers", []) if manifest["design"]["kind"] == "sweep" else []
    lab = runs["scenario"].astype(str)
    if levers:
        lab = lab + ": " + runs[levers].apply(
            lambda row: ", ".join(f"{k.split('.')[-1]}={row[k]:g}" for k in levers), axis=1)
    return pd.Series(lab.to_numpy(), index=runs["run_id"].to_numpy())


def fan_charts(manifest, runs, ind, adir) -> list[tuple[str, str]]:
    plt = pyplot()
    targets = manifest.get("targets", {})
    by_ind = {}
    for tid, t in targets.items():
        by_ind.setdefault(t["indicator"], []).append((tid, t))
    names = indicator_order(ind["indicator"].unique(), targets)[:MAX_PLOTS]
    scen = _setting_labels(manifest, runs)
    out = []
    for name in names:
        sub = ind[ind["indicator"] == name]
        wide = sub.pivot(index="run_id", columns="year", values="value")
        years = np.array(wide.columns, dtype=float)
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        for i, s in enumerate(pd.unique(scen.loc[wide.index])):
            w = wide[(scen.loc[wide.index] == s).to_numpy()].to_numpy()
            with warnings.catch_warnings():  # years without a value (flows in 2015) stay blank
                warnings.simplefilter("ignore", RuntimeWarning)
                q = np.nanquantile(w, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
            c = f"C{i}"
            if len(years) > 1:
                ax.fill_between(years, q[0], q[4], color=c, alpha=0.15, lw=0)
                ax.fill_between(years, q[1], q[3], color=c, alpha=0.3, lw=0)
                ax.plot(years, q[2], color=c, lw=1.8, label=f"{s} (median, 50%, 90%)")
            else:
                ax.errorbar(years + 0.05 * i, q[2], yerr=[q[2] - q[0], q[4] - q[2]], fmt="o",
                            color=c, capsize=4, label=f"{s} (median, 90%)")
        for tid, t in by_ind.get(name, []):
            ax.axhline(t["threshold"], color="k", ls="--", lw=1)
            ax.annotate(f"{tid} target {t['threshold']:g}", (years[-1], t["threshold"]),
                        textcoords="offset points", xytext=(-4, 4), ha="right", fontsize=8)
        unit = manifest.get("indicators", {}).get(name, {}).get("unit", "")
        n_set = len(pd.unique(scen.loc[wide.index]))
        per = len(wide) // max(n_set, 1)
        ax.set_title(f"{_target_of(name, targets)}{name} ({per} runs per line)", fontsize=10)
        ax.set_ylabel(unit)
        ax.set_xlabel("year")
        ax.set_xticks(years)
        ax.legend(fontsize=6 if n_set > 4 else 7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        out.append((name, _save(fig, adir / f"fan_{_slug(name)}.png")))
    return out


def _num(x) -> float:
    return np.nan if x is None else float(x)


def reach_plot(reach, adir) -> str | None:
    plt = pyplot()
    tids = sorted({t for g in reach["groups"] for t in g["targets"]})
    if not tids:
        return None
    import re

    tids = sorted(tids, key=_tid_key)
    # short labels: lever and parameter keys by their field name (the full keys are in the table)
    labels = [re.sub(r"\b(levers|parameters|initial)\.(\w+\.)?", "", g["label"]) for g in reach["groups"]]
    ncol = min(4, len(tids))
    nrow = -(-len(tids) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol + 2.5, (0.28 * len(labels) + 1.0) * nrow),
                             sharey=True, squeeze=False)
    for ax in list(axes.flat)[len(tids):]:
        ax.axis("off")
    for ax, tid in zip(axes.flat, tids):
        p = np.array([_num(g["targets"].get(tid, {}).get("p")) for g in reach["groups"]])
        ci = np.array([[_num(c) for c in (g["targets"].get(tid, {}).get("ci") or [None, None])]
                       for g in reach["groups"]])
        y = np.arange(len(labels))
        ax.barh(y, np.nan_to_num(p), color="C0", alpha=0.7)
        # never a negative error bar (a bound rounded to the wrong side of p, or no valid runs)
        err = np.nan_to_num(np.clip([p - ci[:, 0], ci[:, 1] - p], 0.0, None))
        ax.errorbar(np.nan_to_num(p), y, xerr=err, fmt="none", ecolor="k", capsize=3)
        ax.set_xlim(0, 1)
        ax.set_title(f"P({tid} reached in {reach['final_year']})", fontsize=9)
        ax.set_xlabel("probability (95% Wilson CI)", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis() if ax is axes.flat[0] else None
    fig.tight_layout()
    return _save(fig, adir / "reachability.png")


def heatmaps(manifest, reach, adir) -> list[tuple[str, str]]:
    levers = manifest["design"].get("options", {}).get("levers", [])
    if len(levers) < 2:
        return []
    plt = pyplot()
    a, b = levers[:2]
    out = []
    rows = []
    for g in reach["groups"]:
        for tid, r in g["targets"].items():
            rows.append({"scenario": g["scenario"], "a": g["levers"][a], "b": g["levers"][b],
                         "tid": tid, "k": r["k"], "n": r["n"]})
    from .analysis import wilson

    df = pd.DataFrame(rows)
    rules = manifest.get("lever_factors", {})

    def label(key):
        r = rules.get(key)
        return f"{key}\n(value applies {r['from']}-{r['to']})" if r else key

    for (s, tid), sub in sorted(df.groupby(["scenario", "tid"]), key=lambda kv: (kv[0][0], _tid_key(kv[0][1]))):
        agg = sub.groupby(["b", "a"])[["k", "n"]].sum()
        P = (agg["k"] / agg["n"]).unstack("a")
        K, N = agg["k"].unstack("a"), agg["n"].unstack("a")
        fig, ax = plt.subplots(figsize=(1.5 * P.shape[1] + 3.0, 0.95 * P.shape[0] + 1.9))
        im = ax.imshow(P.to_numpy(), origin="lower", vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                v, k, n = P.iat[i, j], int(K.iat[i, j]), int(N.iat[i, j])
                lo, hi = wilson(k, n)
                ax.text(j, i, f"{v:.2f}\n[{lo:.2f}, {hi:.2f}]\nn={n}", ha="center", va="center",
                        color="w" if v < 0.6 else "k", fontsize=7)
        ax.set_xticks(range(P.shape[1]), [f"{v:g}" for v in P.columns])
        ax.set_yticks(range(P.shape[0]), [f"{v:g}" for v in P.index])
        ax.set_xlabel(label(a), fontsize=8)
        ax.set_ylabel(label(b), fontsize=8)
        ax.set_title(f"{s}: P({tid} reached), 95% Wilson CI, n runs per cell"
                     + ("\n(averaged over the other levers)" if len(levers) > 2 else ""), fontsize=9)
        fig.colorbar(im, ax=ax, label=f"P({tid})")
        out.append((f"{s} {tid}", _save(fig, adir / f"heat_{_slug(s)}_{_slug(tid)}.png")))
    return out


def sobol_plots(sobol, adir, targets=None) -> list[tuple[str, str]]:
    targets = targets or {}
    plt = pyplot()
    out = []
    names = sobol["factors"]
    for ind_name in indicator_order(sobol["indicators"], targets)[:MAX_PLOTS]:
        r = sobol["indicators"][ind_name]
        if r.get("status") != "ok":
            continue
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 0.3 * len(names) + 2.5),
                                      gridspec_kw={"width_ratios": [3, 2]})
        y = np.arange(len(names))
        ax.barh(y - 0.2, r["S1"], 0.4, xerr=r["S1_conf"], label="first order S1", capsize=2)
        ax.barh(y + 0.2, r["ST"], 0.4, xerr=r["ST_conf"], label="total ST", capsize=2)
        ax.set_yticks(y, [n.split(".")[-1] for n in names], fontsize=7)
        ax.axvline(0, color="k", lw=0.5)
        ax.legend(fontsize=7)
        noise = r["noise"].get("noise_share_single_run")
        ax.set_xlabel("Sobol' index (share of output variance), 95% bootstrap CI")
        ax.set_title(f"{_target_of(ind_name, targets)}{ind_name} ({sobol['year']})" +
                     (f"; noise share of a run's variance {noise:.1%}" if noise is not None else ""),
                     fontsize=9)
        ns = [c["n"] for c in r["convergence"]]
        ST = np.array([c["ST"] for c in r["convergence"]])
        for j in np.argsort(-np.array(r["ST"]))[:6]:
            ax2.plot(ns, ST[:, j], marker="o", label=names[j].split(".")[-1])
        ax2.set_xscale("log", base=2)
        ax2.set_xlabel("N (base samples)")
        ax2.set_ylabel("ST")
        ax2.set_title("convergence of the largest total indices", fontsize=9)
        ax2.legend(fontsize=6)
        out.append((ind_name, _save(fig, adir / f"sobol_{_slug(ind_name)}.png")))
    return out


def morris_plots(morris, adir, targets=None, units=None) -> list[tuple[str, str]]:
    targets, units = targets or {}, units or {}
    plt = pyplot()
    out = []
    names = morris["factors"]
    for ind_name in indicator_order(morris["indicators"], targets)[:MAX_PLOTS]:
        r = morris["indicators"][ind_name]
        if r.get("status") != "ok":
            continue
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        ax.errorbar(r["mu_star"], r["sigma"], xerr=r["mu_star_conf"], fmt="o", capsize=2)
        for n, x, s in zip(names, r["mu_star"], r["sigma"]):
            ax.annotate(n.split(".")[-1], (x, s), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        lim = max(max(r["mu_star"]), max(r["sigma"]), 1e-12) * 1.1
        ax.plot([0, lim], [0, lim], "k:", lw=0.7)
        unit = units.get(ind_name, {}).get("unit", "indicator units")
        ax.set_xlabel(f"mu* (mean |elementary effect|, {unit} per factor range)")
        ax.set_ylabel(f"sigma ({unit})")
        ax.set_title(f"Morris: {_target_of(ind_name, targets)}{ind_name} ({morris['year']})", fontsize=9)
        out.append((ind_name, _save(fig, adir / f"morris_{_slug(ind_name)}.png")))
    return out


def _embed(path: Path, alt: str) -> str:
    """An <img> with the PNG inlined (data URI), so report.html is one file to send."""
    import base64

    data = base64.b64encode(Path(path).read_bytes()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f'<figcaption>{html.escape(alt)}</figcaption></figure>')


def _page(title: str, parts: list[str]) -> bytes:
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
            "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;"
            "text-align:left}img{max-width:100%}figure{margin:10px 0}.note{color:#444;font-size:13px}"
            "</style></head><body>" + "\n".join(parts) + "</body></html>\n").encode()


def _table(header: list[str], rows: list[list]) -> str:
    e = html.escape
    return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
            + "</table>")


def _provenance(manifest: dict, keys: list[str]) -> str:
    rows = [[k, json.dumps(manifest[k]) if isinstance(manifest[k], (dict, list)) else manifest[k]]
            for k in keys if k in manifest]
    return "<h2>Provenance</h2>" + _table(["field", "value"], rows)


def write_report(out) -> Path:
    """Write report.html (one self-contained file, images embedded) for any folder the tool
    writes: ``innosim run``, ``compare``, ``sweep``, ``reach`` or ``sensitivity``."""
    out = Path(out)
    mpath = out / "manifest.json"
    if not mpath.exists() and (out / "validation.json").exists():
        return _validation_report(out)
    if not mpath.exists():
        raise ExperimentError(f"{out}: no manifest.json; not a folder written by innosim")
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        raise ExperimentError(f"{out}/manifest.json: unreadable: {exc}") from None
    if manifest.get("command") == "run" or ("design" not in manifest and (out / "summary.csv").exists()):
        return _run_report(out, manifest)
    if manifest.get("command") == "compare" or ("design" not in manifest and (out / "compare_fiscal.csv").exists()):
        return _compare_report(out, manifest)
    return _experiment_report(out)


def _validation_report(out: Path) -> Path:
    text = (out / "validation.txt").read_text() if (out / "validation.txt").exists() else ""
    parts = ["<h1>innosim validate</h1>", "<h2>Headline: scores against the observed series</h2>",
             f"<pre>{html.escape(text)}</pre>"]
    parts += [_embed(p, p.stem) for p in sorted(out.glob("*.png"))]
    target = out / "report.html"
    atomic_write_bytes(target, _page("innosim validate", parts))
    return target


#: Column names of run/compare tables written before they were horizon-neutral (every such
#: table was of the 2015-2020 horizon): old name -> (new name), plus the years they imply.
_LEGACY_COLUMNS = {"value_2015": "value_start", "median_2020": "median", "p05_2020": "p05",
                   "p95_2020": "p95", "target_2020": "threshold", "reference_2020": "reference_mean",
                   "scenario_2020": "scenario_mean", "public_cost_2016_2020_bn_yuan": "public_cost_bn_yuan"}
_LEGACY_YEARS = {"start_year": 2015, "year": 2020, "target_year": 2020, "cost_first_year": 2016,
                 "cost_last_year": 2020}


def _read_table(path: Path) -> pd.DataFrame:
    """A run/compare CSV table, with the pre-rename column names of older folders mapped."""
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ExperimentError(f"{path}: unreadable: {exc}") from None
    old = [c for c in df.columns if c in _LEGACY_COLUMNS]
    if old:
        df = df.rename(columns=_LEGACY_COLUMNS)
        for col, year in _LEGACY_YEARS.items():
            df[col] = year
    return df


def _years(values) -> str:
    from .run_command import year_label
    return year_label(int(v) for v in values if v == v)


def _run_report(out: Path, manifest: dict) -> Path:
    from .analysis import wilson
    from .compare import share_text

    summary = _read_table(out / "summary.csv")
    n = int(manifest.get("replications", 0))
    rows = []
    for r in sorted(summary.to_dict("records"), key=lambda r: _tid_key(r["target"])):
        assessed = r["share_reaching"] == r["share_reaching"]
        k = int(round(r["share_reaching"] * n)) if assessed else 0
        lo, hi = wilson(k, n) if n and assessed else (float("nan"), float("nan"))
        rows.append([r["target"], r["indicator"], f"{r['value_start']:.4g}",
                     f"{r['median']:.4g} [{r['p05']:.4g}, {r['p95']:.4g}]",
                     f"{r['threshold']:g}", f"{share_text(r['share_reaching'])} "
                                            f"[{share_text(lo)}, {share_text(hi)}]"])
    start, year = _years(summary["start_year"]), _years(summary["year"])
    target_years = _years(summary["target_year"])
    late = (f" The run ends in {year}, before the target year {target_years}: the values are {year}'s "
            "and P(reach) is not assessed." if year != target_years else "")
    parts = [f"<h1>innosim run: {html.escape(str(manifest.get('scenario')))}</h1>",
             f"<h2>Headline: the targets in {year}</h2>",
             _table(["target", "indicator", start, f"{year} median [5%, 95%] over runs", "target",
                     f"P(reach) [95% Wilson CI], n={n}"], rows),
             f"<p class='note'>{n} replications at scale {manifest.get('scale')}, master seed "
             f"{manifest.get('master_seed')}. P(reach) is the share of runs at or above the target in "
             f"{target_years}; its interval covers the model's randomness only, not parameter uncertainty "
             f"(use innosim reach for that).{late}</p>",
             "<h2>Paths against the targets (T1-T9)</h2>"]
    pngs = sorted(out.glob("T*.png"), key=lambda p: _tid_key(p.name.split("_")[0]))
    parts += [_embed(p, p.stem.replace("_", " ", 1)) for p in pngs]
    parts.append(_provenance(manifest, ["scenario", "scenario_file", "scenario_digest", "master_seed",
                                        "replications", "scale", "elapsed_s", "created", "calibration"]))
    target = out / "report.html"
    atomic_write_bytes(target, _page(f"innosim run {manifest.get('scenario')}", parts))
    return target


def _compare_report(out: Path, manifest: dict) -> Path:
    from .compare import ratio_text, share_text

    fis_df, tgt_df = _read_table(out / "compare_fiscal.csv"), _read_table(out / "compare_targets.csv")
    fis, tgt = fis_df.to_dict("records"), tgt_df.to_dict("records")
    first, last = _years(fis_df.get("cost_first_year", [])), _years(fis_df.get("cost_last_year", []))
    span = f", {first}-{last}" if first and last else ""
    year = _years(tgt_df.get("year", []))
    ref = manifest.get("reference") or (manifest.get("scenarios") or [{}])[0].get("name")
    n = len(manifest.get("seeds", []))
    f = lambda x: "n/a" if pd.isna(x) else fmt_number(x)
    rows = [[r["scenario"], f(r["public_cost_bn_yuan"]),
             f"{f(r['extra_cost_bn_yuan'])} [{f(r['extra_cost_ci_low'])}, {f(r['extra_cost_ci_high'])}]",
             f"{f(r['extra_real_rd_bn_yuan'])} [{f(r['extra_real_rd_ci_low'])}, {f(r['extra_real_rd_ci_high'])}]",
             ratio_text(r) if "ratio_defined" in r else f(r["real_rd_per_yuan"]) + " (no interval recorded)",
             ratio_text(r, dynamic=True) if "dynamic_ratio_defined" in r else ""]
            for r in fis]
    trows = [[r["scenario"], r["target"], f"{f(r['diff'])} [{f(r['ci_low'])}, {f(r['ci_high'])}]",
              f"{share_text(r['p_reach_reference'])} -> {share_text(r['p_reach_scenario'])}"]
             for r in sorted(tgt, key=lambda r: (_tid_key(r["target"]), r["scenario"]))]
    parts = [f"<h1>innosim compare against {html.escape(str(ref))}</h1>",
             f"<h2>Headline: public cost and additional real R&amp;D{span} (billion yuan)</h2>",
             _table(["scenario", "public cost", "extra cost [95% CI]", "extra real R&D [95% CI]",
                     "real R&D per yuan [95% Fieller CI]",
                     "per yuan of net budget cost (dynamic) [95% Fieller CI]"], rows),
             f"<p class='note'>Differences are paired over {n} shared seeds (t-intervals). The ratio is "
             "not defined where the extra cost's interval spans zero.</p>"]
    for png, cap in (("compare_fiscal.png", "extra cost, extra real R&D and their ratio"),
                     ("compare_targets.png", f"{year} differences per target, T1-T9")):
        if (out / png).exists():
            parts.append(_embed(out / png, cap))
    parts += [f"<h2>{year} differences per target (T1-T9)</h2>",
              _table(["scenario", "target", "difference [95% CI]", "P(reach) reference -> scenario"], trows)]
    parts.append(_provenance(manifest, ["scenarios", "master_seed", "scale", "elapsed_s", "created"]))
    target = out / "report.html"
    atomic_write_bytes(target, _page("innosim compare", parts))
    return target


def _sensitivity_headline(res: dict, method: str, targets: dict) -> str:
    key = "ST" if method == "sobol" else "mu_star"
    rows = []
    for name in indicator_order(res["indicators"], targets):
        if not _target_of(name, targets):
            continue
        r = res["indicators"][name]
        if r.get("status") != "ok":
            rows.append([_target_of(name, targets).rstrip(": "), name, r.get("status"), "", ""])
            continue
        conf = r.get(f"{key}_conf") or [float("nan")] * len(r[key])
        top = sorted(zip(r[key], conf, res["factors"]), key=lambda t: -t[0])[:3]
        noise = r["noise"].get("noise_share_single_run")
        rows.append([_target_of(name, targets).rstrip(": "), name,
                     ", ".join(f"{n.split('.')[-1]} {v:.2f}±{c:.2f}" for v, c, n in top),
                     "" if method != "sobol" else ("yes" if r.get("converged") else "NO"),
                     "" if noise is None else f"{noise:.0%}"])
    return _table(["target", "indicator", f"largest {key} (±95% bootstrap half-width)", "converged",
                   "noise share of a run's variance"], rows)


def _experiment_report(out: Path) -> Path:
    """Write analysis/*.png and report.html for the experiment in ``out``."""
    from .analysis import analyse_results

    manifest, runs, ind = load_results(out)
    store = ResultStore(out)
    adir = store.analysis_dir
    kind = manifest["design"]["kind"]
    expected = {"sweep": ["reach"], "reach": ["reach"], "sobol": ["sobol"], "morris": ["morris"]}
    if not all((adir / f"{n}.json").exists() for n in expected[kind]) or not manifest.get("targets"):
        analyse_results(out)
    load = lambda n: json.loads((adir / f"{n}.json").read_text()) if (adir / f"{n}.json").exists() else None
    reach, sobol, morris, disc = load("reach"), load("sobol"), load("morris"), load("discovery")
    targets = manifest.get("targets", {})
    img = lambda src, alt: _embed(out / src, alt)

    e = html.escape
    parts = [f"<h1>innosim experiment: {e(kind)}</h1>"]
    spec = manifest["design"]
    if manifest.get("lever_factors"):
        parts.append("<p class='note'>" + e(manifest.get("lever_rule", "")) + ".<br>"
                     + "<br>".join(e(r["description"]) for r in manifest["lever_factors"].values()) + "</p>")
    if reach:
        parts.append("<h2>Headline: reachability of the targets (T1-T9)</h2>")
        rows = []
        groups = reach["groups"]
        cells = [(tid, gi) for gi, g in enumerate(groups) for tid in g["targets"]]
        for tid, gi in sorted(cells, key=lambda c: (_tid_key(c[0]), c[1])):
            g = groups[gi]
            r = g["targets"][tid]
            if r.get("p") is None:  # every run of the group invalid
                rows.append(f"<tr><td>{e(tid)}</td><td>{e(g['label'])}</td><td colspan=6>no valid runs</td>"
                            f"<td>0</td><td>{r.get('n_invalid', 0)}</td></tr>")
                continue
            fy = r["first_year"]
            pd_ = r.get("paired_diff")
            fy_s = "" if fy is None else "%g (%g–%g)" % (fy["median"], fy["q25"], fy["q75"])
            pd_s = "" if pd_ is None else "%+.3f [%+.3f, %+.3f]" % (pd_["diff"], pd_["ci"][0], pd_["ci"][1])
            cc = r.get("ci_cluster") or [None, None]
            cc_s = "" if cc[0] is None else f"[{cc[0]:.3f}, {cc[1]:.3f}]"
            rows.append(f"<tr><td>{e(tid)}</td><td>{e(g['label'])}</td><td>{r['p']:.3f}</td>"
                        f"<td>[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]</td><td>{cc_s}</td><td>{r['p_ever']:.3f}</td>"
                        f"<td>{fy_s}</td><td>{pd_s}</td><td>{r['n']}</td><td>{r.get('n_invalid', 0)}</td></tr>")
        parts.append("<table><tr><th>target</th><th>scenario / setting</th><th>P(reached in final year)</th>"
                     "<th>95% CI (Wilson)</th><th>95% CI (bootstrap over design points)</th><th>P(ever reached)</th>"
                     "<th>first year reached: median (IQR)</th>"
                     "<th>paired difference vs first row</th><th>valid runs</th>"
                     "<th>invalid runs (excluded)</th></tr>" + "".join(rows) + "</table>")
        src = reach_plot(reach, adir)
        if src:
            parts.append(img(src, f"P(target reached in {reach['final_year']}), 95% Wilson intervals"))
        heats = heatmaps(manifest, reach, adir)
        if heats:
            parts.append("<h2>Reachability over two levers</h2>")
            parts += [img(src, f"P({t}) over the first two levers: P, 95% Wilson CI, n runs per cell")
                      for t, src in heats]
    if disc:
        parts.append("<h2>Scenario discovery (PRIM boxes)</h2><ul>")
        for tid in sorted(disc["targets"], key=_tid_key):
            for s_, r in disc["targets"][tid].items():
                parts.append(f"<li><b>{e(s_)}</b>, {e(tid)}: {e(r['text'])}</li>")
        parts.append("</ul>")
    if sobol:
        parts.append(f"<h2>Headline: Sobol' indices for the targets (N = {sobol['n']}, "
                     f"{sobol['replications']} replication(s), on replication means)</h2>")
        parts.append(_sensitivity_headline(sobol, "sobol", targets))
        unconv = [n for n, r in sobol["indicators"].items() if r.get("converged") is False]
        if unconv:
            parts.append(f"<p class='note'><b>Not converged</b> (ST changed &gt; 0.05 at the last doubling of N, "
                         f"or an interval wider than ±0.1): {e(', '.join(indicator_order(unconv, targets)))}. "
                         "Read these as rankings at most. ST &gt; 1 or S1 &lt; 0 are estimation error.</p>")
        bad = [f"{n}: {r['status']}" for n, r in sobol["indicators"].items() if r.get("status") != "ok"]
        if bad:
            parts.append("<p>" + e("; ".join(bad)) + "</p>")
        parts += [img(src, f"Sobol' indices: {n}") for n, src in sobol_plots(sobol, adir, targets)]
    if morris:
        parts.append(f"<h2>Headline: Morris screening for the targets ({morris['trajectories']} trajectories)</h2>")
        parts.append(_sensitivity_headline(morris, "morris", targets))
        parts += [img(src, f"Morris mu*-sigma: {n}")
                  for n, src in morris_plots(morris, adir, targets, manifest.get("indicators"))]
    parts.append("<h2>Indicators over time (fan charts against targets, T1-T9 first)</h2>")
    parts += [img(src, f"{n}: median, 50% and 90% bands over runs" + (", per lever setting" if kind == "sweep" else ""))
              for n, src in fan_charts(manifest, runs, ind, adir)]
    code = manifest.get("code", {})
    prov = {"design hash": manifest["design_hash"][:16], "master seed": manifest["master_seed"],
            "runs": spec["n_runs"], "replications": spec["replications"],
            "scenarios": ", ".join(spec["scenarios"]),
            "factors": ", ".join(f["name"] for f in spec["factors"]) or "none",
            "code commit": f"{code.get('commit')} (dirty: {code.get('dirty')})",
            "run time": f"{manifest.get('run_time_s')} s in {len(manifest.get('sessions', []))} session(s)",
            "completed": manifest.get("completed"),
            "packages": ", ".join(f"{k} {v}" for k, v in manifest.get("packages", {}).items())}
    parts.append("<h2>Provenance</h2>" + _table(["field", "value"], [[k, v] for k, v in prov.items()]))
    target = out / "report.html"
    atomic_write_bytes(target, _page(f"innosim {kind}", parts))
    return target
