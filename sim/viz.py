"""Interactive page (Mesa SolaraViz): choose a scenario, move lever sliders, step or run.

Start it with ``innosim viz`` (or ``solara run sim.viz``) and open the printed address.
Needs the ``viz`` extra: ``pip install -e '.[viz]'``.

* **Model Parameters** (sidebar): the scenario (shipped scenarios), the seed, and — when
  "override levers with the sliders" is ticked — three lever sliders. A slider value
  replaces the scenario's final setting of the field from the year it takes effect (the
  sweep rule of ``innosim levers``): the deduction slider sets ``rate_all`` and
  ``rate_manufacturing`` together (industrial firms get the larger of the two, so moving
  one alone would not move T5). Press **Reset** to build the model with new settings.
* **Controls**: Step advances one quarter; ▶ runs to the last quarter of the scenario's
  end year (2020Q4 by default; ``model.running`` turns False there).
* **Targets**: T1–T9 paths (annual, from the start year to the last closed year) against
  the targets (the plan's 2020 targets), with the plotted values in a table.
* **Firms**: the distribution of reported R&D intensity of firms (weighted by the real
  firms a row stands for) with the certification thresholds in force (the notch).
"""
from __future__ import annotations

import html

import numpy as np

from sim.formatting import fmt_number
from sim.model import InnovationModel

DEDUCTION_FIELDS = ("levers.super_deduction.rate_all", "levers.super_deduction.rate_manufacturing")
SLIDERS = {
    "deduction_rate": ("extra deduction, all firms incl. industrial (rate_all = rate_manufacturing)",
                       DEDUCTION_FIELDS, 0.75, 0.0, 1.5, 0.05),
    "audit_intensity": ("audits of certified firms, per year (hightech.audit_intensity)",
                        ("levers.hightech.audit_intensity",), 0.05, 0.0, 0.5, 0.01),
    "voucher_budget": ("innovation vouchers, bn yuan a year (vouchers.budget_bn_yuan)",
                       ("levers.vouchers.budget_bn_yuan",), 0.0, 0.0, 20.0, 0.5),
}


class InteractiveModel(InnovationModel):
    """:class:`InnovationModel` built from a scenario name and slider values (SolaraViz
    rebuilds the model from these keyword arguments on Reset)."""

    def __init__(self, scenario: str = "policy_2016_2020", seed: int = 1, scale: float = 0.005,
                 override_levers: bool = False, deduction_rate: float = 0.75,
                 audit_intensity: float = 0.05, voucher_budget: float = 0.0):
        from sim.scenario import load_scenario

        sc = load_scenario(scenario)
        if override_levers:
            values = {}
            for name, val in (("deduction_rate", deduction_rate), ("audit_intensity", audit_intensity),
                              ("voucher_budget", voucher_budget)):
                for key in SLIDERS[name][1]:
                    values[key] = float(val)
            sc = sc.with_values(values)
        self.lever_note = "; ".join(sc.levers.sweep_description(*k.split(".")[1:]).split(";")[0]
                                    for name in SLIDERS for k in SLIDERS[name][1]) if override_levers \
            else "scenario levers as written"
        super().__init__(sc, seed=int(seed), scale=float(scale))


def model_params() -> dict:
    from sim.scenario import shipped_scenarios

    params = {
        "scenario": {"type": "Select", "value": "policy_2016_2020", "values": list(shipped_scenarios()),
                     "label": "scenario"},
        "seed": {"type": "SliderInt", "value": 1, "min": 1, "max": 100, "step": 1, "label": "seed"},
        "scale": 0.005,
        "override_levers": {"type": "Checkbox", "value": False, "label": "override levers with the sliders"},
    }
    for name, (label, _, default, lo, hi, step) in SLIDERS.items():
        params[name] = {"type": "SliderFloat", "value": default, "min": lo, "max": hi, "step": step,
                        "label": label}
    return params


def target_rows(model: InnovationModel) -> list[dict]:
    """The values the targets panel plots: per target, its latest annual value and the target."""
    from sim.indicators import INDICATORS, TARGETS

    rec = model.recorder
    rows = []
    for tid, t in TARGETS.items():
        v = rec.values[t.indicator]
        rows.append({"target": tid, "year": rec.years[-1], "value": v[-1], "threshold": t.threshold, "target_year": t.year,
                     "unit": INDICATORS[t.indicator].unit, "label": t.label})
    return rows


def _fmt(x: float) -> str:
    return fmt_number(x, digits=4)


def targets_figure(model: InnovationModel):
    from matplotlib.figure import Figure

    from sim.indicators import INDICATORS, TARGETS

    rec = model.recorder
    fig = Figure(figsize=(7.5, 8.2))
    axes = fig.subplots(4, 3)
    for ax in list(axes.flat)[len(TARGETS):]:
        ax.axis("off")
    for ax, (tid, t) in zip(axes.flat, TARGETS.items()):
        ax.plot(rec.years, rec.values[t.indicator], "o-", color="C0", ms=3)
        ax.axhline(t.threshold, color="C3", ls="--", lw=1)
        ax.set_xlim(model.start_year - 0.4, model.end_year + 0.4)
        ticks = range(model.start_year, model.end_year + 1, max(1, -(-(model.end_year - model.start_year) // 8)))
        ax.set_xticks(ticks, [str(y)[2:] for y in ticks], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"{tid}: {t.label}" if len(t.label) < 42 else f"{tid}: {t.label[:40]}…", fontsize=7)
        ax.set_ylabel(INDICATORS[t.indicator].unit, fontsize=7)
    target_years = "/".join(str(y) for y in dict.fromkeys(t.year for t in TARGETS.values()))
    fig.suptitle(f"Targets (dashed: {target_years} target); year '{str(rec.years[-1])[2:]} is the last closed year", fontsize=9)
    fig.tight_layout()
    return fig


def firm_figure(model: InnovationModel):
    from matplotlib.figure import Figure

    from sim.agents import firms as F

    f, lv, yr = model.firms, model.levers.hightech, model.year
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    doers = f.alive & (f.rd_real > 0) & (f.revenue > 0) & (f.segment != F.STARTUP)
    s = 100.0 * (f.rd_real + f.relabel)[doers] / f.revenue[doers]
    ax.hist(np.clip(s, 0, 15), bins=np.arange(0, 15.25, 0.25), weights=f.weight[doers], color="C0", alpha=0.8)
    for key, c in (("threshold_small", "C3"), ("threshold_medium", "C1"), ("threshold_large", "C2")):
        v = 100.0 * getattr(lv, key).at(yr)
        ax.axvline(v, color=c, ls="--", lw=1.2, label=f"{key.split('_')[1]} firms: {v:g}%")
    ax.set_xlabel("reported R&D / revenue, percent (firms doing R&D; 15 = 15 or more)")
    ax.set_ylabel("real firms")
    ax.set_title(f"R&D intensity of firms, {model_clock(model)}, with the certification thresholds (the notch)",
                 fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def model_clock(model: InnovationModel) -> str:
    if model.quarter == 0:
        return f"end of {model.start_year} (set-up)"
    return f"{model.year} Q{model.quarter_of_year}"


def _components():
    import solara

    def Targets(model):
        solara.FigureMatplotlib(targets_figure(model), format="png", dpi=80)
        rows = target_rows(model)
        body = "".join(f"<tr><td>{r['target']}</td><td>{r['year']}</td><td id='val-{r['target']}'>{_fmt(r['value'])}</td>"
                       f"<td>{_fmt(r['threshold'])} ({r['target_year']})</td><td>{html.escape(r['unit'])}</td></tr>" for r in rows)
        solara.HTML(tag="div", unsafe_innerHTML=(
            f"<table id='targets' data-step='{model.quarter}' style='font-size:12px;border-collapse:collapse' "
            "border='1' cellpadding='3'>"
            "<tr><th>target</th><th>year</th><th>value plotted</th><th>target (year)</th><th>unit</th></tr>"
            + body + "</table>"))

    def Firms(model):
        solara.FigureMatplotlib(firm_figure(model), format="png", dpi=80)

    def Clock(model):
        solara.HTML(tag="div", unsafe_innerHTML=(
            f"<b id='clock'>{model_clock(model)}</b> — step {model.quarter} of {model.horizon.steps} (one step = one quarter)"
            f"{' — end of horizon' if not model.running else ''}.<br>Levers: {html.escape(model.lever_note)}"))

    return [(Clock, 0), (Targets, 0), (Firms, 0)]


def make_page(model: InteractiveModel | None = None):
    from mesa.visualization import SolaraViz

    model = model if model is not None else InteractiveModel()
    return SolaraViz(model, components=_components(), model_params=model_params(),
                     name="innosim: China's technology-innovation system", play_interval=1)


page = make_page()
