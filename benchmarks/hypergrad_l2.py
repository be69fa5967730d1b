"""Can weight decay be tuned during training, and what does a hyper step cost?

Claims (issue 3):
1. Validation-tuned weight decay (T1-T2 and IFT hypergradients) ends within 3x of the grid
   optimum, with validation loss within 2% of the grid's best, while descent on the training
   objective drives lambda below 1e-6 of its start.
2. A T1-T2 step costs <= 3x a plain training step.

Method (1): the ``l2-collapse`` experiment's core, side by side in one run: softmax regression on
100 digits images (validation 400, test 1297); a grid over lambda with exact (L-BFGS) solves vs
three online tuners started at lambda = 1e-2 (Adam on log lambda, rate 0.05, full-batch SGD with
lr 1.0): train objective, T1-T2 (hyper step every step) and IFT (every 20 steps). The validation
loss compared with the grid is the one of the exact solution refit at the tuner's final lambda
(like for like with the grid); the online model's is shown too.

Method (2): digits MLP 64-64-10, float32, batch 64, one thread, weight decay as a
``WeightDecay`` penalty. Plain step = forward, cross-entropy + penalty, backward,
``torch.optim.SGD.step()``. T1-T2 step = one step of ``HyperTrainer(method="t1t2")`` (training
step with a double-backward graph, validation gradient at the new weights on a batch of 64,
mixed second derivative, Adam step on log lambda). Repeats interleave the two; the median time
per step over repeats is compared. An IFT hyper step (20-term Neumann series) is timed for
information.

Claims and commands: ``benchmarks/README.md``; the hypergradient methods' history:
``docs/decisions/hypergradients.md``.

Usage:
    .venv/bin/python benchmarks/hypergrad_l2.py [--quick] [--steps 2000] [--repeats 7]
        [--cost-steps 100]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hyperlab.experiments import l2_collapse as l2
from hyperlab.hypergrad import HyperTrainer, WeightDecay
from hyperlab.lab.provenance import write_result

HERE = Path(__file__).parent
OUT = HERE / "results" / "hypergrad_l2.json"


def _thin(xs: list[Any], points: int = 200) -> list[Any]:
    """At most ``points`` evenly spaced items of ``xs`` (first and last kept)."""
    if len(xs) <= points:
        return list(xs)
    return [xs[i] for i in np.linspace(0, len(xs) - 1, points).round().astype(int)]


def _mlp_batches(n_batches: int, seed: int = 0) -> tuple[list[Any], list[Any]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x - x.mean(0)) / (x.std(0) + 1.0)
    rng = np.random.default_rng(seed)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)

    def batch() -> tuple[Any, Any]:
        idx = torch.tensor(rng.choice(len(x), 64, replace=False))
        return xt[idx], yt[idx]

    return [batch() for _ in range(n_batches)], [batch() for _ in range(n_batches)]


def _mlp(seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def _time_plain(train: list[Any]) -> float:
    model = _mlp()
    wd = WeightDecay(model, 1e-3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    params = dict(model.named_parameters())
    start = time.perf_counter()
    for x, y in train:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y) + wd.penalty(params)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / len(train)


def _time_hyper(train: list[Any], val: list[Any], method: str) -> float:
    model = _mlp()
    wd = WeightDecay(model, 1e-3)
    trainer = HyperTrainer(model, F.cross_entropy, [wd], method=method, lr=0.1, hyper_lr=0.01)
    start = time.perf_counter()
    trainer.fit(train, val)
    return (time.perf_counter() - start) / len(train)


def cost(repeats: int, steps: int) -> dict[str, Any]:
    """Median seconds per step of a plain step, a T1-T2 step and an IFT hyper step."""
    train, val = _mlp_batches(steps)
    _time_plain(train[:5])  # warm-up (first optimizer import)
    _time_hyper(train[:5], val[:5], "t1t2")
    times: dict[str, list[float]] = {"plain SGD step": [], "T1-T2 step": [], "IFT hyper step": []}
    for r in range(repeats):
        order = ["plain SGD step", "T1-T2 step", "IFT hyper step"]
        order = order[r % 3 :] + order[: r % 3]
        for name in order:
            if name == "plain SGD step":
                times[name].append(_time_plain(train))
            elif name == "T1-T2 step":
                times[name].append(_time_hyper(train, val, "t1t2"))
            else:
                times[name].append(_time_hyper(train[: max(steps // 5, 5)], val, "ift"))
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {
        "median_seconds": med,
        "ratio_t1t2": med["T1-T2 step"] / med["plain SGD step"],
        "ratio_ift": med["IFT hyper step"] / med["plain SGD step"],
        "repeats": repeats,
        "steps": steps,
    }


def _checks(data: dict[str, Any]) -> tuple[dict[str, bool], float]:
    """The targets of claim 1, and the train objective's final lambda over its start."""
    best = data["grid_best"]
    runs = {r["method"]: r for r in data["runs"]}
    checks = {}
    for m in ("t1t2", "ift"):
        r = runs[m]
        ratio = r["lambda"] / best["lambda"]
        rel = r["refit"]["val_loss"] / best["val_loss"] - 1
        checks[f"{m}: lambda within 3x of grid optimum"] = bool(1 / 3 <= ratio <= 3)
        checks[f"{m}: refit val loss within 2% of grid best"] = bool(rel <= 0.02)
    collapse = runs["train"]["lambda"] / runs["train"]["lambda0"]
    checks["train objective: lambda below 1e-6 of its start"] = bool(collapse < 1e-6)
    return checks, collapse


def _print(data: dict[str, Any], c: dict[str, Any], checks: dict[str, bool]) -> float:
    """Print the tables; returns how fast the train objective's lambda still falls at the end
    (decades per 1000 hyper steps over the last 10%)."""
    print("\nWeight decay (softmax regression, 100 digits training images)")
    rows = l2.table(data)
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in rows[0]]
    print("  ".join(k.ljust(w) for k, w in zip(rows[0], widths)))
    for row in rows:
        print("  ".join(str(row[k]).ljust(w) for k, w in zip(rows[0], widths)))
    train = next(r for r in data["runs"] if r["method"] == "train")
    traj = train["trajectory"]
    tail = max(len(traj) // 10, 1)
    decades = float(np.log10(traj[-tail - 1] / traj[-1])) / tail * 1000
    print(
        f"train objective: final lambda / start = {train['lambda'] / train['lambda0']:.2e}, "
        f"still falling at {decades:.2f} decades per 1000 hyper steps over the last 10%"
    )
    print(f"\nCost per step (digits MLP 64-64-10, batch 64, median of {c['repeats']} repeats)")
    for name, t in c["median_seconds"].items():
        print(f"  {name:16s} {1e3 * t:7.2f} ms  ({t / c['median_seconds']['plain SGD step']:.2f}x)")
    print("\nTargets")
    for k, ok in checks.items():
        print(f"  {'HIT ' if ok else 'MISS'}  {k}")
    return decades


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps of the online tuners (2000)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="cost repeats (default 7)")
    parser.add_argument("--cost-steps", type=int, default=None, help="steps per cost repeat")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    torch.set_num_threads(1)
    repeats = args.repeats or (2 if args.quick else 7)
    cost_steps = args.cost_steps or (20 if args.quick else 100)
    start = time.perf_counter()
    data = l2.run(quick=args.quick, seed=args.seed, steps=args.steps)
    checks, collapse = _checks(data)
    c = cost(repeats, cost_steps)
    checks["T1-T2 step <= 3x plain step"] = bool(c["ratio_t1t2"] <= 3.0)
    seconds = time.perf_counter() - start
    decades = _print(data, c, checks)
    print(f"\n{seconds:.0f} s")
    table = l2.table(data)
    for r in data["runs"]:
        r["steps"], r["trajectory"] = _thin(r["steps"]), _thin(r["trajectory"])
    out = {
        "quick": args.quick,
        "table": table,
        "train_collapse_ratio": collapse,
        "train_decades_per_1000_steps_at_end": decades,
        "cost": c,
        "targets": checks,
        "l2": data,
        "seconds": seconds,
    }
    print(f"wrote {write_result(args.out, out)}")


if __name__ == "__main__":
    main()
