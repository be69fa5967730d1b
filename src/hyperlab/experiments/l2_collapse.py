"""Experiment ``l2-collapse``: who can tune weight decay while the network trains?

Softmax regression on a small subset of scikit-learn's digits (100 training images, so the
64 x 10 weights overfit and weight decay matters). The strength ``lambda`` of the penalty
``lambda / 2 * ||W||^2`` is tuned during one training run by

* descent on the training objective (``train``): its derivative in ``lambda`` is
  ``||W||^2 / 2 >= 0``, so ``lambda`` can only fall - it collapses toward zero;
* the validation hypergradient through one SGD step (``t1t2``, Luketina et al. 2016);
* the implicit-function-theorem hypergradient (``ift``, Lorraine et al. 2020);

and compared with a grid search over ``lambda`` that solves each training problem exactly
(L-BFGS). All three online methods use the same hyper-optimizer (Adam on ``log lambda``) and the
same starting value. The core (:func:`load_problem`, :func:`grid_search`, :func:`tune`) is shared
with ``benchmarks/hypergrad_l2.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.experiments.base import ExperimentResult, seeds_text
from hyperlab.registry import EXPERIMENTS

#: Per-method settings of the online tuners: hyper step every k training steps.
HYPER_EVERY = {"train": 1, "t1t2": 1, "ift": 20}
LAMBDA0 = 1e-2
LR = 1.0
HYPER_LR = 0.05
#: A validation-tuned lambda that moved less than this (relative) over the last tenth of the
#: training steps is said to have settled; otherwise the page says it was still moving.
SETTLED = 0.02


@dataclass(frozen=True)
class L2Problem:
    """Standardized digits split into a small training set, a validation set and a test set."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any


def load_problem(n_train: int = 100, n_val: int = 400, seed: int = 0) -> L2Problem:
    """Digits (1797 x 64) permuted by ``seed``: ``n_train`` / ``n_val`` / the rest as test.

    Features are centred and scaled by the training mean and ``std + 1`` (float64 tensors).
    """
    import torch
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(seed).permutation(len(x))
    tr, va, te = idx[:n_train], idx[n_train : n_train + n_val], idx[n_train + n_val :]
    mu, sd = x[tr].mean(0), x[tr].std(0) + 1.0

    def part(a: np.ndarray) -> tuple[Any, Any]:
        return torch.tensor((x[a] - mu) / sd, dtype=torch.float64), torch.tensor(y[a])

    return L2Problem(*part(tr), *part(va), *part(te))


def _model(seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    return torch.nn.Linear(64, 10).double()


def evaluate(problem: L2Problem, model: Any) -> dict[str, float]:
    """Validation and test cross-entropy and accuracy of a model (no penalty)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        out = {}
        for part in ("val", "test"):
            x, y = getattr(problem, f"x_{part}"), getattr(problem, f"y_{part}")
            logits = model(x)
            out[f"{part}_loss"] = float(F.cross_entropy(logits, y))
            out[f"{part}_acc"] = float((logits.argmax(1) == y).double().mean())
    return out


def solve(problem: L2Problem, lam: float, *, max_iter: int = 500, seed: int = 0) -> Any:
    """The minimizer of training cross-entropy + ``lam / 2 * ||W||^2`` (L-BFGS, to tolerance)."""
    import torch
    import torch.nn.functional as F

    model = _model(seed)
    opt = torch.optim.LBFGS(
        model.parameters(),
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Any:
        opt.zero_grad()
        loss = F.cross_entropy(model(problem.x_train), problem.y_train)
        loss = loss + 0.5 * lam * model.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model


def grid_search(
    problem: L2Problem, lambdas: list[float], *, max_iter: int = 500
) -> list[dict[str, float]]:
    """Solve the training problem exactly at every ``lambda``; one row per value."""
    return [
        {"lambda": lam} | evaluate(problem, solve(problem, lam, max_iter=max_iter))
        for lam in lambdas
    ]


def tune(
    problem: L2Problem,
    method: str,
    *,
    steps: int,
    lam0: float = LAMBDA0,
    lr: float = LR,
    hyper_lr: float = HYPER_LR,
    seed: int = 0,
    refit_iter: int = 500,
) -> dict[str, Any]:
    """Tune ``lambda`` online with :class:`~hyperlab.hypergrad.HyperTrainer` (full batch).

    Returns:
        ``lambda`` trajectory and final value, the validation/test scores of the model trained
        online and of the exact solution refit at the final ``lambda``, and the wall time.
    """
    import torch.nn.functional as F

    from hyperlab.hypergrad import HyperTrainer, WeightDecay

    model = _model(seed)
    wd = WeightDecay(model, lam0)
    trainer = HyperTrainer(
        model,
        F.cross_entropy,
        [wd],
        method=method,
        lr=lr,
        hyper_lr=hyper_lr,
        hyper_every=HYPER_EVERY[method],
    )
    start = time.perf_counter()
    hist = trainer.fit(
        [(problem.x_train, problem.y_train)] * steps, [(problem.x_val, problem.y_val)]
    )
    seconds = time.perf_counter() - start
    lam = trainer.values()["weight_decay"]
    online = evaluate(problem, model)
    refit = evaluate(problem, solve(problem, lam, max_iter=refit_iter, seed=seed))
    return {
        "method": method,
        "lambda0": lam0,
        "lambda": lam,
        "steps": hist.step,
        "trajectory": hist.values["weight_decay"],
        "online": online,
        "refit": refit,
        "seconds": seconds,
    }


def _thin(xs: list[Any], points: int = 200) -> list[Any]:
    if len(xs) <= points:
        return list(xs)
    idx = np.linspace(0, len(xs) - 1, points).round().astype(int)
    return [xs[i] for i in idx]


def run(*, quick: bool, seed: int, steps: int | None = None) -> dict[str, Any]:
    """Everything the experiment and the benchmark measure, as plain data.

    Args:
        quick: Short version (200 training steps, 4 grid values) instead of 2000 and 21.
        seed: Data split and initialization.
        steps: Training steps of the online tuners, overriding the default.
    """
    problem = load_problem(seed=seed)
    if steps is None:
        steps = 200 if quick else 2000
    lambdas = list(np.logspace(-4, -1, 4) if quick else np.logspace(-5, 0, 21))
    max_iter = 50 if quick else 500
    start = time.perf_counter()
    grid = grid_search(problem, lambdas, max_iter=max_iter)
    grid_seconds = time.perf_counter() - start
    best = min(grid, key=lambda r: r["val_loss"])
    runs = [
        tune(problem, m, steps=steps, seed=seed, refit_iter=max_iter)
        for m in ("train", "t1t2", "ift")
    ]
    return {
        "settings": {
            "n_train": 100,
            "n_val": 400,
            "n_test": len(problem.y_test),
            "steps": steps,
            "lambda0": LAMBDA0,
            "lr": LR,
            "hyper_lr": HYPER_LR,
            "hyper_every": HYPER_EVERY,
            "grid": lambdas,
            "seed": seed,
            "quick": quick,
        },
        "grid": grid,
        "grid_best": best,
        "grid_seconds": grid_seconds,
        "runs": runs,
    }


def table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per method (grid search first)."""
    best = data["grid_best"]
    rows = [
        {
            "method": f"grid ({len(data['grid'])} values, exact solves)",
            "final lambda": f"{best['lambda']:.3g}",
            "lambda / grid best": 1.0,
            "val loss (online model)": None,
            "val loss (refit at lambda)": round(best["val_loss"], 4),
            "test acc (refit)": round(best["test_acc"], 4),
            "seconds": round(data["grid_seconds"], 1),
        }
    ]
    for r in data["runs"]:
        rows.append(
            {
                "method": {"train": "train objective", "t1t2": "T1-T2", "ift": "IFT"}[r["method"]],
                "final lambda": f"{r['lambda']:.3g}",
                "lambda / grid best": float(f"{r['lambda'] / best['lambda']:.3g}"),
                "val loss (online model)": round(r["online"]["val_loss"], 4),
                "val loss (refit at lambda)": round(r["refit"]["val_loss"], 4),
                "test acc (refit)": round(r["refit"]["test_acc"], 4),
                "seconds": round(r["seconds"], 1),
            }
        )
    return rows


def _figures(data: dict[str, Any]) -> list[Any]:
    import plotly.graph_objects as go

    best = data["grid_best"]
    names = {"train": "train objective", "t1t2": "T1-T2", "ift": "IFT"}
    traj = go.Figure()
    for r in data["runs"]:
        traj.add_trace(
            go.Scatter(
                x=_thin(r["steps"]), y=_thin(r["trajectory"]), mode="lines", name=names[r["method"]]
            )
        )
    traj.add_hline(
        y=best["lambda"], line_dash="dash", annotation_text="grid optimum", line_color="gray"
    )
    traj.update_layout(
        title="Weight decay lambda during training",
        xaxis={"title": "training step"},
        yaxis={"type": "log", "title": "lambda"},
    )
    grid = go.Figure()
    grid.add_trace(
        go.Scatter(
            x=[r["lambda"] for r in data["grid"]],
            y=[r["val_loss"] for r in data["grid"]],
            mode="lines+markers",
            name="grid (exact solve)",
        )
    )
    for r in data["runs"]:
        grid.add_trace(
            go.Scatter(
                x=[r["lambda"]],
                y=[r["refit"]["val_loss"]],
                mode="markers",
                marker={"size": 12, "symbol": "x"},
                name=f"{names[r['method']]} (refit)",
            )
        )
    grid.update_layout(
        title="Validation loss against lambda",
        xaxis={"type": "log", "title": "lambda"},
        yaxis={"title": "validation cross-entropy"},
    )
    return [traj, grid]


def _summary(data: dict[str, Any]) -> list[str]:
    s = data["settings"]
    best = data["grid_best"]
    runs = {r["method"]: r for r in data["runs"]}
    out = [
        f"Measured: softmax regression on {s['n_train']} digits images (validation {s['n_val']}, "
        f"test {s['n_test']}), full-batch SGD (lr {s['lr']}) for "
        f"{s['steps']} steps while lambda (start {s['lambda0']:g}) is moved by Adam on log lambda "
        f"(rate {s['hyper_lr']}); T1-T2 and train-objective take a hyper step every training "
        f"step, IFT every {s['hyper_every']['ift']} steps (20-term Neumann series). The grid "
        f"solves the training problem exactly at {len(data['grid'])} values of lambda. One "
        f"run, {seeds_text([s['seed']])} (the data split and the initial weights).",
        f"Grid optimum: lambda {best['lambda']:.3g}, validation loss {best['val_loss']:.4f}, "
        f"test accuracy {best['test_acc']:.3f}.",
    ]
    tr = runs["train"]
    out.append(
        f"Descent on the training objective only lowers lambda (its hypergradient is "
        f"||W||^2/2 >= 0): it fell from {tr['lambda0']:g} to {tr['lambda']:.3g} "
        f"({tr['lambda'] / tr['lambda0']:.1e} of its start) and was still falling; refit there the "
        f"validation loss is {tr['refit']['val_loss']:.4f}."
    )
    for m, label in (("t1t2", "T1-T2"), ("ift", "IFT")):
        r = runs[m]
        out.append(
            f"{label} {_ending(r, best['lambda'])}; validation loss {r['refit']['val_loss']:.4f} refit at that lambda "
            f"({100 * (r['refit']['val_loss'] / best['val_loss'] - 1):+.1f}% vs the grid), "
            f"{r['online']['val_loss']:.4f} for the model trained online, in {r['seconds']:.1f} s."
        )
    if s["quick"]:
        out.append("Quick version: fewer steps and grid points; the numbers are not conclusive.")
    return out


def _last_tenth_change(run: dict[str, Any]) -> float:
    """Relative change of ``lambda`` over the last tenth of a run's training steps (from its
    last value recorded at or before 90% of the steps)."""
    steps, lam = run["steps"], run["trajectory"]
    since = max((i for i, s in enumerate(steps) if s <= 0.9 * steps[-1]), default=0)
    return float(lam[-1] / lam[since] - 1)


def _ending(run: dict[str, Any], grid_best: float) -> str:
    """'settled at lambda X (Yx the grid optimum)', or 'ended at lambda X (Yx the grid
    optimum), still falling (-5.0% over the last tenth of the steps)'."""
    change = _last_tenth_change(run)
    where = f"at lambda {run['lambda']:.3g} ({run['lambda'] / grid_best:.2f}x the grid optimum)"
    if abs(change) < SETTLED:
        return f"settled {where}"
    way = "falling" if change < 0 else "rising"
    return f"ended {where}, still {way} ({100 * change:+.1f}% over the last tenth of the steps)"


@EXPERIMENTS.add("l2-collapse", "weight decay tuned on training vs validation hypergradients")
def l2_collapse(*, out_dir: Path, quick: bool, seed: int) -> ExperimentResult:
    """Run the experiment (``quick``: 200 steps, 4 grid values; full: 2000 steps, 21 values)."""
    import torch

    torch.set_num_threads(1)
    data = run(quick=quick, seed=seed)
    for r in data["runs"]:
        r["steps"], r["trajectory"] = _thin(r["steps"]), _thin(r["trajectory"])
    return ExperimentResult(
        name="l2-collapse",
        title="Weight decay tuned while training: the training objective collapses it",
        summary=_summary(data),
        table=table(data),
        figures=_figures(data),
        data=data,
    )
