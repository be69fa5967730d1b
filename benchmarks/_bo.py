"""Shared by the quality benchmarks: run a tuner on a task and keep the best-so-far curve."""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def run_tuner(
    tuner: str, task_name: str, seed: int, n_trials: int, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Optimize ``task_name`` with ``tuner`` for ``n_trials``; returns the regret curve.

    Returns:
        ``{"regret": [best-so-far regret after each trial], "best": [best-so-far value],
        "seconds": wall time}`` (``regret`` equals ``best`` when the optimum is unknown).
    """
    import optuna

    from hyperlab.registry import TASKS, TUNERS

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    task = TASKS.create(task_name)
    space = task.distributions()
    sampler = TUNERS.create(tuner, seed=seed, space=space, task=task, **(options or {}))
    study = optuna.create_study(sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        return task.evaluate(task.search_space(trial), seed=seed).value

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n_trials)
    seconds = time.perf_counter() - start
    best, curve, bests = math.inf, [], []
    for t in study.trials:
        if t.value is not None and math.isfinite(t.value):
            best = min(best, t.value)
        bests.append(best)
        curve.append(best - task.optimum if task.optimum is not None else best)
    return {"regret": curve, "best": bests, "seconds": seconds}


def median_and_se(values: list[float], n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Median and its bootstrap standard error."""
    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return float(np.median(arr)), float("nan")
    rng = np.random.default_rng(seed)
    boots = np.median(arr[rng.integers(0, arr.size, (n_boot, arr.size))], axis=1)
    return float(np.median(arr)), float(np.std(boots, ddof=1))


def ranks(values: dict[str, float]) -> dict[str, float]:
    """Average ranks (1 = best, ties share) of lower-is-better values."""
    names = list(values)
    arr = np.array([values[n] for n in names])
    out = {}
    for i, name in enumerate(names):
        out[name] = 1.0 + float(np.sum(arr < arr[i])) + 0.5 * float(np.sum(arr == arr[i]) - 1)
    return out


def finish(
    out: Path, payload: dict[str, Any], verdicts: list[str], all_ok: str, start: float
) -> None:
    """Print the verdicts (or ``all_ok``) and the wall time; write ``payload`` as JSON to ``out``."""
    print()
    print("\n".join(verdicts) if verdicts else all_ok)
    print(f"total {time.time() - start:.0f} s")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**payload, "verdicts": verdicts}, indent=1))
    print(f"wrote {out}")
