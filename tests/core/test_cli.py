"""The innosim command line end to end (in process, through innosim.cli.main)."""
from pathlib import Path

import pandas as pd
import pytest

from innosim.cli import main
from sim.indicators import INDICATORS, TARGETS
from sim.policies import LEVER_CLASSES

ROOT = Path(__file__).resolve().parents[2]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")


def test_run_baseline_two_replications(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["run", BASELINE, "--replications", "2", "--scale", "0.01", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    df = pd.read_parquet(out / "indicators.parquet")
    assert list(df.columns) == ["replication", "seed", "year", "indicator", "value"]
    assert len(df) == 2 * 6 * len(INDICATORS)
    assert sorted(df.replication.unique()) == [0, 1]
    assert df.seed.nunique() == 2
    assert sorted(df.year.unique()) == list(range(2015, 2021))
    assert set(df.indicator) == set(INDICATORS)
    summary = pd.read_csv(out / "summary.csv")
    assert [t for t in summary.target if t != "T5real"] == list(TARGETS) and len(summary) == 11  # real T5 beside T5
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 10
    assert {p.name.split("_")[0] for p in pngs} == set(TARGETS)
    assert (out / "manifest.json").is_file()
    for tid in ("T1", "T2", "T3", "T4", "T5", "T6a", "T6b", "T7", "T8", "T9"):
        assert any(line.startswith(tid + " ") for line in cap.out.splitlines()), tid
    # no leftover temporary folders next to the output
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_run_is_reproducible(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert main(["run", BASELINE, "--replications", "1", "--seed", "7", "--out", str(out)]) == 0
    capsys.readouterr()
    pd.testing.assert_frame_equal(pd.read_parquet(a / "indicators.parquet"), pd.read_parquet(b / "indicators.parquet"))


def _bad(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("case", ["missing", "scale", "reps", "seed", "seed_text", "toml", "lever"])
def test_bad_inputs_exit_2_one_line(tmp_path, capsys, case):
    out = tmp_path / "out"
    args = {
        "missing": ["run", str(tmp_path / "nope.toml")],
        "scale": ["run", BASELINE, "--scale", "7"],
        "reps": ["run", BASELINE, "--replications", "0"],
        "seed": ["run", BASELINE, "--seed", "-1"],
        "seed_text": ["run", BASELINE, "--seed", "abc"],
        "toml": ["run", _bad(tmp_path, "bad.toml", "[scenario\nname = ")],
        "lever": ["run", _bad(tmp_path, "lev.toml", '[scenario]\nname = "x"\n[levers.warp]\nspeed = 1.0\n')],
    }[case]
    args += ["--out", str(out)]
    rc = main(args)
    cap = capsys.readouterr()
    assert rc == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("innosim:"), cap.err
    assert not out.exists()


def test_bad_input_leaves_existing_out_unchanged(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["run", BASELINE, "--scale", "7", "--out", str(out)]) == 2
    capsys.readouterr()
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "x"


def test_levers_lists_every_lever(capsys):
    assert main(["levers"]) == 0
    text = capsys.readouterr().out
    for name, cls in LEVER_CLASSES.items():
        assert f"[levers.{name}]" in text
        for f in cls.field_specs():
            assert f.name in text


def test_run_with_two_workers_equals_serial(tmp_path):
    """`innosim run --workers 2` gives byte-identical tidy results to the serial run."""
    outs = []
    for w in ("1", "2"):
        out = tmp_path / f"w{w}"
        assert main(["run", str(ROOT / "scenarios" / "baseline.toml"), "--replications", "4", "--scale", "0.005",
                     "--workers", w, "--out", str(out)]) == 0
        outs.append((out / "indicators.parquet").read_bytes())
    assert outs[0] == outs[1]
