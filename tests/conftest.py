"""Fixtures shared across the test folders: a calibration output folder written from given
particles, and the one-line-error check for a bad input file."""
import json
from pathlib import Path

import pandas as pd
import pytest

POSTERIOR_KEYS = ("parameters.nominal_growth", "parameters.innovation_zeta")


def _write_posterior(folder: Path, rows, weights, keys=POSTERIOR_KEYS) -> Path:
    """A calibration output folder (posterior.parquet + manifest.json) whose last generation
    holds these particles and weights (an earlier generation 0, the same rows, is written
    too: a reader must take the last generation)."""
    folder.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows, columns=[k.split(".", 1)[1] for k in keys])
    df.insert(0, "generation", 1)
    df["weight"] = weights
    pd.concat([df.assign(generation=0), df]).to_parquet(folder / "posterior.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps({"priors": [{"key": k} for k in keys]}))
    return folder


@pytest.fixture
def write_posterior():
    """``write_posterior(folder, rows, weights, keys=POSTERIOR_KEYS) -> folder``."""
    return _write_posterior


def _one_line_error(path: Path, body: str, load, error, fragment: str) -> str:
    """Write ``body`` to ``path``; ``load(path)`` must raise ``error`` with a one-line message
    holding ``fragment``; returns the message."""
    path.write_text(body)
    with pytest.raises(error) as exc:
        load(path)
    msg = str(exc.value)
    assert fragment in msg and "\n" not in msg, msg
    return msg


@pytest.fixture
def one_line_error():
    """``one_line_error(path, body, load, error, fragment) -> message`` (bad input files)."""
    return _one_line_error
