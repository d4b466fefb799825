"""Issue 8, failure classes "lost results", "writes outside the chosen folder" and
"leftovers": output folders are owned (manifest kind + design hash), locked (pid + host,
stale locks detected), transactional (staging inside the folder, cleaned after a kill),
and default folder names are safe slugs."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from experiments.errors import ExperimentError
from experiments.outdir import LOCK_NAME, OutputFolder, default_out, slug
from innosim.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
RUN = ["--replications", "1", "--scale", "0.001", "--seed", "3"]
MODEL = "builtin:ishigami?noise_sd=0.5&n_years=3"


def run(out, *extra):
    return main(["run", BASELINE, *RUN, "--out", str(out), *extra])


def sweep(out, *extra, delay=0.0, workers=1):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "innosim", "sweep", f"{MODEL}&delay={delay}",
                             "--lhs", "60", "--replications", "2", "--chunk-size", "4", "--seed", "1",
                             "--no-progress", "--workers", str(workers), "--out", str(out), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def one_line_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("innosim: "), err
    return err[0]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- lost results

def test_lost_results_run_refuses_a_folder_holding_something_else(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run(out) == 2
    assert "not empty" in one_line_error(capsys) and "--overwrite" in capsys.readouterr().err + "--overwrite"
    assert snapshot(out) == {"notes.txt": b"mine"}


def test_lost_results_run_refuses_a_finished_sweep_and_overwrite_replaces_it_whole(tmp_path, capsys):
    out = tmp_path / "exp"
    p = sweep(out)
    assert p.wait(120) == 0, p.communicate()
    before = snapshot(out)
    assert run(out) == 2
    msg = one_line_error(capsys)
    assert "sweep experiment" in msg and "nothing was changed" in msg
    assert snapshot(out) == before
    assert run(out, "--resume") == 2           # --resume is for the same experiment only
    assert "different experiment" in one_line_error(capsys)
    assert snapshot(out) == before
    assert run(out, "--overwrite") == 0
    capsys.readouterr()
    names = {p.name for p in out.iterdir()}
    assert "chunks" not in names and "design.parquet" not in names      # replaced whole
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "run" and len(m["design_hash"]) == 64


def test_lost_results_run_twice_needs_resume_and_resume_accepts_only_the_same(tmp_path, capsys):
    out = tmp_path / "r"
    assert run(out) == 0
    first = (out / "indicators.parquet").read_bytes()
    assert run(out) == 2
    assert "holds a run experiment" in one_line_error(capsys)
    assert run(out, "--resume") == 0                     # same experiment: redone, same bytes
    assert (out / "indicators.parquet").read_bytes() == first
    capsys.readouterr()
    assert main(["run", BASELINE, "--replications", "1", "--scale", "0.001", "--seed", "4",
                 "--out", str(out), "--resume"]) == 2   # another seed is another experiment
    assert "different experiment" in one_line_error(capsys)
    assert (out / "indicators.parquet").read_bytes() == first
    assert run(out, "--resume", "--overwrite") == 2
    one_line_error(capsys)


def test_lost_results_sweep_refuses_a_run_folder(tmp_path, capsys):
    out = tmp_path / "r"
    assert run(out) == 0
    before = snapshot(out)
    p = sweep(out)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and err.startswith("innosim: ") and "run experiment" in err
    assert snapshot(out) == before


def test_lost_results_second_writer_fails_at_once_naming_the_owner(tmp_path):
    out = tmp_path / "busy"
    first = sweep(out, delay=0.05)
    t0 = time.time()
    while not (out / "manifest.json").exists():
        assert first.poll() is None and time.time() - t0 < 60, first.communicate()
        time.sleep(0.05)
    second = sweep(out, "--resume")
    t1 = time.time()
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2 and time.time() - t1 < 30
    assert err.startswith("innosim: ") and f"in use by pid {first.pid} on {socket.gethostname()}" in err
    first.kill()
    first.wait()


def test_lost_results_stale_lock_of_a_dead_process_is_reported_and_taken_over(tmp_path, capsys):
    out = tmp_path / "stale"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(),
                                             "started": "1", "since": "2016-01-01T00:00:00"}))
    assert run(out) == 0
    err = capsys.readouterr().err
    assert f"stale lock of pid {dead.pid}" in err and "is gone" in err
    assert not (out / LOCK_NAME).exists()


def test_lock_is_exclusive_in_process(tmp_path):
    with OutputFolder(tmp_path / "x", "run", "h" * 64):
        with pytest.raises(ExperimentError, match="in use by pid"):
            with OutputFolder(tmp_path / "x", "run", "h" * 64):
                pass
    with OutputFolder(tmp_path / "x", "run", "h" * 64):   # released on exit
        pass


# ----------------------------------------------------------------------------- outside the folder

@pytest.mark.parametrize("name", ["../../x", "/tmp/abs/x", "..", "a/../../b", "x\u0000y", "é" * 300])
def test_writes_outside_folder_scenario_names_become_safe_slugs(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(f'[scenario]\nname = {json.dumps(name)}\nextends = "{BASELINE}"\n')
    rc = main(["run", "s.toml", *RUN])
    capsys.readouterr()
    assert rc == 0
    made = [p for p in (tmp_path / "results").iterdir()]
    assert len(made) == 1 and (made[0] / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "s.toml"]
    assert slug(name) == made[0].name and len(made[0].name) <= 64


def test_slug_and_default_out():
    assert slug("../../x") == "x" and slug("/etc/passwd") == "etc_passwd" and slug("..") == "scenario"
    assert default_out("sweep", "../a", "5") == Path("results") / "sweep-a-5"


def test_impossible_out_is_a_one_line_error(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    for bad in (f, f / "sub", tmp_path / ("n" * 300)):
        assert run(bad) == 2
        assert "--out" in one_line_error(capsys)
    assert f.read_text() == "x"


# ----------------------------------------------------------------------------- leftovers

def test_leftovers_staging_of_a_killed_run_is_cleaned_and_reported(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / ".staging-99999").mkdir()
    (out / ".staging-99999" / "indicators.parquet").write_bytes(b"half")
    assert run(out) == 0
    assert "removed .staging-99999 left by a killed run" in capsys.readouterr().err
    assert not any(p.name.startswith(".staging") for p in out.iterdir())


def test_leftovers_killed_run_process_leaves_only_what_the_next_run_cleans(tmp_path):
    out = tmp_path / "k"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "innosim", "run", BASELINE, "--replications", "200",
                          "--scale", "0.001", "--out", str(out)], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not (out / LOCK_NAME).exists():
        assert time.time() - t0 < 60 and p.poll() is None
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (out / "manifest.json").exists()          # no half-written result
    r = subprocess.run([sys.executable, "-m", "innosim", "run", BASELINE, *RUN, "--out", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "stale lock" in r.stderr
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_leftovers_pool_workers_die_with_a_killed_parent(tmp_path):
    out = tmp_path / "w"
    p = sweep(out, delay=0.2, workers=2)
    parent = psutil.Process(p.pid)
    t0 = time.time()
    while len(parent.children()) < 2:
        assert time.time() - t0 < 60 and p.poll() is None
        time.sleep(0.05)
    kids = parent.children(recursive=True)
    p.send_signal(signal.SIGKILL)
    p.wait()
    gone, alive = psutil.wait_procs(kids, timeout=10)
    assert not alive, [k.pid for k in alive]
