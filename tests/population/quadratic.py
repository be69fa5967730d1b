"""A cheap task that continues training: momentum descent on a noisy quadratic.

Each epoch takes ``steps`` steps on ``sum(scales * w**2)`` (scales 1, 2, 4, 8) with gradient
noise; the score is the loss after the epoch. A rate above about 0.25 diverges, which the task
reports as a :class:`~hyperlab.errors.TrialFailure`. ``crash_after`` raises
:class:`SimulatedCrash` after that many segments (the process dies: no handler of the lab
catches it); ``sleep`` waits in every segment.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
import optuna

from hyperlab.errors import TrialFailure
from hyperlab.tasks.base import EpochCallback, Evaluation, OptimizerWrapper, Segment, Task

SCALES = np.array([1.0, 2.0, 4.0, 8.0])


class SimulatedCrash(BaseException):
    """The process dies here (a ``BaseException``, as ``SystemExit`` is: an error of a task's
    own code, an ``Exception``, only fails the member)."""


class Quadratic(Task):
    """Momentum descent on a noisy quadratic.

    Args:
        lr_high: Upper end of the rate's range (above ~0.25 diverges).
        crash_after: Raise :class:`SimulatedCrash` at the start of segment number ``crash_after``
            (counted from 0 over this object's life); ``None``: never.
        sleep: Seconds to wait in every segment.
    """

    name = "quadratic"
    max_budget = 12
    mutable_params = ("lr", "momentum", "steps")

    def __init__(
        self, lr_high: float = 0.1, crash_after: int | None = None, sleep: float = 0.0
    ) -> None:
        self.lr_high = lr_high
        self.crash_after = crash_after
        self.sleep = sleep
        self.segments = 0

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 1e-3, self.lr_high, log=True),
            "momentum": trial.suggest_float("momentum", 0.0, 0.9),
            "steps": trial.suggest_int("steps", 1, 8),
            "start": trial.suggest_categorical("start", ["near", "far"]),
        }

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        segment = self._train_segment(config, None, budget, seed, None)
        return Evaluation(value=segment.value, budget=budget, curves=segment.curves)

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        if self.crash_after is not None and self.segments >= self.crash_after:
            raise SimulatedCrash(f"simulated crash at segment {self.segments}")
        self.segments += 1
        time.sleep(self.sleep)
        rng = np.random.default_rng(seed)
        if state is None:
            w = rng.normal(size=4) * (1.0 if config["start"] == "near" else 5.0)
            v, epoch = np.zeros(4), 0
        else:
            w, v, epoch = state["w"].copy(), state["v"].copy(), state["epoch"]
            rng.bit_generator.state = state["rng"]
        values = []
        for _ in range(epochs):
            for _ in range(config["steps"]):
                v = config["momentum"] * v + 2 * SCALES * w + rng.normal(scale=0.01, size=4)
                w = w - config["lr"] * v
            values.append(float(np.sum(SCALES * w**2)))
            if not math.isfinite(values[-1]) or values[-1] > 1e4:
                raise TrialFailure(f"diverged: loss {values[-1]}", {"val_loss": values})
        out = {"w": w, "v": v, "epoch": epoch + epochs, "rng": rng.bit_generator.state}
        return Segment(state=out, values=values, epoch=epoch + epochs, curves={"val_loss": values})


class Unseeded(Quadratic):
    """Adds noise from a stream seeded afresh by the system: its training is not set by its
    seed and state, so a replay cannot retrace it."""

    name = "quadratic-unseeded"

    def _train_segment(self, *args: Any, **kwargs: Any) -> Segment:
        segment = super()._train_segment(*args, **kwargs)
        noise = np.random.default_rng().random()
        segment.values = [v * (1 + 1e-3 * noise) for v in segment.values]
        return segment


class Diverging(Quadratic):
    """Gives ``odd`` (a score of NaN or infinity at the last epoch of a segment, or a NaN
    ``std_err``) in every segment that ends past epoch ``after``, without raising."""

    def __init__(self, odd: str = "nan", after: int = 2) -> None:
        super().__init__()
        self.odd, self.after = odd, after

    def _train_segment(self, config: Any, state: Any, *args: Any) -> Any:
        segment = super()._train_segment(config, state, *args)
        if segment.epoch <= self.after:
            return segment
        if self.odd == "std_err":
            return replace(segment, std_err=float("nan"))
        values = [*segment.values[:-1], float(self.odd)]
        return replace(segment, values=values, curves={"val_loss": values})
