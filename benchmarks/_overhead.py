"""Shared by the overhead benchmarks: time a tuner's next suggestions on a filled study.

A cell = (tuner, number of completed trials ``n``). The study is filled with ``n`` uniformly
random configurations of the task (``study.add_trials``, so every tuner sees the same data),
then the tuner is created and its next ``k`` suggestions are timed (``study.ask()`` plus the
task's ``suggest_*`` calls: relative samplers work in ``ask``, independent ones in
``suggest``), each told its true value. The first suggestion is reported apart: it includes
building the model from scratch. Each cell runs in a child process with a wall-clock cap, so a
tuner that is too slow is reported as skipped instead of holding up the table.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import warnings
from typing import Any

import numpy as np


def _fill(task: Any, n: int, seed: int) -> Any:
    import optuna
    from optuna.trial import create_trial

    from hyperlab.space import SpaceEncoder

    dists = task.distributions()
    enc = SpaceEncoder(dists)
    rng = np.random.default_rng(seed)
    configs = enc.decode(rng.random((n, enc.dim)))
    study = optuna.create_study()
    study.add_trials(
        [create_trial(params=c, distributions=dists, value=task.evaluate(c).value) for c in configs]
    )
    return study


def _cell(name: str, task_name: str, n: int, k: int, options: dict[str, Any], queue: Any) -> None:
    import optuna
    import torch

    from hyperlab.registry import TASKS, TUNERS

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    task = TASKS.create(task_name)
    study = _fill(task, n, seed=0)
    sampler = TUNERS.create(name, seed=0, space=task.distributions(), task=task, **options)
    study.sampler = sampler
    times = []
    for _ in range(k + 1):
        start = time.perf_counter()
        trial = study.ask()
        config = task.search_space(trial)
        times.append(time.perf_counter() - start)
        study.tell(trial, task.evaluate(config).value)
    out: dict[str, Any] = {"first_s": times[0], "times_s": times[1:]}
    model = getattr(sampler, "_model", None)
    if model is not None and hasattr(model, "_n_trained"):
        # Force the periodic network retraining once and time that suggestion too.
        model._n_trained = 0
        start = time.perf_counter()
        trial = study.ask()
        config = task.search_space(trial)
        out["retrain_s"] = time.perf_counter() - start
        out["refit_growth"] = float(model.refit_growth)
    queue.put(out)


def preload() -> None:
    """Import everything once in the parent, so forked cells do not pay for imports."""
    import optuna
    import torch

    from hyperlab.registry import TASKS, TUNERS
    from hyperlab.space import SpaceEncoder  # noqa: F401

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    TUNERS.names()
    TASKS.names()
    # Optional heavy imports some tuners make lazily.
    import cmaes  # noqa: F401
    import optuna._gp.gp
    import scipy.stats.qmc  # noqa: F401


def time_cell(
    name: str, task_name: str, n: int, k: int, cap_s: float, options: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Run one cell in a child process; ``None`` when it exceeds ``cap_s`` seconds."""
    preload()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_cell, args=(name, task_name, n, k, options or {}, queue))
    proc.start()
    try:
        result = queue.get(timeout=cap_s)
    except Exception:  # queue.Empty: over the cap
        result = None
    proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return result


def summarize(result: dict[str, Any] | None, n: int) -> dict[str, Any]:
    """Median/mean of the timed suggestions, plus the amortized cost with retraining."""
    if result is None:
        return {"skipped": True}
    times = np.array(result["times_s"])
    row = {
        "first_s": result["first_s"],
        "median_s": float(np.median(times)),
        "mean_s": float(np.mean(times)),
        "max_s": float(np.max(times)),
    }
    if "retrain_s" in result:
        # The network is retrained once every refit_growth * n suggestions.
        period = max(1.0, result["refit_growth"] * n)
        row["retrain_s"] = result["retrain_s"]
        row["amortized_s"] = float(
            row["median_s"] + (result["retrain_s"] - row["median_s"]) / period
        )
    return row


def measure(tuners: list[str], task: str, sizes: list[int], k: int, cap: float) -> dict[str, Any]:
    """Time every tuner at every study size; once a size runs over ``cap``, larger ones are
    skipped (they would only take longer).

    Returns:
        ``{tuner: {str(size): row}}`` with the rows of :func:`summarize`.
    """
    results: dict[str, Any] = {}
    for name in tuners:
        results[name] = {}
        skipped = False
        for n in sizes:
            if skipped:
                results[name][str(n)] = {"skipped": True, "reason": "smaller cell over the cap"}
                continue
            row = summarize(time_cell(name, task, n, k, cap), n)
            skipped = bool(row.get("skipped"))
            results[name][str(n)] = row
            print(f"  {name:16s} n={n:5d} {row}", flush=True)
    return results
