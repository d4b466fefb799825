"""Kill-and-resume with real processes, corrupt chunks, and resume against another design."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = "builtin:ishigami?noise_sd=0.5&n_years=3"
ARGS = ["--levels", "x1=-1,1", "--lhs", "100", "--replications", "2", "--chunk-size", "10",
        "--seed", "5", "--no-progress"]        # 400 runs in 40 chunks


def start(out, delay, workers=2, extra=()):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "innosim", "sweep",
                             f"{MODEL}&delay={delay}", *ARGS, "--workers", str(workers),
                             "--out", str(out), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def wait_chunks(out, k, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        assert proc.poll() is None, proc.communicate()
        try:
            m = json.loads((out / "manifest.json").read_text())
            if len(m["chunks"]) >= k:
                return len(m["chunks"])
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("experiment made no progress")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref"
    p = start(out, delay=0, workers=1)
    assert p.wait(120) == 0, p.communicate()
    return out


def test_kill_whole_process_then_resume_equals_uninterrupted(tmp_path, reference, digests):
    out = tmp_path / "killed"
    p = start(out, delay=0.02)
    n = wait_chunks(out, 5, p)
    os.killpg(p.pid, signal.SIGKILL)          # the driver and its workers, as a crash would
    p.wait(30)
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "running" and 5 <= len(m["chunks"]) < 40 and n <= len(m["chunks"])
    assert not (out / "indicators.parquet").exists()
    saved = {k: digests(out, (f"chunks/chunk-{int(k):05d}.parquet",)) for k in m["chunks"]}
    r = start(out, delay=0, extra=["--resume"])
    assert r.wait(120) == 0, r.communicate()
    assert digests(out) == digests(reference)
    # finished chunks were kept, not recomputed
    m2 = json.loads((out / "manifest.json").read_text())
    assert all(digests(out, (f"chunks/chunk-{int(k):05d}.parquet",)) == v for k, v in saved.items())
    assert len(m2["sessions"]) == 2 and m2["sessions"][1]["resumed"]


def test_killed_worker_loses_nothing_and_resume_completes(tmp_path, reference, digests):
    out = tmp_path / "worker"
    p = start(out, delay=0.04)
    wait_chunks(out, 3, p)
    workers = [c for c in psutil.Process(p.pid).children(recursive=True)
               if "resource_tracker" not in " ".join(c.cmdline())]
    assert workers
    workers[0].kill()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert err.strip().startswith("innosim: a worker process died") and "--resume" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    r = start(out, delay=0, extra=["--resume"])
    assert r.wait(120) == 0, r.communicate()
    assert digests(out) == digests(reference)


def test_corrupt_and_missing_chunks_are_rerun(tmp_path, reference, digests):
    import shutil

    out = tmp_path / "corrupt"
    shutil.copytree(reference, out)
    c3, c5, c7 = (out / "chunks" / f"chunk-{k:05d}.parquet" for k in (3, 5, 7))
    c3.write_bytes(c3.read_bytes()[:100])                     # truncated
    data = bytearray(c5.read_bytes()); data[len(data) // 2] ^= 0xFF; c5.write_bytes(bytes(data))
    c7.unlink()                                               # lost
    r = start(out, delay=0, extra=["--resume"])
    assert r.wait(120) == 0, r.communicate()
    assert digests(out) == digests(reference)
    m = json.loads((out / "manifest.json").read_text())
    assert sorted(m["repaired_chunks"]) == [3, 5, 7]


@pytest.mark.parametrize("change", [["--seed", "6"], ["--lhs", "99"], ["--replications", "3"]])
def test_resume_with_another_design_is_refused_untouched(tmp_path, reference, all_digests, change):
    import shutil

    out = tmp_path / "other"
    shutil.copytree(reference, out)
    before = all_digests(out)
    args = list(ARGS)
    i = args.index(change[0])
    args[i + 1] = change[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "innosim", "sweep", MODEL, *args,
                        "--out", str(out), "--resume"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith("innosim: ") and "different experiment" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert all_digests(out) == before
