"""docs/ODD.md stays true to the code: its tables equal what sim.doc_tables renders from
sim/data and the lever classes, and its process overview names every phase of step()."""
import inspect
import re
from pathlib import Path

from sim import doc_tables
from sim.model import InnovationModel

ODD = Path(__file__).resolve().parents[2] / "docs" / "ODD.md"


def test_odd_tables_are_current():
    text = ODD.read_text(encoding="utf-8")
    assert doc_tables.refresh(text) == text, "run: python -m sim.doc_tables docs/ODD.md"


def test_odd_names_every_phase_in_order():
    phases = re.findall(r"self\.(\w+)\(\)", inspect.getsource(InnovationModel.step))
    phases = [p for p in phases if not p.startswith("_") and p not in ("accumulate_quarter",)]
    text = ODD.read_text(encoding="utf-8")
    positions = [text.find(f"`{p}`") for p in phases]
    assert all(pos >= 0 for pos in positions), [p for p, pos in zip(phases, positions) if pos < 0]
