"""Running a design: serial, a local process pool, or a Dask cluster - one code path.

All three back-ends are driven through the ``concurrent.futures`` interface (Dask via
``Client.get_executor()``), so the only difference between them is where
:func:`evaluate_chunk` runs.  A task is one chunk of consecutive runs; its result comes
back to this process, which writes it atomically and records its checksum before the next
one is accepted, with a bounded number of chunks in flight so memory stays bounded.
Results depend only on (design, model), never on the back-end or the order of completion.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pyarrow as pa

from .design import Design
from .errors import ExperimentError
from .model import model_indicator_meta, model_targets
from .outdir import OutputFolder
from .store import CHUNK_SCHEMA, ResultStore, code_provenance, now, package_versions


class ExperimentInterrupted(ExperimentError):
    """The experiment stopped before the end; finished chunks are saved (exit status 1)."""

    exit_code = 1


# ----------------------------------------------------------------------------- the task

def evaluate_chunk(models: dict, factor_names: tuple, run_ids: np.ndarray, seeds: np.ndarray,
                   scenarios: list, values: np.ndarray) -> dict:
    """Run the model for each run of a chunk; return tidy columns (numpy arrays)."""
    cols = {"run_id": [], "seed": [], "year": [], "indicator": [], "value": []}
    for i, run_id in enumerate(run_ids.tolist()):
        model = models[scenarios[i]]
        vals = {k: float(v) for k, v in zip(factor_names, values[i])}
        try:
            out = model(vals, int(seeds[i]))
        except Exception as exc:
            raise RuntimeError(f"run {run_id} (scenario {scenarios[i]}, seed {int(seeds[i])}) "
                               f"failed: {type(exc).__name__}: {exc}") from exc
        years = np.asarray(model.years, dtype=np.int32)
        for name in sorted(out):
            arr = np.asarray(out[name], dtype=np.float64)
            if arr.shape != years.shape:
                raise RuntimeError(f"run {run_id}: indicator {name} has shape {arr.shape}, "
                                   f"expected {years.shape} (one value per year)")
            n = len(years)
            cols["run_id"].append(np.full(n, run_id, dtype=np.int64))
            cols["seed"].append(np.full(n, seeds[i], dtype=np.int64))
            cols["year"].append(years)
            cols["indicator"].append(np.full(n, name, dtype=object))
            cols["value"].append(arr)
    return {k: np.concatenate(v) for k, v in cols.items()}


def _to_table(cols: dict) -> pa.Table:
    return pa.table({k: pa.array(cols[k], type=CHUNK_SCHEMA.field(k).type)
                     for k in CHUNK_SCHEMA.names}, schema=CHUNK_SCHEMA)


# ----------------------------------------------------------------------------- back-ends

class SerialExecutor(cf.Executor):
    """Runs each task at submission, in this process (for debugging and reference)."""

    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


AUTO_POOL_MIN_RUNS = 64
"""Below this many runs the default is serial: starting a process pool costs more than it saves."""

WORKERS_HELP = (f"worker processes; default auto: 1 (serial) below {AUTO_POOL_MIN_RUNS} runs, "
                "else every core; results do not depend on it")


def auto_workers(requested: int | None, n_runs: int) -> int:
    """The one ``--workers`` default of every command (:data:`WORKERS_HELP`)."""
    if requested is not None:
        if requested < 1:
            raise ExperimentError(f"--workers must be at least 1, got {requested}")
        return int(requested)
    return 1 if n_runs < AUTO_POOL_MIN_RUNS else default_workers()


class Backend:
    """Context manager yielding a concurrent.futures executor and its worker count."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 connect_timeout: float = 15.0):
        if workers is not None and workers < 1:
            raise ExperimentError(f"--workers must be >= 1, got {workers}")
        self.workers, self.scheduler, self.connect_timeout = workers, scheduler, connect_timeout
        self._client = None
        self._pool = None

    def __enter__(self):
        if self.scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise ExperimentError("--scheduler needs dask.distributed installed") from None
            try:
                self._client = Client(self.scheduler, timeout=f"{self.connect_timeout}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ExperimentError(f"cannot connect to Dask scheduler {self.scheduler}: "
                                      f"{exc}") from None
            n = sum(w.get("nthreads", 1) for w in
                    self._client.scheduler_info().get("workers", {}).values())
            self.name, self.n_workers = f"dask {self.scheduler}", max(1, n)
            self.executor = self._client.get_executor(pure=False)
        elif self.workers == 1:
            self.name, self.n_workers, self.executor = "serial", 1, SerialExecutor()
        else:
            import multiprocessing as mp

            n = self.workers or default_workers()
            from .workers import pool_kwargs

            self._pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"),
                                                **pool_kwargs())
            self.name, self.n_workers, self.executor = f"process pool ({n})", n, self._pool
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        return False


# ----------------------------------------------------------------------------- in-memory map

def map_chunks(fn, items: list, *, workers: int | None = None, scheduler: str | None = None,
               progress=None, chunk_size: int | None = None, connect_timeout: float = 15.0) -> list:
    """``fn(list_of_items) -> list_of_results`` over ``items`` in chunks on the one
    :class:`Backend` (serial, process pool or Dask), results in the order of ``items``.
    What ``run``, ``compare`` and ``validate`` use: their results (every run's full record)
    stay in memory, so there is no store to resume from; the designs use :func:`run_experiment`.
    ``progress(done, total)`` is called as chunks finish, in order."""
    items = list(items)
    out: list = []
    if not items:
        return out
    with Backend(workers, scheduler, connect_timeout) as backend:
        cs = chunk_size or (1 if backend.n_workers == 1 else max(1, len(items) // (4 * backend.n_workers)))
        chunks = [items[i:i + cs] for i in range(0, len(items), cs)]
        limit = 2 * backend.n_workers + 1
        inflight: list = []
        nxt = 0
        while nxt < len(chunks) or inflight:
            while nxt < len(chunks) and len(inflight) < limit:
                inflight.append(backend.executor.submit(fn, chunks[nxt]))
                nxt += 1
            try:
                res = inflight.pop(0).result()
            except BrokenProcessPool:
                raise ExperimentInterrupted("a worker process died; nothing was written") from None
            out.extend(res)
            if progress:
                progress(len(out), len(items))
    return out


# ----------------------------------------------------------------------------- driver

def _as_models(models) -> dict:
    if isinstance(models, dict):
        return models
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    return {m.name: m for m in models}


def lever_factor_rules(design: Design, models) -> dict:
    """For every factor on a lever field: from which year to the end year a design value applies and
    to which firms (``Levers.sweep_description``); recorded in the manifest.

    A lever factor whose value would apply only after a scenario's end year (e.g. a lever
    swept on the 2008-2015 training window: swept values apply from 2016) would change
    nothing in that scenario's runs: an :class:`ExperimentError`, before any run."""
    models = _as_models(models)
    for m in models.values():
        msc = getattr(m, "scenario", None)
        for f in (design.factors if msc is not None else ()):
            parts = f.name.split(".")
            if parts[0] == "levers" and len(parts) == 3:
                y = getattr(getattr(msc.levers, parts[1]), parts[2]).final_setting_year()
                if y > msc.run.end_year:
                    raise ExperimentError(
                        f"{f.name}: a design value applies from {y} (the sweep rule of innosim levers), after "
                        f"scenario {msc.name}'s end year {msc.run.end_year}: it would change nothing in its runs")
    first = next(iter(models.values()))
    sc = getattr(first, "scenario", None)
    rules = {}
    if sc is None:
        return rules
    for f in design.factors:
        parts = f.name.split(".")
        if parts[0] == "levers" and len(parts) == 3:
            sched = getattr(getattr(sc.levers, parts[1]), parts[2])
            rules[f.name] = {"from": sched.final_setting_year(), "to": sc.run.end_year,
                             "description": sc.levers.sweep_description(parts[1], parts[2])}
    return rules


def run_experiment(design: Design, models, out, *, workers: int | None = None,
                   scheduler: str | None = None, resume: bool = False, overwrite: bool = False,
                   progress: bool | None = None, analyse: bool = True,
                   command: str | None = None, connect_timeout: float = 15.0,
                   notes: list | None = None) -> Path:
    """Run every run of ``design`` (skipping verified chunks when ``resume``) into ``out``.

    ``workers=1`` runs serially in-process; otherwise a spawn-based process pool with
    ``workers`` processes (default: all cores), or the Dask cluster at ``scheduler``.
    ``out`` is locked for the duration and must be empty, hold this very experiment
    (``resume``) or be replaced whole (``overwrite``); see :mod:`experiments.outdir`.
    What was cleaned on the way (stale lock, leftovers) is appended to ``notes``.
    """
    models = _as_models(models)
    missing = sorted(set(design.scenarios) - set(models))
    if missing:
        raise ExperimentError(f"design uses scenario {missing[0]!r} but no model was given for it")
    model_digests = {k: m.digest() for k, m in models.items() if k in set(design.scenarios)}
    design_hash = design.digest(model_digests)
    with OutputFolder(out, design.kind, design_hash, overwrite=overwrite, resume=resume) as folder:
        if notes is not None:
            notes.extend(folder.notes)
        with Backend(workers, scheduler, connect_timeout) as backend:  # fails before any write
            return _run(design, models, model_digests, design_hash, out, backend, resume,
                        progress, analyse, command)


def _run(design, models, model_digests, design_hash, out, backend, resume, progress, analyse,
         command) -> Path:
    store = ResultStore(out)
    runs = design.runs()

    if resume and store.manifest_path.exists():
        done = store.open_resume(design_hash)
    else:
        first = next(iter(models.values()))
        manifest = {
            "schema_version": 1, "kind": design.kind, "command": command,
            "design_hash": design_hash,
            "design": dict(design.spec(), n_chunks=design.n_chunks),
            "models": model_digests, "master_seed": design.master_seed,
            "years": list(first.years), "indicators": model_indicator_meta(first),
            "targets": {k: t.as_dict() for k, t in model_targets(first).items()},
            "code": code_provenance(), "packages": package_versions(), "sessions": [],
        }
        rules = lever_factor_rules(design, models)
        if rules:
            from sim.policies import SWEEP_RULE
            manifest["lever_rule"] = SWEEP_RULE
            manifest["lever_factors"] = rules
        store.create(manifest, runs)
        done = set()

    t0 = time.perf_counter()
    session = {"started": now(), "resumed": bool(done) or resume, "pid": os.getpid()}
    store.manifest.setdefault("sessions", []).append(session)  # a killed session stays listed
    store.update_manifest()
    pending = [k for k in range(design.n_chunks) if k not in done]
    cs = design.chunk_size
    fnames, values = design.run_values(runs)  # factors, then the posterior draw's parameters
    seeds = runs["seed"].to_numpy()
    scen = runs["scenario"].tolist()
    done_runs = sum(min(cs, design.n_runs - k * cs) for k in done)

    def args(k):
        sl = slice(k * cs, min((k + 1) * cs, design.n_runs))
        return (models, fnames, np.arange(sl.start, sl.stop, dtype=np.int64), seeds[sl],
                scen[sl], values[sl])

    bar = None
    if pending:
        from tqdm import tqdm

        bar = tqdm(total=design.n_runs, initial=done_runs, unit="run", smoothing=0.05,
                   mininterval=0.5, disable=(None if progress is None else not progress),
                   desc=f"{design.kind} {Path(out).name}", dynamic_ncols=True)
    try:
        session["backend"] = backend.name
        limit = 2 * backend.n_workers + 1
        queue = list(pending)
        inflight: dict = {}
        while queue or inflight:
            while queue and len(inflight) < limit:
                k = queue.pop(0)
                inflight[backend.executor.submit(evaluate_chunk, *args(k))] = k
            finished, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: inflight[f]):
                k = inflight.pop(fut)
                try:
                    cols = fut.result()
                except BrokenProcessPool:
                    raise ExperimentInterrupted(
                        f"a worker process died; {len(store.manifest['chunks'])} of "
                        f"{design.n_chunks} chunks are saved in {store.out}; run again "
                        "with --resume to finish") from None
                except ExperimentError:
                    raise
                except Exception as exc:
                    raise ExperimentInterrupted(
                        f"{exc}; {len(store.manifest['chunks'])} of {design.n_chunks} "
                        f"chunks are saved, --resume continues after a fix") from None
                store.write_chunk(k, _to_table(cols))
                if bar is not None:
                    bar.update(min(cs, design.n_runs - k * cs))
    except BrokenProcessPool:  # the pool can also break at submission
        raise ExperimentInterrupted(
            f"a worker process died; {len(store.manifest['chunks'])} of {design.n_chunks} "
            f"chunks are saved in {store.out}; run again with --resume to finish") from None
    finally:
        if bar is not None:
            bar.close()
        session["elapsed_s"] = round(time.perf_counter() - t0, 3)
        session["finished"] = now()
        store.update_manifest()

    store.consolidate()
    total = sum(s.get("elapsed_s", 0) for s in store.manifest["sessions"])
    store.update_manifest(status="complete", completed=now(), run_time_s=round(total, 3))
    if analyse:
        from .analysis import analyse_results

        analyse_results(store.out)
    return store.out
