"""Generate the parameter, initial-condition, lever and indicator tables of docs/ODD.md from the code.

    python -m sim.doc_tables docs/ODD.md      # rewrite the tables in place
    python -m sim.doc_tables --check docs/ODD.md   # exit 1 if they are stale

The tables sit between the markers ``<!-- tables:begin -->`` and ``<!-- tables:end -->``
(the fiscal-account table of §7.7 between ``<!-- fiscal:begin -->`` and ``<!-- fiscal:end -->``);
a test keeps them equal to what this module renders, so the ODD stays true to the data.
"""
from __future__ import annotations

import sys
from pathlib import Path

from sim.indicators import INDICATORS
from sim.params import InitialConditions, Parameters, data_entries
from sim.policies import LEVER_CLASSES

BEGIN, END = "<!-- tables:begin -->", "<!-- tables:end -->"
FISCAL_BEGIN, FISCAL_END = "<!-- fiscal:begin -->", "<!-- fiscal:end -->"


def _g(x) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def _data_table(kind) -> list[str]:
    rows = ["| key | value | unit | source | assumption | range |", "|---|---|---|---|---|---|"]
    for key, e in data_entries(kind).items():
        rng = f"{_g(e.range[0])} – {_g(e.range[1])}" if e.range else ""
        rows.append(f"| `{key}` | {_g(e.value)} | {e.unit} | {e.source} | {'yes' if e.assumption else 'no'} | {rng} |")
    return rows


def _lever_table() -> list[str]:
    rows = ["| lever | field | default | unit | meaning | allowed | mechanism | phase(s) |",
            "|---|---|---|---|---|---|---|---|"]
    for name, cls in LEVER_CLASSES.items():
        for i, f in enumerate(cls.field_specs()):
            md = f.metadata
            mech, phase = (cls.mechanism, ", ".join(cls.phases)) if i == 0 else ("〃", "〃")
            rows.append(f"| `{name}` | `{f.name}` | {_g(md['default'])} | {md['unit']} | {md['doc']} | "
                        f"{_g(md['low'])} – {_g(md['high'])} | {mech} | {phase} |")
    return rows


def _fiscal_table() -> list[str]:
    rows = ["| lever | account → indicator | kind | booked in | amount per quarter |", "|---|---|---|---|---|"]
    for name, cls in LEVER_CLASSES.items():
        for a in cls.accounts:
            rows.append(f"| `{name}` | `{a.name}` → `{a.indicator}` | {a.kind.replace('_', ' ')} | {a.booked_in} | "
                        f"{a.amount} |")
    return rows


def _indicator_table() -> list[str]:
    rows = ["| indicator | unit | kind | start year | target | description |", "|---|---|---|---|---|---|"]
    for name, s in INDICATORS.items():
        kind = s.kind + (" (mean of quarterly rates)" if s.per_quarter else "")
        tg = "; ".join(f"{t.id}{' (beside ' + t.companion_of + ')' if t.companion_of else ''}: "
                       f"{'≥' if t.direction == 'at_least' else '≤'} {_g(t.threshold)} in {t.year}" for t in s.targets)
        rows.append(f"| `{name}` | {s.unit} | {kind} | {s.start_note()} | {tg} | {s.description} |")
    return rows


def render() -> str:
    lines = [BEGIN, "", "### 7.4 Parameters (`sim/data/parameters.toml`)", "", *_data_table(Parameters), "",
             "### 7.5 Initial conditions (`sim/data/initial_2015.toml`)", "", *_data_table(InitialConditions), "",
             "### 7.6 Levers (`sim/policies/*.py`)", "", *_lever_table(), "",
             "### 7.6a Indicators (`sim/indicators.py`, in output order)", "", *_indicator_table(), "", END]
    return "\n".join(lines)


def render_fiscal() -> str:
    return "\n".join([FISCAL_BEGIN, "", *_fiscal_table(), "", FISCAL_END])


def _replace(text: str, begin: str, end: str, block: str) -> str:
    if begin not in text or end not in text:
        raise ValueError(f"markers {begin} / {end} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + block + tail


def refresh(text: str) -> str:
    """Return ``text`` with each generated block (between its markers) re-rendered."""
    text = _replace(text, BEGIN, END, render())
    return _replace(text, FISCAL_BEGIN, FISCAL_END, render_fiscal())


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    path = Path(args[0] if args else "docs/ODD.md")
    text = path.read_text(encoding="utf-8")
    new = refresh(text)
    if check:
        return 0 if new == text else 1
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
