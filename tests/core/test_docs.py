"""docs/ODD.md stays true to the code: its tables equal what sim.doc_tables renders from
sim/data and the lever classes, and its process overview names every phase of step()."""
import inspect
import re
from pathlib import Path

from sim import doc_tables
from sim.model import InnovationModel
from sim.phases import PHASES

ODD = Path(__file__).resolve().parents[2] / "docs" / "ODD.md"


def test_odd_tables_are_current():
    text = ODD.read_text(encoding="utf-8")
    assert doc_tables.refresh(text) == text, "run: python -m sim.doc_tables docs/ODD.md"


def test_step_calls_every_phase_in_order():
    """step() is the flat schedule: each phase of sim.phases.PHASES once, in that order."""
    called = re.findall(r"^\s+(\w+)\(self, q\)", inspect.getsource(InnovationModel.step), re.M)
    assert tuple(called) == PHASES


def test_odd_names_every_phase_in_order():
    """The ODD's process overview lists the phases of step() as numbered items, in order."""
    text = ODD.read_text(encoding="utf-8")
    text = text[text.index("## 3. Process overview"):text.index("## 4. Design concepts")]
    listed = [p for p in re.findall(r"^\d+\. `(\w+)`", text, re.M) if p in PHASES]
    assert tuple(listed) == PHASES
