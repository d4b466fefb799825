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
from .store import ResultStore, atomic_write_bytes, load_results

MAX_PLOTS = 30


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return f"analysis/{path.name}"


def _slug(s: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in s)[:80]


def fan_charts(manifest, runs, ind, adir) -> list[tuple[str, str]]:
    plt = _plt()
    targets = manifest.get("targets", {})
    by_ind = {}
    for tid, t in targets.items():
        by_ind.setdefault(t["indicator"], []).append((tid, t))
    names = sorted(ind["indicator"].unique(), key=lambda n: (n not in by_ind, n))[:MAX_PLOTS]
    scen = runs.set_index("run_id")["scenario"]
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
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(unit)
        ax.set_xticks(years)
        ax.legend(fontsize=7, loc="best")
        out.append((name, _save(fig, adir / f"fan_{_slug(name)}.png")))
    return out


def reach_plot(reach, adir) -> str | None:
    plt = _plt()
    tids = sorted({t for g in reach["groups"] for t in g["targets"]})
    if not tids:
        return None
    labels = [g["label"] for g in reach["groups"]]
    fig, axes = plt.subplots(1, len(tids), figsize=(3.2 * len(tids) + 2, 0.35 * len(labels) + 1.5),
                             sharey=True, squeeze=False)
    for ax, tid in zip(axes[0], tids):
        p = np.array([g["targets"].get(tid, {}).get("p", np.nan) for g in reach["groups"]])
        ci = np.array([g["targets"].get(tid, {}).get("ci", [np.nan, np.nan]) for g in reach["groups"]])
        y = np.arange(len(labels))
        ax.barh(y, p, color="C0", alpha=0.7)
        ax.errorbar(p, y, xerr=[p - ci[:, 0], ci[:, 1] - p], fmt="none", ecolor="k", capsize=3)
        ax.set_xlim(0, 1)
        ax.set_title(f"P({tid} in {reach['final_year']})", fontsize=9)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=7)
    return _save(fig, adir / "reachability.png")


def heatmaps(manifest, reach, adir) -> list[tuple[str, str]]:
    levers = manifest["design"].get("options", {}).get("levers", [])
    if len(levers) < 2:
        return []
    plt = _plt()
    a, b = levers[:2]
    out = []
    rows = []
    for g in reach["groups"]:
        for tid, r in g["targets"].items():
            rows.append({"scenario": g["scenario"], "a": g["levers"][a], "b": g["levers"][b],
                         "tid": tid, "k": r["k"], "n": r["n"]})
    df = pd.DataFrame(rows)
    for (s, tid), sub in df.groupby(["scenario", "tid"]):
        agg = sub.groupby(["b", "a"])[["k", "n"]].sum()
        P = (agg["k"] / agg["n"]).unstack("a")
        fig, ax = plt.subplots(figsize=(1.1 * P.shape[1] + 2.5, 0.8 * P.shape[0] + 1.5))
        im = ax.imshow(P.to_numpy(), origin="lower", vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                v = P.iat[i, j]
                ax.text(j, i, f"{v:.2f}", ha="center", va="center",
                        color="w" if v < 0.6 else "k", fontsize=8)
        ax.set_xticks(range(P.shape[1]), [f"{v:g}" for v in P.columns])
        ax.set_yticks(range(P.shape[0]), [f"{v:g}" for v in P.index])
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.set_title(f"{s}: P({tid})" + (" (averaged over other levers)" if len(levers) > 2 else ""),
                     fontsize=9)
        fig.colorbar(im, ax=ax)
        out.append((f"{s} {tid}", _save(fig, adir / f"heat_{_slug(s)}_{_slug(tid)}.png")))
    return out


def sobol_plots(sobol, adir) -> list[tuple[str, str]]:
    plt = _plt()
    out = []
    names = sobol["factors"]
    for ind_name, r in list(sobol["indicators"].items())[:MAX_PLOTS]:
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
        ax.set_title(f"{ind_name} ({sobol['year']})" +
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


def morris_plots(morris, adir) -> list[tuple[str, str]]:
    plt = _plt()
    out = []
    names = morris["factors"]
    for ind_name, r in list(morris["indicators"].items())[:MAX_PLOTS]:
        if r.get("status") != "ok":
            continue
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        ax.errorbar(r["mu_star"], r["sigma"], xerr=r["mu_star_conf"], fmt="o", capsize=2)
        for n, x, s in zip(names, r["mu_star"], r["sigma"]):
            ax.annotate(n.split(".")[-1], (x, s), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        lim = max(max(r["mu_star"]), max(r["sigma"]), 1e-12) * 1.1
        ax.plot([0, lim], [0, lim], "k:", lw=0.7)
        ax.set_xlabel("mu* (mean |elementary effect|)")
        ax.set_ylabel("sigma")
        ax.set_title(f"Morris: {ind_name} ({morris['year']})", fontsize=9)
        out.append((ind_name, _save(fig, adir / f"morris_{_slug(ind_name)}.png")))
    return out


def _img(src, alt):
    return f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def write_report(out) -> Path:
    """Write analysis/*.png and report.html for the experiment in ``out``."""
    from .analysis import analyse_results

    out = Path(out)
    manifest, runs, ind = load_results(out)
    store = ResultStore(out)
    adir = store.analysis_dir
    kind = manifest["design"]["kind"]
    expected = {"sweep": ["reach"], "reach": ["reach"], "sobol": ["sobol"], "morris": ["morris"]}
    if not all((adir / f"{n}.json").exists() for n in expected[kind]) or not manifest.get("targets"):
        analyse_results(out)
    load = lambda n: json.loads((adir / f"{n}.json").read_text()) if (adir / f"{n}.json").exists() else None
    reach, sobol, morris, disc = load("reach"), load("sobol"), load("morris"), load("discovery")

    e = html.escape
    parts = [f"<h1>innosim experiment: {e(kind)}</h1>"]
    spec = manifest["design"]
    code = manifest.get("code", {})
    prov = {"design hash": manifest["design_hash"][:16], "master seed": manifest["master_seed"],
            "runs": spec["n_runs"], "replications": spec["replications"],
            "scenarios": ", ".join(spec["scenarios"]),
            "factors": ", ".join(f["name"] for f in spec["factors"]) or "none",
            "code commit": f"{code.get('commit')} (dirty: {code.get('dirty')})",
            "run time": f"{manifest.get('run_time_s')} s in {len(manifest.get('sessions', []))} session(s)",
            "completed": manifest.get("completed"),
            "packages": ", ".join(f"{k} {v}" for k, v in manifest.get("packages", {}).items())}
    parts.append("<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>"
                                     for k, v in prov.items()) + "</table>")
    if reach:
        parts.append("<h2>Reachability of the targets</h2>")
        src = reach_plot(reach, adir)
        if src:
            parts.append(_img(src, f"P(target reached in {reach['final_year']}), 95% Wilson intervals"))
        rows = []
        for g in reach["groups"]:
            for tid, r in g["targets"].items():
                fy = r["first_year"]
                pd_ = r.get("paired_diff")
                fy_s = "" if fy is None else "%g (%g–%g)" % (fy["median"], fy["q25"], fy["q75"])
                pd_s = "" if pd_ is None else "%+.3f [%+.3f, %+.3f]" % (
                    pd_["diff"], pd_["ci"][0], pd_["ci"][1])
                cc = r.get("ci_cluster") or [None, None]
                cc_s = "" if cc[0] is None else f"[{cc[0]:.3f}, {cc[1]:.3f}]"
                rows.append(f"<tr><td>{e(g['label'])}</td><td>{e(tid)}</td><td>{r['p']:.3f}</td>"
                            f"<td>[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]</td><td>{cc_s}</td><td>{r['p_ever']:.3f}</td>"
                            f"<td>{fy_s}</td><td>{pd_s}</td><td>{r['n']}</td></tr>")
        parts.append("<table><tr><th>scenario</th><th>target</th><th>P(reached in final year)</th>"
                     "<th>95% CI (Wilson)</th><th>95% CI (bootstrap over design points)</th><th>P(ever reached)</th><th>first year reached: median (IQR)</th>"
                     "<th>paired difference vs first row</th><th>runs</th></tr>" + "".join(rows) + "</table>")
        heats = heatmaps(manifest, reach, adir)
        if heats:
            parts.append("<h2>Reachability over two levers</h2>")
            parts += [_img(src, f"P({t}) over the first two levers") for t, src in heats]
    if disc:
        parts.append("<h2>Scenario discovery (PRIM boxes)</h2><ul>")
        for tid, per in disc["targets"].items():
            for s, r in per.items():
                parts.append(f"<li><b>{e(s)}</b>, {e(tid)}: {e(r['text'])}</li>")
        parts.append("</ul>")
    if sobol:
        parts.append(f"<h2>Sobol' indices (N = {sobol['n']}, {sobol['replications']} replication(s), "
                     "on replication means, 95% bootstrap intervals)</h2>")
        parts += [_img(src, f"Sobol' indices: {n}") for n, src in sobol_plots(sobol, adir)]
        bad = [f"{n}: {r['status']}" for n, r in sobol["indicators"].items() if r.get("status") != "ok"]
        unconv = [n for n, r in sobol["indicators"].items() if r.get("converged") is False]
        if unconv:
            parts.append(f"<p>Not converged (ST changed > 0.05 at the last doubling of N, or an "
                         f"interval wider than ±0.1): {e(', '.join(unconv))}</p>")
        if bad:
            parts.append("<p>" + e("; ".join(bad)) + "</p>")
    if morris:
        parts.append(f"<h2>Morris screening ({morris['trajectories']} trajectories)</h2>")
        parts += [_img(src, f"Morris mu*-sigma: {n}") for n, src in morris_plots(morris, adir)]
    parts.append("<h2>Indicators over time (fan charts against targets)</h2>")
    parts += [_img(src, f"{n}: median, 50% and 90% bands over runs")
              for n, src in fan_charts(manifest, runs, ind, adir)]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>innosim report</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
            "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;"
            "text-align:left}img{max-width:100%}figure{margin:10px 0}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    target = out / "report.html"
    atomic_write_bytes(target, page.encode())
    return target
