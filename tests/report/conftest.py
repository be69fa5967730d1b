"""Runs shared by the report tests: built-in tasks, a test task and users' own objectives."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.registry import TASKS
from hyperlab.report import write_report
from hyperlab.tasks.base import EpochCallback, Evaluation, Task


def conditional_objective(trial: optuna.Trial) -> float:
    """A user's objective with conditional parameters that reports no intermediate values:
    ``momentum`` (float) and ``depth`` (int) exist only when ``optimizer`` is ``sgd``."""
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd"])
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    value = (math.log10(lr) + 2.5) ** 2 + 0.1234567890123
    if optimizer == "sgd":
        momentum = trial.suggest_float("momentum", 0.0, 0.99)
        depth = trial.suggest_int("depth", 1, 12)
        value += (momentum - 0.9) ** 2 + abs(depth - 6) / 10
    return value


def reporting_objective(trial: optuna.Trial) -> float:
    """A user's objective that reports a value every 10 steps (``trial.report``)."""
    x = trial.suggest_float("x", -1.0, 1.0)
    value = 0.0
    for step in (10, 20, 30):
        value = x**2 + 1.0 / step
        trial.report(value, step)
    return value


class ToyCurves(Task):
    """A cheap task with learning curves: loss(x, epoch) = (x - 0.3)^2 + 1/epoch, scored by
    two folds with standard error ``std_err``."""

    name = "toy-curves"
    max_budget = 9
    train_ratio = 0.9
    std_err = 0.01
    folds = 2

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        curves: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
        for epoch in range(1, budget + 1):
            val = (config["x"] - 0.3) ** 2 + 1.0 / epoch
            curves["val_loss"].append(val)
            curves["train_loss"].append(self.train_ratio * val)
            if on_epoch:
                on_epoch(epoch, val, curves)
        value = curves["val_loss"][-1]
        return Evaluation(
            value=value,
            std_err=self.std_err,
            budget=budget,
            curves=curves,
            fold_values=[value] * self.folds,
        )


class NoCVTask(ToyCurves):
    """A task scored once (no cross-validation) by cross-entropy, with a test split."""

    name = "report-no-cv"
    max_budget = 5
    metric = "cross-entropy"
    train_ratio = 0.8
    std_err = 0.0
    folds = 1

    def test_score(self, config: dict[str, Any], budget: int | None = None, seed: int = 0) -> float:
        return (config["x"] - 0.3) ** 2 + 0.00069


for _task, _about in ((ToyCurves, "test task with curves"), (NoCVTask, "test task: no CV")):
    if _task.name not in TASKS:
        TASKS.register(_task.name, _task, _about)


def _tune(root: Path, name: str, task: Any, trials: int, **kw: Any) -> Path:
    hyperlab.tune(task, "random", trials=trials, runs_dir=root, name=name, progress=False, **kw)
    write_report(root / name)
    return root / name


def _compare(root: Path, name: str, task: Any, **kw: Any) -> Path:
    hyperlab.compare(task, runs_dir=root, name=name, progress=False, **kw)
    write_report(root / name)
    return root / name


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report-runs")


@pytest.fixture(scope="session")
def user_tune(runs_root: Path) -> Path:
    """A tune run of :func:`conditional_objective`."""
    return _tune(runs_root, "user-tune", conditional_objective, 12)


@pytest.fixture(scope="session")
def user_compare(runs_root: Path) -> Path:
    """A compare run of :func:`conditional_objective`."""
    return _compare(
        runs_root,
        "user-compare",
        conditional_objective,
        tuners=["random", "qmc"],
        seeds=2,
        trials=5,
    )


@pytest.fixture(scope="session")
def no_cv_tune(runs_root: Path) -> Path:
    """A tune run of :class:`NoCVTask`."""
    return _tune(runs_root, "no-cv-tune", NoCVTask.name, 5)


@pytest.fixture(scope="session")
def builtin_tune(runs_root: Path) -> Path:
    """A tune run of a built-in task with learning curves, with enough trials (8) for the
    report's parameter importances."""
    return _tune(runs_root, "bank-tune", "digits-mlp-bank", 8)


@pytest.fixture(scope="session")
def builtin_compare(runs_root: Path) -> Path:
    """A compare run of a built-in task with a pruner, so pruned curves exist."""
    return _compare(
        runs_root,
        "bank-compare",
        "digits-mlp-bank",
        tuners=["random", "qmc"],
        seeds=1,
        trials=8,
        pruners=["median"],
    )
