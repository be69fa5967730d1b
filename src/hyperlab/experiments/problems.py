"""Small training problems for comparing optimizers, and one training loop for all of them.

A :class:`Problem` is fixed data (split once, standardized on its training part), a seeded model
builder, a loss and a default length. :func:`train` runs one optimizer on one problem and returns
the final losses, the learning-rate trace and the time per step. The problems:

- ``digits-mlp``, ``breast-cancer-mlp``, ``wine-mlp``: the data of the built-in MLP tasks with
  an MLP of two hidden layers of 64 (ReLU), cross-entropy;
- ``digits-cnn``: the digits as 8×8 images, two 3×3 convolutions (16, 32 channels) with max
  pooling and a linear read-out, cross-entropy;
- ``diabetes-mlp``: scikit-learn's diabetes regression (442 × 10, target standardized on the
  training part), the same MLP with one output, mean squared error;
- :data:`DEV_PROBLEMS`: four more, kept apart for choosing defaults.

Every data set ships with scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from hyperlab.errors import InputError

#: Optimizer factory: ``(parameters, initial learning rate) -> torch optimizer``.
Factory = Callable[[Any, float], Any]


@dataclass(frozen=True)
class Problem:
    """Fixed data, a model and a loss.

    Attributes:
        name: Its name in :data:`PROBLEMS`.
        x_train: Training inputs (float32 tensor, ``(n, d)``).
        y_train: Training targets (int64 labels ``(n,)``, or float32 values ``(n,)``).
        x_val: Validation inputs.
        y_val: Validation targets.
        loss: ``"cross-entropy"`` or ``"mse"``.
        build: Builds a fresh model (called after the seed is set).
        epochs: Default number of epochs.
        batch_size: Default batch size.
    """

    name: str
    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    loss: str
    build: Callable[[], Any]
    epochs: int
    batch_size: int = 32

    def model(self, seed: int) -> Any:
        """A fresh model whose initial weights depend only on ``seed``."""
        import torch

        torch.manual_seed(seed)
        return self.build()

    def loss_of(self, out: Any, y: Any) -> Any:
        """The training loss of outputs ``out`` against targets ``y`` (a scalar tensor)."""
        import torch.nn.functional as F

        if self.loss == "mse":
            return F.mse_loss(out.squeeze(-1), y)
        return F.cross_entropy(out, y)


def _split(x: np.ndarray, y: np.ndarray, classify: bool) -> tuple[Any, Any, Any, Any]:
    """70/30 split (seed 0; stratified when ``classify``), standardized on the training part."""
    import torch
    from sklearn.model_selection import train_test_split

    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=0.3, stratify=y if classify else None, random_state=0
    )
    mean, std = x_tr.mean(0), x_tr.std(0)
    std = np.where(std < 1e-8, 1.0, std)
    if classify:
        targets = (
            torch.as_tensor(y_tr, dtype=torch.int64),
            torch.as_tensor(y_va, dtype=torch.int64),
        )
    else:
        mu, sd = y_tr.mean(), y_tr.std()
        targets = (
            torch.as_tensor((y_tr - mu) / sd, dtype=torch.float32),
            torch.as_tensor((y_va - mu) / sd, dtype=torch.float32),
        )
    return (
        torch.as_tensor((x_tr - mean) / std, dtype=torch.float32),
        targets[0],
        torch.as_tensor((x_va - mean) / std, dtype=torch.float32),
        targets[1],
    )


def _mlp(n_in: int, n_out: int) -> Callable[[], Any]:
    from hyperlab.tasks.mlp import build_mlp

    config = {"n_layers": 2, "width": 64, "activation": "relu", "dropout": 0.0}
    return lambda: build_mlp(n_in, n_out, config)


def _cnn() -> Any:
    """Two 3×3 convolutions with max pooling on 8×8 images (inputs flat, ``(n, 64)``)."""
    from torch import nn

    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 10),
    )


# name -> (scikit-learn data: a loader, or a generator with its arguments; classification?;
# model kind; default epochs); the epochs give every problem a few hundred steps of batch 32.
_SPECS: dict[str, tuple[str, bool, str, int]] = {
    "digits-mlp": ("load_digits", True, "mlp", 15),
    "breast-cancer-mlp": ("load_breast_cancer", True, "mlp", 30),
    "wine-mlp": ("load_wine", True, "mlp", 60),
    "digits-cnn": ("load_digits", True, "cnn", 15),
    "diabetes-mlp": ("load_diabetes", False, "mlp", 40),
}
_DEV_SPECS: dict[str, tuple[str, bool, str, int]] = {
    "iris-mlp": ("load_iris", True, "mlp", 80),
    "moons-mlp": ("make_moons", True, "mlp", 15),
    "blobs-mlp": ("make_classification", True, "mlp", 12),
    "friedman-mlp": ("make_friedman1", False, "mlp", 30),
}
# Arguments of the generated data sets (fixed: the data never change with the run's seed).
_GENERATED: dict[str, dict[str, Any]] = {
    "make_moons": {"n_samples": 1000, "noise": 0.3, "random_state": 0},
    "make_classification": {
        "n_samples": 1500,
        "n_features": 20,
        "n_informative": 8,
        "n_classes": 4,
        "random_state": 0,
    },
    "make_friedman1": {"n_samples": 600, "noise": 1.0, "random_state": 0},
}

#: The reported problems' names, in display order.
PROBLEMS: tuple[str, ...] = tuple(_SPECS)
#: Development problems: for choosing a method's defaults, never for reporting (iris, two
#: moons, a generated 4-class problem with 20 features, Friedman #1 regression).
DEV_PROBLEMS: tuple[str, ...] = tuple(_DEV_SPECS)


@cache
def load_problem(name: str) -> Problem:
    """The problem called ``name`` (one of :data:`PROBLEMS` or :data:`DEV_PROBLEMS`); its data
    are loaded once.

    Raises:
        InputError: ``name`` is not a known problem.
    """
    from sklearn import datasets

    specs = _SPECS | _DEV_SPECS
    if name not in specs:
        raise InputError(f"unknown problem {name!r}; known: {list(PROBLEMS + DEV_PROBLEMS)}")
    source, classify, kind, epochs = specs[name]
    x, y = getattr(datasets, source)(**_GENERATED.get(source, {"return_X_y": True}))
    x_tr, y_tr, x_va, y_va = _split(x.astype(np.float64), y, classify)
    n_out = int(y.max()) + 1 if classify else 1
    build = _cnn if kind == "cnn" else _mlp(x.shape[1], n_out)
    loss = "cross-entropy" if classify else "mse"
    return Problem(name, x_tr, y_tr, x_va, y_va, loss, build, epochs)


def set_mode(model: Any, optimizer: Any, training: bool) -> None:
    """Put the model, and an optimizer that has modes (Schedule-Free), in training or eval mode.

    Schedule-Free optimizers keep two sequences of weights and evaluate at their average: their
    ``eval()`` swaps the averaged weights in and ``train()`` swaps them back, so a model must be
    evaluated between the two calls.
    """
    model.train(training)
    switch = getattr(optimizer, "train" if training else "eval", None)
    if callable(switch):
        switch()


def evaluate(problem: Problem, model: Any) -> tuple[float, float]:
    """Validation loss and accuracy (``nan`` for a regression) of ``model`` on ``problem``."""
    import torch

    with torch.no_grad():
        out = model(problem.x_val)
        loss = float(problem.loss_of(out, problem.y_val))
        if problem.loss == "mse":
            return loss, math.nan
        return loss, float((out.argmax(1) == problem.y_val).float().mean())


def _rate(group: dict[str, Any]) -> float:
    """The step size of a parameter group: its rate, times the distance estimate ``d`` that
    D-Adaptation and Prodigy multiply it by."""
    return float(group["lr"]) * float(group.get("d", 1.0))


def train(
    problem: Problem,
    factory: Factory,
    lr: float,
    seed: int,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    trace_every: int = 1,
) -> dict[str, Any]:
    """Train one model on ``problem`` with one optimizer; return final losses and the rate trace.

    The seed sets the initial weights and the order of the batches, so two optimizers with the
    same seed start from the same weights and see the same batches.

    Args:
        problem: The data, model and loss.
        factory: ``(parameters, lr) -> optimizer``.
        lr: The initial learning rate handed to ``factory``.
        seed: Seed of the weights and of the batch order.
        epochs: Passes over the training data (default: the problem's).
        batch_size: Examples per step (default: the problem's).
        trace_every: Record the step size of parameter group 0 every this many steps.

    Returns:
        ``train_loss`` (mean over the last epoch's batches), ``val_loss``, ``val_acc``,
        ``diverged`` (a non-finite loss stopped the run; losses are then ``inf``), ``lr_trace``,
        ``steps``, ``seconds`` (training only) and ``ms_per_step``.
    """
    import torch

    epochs = problem.epochs if epochs is None else epochs
    batch_size = problem.batch_size if batch_size is None else batch_size
    model = problem.model(seed)
    opt = factory(model.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(problem.y_train)
    trace: list[float] = []
    step, train_loss, diverged = 0, math.inf, False
    set_mode(model, opt, True)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            loss = problem.loss_of(model(problem.x_train[idx]), problem.y_train[idx])
            if not torch.isfinite(loss):
                diverged = True
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            if step % trace_every == 0:
                trace.append(_rate(opt.param_groups[0]))
            step += 1
        if diverged:
            break
        train_loss = total / n
    seconds = time.perf_counter() - start
    set_mode(model, opt, False)
    val_loss, val_acc = evaluate(problem, model)
    if diverged or not math.isfinite(val_loss):
        diverged, train_loss, val_loss, val_acc = True, math.inf, math.inf, 0.0
    return {
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "diverged": diverged,
        "lr_trace": trace,
        "steps": step,
        "seconds": seconds,
        "ms_per_step": 1e3 * seconds / max(step, 1),
    }
