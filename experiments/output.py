"""What every command shares for its output: the matplotlib handle, the staged (all or
nothing) output folder and the notes an output folder left on the way.

The number formatter of the tables is ``sim.formatting.fmt_number`` (the simulator's page
uses it too, and ``sim`` never imports ``experiments``)."""
from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

from sim.formatting import fmt_number  # noqa: F401  (re-exported: the one number formatter)


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (the one plotting helper)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def print_notes(folder) -> None:
    """What an output folder cleaned on the way (stale lock, leftovers), on stderr."""
    for note in folder.notes:
        print(f"innosim: note: {note}", file=sys.stderr)


@contextlib.contextmanager
def staged_output(folder):
    """Yield a staging folder inside the (locked) output folder; on success replace the
    folder's contents with it (manifest last). If the body raises nothing in the folder
    changes; a staging folder left by a killed process is removed by the next command."""
    if isinstance(folder, (str, Path)):  # a plain path: lock it and replace its contents
        from .outdir import OutputFolder
        with OutputFolder(folder, "output", "", check_contents=False) as owned, staged_output(owned) as tmp:
            yield tmp
        return
    tmp = folder.staging()
    try:
        yield tmp
        folder.commit(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
