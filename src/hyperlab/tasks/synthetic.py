"""Cheap synthetic functions with known global optima, so regret is exact."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import optuna

from hyperlab.registry import TASKS
from hyperlab.tasks.base import EpochCallback, Evaluation, Task


class SyntheticTask(Task):
    """A deterministic function of a box-bounded vector; budget is always 1."""

    max_budget = 1
    metric = "value"
    bounds: tuple[tuple[float, float], ...] = ()
    argmin: tuple[float, ...] = ()

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            f"x{i}": trial.suggest_float(f"x{i}", low, high)
            for i, (low, high) in enumerate(self.bounds)
        }

    def function(self, x: np.ndarray) -> float:
        """The function at the point ``x`` of shape ``(d,)``."""
        raise NotImplementedError

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        start = time.perf_counter()
        x = np.array([float(config[f"x{i}"]) for i in range(len(self.bounds))])
        value = float(self.function(x))
        curves = {"val_loss": [value]}
        if on_epoch is not None:
            on_epoch(1, value, curves)
        return Evaluation(
            value=value,
            std_err=0.0,
            budget=1,
            curves=curves,
            fold_values=[value],
            wall_time=time.perf_counter() - start,
        )

    def test_score(
        self, config: dict[str, Any], budget: int | None = None, seed: int = 0
    ) -> float | None:
        """``None``: a function has no held-out split (its value is the validation score)."""
        return None


class Branin(SyntheticTask):
    name = "branin"
    description = "Branin-Hoo function, 2-D, optimum 0.397887 at three points"
    bounds = ((-5.0, 10.0), (0.0, 15.0))
    optimum = 0.39788735772973816
    argmin = (math.pi, 2.275)

    def function(self, x: np.ndarray) -> float:
        x1, x2 = x
        b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
        t = 1 / (8 * math.pi)
        return float((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


class Hartmann6(SyntheticTask):
    name = "hartmann6"
    description = "Hartmann function, 6-D on [0,1]^6, optimum -3.32237"
    bounds = ((0.0, 1.0),) * 6
    optimum = -3.322368011415515
    argmin = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
    _alpha = np.array([1.0, 1.2, 3.0, 3.2])
    _a = np.array(
        [
            [10, 3, 17, 3.5, 1.7, 8],
            [0.05, 10, 17, 0.1, 8, 14],
            [3, 3.5, 1.7, 10, 17, 8],
            [17, 8, 0.05, 10, 0.1, 14],
        ]
    )
    _p = 1e-4 * np.array(
        [
            [1312, 1696, 5569, 124, 8283, 5886],
            [2329, 4135, 8307, 3736, 1004, 9991],
            [2348, 1451, 3522, 2883, 3047, 6650],
            [4047, 8828, 8732, 5743, 1091, 381],
        ]
    )

    def function(self, x: np.ndarray) -> float:
        inner = np.sum(self._a * (x[None, :] - self._p) ** 2, axis=1)
        return float(-np.sum(self._alpha * np.exp(-inner)))


class Rosenbrock4D(SyntheticTask):
    name = "rosenbrock-4d"
    description = "Rosenbrock function, 4-D on [-2,2]^4, optimum 0 at (1,1,1,1)"
    bounds = ((-2.0, 2.0),) * 4
    optimum = 0.0
    argmin = (1.0, 1.0, 1.0, 1.0)

    def function(self, x: np.ndarray) -> float:
        return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


for _cls in (Branin, Hartmann6, Rosenbrock4D):
    TASKS.register(_cls.name, _cls, _cls.description)
