import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def file_digests(out: Path, patterns=("design.parquet", "indicators.parquet", "chunks/*.parquet")):
    """sha256 of every result table (not the manifest, which records timings)."""
    res = {}
    for pat in patterns:
        for p in sorted(Path(out).glob(pat)):
            res[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return res


def all_file_digests(out: Path):
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(out).rglob("*")) if p.is_file()}


def cli(*args, timeout=300, **kw):
    """Run ``python -m innosim`` in a fresh process (as a user would)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "innosim", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, **kw)


@pytest.fixture
def run_cli():
    return cli


@pytest.fixture
def digests():
    return file_digests


@pytest.fixture
def all_digests():
    return all_file_digests
