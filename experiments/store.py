"""Results on disk: manifest, runs table, chunked indicator tables; atomic writes.

Layout of a results directory::

    manifest.json            provenance, design spec and hash, chunk registry (sha256 per chunk)
    design.parquet           the runs: run_id, point_id, stream, replication, seed, scenario, factors
    chunks/chunk-00000.parquet  tidy indicators of runs [k*chunk_size, (k+1)*chunk_size):
                             run_id, seed, year, indicator, value
    indicators.parquet       all chunks consolidated (written when every chunk is done)
    analysis/*.json, *.png   analyses and plots;  report.html

Every file is written to a temporary name in the same directory, flushed and fsynced,
then moved into place with ``os.replace``, so a killed process leaves either the old file
or the new one.  A chunk counts as finished only once it is in the manifest's registry
with its checksum; anything else is re-run on ``--resume``.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ExperimentError

SCHEMA_VERSION = 1
CHUNK_SCHEMA = pa.schema([("run_id", pa.int64()), ("seed", pa.int64()), ("year", pa.int32()),
                          ("indicator", pa.string()), ("value", pa.float64())])
PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "SALib", "mesa", "dask", "distributed",
            "prim", "matplotlib")


# ----------------------------------------------------------------------------- atomic I/O

def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:  # make the rename durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, default=_json_default)
                              + "\n").encode())


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def table_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- provenance

def code_provenance() -> dict:
    """Commit of the code (read from .git, no git process for the commit) and dirty flag."""
    root = Path(__file__).resolve().parents[1]
    git = root / ".git"
    commit = None
    try:
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref:"):
            ref = head.split(None, 1)[1]
            ref_file = git / ref
            if ref_file.is_file():
                commit = ref_file.read_text().strip()
            elif (git / "packed-refs").is_file():
                for line in (git / "packed-refs").read_text().splitlines():
                    if line.endswith(" " + ref):
                        commit = line.split()[0]
        else:
            commit = head
    except OSError:
        pass
    dirty = None
    try:  # read-only status: --no-optional-locks keeps git from touching the index
        out = subprocess.run(["git", "--no-optional-locks", "-C", str(root), "status",
                              "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True, timeout=20)
        if out.returncode == 0:
            dirty = bool(out.stdout.strip()) or commit is None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"commit": commit, "dirty": dirty, "root": str(root)}


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- the store

class ResultStore:
    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.chunks_dir = self.out / "chunks"
        self.manifest_path = self.out / "manifest.json"
        self.manifest: dict | None = None

    # -- paths
    def chunk_path(self, k: int) -> Path:
        return self.chunks_dir / f"chunk-{k:05d}.parquet"

    @property
    def analysis_dir(self) -> Path:
        return self.out / "analysis"

    # -- lifecycle
    def read_manifest(self) -> dict:
        try:
            return json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise ExperimentError(f"{self.out} holds no experiment (no manifest.json)") from None
        except (OSError, ValueError) as exc:
            raise ExperimentError(f"{self.manifest_path} is unreadable: {exc}") from None

    def create(self, manifest: dict, runs: pd.DataFrame) -> None:
        from .outdir import _HOUSEKEEPING

        if self.out.exists() and any(not _HOUSEKEEPING.match(p.name) for p in self.out.iterdir()):
            if self.manifest_path.exists():
                raise ExperimentError(f"{self.out} already holds results; use --resume to continue "
                                      "them or choose another --out")
            raise ExperimentError(f"{self.out} exists and is not empty; choose another --out")
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        data = table_bytes(pa.Table.from_pandas(runs, preserve_index=False))
        atomic_write_bytes(self.out / "design.parquet", data)
        manifest = dict(manifest, design_table_sha256=sha256(data), chunks={}, status="running")
        self.manifest = manifest
        atomic_write_json(self.manifest_path, manifest)

    def open_resume(self, design_hash: str) -> set[int]:
        """Check the stored experiment is this design; return the verified finished chunks."""
        m = self.read_manifest()
        if m.get("design_hash") != design_hash:
            raise ExperimentError(f"{self.out} holds a different experiment (design hash "
                                  f"{str(m.get('design_hash'))[:12]}, this one {design_hash[:12]}); "
                                  "nothing was changed")
        try:
            data = (self.out / "design.parquet").read_bytes()
        except OSError:
            data = b""
        if sha256(data) != m.get("design_table_sha256"):
            raise ExperimentError(f"{self.out}/design.parquet is missing or corrupt; "
                                  "start a new experiment")
        self.manifest = m
        self.chunks_dir.mkdir(exist_ok=True)
        for tmp in list(self.chunks_dir.glob(".*.tmp-*")) + list(self.out.glob(".*.tmp-*")):
            tmp.unlink(missing_ok=True)
        return self.verified_chunks()

    def verified_chunks(self) -> set[int]:
        """Registered chunks whose file exists and matches its checksum; others dropped."""
        good, bad = set(), []
        for key, entry in self.manifest["chunks"].items():
            try:
                ok = sha256(self.chunk_path(int(key)).read_bytes()) == entry["sha256"]
            except OSError:
                ok = False
            (good.add(int(key)) if ok else bad.append(key))
        if bad:
            for key in bad:
                del self.manifest["chunks"][key]
            self.manifest["status"] = "running"
            self.manifest.setdefault("repaired_chunks", []).extend(int(k) for k in bad)
            atomic_write_json(self.manifest_path, self.manifest)
        return good

    def write_chunk(self, k: int, table: pa.Table) -> None:
        data = table_bytes(table)
        atomic_write_bytes(self.chunk_path(k), data)
        self.manifest["chunks"][str(k)] = {"sha256": sha256(data), "rows": table.num_rows}
        atomic_write_json(self.manifest_path, self.manifest)

    def update_manifest(self, **fields) -> None:
        self.manifest.update(fields)
        atomic_write_json(self.manifest_path, self.manifest)

    def consolidate(self) -> None:
        """Stream every verified chunk, in order, into indicators.parquet (atomic)."""
        n = self.manifest["design"]["n_chunks"]
        target = self.out / "indicators.parquet"
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        with pq.ParquetWriter(tmp, CHUNK_SCHEMA, compression="zstd") as writer:
            for k in range(n):
                entry = self.manifest["chunks"].get(str(k))
                data = self.chunk_path(k).read_bytes()
                if entry is None or sha256(data) != entry["sha256"]:
                    raise ExperimentError(f"chunk {k} is missing or corrupt; run again with --resume")
                writer.write_table(pq.read_table(pa.BufferReader(data)))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)


# ----------------------------------------------------------------------------- reading

def load_results(out) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(manifest, runs table, tidy indicators) of a finished experiment."""
    store = ResultStore(out)
    m = store.read_manifest()
    if m.get("status") != "complete":
        raise ExperimentError(f"{out}: experiment is not complete (status {m.get('status')}); "
                              "run it again with --resume")
    try:
        runs = pd.read_parquet(store.out / "design.parquet")
        ind = pd.read_parquet(store.out / "indicators.parquet")
    except (OSError, pa.ArrowException) as exc:
        raise ExperimentError(f"{out}: cannot read results: {exc}") from None
    return m, runs, ind


def wide_at_year(ind: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """run_id x indicator values at ``year`` (default: the last year)."""
    year = int(ind["year"].max()) if year is None else year
    sub = ind[ind["year"] == year]
    return sub.pivot(index="run_id", columns="indicator", values="value").sort_index()
