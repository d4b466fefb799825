"""A calibrated posterior as an input: parameter uncertainty in every answer.

``load_posterior`` reads the output of ``innosim calibrate`` (the folder, or its
``posterior.parquet`` with ``manifest.json`` beside it): the last generation's particles,
their weights and the dotted scenario keys of the free parameters. ``draws`` gives
replication ``i`` the particle ``idx[i]`` drawn by weight from a generator seeded with
``SeedSequence([master_seed, POSTERIOR_STREAM])``: the draws depend only on the master
seed and the number of replications, so every scenario compared on the same seeds gets
the same parameter vector in replication ``i`` and pairing holds.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.errors import ExperimentError

POSTERIOR_STREAM = 0x905E  # spawn key of the posterior draws (apart from the run seeds)


@dataclass(frozen=True)
class Posterior:
    path: str
    digest: str
    keys: tuple[str, ...]          # dotted scenario keys (parameters.NAME / initial.NAME)
    particles: np.ndarray          # (N, k) last generation
    weights: np.ndarray            # (N,) normalised

    def draw_indices(self, n: int, master_seed: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([int(master_seed), POSTERIOR_STREAM]))
        return rng.choice(len(self.weights), size=n, replace=True, p=self.weights)

    def draws(self, n: int, master_seed: int) -> list[dict[str, float]]:
        """Parameter vector of each of ``n`` replications (shared across scenarios)."""
        return [{k: float(v) for k, v in zip(self.keys, self.particles[i])}
                for i in self.draw_indices(n, master_seed)]

    def describe(self) -> str:
        return f"{self.path} (sha256 {self.digest[:12]}, {len(self.weights)} particles, {len(self.keys)} parameters)"

    def provenance(self, n: int, master_seed: int) -> dict:
        return {"file": self.path, "digest": self.digest, "parameters": list(self.keys),
                "particles": int(len(self.weights)), "stream": POSTERIOR_STREAM,
                "draw_indices": self.draw_indices(n, master_seed).tolist()}


DEFAULT = "default"
"""``--posterior default``: the posterior shipped in ``sim/data/posterior/`` (the calibration
of the full training window, 2008-2015, on the frozen model; its manifest says how)."""


def shipped_posterior_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("sim.data").joinpath("posterior")))


def load_posterior(path: str | Path) -> Posterior:
    """Read a calibration's posterior (``"default"``: the shipped one); one-line errors for
    anything unusable."""
    import pandas as pd

    path = shipped_posterior_path() if str(path) == DEFAULT else Path(path)
    folder, file = (path, path / "posterior.parquet") if path.is_dir() else (path.parent, path)
    if not file.is_file():
        raise ExperimentError(f"--posterior {path}: no posterior.parquet (an `innosim calibrate` output folder)")
    man = folder / "manifest.json"
    try:
        manifest = json.loads(man.read_text())
        keys = tuple(p["key"] for p in manifest["priors"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ExperimentError(f"--posterior {path}: needs the calibration's manifest.json with its priors beside it") from None
    try:
        df = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise ExperimentError(f"--posterior {file}: cannot read: {' '.join(str(exc).split())}") from None
    names = [k.split(".", 1)[1] for k in keys]
    missing = [c for c in ["generation", "weight", *names] if c not in df.columns]
    if missing:
        raise ExperimentError(f"--posterior {file}: column {missing[0]!r} missing")
    last = df[df.generation == df.generation.max()]
    x = last[names].to_numpy(float)
    w = last["weight"].to_numpy(float)
    if len(w) == 0 or not np.isfinite(x).all() or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ExperimentError(f"--posterior {file}: particles or weights are empty, negative or not finite")
    return Posterior(str(file), hashlib.sha256(file.read_bytes()).hexdigest(), keys, x, w / w.sum())


def posterior_scenarios(scenarios, posterior: Posterior | None, n: int, master_seed: int):
    """Per scenario, per replication: the scenario with that replication's parameter draw
    (the same draw for every scenario). Without a posterior, the scenarios themselves."""
    if posterior is None:
        return [[sc] * n for sc in scenarios]
    draws = posterior.draws(n, master_seed)
    return [[sc.with_values(d) for d in draws] for sc in scenarios]


def posterior_note(posterior: Posterior | None) -> str:
    return f"posterior: {posterior.describe()}" if posterior is not None else \
        "posterior: none (parameters at their sim/data values; bands cover seed noise only)"


POSTERIOR_HELP = ("`innosim calibrate` output folder (or its posterior.parquet), or `default` for the posterior "
                  "shipped in sim/data/posterior (the 2008-2015 window calibration): each replication draws a "
                  "parameter vector by weight, shared across scenarios (default: none, parameters at their "
                  "sim/data values)")
