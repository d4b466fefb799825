"""A calibrated posterior as an input: parameter uncertainty in every answer.

``load_posterior`` reads the output of ``innosim calibrate`` (the folder, or its
``posterior.parquet`` with ``manifest.json`` beside it): the last generation's particles,
their weights and the dotted scenario keys of the free parameters.

Which particle a run uses follows the seed scheme of :mod:`experiments.seeds`: the run of
stream ``s``, replication ``r`` draws particle ``index_for(master, s, r)`` by weight, from
``SeedSequence(master)``'s child ``(POSTERIOR_CHILD, s, r)``. It depends on nothing else, so
every run that shares a seed (the same replication of the same design point under another
scenario or lever setting) shares the parameter vector too, and pairing holds. ``run`` and
``compare`` are stream 0, replication i.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.errors import ExperimentError

from experiments.seeds import POSTERIOR_CHILD, child


@dataclass(frozen=True)
class Posterior:
    path: str
    digest: str
    keys: tuple[str, ...]          # dotted scenario keys (parameters.NAME / initial.NAME)
    particles: np.ndarray          # (N, k) last generation
    weights: np.ndarray            # (N,) normalised

    def indices_for(self, master_seed: int, streams, replications) -> np.ndarray:
        """Particle index of each (stream, replication) run, drawn by weight (inverse CDF of
        one uniform from the run's own SeedSequence child; weight-0 particles never drawn)."""
        streams = np.asarray(streams, dtype=np.int64)
        replications = np.asarray(replications, dtype=np.int64)
        cdf = np.cumsum(self.weights)
        cache: dict[tuple[int, int], int] = {}
        out = np.empty(streams.shape, dtype=np.int64)
        for i, key in enumerate(zip(streams.tolist(), replications.tolist())):
            j = cache.get(key)
            if j is None:
                a, b = child(master_seed, POSTERIOR_CHILD, *key).generate_state(2, np.uint32)
                u = ((int(a) >> 5) * 67108864 + (int(b) >> 6)) / 9007199254740992.0  # 53-bit [0, 1)
                j = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
                j = cache[key] = min(j, len(cdf) - 1)
            out[i] = j
        return out

    def draw_indices(self, n: int, master_seed: int) -> np.ndarray:
        """Replications 0..n-1 of stream 0 (``run`` and ``compare``)."""
        return self.indices_for(master_seed, np.zeros(n, dtype=np.int64), np.arange(n))

    def draws(self, n: int, master_seed: int) -> list[dict[str, float]]:
        """Parameter vector of each of ``n`` replications (shared across scenarios)."""
        return [{k: float(v) for k, v in zip(self.keys, self.particles[i])}
                for i in self.draw_indices(n, master_seed)]

    def describe(self) -> str:
        return f"{self.path} (sha256 {self.digest[:12]}, {len(self.weights)} particles, {len(self.keys)} parameters)"

    def spec(self) -> dict:
        """What identifies the posterior in a manifest (and a design's hash)."""
        return {"file": self.path, "digest": self.digest, "parameters": list(self.keys),
                "particles": int(len(self.weights)), "seed_child": POSTERIOR_CHILD}

    def provenance(self, n: int, master_seed: int) -> dict:
        return dict(self.spec(), draw_indices=self.draw_indices(n, master_seed).tolist())


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


def posterior_text(spec: dict | None) -> str:
    """The posterior line of a table, from a manifest's ``posterior`` record (or None)."""
    if not spec:
        return "posterior: none (parameters at their sim/data values; bands cover seed noise only)"
    return (f"posterior: {spec['file']} (sha256 {spec['digest'][:12]}, {spec['particles']} particles, "
            f"{len(spec['parameters'])} parameters)")


def posterior_note(posterior: Posterior | None) -> str:
    return f"posterior: {posterior.describe()}" if posterior is not None else \
        "posterior: none (parameters at their sim/data values; bands cover seed noise only)"


POSTERIOR_HELP = ("`innosim calibrate` output folder (or its posterior.parquet), or `default` for the posterior "
                  "shipped in sim/data/posterior (the 2008-2015 window calibration): each replication draws a "
                  "parameter vector by weight, shared across scenarios (default: none, parameters at their "
                  "sim/data values)")
