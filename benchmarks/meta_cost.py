"""What does one suggestion of the meta tuner cost as a study grows?

A study on a 6-dimensional space (``hartmann6``) is filled with ``n`` finished random trials
(added directly, not suggested); then the time of each of the next 20 suggestions of ``meta``
is measured on one thread and the median printed, for ``n`` = 10, 100 and 1,000. The target is
at most 0.05 s at 1,000 trials. ``--tuners`` adds others for comparison (``gp`` is slow there).

Usage:
    .venv/bin/python benchmarks/meta_cost.py [--sizes 10 100 1000] [--tuners meta]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import optuna
import torch

from hyperlab.lab.provenance import write_result
from hyperlab.registry import TASKS, TUNERS

HERE = Path(__file__).parent
OUT = HERE / "results" / "meta_cost.json"


def filled_study(task, sampler, n: int, seed: int) -> optuna.Study:  # type: ignore[no-untyped-def]
    """A study holding ``n`` finished random trials of ``task``."""
    study = optuna.create_study(sampler=sampler)
    rng = np.random.default_rng(seed)
    dists = task.distributions()
    for _ in range(n):
        params = {k: float(rng.uniform(d.low, d.high)) for k, d in dists.items()}
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=dists, value=task.evaluate(params).value
            )
        )
    return study


def suggestion_seconds(tuner: str, n: int, repeats: int = 20) -> float:
    """Median seconds of one suggestion after ``n`` trials."""
    task = TASKS.create("hartmann6")
    sampler = TUNERS.create(tuner, seed=0, space=task.distributions(), task=task)
    study = filled_study(task, sampler, n, seed=0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trial = study.ask(task.distributions())
        times.append(time.perf_counter() - start)
        study.tell(trial, task.evaluate(trial.params).value)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 100, 1000])
    ap.add_argument("--tuners", nargs="*", default=["meta"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    table = {u: {str(n): suggestion_seconds(u, n) for n in args.sizes} for u in args.tuners}
    print("median seconds per suggestion, by trials already in the study")
    print("  tuner   " + "  ".join(f"{n:>8d}" for n in args.sizes))
    for u, row in table.items():
        print(f"  {u:7s} " + "  ".join(f"{v:8.4f}" for v in row.values()))
    write_result(OUT, {"task": "hartmann6", "seconds": table})


if __name__ == "__main__":
    main()
