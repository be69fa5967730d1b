"""How do trials per second grow with workers, on a journal file and on PostgreSQL?

Claim (issue 7): on a task whose trial sleeps a fixed 0.5 s, N workers complete trials at least
0.9 x N times as fast as one worker (N <= 4), and the database adds at most 10 ms per trial.

For each storage (a journal file; a PostgreSQL server started here on loopback, with its
default durability, and again with ``synchronous_commit=off``) and N in 1, 2, 4, the study is
created as a user creates it (``hyperlab tune --task hyperlab.testing.tasks:SleepBranin
--tuner tpe --trials 8N --create-only``) and N ``hyperlab worker`` processes are forked from
this one (so their start-up imports are not counted). Throughput = completed trials / time from
the first trial's start to the last trial's end (trial timestamps in storage). Overhead per
trial = worker seconds per completed trial - 0.5 s of sleep; the storage's share is that minus
the sampler's time, measured in one worker run in this process with timers around the
sampler's methods (``tpe``, and ``neural``). The sleep uses no CPU, so the cores do not limit
the workers. Claims and commands: ``benchmarks/README.md``; the figures in ``docs/scaling.md``.

Usage:
    .venv/bin/python benchmarks/scaling.py [--quick] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import optuna
from optuna.trial import TrialState

from hyperlab.cli import main as hyperlab
from hyperlab.lab.provenance import write_result
from hyperlab.lab.storage import open_storage
from hyperlab.registry import TASKS, TUNERS
from hyperlab.testing.postgres import TemporaryPostgres
from hyperlab.testing.tasks import SLEEP_BRANIN

SLEEP = 0.5
#: postgres: default durability (each commit flushed); postgres-async: synchronous_commit=off
KINDS = ("journal", "postgres", "postgres-async")
OUT = Path(__file__).parent / "results" / "scaling.json"
SAMPLER_METHODS = (
    "infer_relative_search_space",
    "sample_relative",
    "sample_independent",
    "before_trial",
    "after_trial",
)


def create(storage: str, name: str, tuner: str, trials: int, runs_dir: str) -> None:
    """``hyperlab tune ... --create-only``: the study, ready for workers."""
    argv = ["tune", "--task", SLEEP_BRANIN, "--task-option", f"seconds={SLEEP}"]
    argv += ["--tuner", tuner, "--trials", str(trials), "--storage", storage, "--name", name]
    argv += ["--runs-dir", runs_dir, "--create-only", "--heartbeat-interval", "10"]
    with contextlib.redirect_stdout(io.StringIO()):
        if hyperlab(argv) != 0:
            raise RuntimeError(f"hyperlab {' '.join(argv)} failed")


def _worker(storage: str, name: str, index: int) -> None:
    code = 1
    try:
        code = hyperlab(
            ["worker", "--storage", storage, "--name", name, "--worker-name", f"w{index}"]
        )
    finally:
        os._exit(code)  # skip finalizers: never close connections inherited from the parent


def throughput(storage: str, workers: int, trials: int, runs_dir: str) -> dict[str, Any]:
    """One study run by ``workers`` forked ``hyperlab worker`` processes."""
    name = f"scale{workers}"
    create(storage, name, "tpe", trials, runs_dir)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(storage, name, i)) for i in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError(f"a worker failed ({[p.exitcode for p in procs]})")
    study = optuna.load_study(study_name=None, storage=open_storage(storage))
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if len(done) != trials:
        raise RuntimeError(f"{len(done)} trials completed, {trials} asked for")
    first = min(t.datetime_start for t in done if t.datetime_start)
    last = max(t.datetime_complete for t in done if t.datetime_complete)
    span = (last - first).total_seconds()
    return {
        "workers": workers,
        "trials": trials,
        "span_s": span,
        "throughput": trials / span,
        "worker_s_per_trial": workers * span / trials,
        "surplus_fails": sum(t.state == TrialState.FAIL for t in study.trials),
    }


@contextlib.contextmanager
def sampler_clock(cls: type) -> Iterator[list[float]]:
    """Seconds spent inside ``cls``'s sampler methods (re-entrant calls counted once)."""
    total, depth, saved = [0.0], [0], {n: getattr(cls, n) for n in SAMPLER_METHODS}

    def timed(func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    total[0] += time.perf_counter() - start

        return wrapper

    for name, func in saved.items():
        setattr(cls, name, timed(func))
    try:
        yield total
    finally:
        for name, func in saved.items():
            setattr(cls, name, func)


def sampler_share(storage: str, tuner: str, trials: int, runs_dir: str) -> dict[str, Any]:
    """One worker in this process: the sampler's share of wall time and its time per trial."""
    create(storage, "share", tuner, trials, runs_dir)
    task = TASKS.create(SLEEP_BRANIN, seconds=SLEEP)
    cls = type(TUNERS.create(tuner, seed=0, space=task.distributions(), task=task))
    with sampler_clock(cls) as total:
        start = time.perf_counter()
        hyperlab(["worker", "--storage", storage, "--name", "share", "--worker-name", "w0"])
        wall = time.perf_counter() - start
    return {
        "tuner": tuner,
        "trials": trials,
        "wall_s": wall,
        "sampler_s": total[0],
        "sampler_share": total[0] / wall,
        "sampler_ms_per_trial": 1000 * total[0] / trials,
    }


def _print(results: dict[str, Any]) -> None:
    """The table (speed-up, overhead per trial, the storage's share) and the sampler shares."""
    rows, shares = results["throughput"], results["sampler_share"]
    tpe_ms = next(s["sampler_ms_per_trial"] for s in shares if s["tuner"] == "tpe")
    print("\nthroughput on sleep-branin (0.5 s per trial), tpe, forked workers")
    print(
        f"{'storage':14s} {'N':>2s} {'trials/s':>8s} {'speed-up':>8s} {'>=0.9N':>6s} "
        f"{'overhead ms/trial':>17s} {'storage ms/trial':>16s}"
    )
    for kind in KINDS:
        mine = [r for r in rows if r["storage"] == kind]
        for r in mine:
            r["speedup"] = r["throughput"] / mine[0]["throughput"] * mine[0]["workers"]
            r["speedup_target_met"] = r["speedup"] >= 0.9 * r["workers"]
            r["overhead_ms_per_trial"] = 1000 * (r["worker_s_per_trial"] - SLEEP)
            r["storage_overhead_ms_per_trial"] = r["overhead_ms_per_trial"] - tpe_ms
            print(
                f"{kind:14s} {r['workers']:2d} {r['throughput']:8.2f} {r['speedup']:8.2f} "
                f"{'yes' if r['speedup_target_met'] else 'NO':>6s} "
                f"{r['overhead_ms_per_trial']:17.0f} {r['storage_overhead_ms_per_trial']:16.0f}"
            )
    print("\nsampler share of wall time (1 worker, journal, 0.5 s sleep per trial)")
    for s in shares:
        print(
            f"{s['tuner']:8s} {s['trials']:4d} trials: {s['sampler_ms_per_trial']:7.1f} ms per "
            f"trial, {100 * s['sampler_share']:5.1f}% of wall time"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 N trials, 12 share trials")
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    parser.add_argument("--trials-per-worker", type=int, default=8)
    parser.add_argument("--share-trials", type=int, default=30)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    counts = [int(x) for x in args.workers.split(",")]
    per_worker = 4 if args.quick else args.trials_per_worker
    share_trials = 12 if args.quick else args.share_trials
    results: dict[str, Any] = {"settings": vars(args), "throughput": [], "sampler_share": []}
    with TemporaryDirectory() as tmp, TemporaryPostgres(fast=False, max_connections=100) as pg:
        for kind in KINDS:
            for n in counts:
                if kind == "journal":
                    url = f"journal:{tmp}/j{n}.journal"
                else:
                    sync = kind == "postgres"
                    url = pg.create_database(f"bench_{sync}_{n}", synchronous_commit=sync)
                row = throughput(url, n, per_worker * n, f"{tmp}/runs-{kind}")
                results["throughput"].append({"storage": kind, **row})
                print(f"{kind:14s} N={n}: {row['throughput']:.2f} trials/s", file=sys.stderr)
        for tuner in ("tpe", "neural"):
            url = f"journal:{tmp}/share-{tuner}.journal"
            share = sampler_share(url, tuner, share_trials, f"{tmp}/runs-share-{tuner}")
            results["sampler_share"].append(share)
    _print(results)
    print(f"\nwrote {write_result(args.out, results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
