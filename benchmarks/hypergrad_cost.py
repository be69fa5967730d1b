"""What does learning the learning rate cost per training step?

Claim (issue 3): on the digits MLP a hypergradient optimizer costs <= 1.2x the time per step of
its base optimizer and a height-3 stacked hyperoptimizer <= 2.5x. Side by side in the same run,
each against its own base: SGD-HD vs SGD, SGDN-HD vs SGD with Nesterov momentum 0.9, Adam-HD vs
Adam, SGD under stacks of height 1-3 (Adam hyperoptimizers, as in ``self-lr``) vs SGD, and a
height-3 all-Adam stack (learning Adam's rate and betas) vs Adam.

Method: one training step = forward, cross-entropy, backward, ``optimizer.step()`` on a batch of
64 digits (MLP 64-64-10, float32, one thread). Every repeat times ``--steps`` steps of every
optimizer, in a rotated order (interleaved, so load changes on the machine hit all of them);
the table shows the median over repeats of the time per step and of the time of ``step()``
alone, and the ratio of medians to the base optimizer.

Claims and commands: ``benchmarks/README.md``.

Usage:
    .venv/bin/python benchmarks/hypergrad_cost.py [--quick] [--repeats 15] [--steps 100]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hyperlab.experiments.self_lr import METHODS, load_digits_split, make_model
from hyperlab.hypergrad import SGDNHD, HyperAdam, StackedOptimizer
from hyperlab.lab.provenance import write_result

HERE = Path(__file__).parent
OUT = HERE / "results" / "hypergrad_cost.json"


def _adam_stack(params: Any, lr: float) -> Any:
    return StackedOptimizer(params, [HyperAdam(lr=lr)] + [HyperAdam(lr=1e-3) for _ in range(3)])


# name -> (factory, base name, target ratio or None)
CASES: dict[str, tuple[Callable[[Any, float], Any], str, float | None]] = {
    "SGD": (METHODS["SGD"], "SGD", None),
    "SGD-HD": (METHODS["SGD-HD"], "SGD", 1.2),
    "SGD-nesterov": (
        lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
        "SGD-nesterov",
        None,
    ),
    "SGDN-HD": (lambda p, lr: SGDNHD(p, lr=lr), "SGD-nesterov", 1.2),
    "Adam": (METHODS["Adam"], "Adam", None),
    "Adam-HD": (METHODS["Adam-HD"], "Adam", 1.2),
    "stack-h1 (SGD/Adam)": (METHODS["stack-h1"], "SGD", None),
    "stack-h2 (SGD/Adam/Adam)": (METHODS["stack-h2"], "SGD", None),
    "stack-h3 (SGD/Adam/Adam/Adam)": (METHODS["stack-h3"], "SGD", 2.5),
    "stack-h3 (Adam/Adam/Adam/Adam)": (_adam_stack, "Adam", 2.5),
}


class _Runner:
    """One model and optimizer, advanced a fixed number of steps at a time."""

    def __init__(self, factory: Callable[[Any, float], Any]) -> None:
        data = load_digits_split()
        self.x, self.y = data.x_train, data.y_train
        self.model = make_model("mlp", 0)
        self.opt = factory(self.model.parameters(), 1e-2)
        self.gen = torch.Generator().manual_seed(0)

    def run(self, steps: int) -> tuple[float, float]:
        """Seconds per step (whole step) and per ``optimizer.step()``."""
        n = len(self.y)
        idx = [torch.randint(0, n, (64,), generator=self.gen) for _ in range(steps)]
        in_step = 0.0
        start = time.perf_counter()
        for i in idx:
            loss = F.cross_entropy(self.model(self.x[i]), self.y[i])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            t0 = time.perf_counter()
            self.opt.step()
            in_step += time.perf_counter() - t0
        total = time.perf_counter() - start
        return total / steps, in_step / steps


def _table(med: dict[str, tuple[float, float]]) -> list[dict[str, Any]]:
    """One row per optimizer: ms per step and per ``step()``, each as a ratio to its base."""
    rows = []
    print(
        f"{'optimizer':32s}{'base':>14s}{'ms/step':>9s}{'ratio':>7s}{'ms/opt.step':>13s}"
        f"{'ratio':>7s}{'target':>8s}  verdict"
    )
    for name, (_, base, target) in CASES.items():
        step_ms, opt_ms = med[name][0] * 1e3, med[name][1] * 1e3
        ratio = med[name][0] / med[base][0]
        opt_ratio = med[name][1] / med[base][1]
        verdict = "" if target is None else ("met" if ratio <= target else "MISSED")
        rows.append(
            {
                "optimizer": name,
                "base": base,
                "ms_per_step": step_ms,
                "ratio": ratio,
                "ms_per_opt_step": opt_ms,
                "opt_step_ratio": opt_ratio,
                "target": target,
                "met": None if target is None else ratio <= target,
            }
        )
        print(
            f"{name:32s}{base:>14s}{step_ms:>9.3f}{ratio:>7.2f}{opt_ms:>13.3f}{opt_ratio:>7.2f}"
            f"{'' if target is None else f'<={target}':>8s}  {verdict}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 repeats of 30 steps")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    torch.set_num_threads(1)
    repeats, steps = (5, 30) if args.quick else (args.repeats, args.steps)
    runners = {name: _Runner(case[0]) for name, case in CASES.items()}
    for r in runners.values():  # warm-up
        r.run(10)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
    names = list(CASES)
    start = time.perf_counter()
    for rep in range(repeats):  # interleaved: load changes on the machine hit every optimizer
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            times[name].append(runners[name].run(steps))
    elapsed = time.perf_counter() - start
    med = {
        n: (float(np.median([t[0] for t in ts])), float(np.median([t[1] for t in ts])))
        for n, ts in times.items()
    }
    print(f"digits MLP, batch 64, float32, 1 thread; median of {repeats} repeats of {steps} steps")
    rows = _table(med)
    print(f"[{elapsed:.0f} s]")
    payload = {
        "settings": {"repeats": repeats, "steps": steps, "batch": 64, "quick": args.quick},
        "rows": rows,
        "raw_seconds": times,
        "seconds": elapsed,
    }
    print(f"wrote {write_result(args.out, payload)}")


if __name__ == "__main__":
    main()
