"""The replay task's base: a task whose learning curves are looked up instead of trained.

See :mod:`hyperlab.tasks.replay` for the replay tasks hyperlab ships.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from hyperlab.errors import InputError, TrialFailure
from hyperlab.tasks.base import EpochCallback, Evaluation, OptimizerWrapper, Segment, Task


@dataclass(frozen=True)
class ReplayCurve:
    """One configuration's full curves.

    Attributes:
        curves: Per-epoch curves (``val_loss`` always), each of shape ``(max_budget,)``; a
            diverged run holds NaN from the epoch it diverged.
        elapsed: Cumulative simulated seconds after each epoch, shape ``(max_budget,)``.
        extra: Per-epoch extra quantities (e.g. test loss), each of shape ``(max_budget,)``.
        std_err: Standard error over folds after each epoch, shape ``(max_budget,)``, where
            known (0.0 where not).
        fold_values: Each fold's validation score at the last epoch, where known (the scores
            behind ``std_err`` there).
    """

    curves: dict[str, np.ndarray]
    elapsed: np.ndarray
    extra: dict[str, np.ndarray]
    std_err: np.ndarray | None = None
    fold_values: np.ndarray | None = None

    def folds_at(self, epoch: int, value: float) -> list[float]:
        """The fold scores behind the value at ``epoch``: the recorded ones at the last epoch,
        else the value alone."""
        last = len(self.elapsed)
        if epoch == last and self.fold_values is not None:
            return [float(v) for v in self.fold_values]
        return [value]


class ReplayTask(Task):
    """A task whose curves are looked up; subclasses implement :meth:`_lookup`.

    The evaluation walks the stored curve epoch by epoch, calling ``on_epoch`` after each, so a
    pruner sees exactly what it would see during real training.

    A replay task also continues training (:meth:`train_segment`), as Syne Tune's simulator
    does for population-based training on tabular benchmarks: a segment from epoch ``e`` reads
    epochs ``e+1..e+k`` of its configuration's curve, and the state is only the epoch. A segment
    whose mutable hyperparameters changed therefore follows the *new* configuration's curve from
    epoch ``e``, as if that configuration had trained from the start: an approximation that
    knows nothing of the path the model took, and is kind to methods that change
    hyperparameters while training. Results of populations on replay tasks say so.
    """

    noise: str = "none"

    @abstractmethod
    def _lookup(self, config: dict[str, Any], seed: int) -> ReplayCurve:
        """The full curves of ``config`` (inputs already checked)."""

    def curve(self, config: dict[str, Any], seed: int = 0) -> ReplayCurve:
        """The full stored curves of ``config`` (all ``max_budget`` epochs)."""
        if not isinstance(config, dict):
            raise InputError(f"config must be a dict, got {config!r}")
        return self._lookup(config, int(seed))

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        rc = self._lookup(config, seed)
        curves: dict[str, list[float]] = {key: [] for key in rc.curves}
        for epoch in range(1, budget + 1):
            for key, values in rc.curves.items():
                curves[key].append(float(values[epoch - 1]))
            value = curves["val_loss"][-1]
            if not math.isfinite(value):
                raise TrialFailure(
                    f"training diverged at epoch {epoch}: validation loss {value}", curves=curves
                )
            if on_epoch is not None:
                on_epoch(epoch, value, curves)
        value = curves["val_loss"][-1]
        extra = {key: float(values[budget - 1]) for key, values in rc.extra.items()}
        if "val_metric" in curves:
            extra["val_accuracy"] = curves["val_metric"][-1]
        extra["simulated"] = True
        std_err = 0.0 if rc.std_err is None else float(rc.std_err[budget - 1])
        return Evaluation(
            value=value,
            std_err=std_err if math.isfinite(std_err) else 0.0,
            budget=budget,
            curves=curves,
            fold_values=rc.folds_at(budget, value),
            wall_time=float(rc.elapsed[budget - 1]),
            extra=extra,
        )

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        start = 0 if state is None else int(state["epoch"])
        if start + epochs > self.max_budget:
            raise InputError(
                f"{self.name} has curves of {self.max_budget} epochs; a segment of {epochs} "
                f"epochs from epoch {start} goes past them"
            )
        rc = self._lookup(config, seed)
        window = slice(start, start + epochs)
        curves = {key: [float(v) for v in values[window]] for key, values in rc.curves.items()}
        values = curves["val_loss"]
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise TrialFailure(
                    f"training diverged at epoch {start + i + 1}: validation loss {value}",
                    curves=curves,
                )
        end = start + epochs
        std_err = 0.0 if rc.std_err is None else float(rc.std_err[end - 1])
        before = float(rc.elapsed[start - 1]) if start else 0.0
        return Segment(
            state={"epoch": end},
            values=values,
            epoch=end,
            curves=curves,
            std_err=std_err if math.isfinite(std_err) else 0.0,
            fold_values=rc.folds_at(end, values[-1]),
            wall_time=float(rc.elapsed[end - 1]) - before,
        )

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(replay=True, noise=self.noise)
        return out
