"""Experiment ``self-lr``: networks that set their own learning rate.

Plain SGD and Adam are compared with their hypergradient-descent versions (SGD-HD, Adam-HD,
Baydin et al. 2018) and with stacked hyperoptimizers of height 1-3 on top of SGD (Chandra et
al. 2022), from initial learning rates spanning 1e-4 ... 1, on scikit-learn's digits with an MLP
and with softmax regression. What is measured: the final training and validation loss of every
run, how much the final validation loss depends on the initial rate, and the trajectory of the
learned rate.

A second part holds the self-tuning optimizers to the bar of the learning-rate-free optimizers
(D-Adaptation, Prodigy, DoG, Schedule-Free AdamW) on five small problems
(:mod:`hyperlab.experiments.lr_free_bar`); those whose optional packages are missing are left
out and named.

The training core (:func:`load_digits_split`, :func:`train_run`, :data:`METHODS`) is shared with
``benchmarks/hypergrad_sensitivity.py`` and ``benchmarks/hypergrad_cost.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.experiments.base import ExperimentResult, seeds_text
from hyperlab.registry import EXPERIMENTS

#: Settings of the stacks: base SGD with its rate in log coordinates; every hyperoptimizer is
#: Adam moving its own rate in log coordinates, by ≈ STACK_HYPER_LR (relative) per step.
STACK_HYPER_LR = 0.02
#: The HD optimizers use the library default (normalized, multiplicative, β = 0.1).
HD_HYPER_LR = 0.1
#: ``Adam-HD-target``: Adam-HD whose rate grows only while consecutive directions agree by more
#: than this cosine, at β = TARGET_HYPER_LR (chosen on the development problems:
#: ``docs/decisions/lr-free-bar.md``).
TARGET_COSINE = 0.05
TARGET_HYPER_LR = 0.2

FULL_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]
QUICK_RATES = [1e-4, 1e-2, 1.0]


@dataclass(frozen=True)
class DigitsSplit:
    """Standardized digits, split once into training and validation parts (float32 tensors)."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any


@cache
def load_digits_split(val_fraction: float = 0.3) -> DigitsSplit:
    """scikit-learn's digits (1797 × 64), stratified split (seed 0), standardized on train."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=val_fraction, stratify=y, random_state=0
    )
    mean, std = x_tr.mean(0), x_tr.std(0)
    std = np.where(std < 1e-8, 1.0, std)
    return DigitsSplit(
        torch.as_tensor((x_tr - mean) / std, dtype=torch.float32),
        torch.as_tensor(y_tr, dtype=torch.int64),
        torch.as_tensor((x_va - mean) / std, dtype=torch.float32),
        torch.as_tensor(y_va, dtype=torch.int64),
    )


def make_model(kind: str, seed: int) -> Any:
    """``"mlp"`` (64-64-10, ReLU) or ``"softmax"`` (softmax regression), seeded."""
    import torch

    torch.manual_seed(seed)
    return _architecture(kind)


def _architecture(kind: str) -> Any:
    import torch

    from hyperlab.tasks.mlp import build_mlp

    if kind == "softmax":
        return torch.nn.Linear(64, 10)
    if kind == "mlp":
        config = {"n_layers": 1, "width": 64, "activation": "relu", "dropout": 0.0}
        return build_mlp(64, 10, config)
    raise ValueError(f"unknown model kind {kind!r}; known: ['mlp', 'softmax']")


def stacked_sgd(height: int, hyper_lr: float = STACK_HYPER_LR) -> Callable[[Any, float], Any]:
    """A factory ``(params, initial lr) -> optimizer``: SGD under ``height`` hyperoptimizers.

    The base SGD learns its rate in log coordinates; each hyperoptimizer is Adam that learns the
    rate of the level below (in log coordinates) and starts at ``hyper_lr``; the top one's rate
    stays ``hyper_lr``.
    """

    def make(params: Any, lr: float) -> Any:
        from hyperlab.hypergrad import HyperAdam, HyperSGD, StackedOptimizer

        levels: list[Any] = [HyperSGD(lr=lr, lr_space="log")]
        levels += [HyperAdam(lr=hyper_lr, lr_space="log", learn=("lr",)) for _ in range(height)]
        return StackedOptimizer(params, levels)

    return make


def _torch(name: str) -> Callable[[Any, float], Any]:
    def make(params: Any, lr: float) -> Any:
        import torch

        return getattr(torch.optim, name)(params, lr=lr)

    return make


def _hd(name: str, **settings: float) -> Callable[[Any, float], Any]:
    def make(params: Any, lr: float) -> Any:
        from hyperlab import hypergrad

        return getattr(hypergrad, name)(params, lr=lr, **({"hyper_lr": HD_HYPER_LR} | settings))

    return make


#: Method name -> factory ``(params, initial lr) -> optimizer``.
METHODS: dict[str, Callable[[Any, float], Any]] = {
    "SGD": _torch("SGD"),
    "SGD-HD": _hd("SGDHD"),
    "Adam": _torch("Adam"),
    "Adam-HD": _hd("AdamHD"),
    "Adam-HD-target": _hd("AdamHD", hyper_lr=TARGET_HYPER_LR, target_cosine=TARGET_COSINE),
    "stack-h1": stacked_sgd(1),
    "stack-h2": stacked_sgd(2),
    "stack-h3": stacked_sgd(3),
}


def train_run(
    kind: str,
    method: str | Callable[[Any, float], Any],
    lr: float,
    seed: int,
    *,
    epochs: int,
    batch_size: int = 64,
    trace_every: int = 1,
) -> dict[str, Any]:
    """Train one model (``kind``, see :func:`make_model`) on the digits split with one optimizer.

    Returns:
        :func:`hyperlab.experiments.problems.train`'s output: ``train_loss`` (mean over the last
        epoch's batches), ``val_loss``, ``val_acc``, ``diverged`` (a non-finite loss stopped the
        run; losses are then ``inf``), ``lr_trace`` (the rate of group 0 every ``trace_every``
        steps), ``steps``, ``seconds`` and ``ms_per_step``.
    """
    from hyperlab.experiments.problems import train

    factory = METHODS[method] if isinstance(method, str) else method
    return train(
        _digits_problem(kind),
        factory,
        lr,
        seed,
        epochs=epochs,
        batch_size=batch_size,
        trace_every=trace_every,
    )


@cache
def _digits_problem(kind: str) -> Any:
    """The digits split with the model ``kind`` (a ``problems.Problem``)."""
    from hyperlab.experiments.problems import Problem

    _architecture(kind)  # refuses an unknown kind now
    data = load_digits_split()
    return Problem(
        f"digits-{kind}",
        data.x_train,
        data.y_train,
        data.x_val,
        data.y_val,
        "cross-entropy",
        lambda: _architecture(kind),
        epochs=10,
        batch_size=64,
    )


def spread(values: Sequence[float]) -> float:
    """max/min of positive values (``inf`` if any is not finite)."""
    if any(not math.isfinite(v) for v in values):
        return math.inf
    return max(values) / min(values)


def run_grid(
    kinds: Sequence[str],
    methods: Sequence[str],
    rates: Sequence[float],
    seeds: Sequence[int],
    *,
    epochs: int,
    trace_every: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every (model, method, initial rate, seed) run, as flat records."""
    records = []
    for kind in kinds:
        for method in methods:
            for lr in rates:
                for seed in seeds:
                    out = train_run(kind, method, lr, seed, epochs=epochs, trace_every=trace_every)
                    records.append({"model": kind, "method": method, "lr0": lr, "seed": seed} | out)
                if progress is not None:
                    progress(f"{kind} {method} lr0={lr:g}")
    return records


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if all(math.isfinite(v) for v in values) else math.inf


def summarize(
    records: list[dict[str, Any]], low: float = 1e-4, high: float = 1e-1
) -> list[dict[str, Any]]:
    """One row per (model, method): mean final losses over seeds at the best initial rate and
    the spread (max/min) of the seed-mean final validation loss over initial rates in
    ``[low, high]``."""
    rows = []
    keys = sorted(
        {(r["model"], r["method"]) for r in records},
        key=lambda k: (k[0], list(METHODS).index(k[1]) if k[1] in METHODS else 99),
    )
    for kind, method in keys:
        mine = [r for r in records if r["model"] == kind and r["method"] == method]
        by_rate: dict[float, list[dict[str, Any]]] = {}
        for r in mine:
            by_rate.setdefault(r["lr0"], []).append(r)
        val = {lr: _mean([r["val_loss"] for r in rs]) for lr, rs in by_rate.items()}
        train = {lr: _mean([r["train_loss"] for r in rs]) for lr, rs in by_rate.items()}
        best = min(val, key=lambda lr: val[lr])
        worst = max(val, key=lambda lr: val[lr])
        in_range = [v for lr, v in val.items() if low * (1 - 1e-9) <= lr <= high * (1 + 1e-9)]
        rows.append(
            {
                "model": kind,
                "method": method,
                "best lr0": best,
                "train loss @best": round(train[best], 4),
                "val loss @best": round(val[best], 4),
                "worst lr0": worst,
                "val loss @worst": round(val[worst], 4)
                if math.isfinite(val[worst])
                else "diverged",
                f"spread over lr0 in [{low:g}, {high:g}]": round(spread(in_range), 2)
                if in_range
                else math.nan,
                "runs with a non-finite loss": sum(r["diverged"] for r in mine),
            }
        )
    return rows


def _figures(records: list[dict[str, Any]], rates: Sequence[float], trace_seed: int) -> list[Any]:
    import plotly.graph_objects as go

    figures = []
    for kind in sorted({r["model"] for r in records}):
        fig = go.Figure()
        for method in METHODS:
            rows = [r for r in records if r["model"] == kind and r["method"] == method]
            if not rows:
                continue
            ys = [_mean([r["val_loss"] for r in rows if r["lr0"] == lr]) for lr in rates]
            fig.add_trace(
                go.Scatter(
                    x=list(rates),
                    y=[y if math.isfinite(y) else None for y in ys],
                    mode="lines+markers",
                    name=method,
                )
            )
        fig.update_layout(
            title=f"{kind}: final validation loss vs initial learning rate (mean over seeds)",
            xaxis={"type": "log", "title": "initial learning rate"},
            yaxis={"type": "log", "title": "final validation loss"},
        )
        figures.append(fig)
    learners = [m for m in METHODS if m not in ("SGD", "Adam")]
    for kind in sorted({r["model"] for r in records}):
        for method in learners:
            rows = [
                r
                for r in records
                if r["model"] == kind and r["method"] == method and r["seed"] == trace_seed
            ]
            if not rows:
                continue
            fig = go.Figure()
            for r in rows:
                fig.add_trace(
                    go.Scatter(
                        y=r["lr_trace"], mode="lines", name=f"lr0={r['lr0']:g}", showlegend=True
                    )
                )
            fig.update_layout(
                title=f"{kind} / {method}: learned learning rate during training (seed {trace_seed})",
                xaxis={"title": "step"},
                yaxis={"type": "log", "title": "learning rate"},
            )
            figures.append(fig)
    return figures


def _thin(trace: list[float], points: int = 120) -> list[float]:
    if len(trace) <= points:
        return trace
    idx = np.linspace(0, len(trace) - 1, points).round().astype(int)
    return [trace[i] for i in idx]


@EXPERIMENTS.add("self-lr", "learning rates set by hypergradients and stacked hyperoptimizers")
def self_lr(*, out_dir: Path, quick: bool, seed: int) -> ExperimentResult:
    """Run the experiment (``quick``: 3 rates, 1 seed, 2 epochs; full: 9 rates, 3 seeds, 10;
    the bar: see :func:`hyperlab.experiments.lr_free_bar.bar_section`)."""
    import torch

    torch.set_num_threads(1)
    rates = QUICK_RATES if quick else FULL_RATES
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    epochs = 2 if quick else 10
    start = time.perf_counter()
    records = run_grid(["mlp", "softmax"], list(METHODS), rates, seeds, epochs=epochs)
    elapsed = time.perf_counter() - start
    rows = summarize(records)
    figures = _figures(records, rates, seeds[0])
    summary = [
        f"Measured: final training and validation cross-entropy on scikit-learn digits "
        f"(70/30 stratified split, batch 64, {epochs} epochs) for an MLP (64-64-10) and "
        f"softmax regression, from {len(rates)} initial learning rates between {rates[0]:g} "
        f"and {rates[-1]:g}, {seeds_text(seeds)} each: plain SGD and Adam, their "
        f"hypergradient versions (normalized multiplicative rule, beta={HD_HYPER_LR}; "
        f"Adam-HD-target: beta={TARGET_HYPER_LR}, its rate grows only while consecutive "
        f"directions agree by a cosine above {TARGET_COSINE}), and SGD "
        f"under stacks of 1-3 Adam hyperoptimizers (each moving its level's log rate, top rate "
        f"{STACK_HYPER_LR}). {len(records)} runs in {elapsed:.0f} s.",
    ]
    spread_key = next(k for k in rows[0] if k.startswith("spread"))
    inside = [f"{r:g}" for r in rates if 1e-4 * (1 - 1e-9) <= r <= 1e-1 * (1 + 1e-9)]
    for kind in ("mlp", "softmax"):
        mine = {r["method"]: r for r in rows if r["model"] == kind}
        parts = ", ".join(f"{m} {mine[m][spread_key]}" for m in METHODS if m in mine)
        summary.append(
            f"{kind}: spread (max/min) of the seed-mean final validation loss over the initial "
            f"rates {', '.join(inside)} (those of 1e-4..1e-1 this run tried; 1 = the same loss "
            "from every rate, which a method that learns nothing from any rate also gets): "
            f"{parts}. Best final validation loss: "
            + ", ".join(f"{m} {mine[m]['val loss @best']}" for m in METHODS if m in mine)
            + "."
        )
    from hyperlab.experiments.lr_free_bar import bar_section

    bar_summary, bar_figures, bar_data = bar_section(seeds, quick)
    summary += bar_summary
    if quick:
        summary.append("Quick version: a smoke run; the numbers are not conclusive.")
    data = {
        "settings": {
            "rates": rates,
            "seeds": seeds,
            "epochs": epochs,
            "batch_size": 64,
            "hd_hyper_lr": HD_HYPER_LR,
            "stack_hyper_lr": STACK_HYPER_LR,
            "quick": quick,
        },
        "runs": [r | {"lr_trace": _thin(r["lr_trace"])} for r in records],
        "summary": rows,
        "seconds": elapsed,
        "lr_free_bar": bar_data,
    }
    return ExperimentResult(
        name="self-lr",
        title="A network that sets its own learning rate",
        summary=summary,
        table=rows,
        figures=figures + bar_figures,
        data=data,
    )
