"""Cheap tasks for the one-epoch tuner's tests, whose ranking after one epoch is not the final
one.

After epoch ``e`` a configuration scores ``x + y / e`` plus a small offset drawn from its seed
(negated when maximizing): ``y`` dominates the first epoch, ``x`` the last. :class:`Screened`
evaluates only from scratch; :class:`Continued` also continues training from a state.
``interrupt_at`` raises ``KeyboardInterrupt`` at the start of that training call (counted from
0 over the object's life), as Ctrl-C would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna

from hyperlab.tasks.base import EpochCallback, Evaluation, OptimizerWrapper, Segment, Task


class Screened(Task):
    """A task of ``max_budget`` epochs that evaluates from scratch only."""

    name = "screened"
    max_budget = 6

    def __init__(self, direction: str = "minimize", interrupt_at: int | None = None) -> None:
        self.direction = direction
        self.interrupt_at = interrupt_at
        self.calls = 0
        self.epochs = 0

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0.0, 1.0), "y": trial.suggest_float("y", 0.0, 1.0)}

    def score(self, config: dict[str, Any], epoch: int, offset: float) -> float:
        sign = -1.0 if self.direction == "maximize" else 1.0
        return sign * (config["x"] + config["y"] / epoch + offset)

    def _start(self, epochs: int) -> None:
        if self.interrupt_at is not None and self.calls == self.interrupt_at:
            raise KeyboardInterrupt("simulated Ctrl-C")
        self.calls += 1
        self.epochs += epochs

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        self._start(budget)
        offset = float(np.random.default_rng(seed).normal(scale=1e-3))
        values = []
        for epoch in range(1, budget + 1):
            values.append(self.score(config, epoch, offset))
            if on_epoch is not None:
                on_epoch(epoch, values[-1], {"val_loss": list(values)})
        return Evaluation(value=values[-1], budget=budget, curves={"val_loss": values})


class Continued(Screened):
    """The same task, able to continue training from a state."""

    name = "continued"

    def _train_segment(
        self,
        config: dict[str, Any],
        state: Any,
        epochs: int,
        seed: int,
        wrap_optimizer: OptimizerWrapper | None,
    ) -> Segment:
        self._start(epochs)
        if state is None:
            state = {"epoch": 0, "offset": float(np.random.default_rng(seed).normal(scale=1e-3))}
        first = state["epoch"] + 1
        values = [self.score(config, e, state["offset"]) for e in range(first, first + epochs)]
        out = {"epoch": state["epoch"] + epochs, "offset": state["offset"]}
        return Segment(state=out, values=values, epoch=out["epoch"], curves={"val_loss": values})
