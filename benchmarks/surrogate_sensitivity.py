"""The meta-meta question: how much do the neural tuner's results move with its own settings?

Claim (issue 4): varying the surrogate's width, depth and training steps by 4x each way (one
at a time, the others at their defaults) changes the median regret at 50 trials by less than
two standard errors (seed-to-seed) of the difference.

Method: ``neural`` (Bayesian last layer) with default settings (width 50, depth 2, 400 steps
from scratch / 100 warm-started steps) and the six variants width x1/4, x4; depth x1/4
(rounded up to 1), x4; steps (both counts) x1/4, x4, on two tasks, the same seeds for every
variant. For each variant: median regret at the last trial, the change from the default, and
that change divided by its standard error ``sqrt(se_default^2 + se_variant^2)`` (bootstrap
standard errors of the two medians over seeds).

Defaults (2 tasks, 3 seeds, 50 trials) took 6.5 minutes on this busy 2-core machine. With 3
seeds the standard errors are wide, so "within 2 SE" is weak evidence; the fuller setting is
``--seeds 10`` (about 22 minutes here).

Usage:
    .venv/bin/python benchmarks/surrogate_sensitivity.py [--quick] [--seeds 3] [--trials 50]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import torch

from _bo import finish, median_and_se, run_tuner

HERE = Path(__file__).parent
OUT = HERE / "results" / "surrogate_sensitivity.json"
BASE = {"width": 50, "depth": 2, "steps": 400, "warm_steps": 100}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 15 trials, branin only")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--tasks", nargs="+", default=["branin", "hartmann6"])
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
                res = run_tuner("neural", task, seed, args.trials, {"surrogate_options": opts})
                finals.append(res["regret"][-1])
            runs[task][name] = finals
            print(f"  {task:10s} {name:11s} {finals} ({time.time() - start:.0f} s)", flush=True)
    summary: dict = {}
    verdicts = []
    for task in args.tasks:
        base_med, base_se = median_and_se(runs[task]["default"])
        summary[task] = {}
        print(f"\n{task}: median regret at {args.trials} trials over {args.seeds} seeds")
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
    finish(
        OUT,
        {"settings": settings, "summary": summary, "runs": runs},
        verdicts,
        "every variant within 2 SE of the default",
        start,
    )


if __name__ == "__main__":
    main()
