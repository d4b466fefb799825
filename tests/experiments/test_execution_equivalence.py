"""Serial, local process pool and a real Dask LocalCluster give byte-identical tables."""
import pytest

from experiments import Ishigami, parse_levels, run_experiment, sweep_design


def _design():
    model = Ishigami(noise_sd=0.5, n_years=4)
    design = sweep_design(model, [parse_levels("x1=-1,1"), parse_levels("x3=0,2")], n_lhs=10,
                          replications=3, seed=99, chunk_size=7)
    return model, design


def test_serial_pool_and_dask_are_byte_identical(tmp_path, digests):
    file_digests = digests
    from distributed import LocalCluster

    model, design = _design()
    assert design.n_chunks > 10
    run_experiment(design, model, tmp_path / "serial", workers=1, progress=False)
    run_experiment(design, model, tmp_path / "pool", workers=2, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        run_experiment(design, model, tmp_path / "dask", scheduler=cluster.scheduler_address,
                       progress=False)
    ref = file_digests(tmp_path / "serial")
    assert len(ref) == 2 + design.n_chunks
    assert file_digests(tmp_path / "pool") == ref
    assert file_digests(tmp_path / "dask") == ref
    for name in ("reach.json", "discovery.json"):
        assert ((tmp_path / "serial" / "analysis" / name).read_bytes()
                == (tmp_path / "dask" / "analysis" / name).read_bytes())


def test_tables_hold_inputs_seeds_and_tidy_indicators(tmp_path):
    import pandas as pd

    model, design = _design()
    run_experiment(design, model, tmp_path / "o", workers=1, progress=False)
    runs = pd.read_parquet(tmp_path / "o" / "design.parquet")
    ind = pd.read_parquet(tmp_path / "o" / "indicators.parquet")
    assert list(runs.columns[:6]) == ["run_id", "point_id", "stream", "replication", "seed", "scenario"]
    assert len(ind) == design.n_runs * 4
    # every stored value is what the model gives for that row's inputs and seed
    for _, row in runs.sample(10, random_state=0).iterrows():
        expect = model({k: row[k] for k in model.factor_names}, int(row["seed"]))["y"]
        got = ind[ind.run_id == row.run_id].sort_values("year")
        assert (got["seed"] == row["seed"]).all()
        assert got["value"].tolist() == expect.tolist()
        assert got["year"].tolist() == [2017, 2018, 2019, 2020]


def test_unreachable_scheduler_is_one_line(tmp_path):
    from experiments import ExperimentError

    model, design = _design()
    with pytest.raises(ExperimentError, match="cannot connect to Dask scheduler"):
        run_experiment(design, model, tmp_path / "x", scheduler="tcp://127.0.0.1:1", progress=False,
                       connect_timeout=2)


def test_run_and_compare_are_byte_identical_serial_pool_and_dask(tmp_path):
    """`run` and `compare` go through the same backend as the designs: serial, a process pool
    and a Dask cluster give the same bytes, on the seeds of the one seed scheme."""
    import json
    from pathlib import Path

    from distributed import LocalCluster

    from experiments.seeds import replication_seeds
    from innosim.cli import main

    root = Path(__file__).resolve().parents[2]
    base, pol = str(root / "scenarios" / "baseline.toml"), str(root / "scenarios" / "policy_2016_2020.toml")
    common = ["--replications", "3", "--scale", "0.002", "--seed", "21"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        for name, how in (("serial", ["--workers", "1"]), ("pool", ["--workers", "2"]),
                          ("dask", ["--scheduler", cluster.scheduler_address])):
            assert main(["run", base, *common, *how, "--out", str(tmp_path / f"run-{name}")]) == 0
            assert main(["compare", base, pol, *common, *how, "--out", str(tmp_path / f"cmp-{name}")]) == 0
    for name in ("pool", "dask"):
        for f in ("run-{}/indicators.parquet", "run-{}/summary.csv", "cmp-{}/compare_targets.csv",
                  "cmp-{}/compare_fiscal.csv"):
            assert (tmp_path / f.format(name)).read_bytes() == (tmp_path / f.format("serial")).read_bytes(), f
    man = json.loads((tmp_path / "run-serial" / "manifest.json").read_text())
    assert man["seeds"] == replication_seeds(21, 3)
    assert json.loads((tmp_path / "cmp-dask" / "manifest.json").read_text())["seeds"] == man["seeds"]
