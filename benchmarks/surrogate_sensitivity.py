"""How much do the neural tuner's results move with its own settings?

Claim (issue 4): varying the surrogate's width, depth and training steps by 4x each way (one
at a time, the others at their defaults) changes the median regret at 50 trials by less than
two standard errors (seed-to-seed) of the difference.

``neural`` (Bayesian last layer) with default settings (width 50, depth 2, 400 steps from
scratch / 100 warm-started steps) and the six variants width x1/4, x4; depth x1/4 (rounded up
to 1), x4; steps (both counts) x1/4, x4, on two tasks, the same seeds for every variant. For
each variant: median regret at the last trial, the change from the default, and that change
divided by its standard error ``sqrt(se_default^2 + se_variant^2)`` (bootstrap standard errors
of the two medians over seeds). With few seeds the standard errors are wide, so "within 2 SE"
is weak evidence.

Claims and commands: ``benchmarks/README.md``; history: ``docs/decisions/sample-efficiency.md``.

Usage:
    .venv/bin/python benchmarks/surrogate_sensitivity.py [--quick] [--seeds 5] [--trials 50]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

from hyperlab.lab.provenance import write_result
from hyperlab.registry import TASKS, TUNERS

HERE = Path(__file__).parent
OUT = HERE / "results" / "surrogate_sensitivity.json"
BASE = {"width": 50, "depth": 2, "steps": 400, "warm_steps": 100}


def final_regret(task_name: str, seed: int, trials: int, options: dict[str, Any]) -> float:
    """The best value after ``trials`` trials of ``neural`` with ``surrogate_options``, minus
    the task's optimum."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    task = TASKS.create(task_name)
    sampler = TUNERS.create(
        "neural", seed=seed, space=task.distributions(), task=task, surrogate_options=options
    )
    study = optuna.create_study(sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(
            lambda t: task.evaluate(task.search_space(t), seed=seed).value, n_trials=trials
        )
    values = [t.value for t in study.trials if t.value is not None and math.isfinite(t.value)]
    return min(values, default=math.inf) - (task.optimum or 0.0)


def median_and_se(values: list[float], n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Median and its bootstrap standard error (``nan`` for fewer than two values)."""
    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return float(np.median(arr)), float("nan")
    rng = np.random.default_rng(seed)
    boots = np.median(arr[rng.integers(0, arr.size, (n_boot, arr.size))], axis=1)
    return float(np.median(arr)), float(np.std(boots, ddof=1))


def variants() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"default": dict(BASE)}
    for factor, label in ((0.25, "x1/4"), (4.0, "x4")):
        out[f"width {label}"] = {**BASE, "width": max(1, round(BASE["width"] * factor))}
        out[f"depth {label}"] = {**BASE, "depth": max(1, round(BASE["depth"] * factor))}
        out[f"steps {label}"] = {
            **BASE,
            "steps": max(1, round(BASE["steps"] * factor)),
            "warm_steps": max(1, round(BASE["warm_steps"] * factor)),
        }
    return out


def summarize(runs: dict[str, dict[str, list[float]]], trials: int) -> tuple[dict, list[str]]:
    """Per task and variant: median, its SE, the change from the default and change / SE."""
    summary: dict = {}
    verdicts = []
    for task in runs:
        base_med, base_se = median_and_se(runs[task]["default"])
        summary[task] = {}
        print(f"\n{task}: median regret at {trials} trials over {len(runs[task]['default'])} seeds")
        print(f"{'variant':12s} {'median':>10s} {'± SE':>9s} {'change':>10s} {'change/SE':>10s}")
        for name, finals in runs[task].items():
            med, se = median_and_se(finals)
            diff = med - base_med
            se_diff = math.sqrt(base_se**2 + se**2)
            z = diff / se_diff if se_diff > 0 else (0.0 if diff == 0 else math.inf)
            ok = abs(z) <= 2.0
            summary[task][name] = {
                "median": med,
                "se": se,
                "change": diff,
                "z": z,
                "within_2se": ok,
            }
            flag = "" if name == "default" else ("ok" if ok else "MOVED")
            print(f"{name:12s} {med:10.4g} {se:9.3g} {diff:10.3g} {z:10.2f}  {flag}")
            if name != "default" and not ok:
                verdicts.append(f"MISSED: {task} {name} moves the median by {z:.1f} SE")
    return summary, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 15 trials, branin only")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--tasks", nargs="+", default=["branin", "hartmann6"])
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.tasks = 2, 15, ["branin"]
    torch.set_num_threads(1)
    settings = {**vars(args), "variants": variants()}
    print(f"settings: {settings}")
    start = time.time()
    runs: dict[str, dict[str, list[float]]] = {}
    for task in args.tasks:
        runs[task] = {}
        for name, opts in variants().items():
            finals = []
            for seed in range(args.seeds):
                finals.append(final_regret(task, seed, args.trials, opts))
            runs[task][name] = finals
            print(f"  {task:10s} {name:11s} {finals} ({time.time() - start:.0f} s)", flush=True)
    summary, verdicts = summarize(runs, args.trials)
    print("\n".join(verdicts) if verdicts else "every variant within 2 SE of the default")
    payload = {"settings": settings, "summary": summary, "runs": runs, "verdicts": verdicts}
    print(f"wrote {write_result(args.out, payload)} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
