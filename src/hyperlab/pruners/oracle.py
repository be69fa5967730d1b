"""The oracle: a pruner that knows each trial's final value before the trial gets there.

No real pruner can do this; the oracle is a yardstick. At one epoch (``min_epochs``, by default
the first epoch at which ``curve`` decides) it reads the trial's true final value and stops the
trial unless that value beats the ``k``-th best complete trial so far. With ``k=1`` it stops
exactly the trials that would not have improved on the best: the epochs it uses bound from
below what any pruner could save at that epoch without losing an improvement, and under random
sampling its regret is that of no pruning. A larger ``k`` lets more good trials finish, which
a model-based tuner learns from.

``noise=S`` turns it into a predictor of known accuracy: the final value it reads carries
Gaussian error of standard deviation ``S`` (seeded by the study's seed and the trial number),
and it stops a trial, as ``curve`` does with a calibrated predictor, only when that value minus
1.645 ``S`` is no better than the reference. Running it with several ``S`` shows how accurate
a learning-curve predictor must be to save a given share of the epochs.

It records, as the curve pruners do, the final value it read (``predicted_final_mean``, with
``predicted_final_std`` = ``S``) on each trial it stops, so a tuner that learns from a pruner's
predictions (``pruner_predictions``) sees exactly what no pruning would have shown it.

The registered ``oracle`` reads the final values from the task being tuned (the lab hands it
over): on a replay task (``lcbench-<id>``, ``digits-mlp-bank``) that is a lookup; on a task that
trains, every check trains the configuration to the end once more.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import study_sign
from hyperlab.errors import InputError, InputTypeError, TrialFailure, check_nonneg
from hyperlab.pruners.schedule import default_min_epochs
from hyperlab.registry import PRUNERS
from hyperlab.tasks.base import Task

#: ``final_value(study, trial)``: the value the trial would report at its last epoch, in the
#: study's own units.
FinalValue = Callable[[optuna.Study, FrozenTrial], float]
#: The one-sided 95% quantile of the standard normal: the margin of a calibrated prediction.
Z95 = 1.6448536


class OraclePruner(BasePruner):
    """Stops a trial at ``min_epochs`` unless its true final value beats the ``k``-th best.

    Args:
        final_value: Gives a trial's final value (in the study's units) from its parameters.
        min_epochs: The epoch at which the oracle decides (once per trial).
        k: The reference is the ``k``-th best complete trial; until ``k`` trials have
            completed, no trial is stopped.
        noise: Standard deviation of the Gaussian error added to the final value it reads.
        seed: Seeds that error (with the trial number).
    """

    #: It stores each stopped trial's final value as its prediction (``pruner_predictions``).
    records_predictions = True

    def __init__(
        self,
        final_value: FinalValue,
        *,
        min_epochs: int,
        k: int = 1,
        noise: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if not callable(final_value):
            raise InputTypeError(f"final_value must be callable, got {final_value!r}")
        for name, value in (("min_epochs", min_epochs), ("k", k)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        check_nonneg("noise", noise)  # inf stopped nothing (its margin is infinite)
        self.final_value = final_value
        self.min_epochs = min_epochs
        self.k = k
        self.noise = float(noise)
        self.seed = seed

    @property
    def startup_trials(self) -> int:
        """Complete trials needed before a trial can be stopped: ``k``."""
        return self.k

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        if trial.last_step != self.min_epochs:
            return False
        sign = study_sign(study)
        done = sorted(
            sign * t.value
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)
        )
        if len(done) < self.k:
            return False
        final = float(self.final_value(study, trial))
        if self.noise > 0:
            rng = np.random.default_rng([self.seed or 0, trial.number])
            final += sign * self.noise * float(rng.normal())
        reference = done[self.k - 1]
        if sign * final - Z95 * self.noise < reference:
            return False
        _record(study, trial, final, self.noise, sign * reference)
        return True


def _record(
    study: optuna.Study, trial: FrozenTrial, final: float, std: float, reference: float
) -> None:
    """Write the final value read (as the prediction) and why the trial stops on it."""
    attrs = {
        "prune_reason": f"oracle: final value {final:.4g} does not beat {reference:.4g}",
        "predicted_final_mean": final,
        "predicted_final_std": std,
    }
    for key, value in attrs.items():
        study._storage.set_trial_user_attr(trial._trial_id, key, value)
        trial.user_attrs[key] = value  # the objective's view of the running trial, as curve's


class TaskFinalValue:
    """A trial's final value read from ``task``: its configuration evaluated to ``budget``
    (NaN for a configuration whose training diverges: it has no final value to keep it for).

    Args:
        task: The task being tuned (a replay task answers by a lookup).
        budget: The trials' last epoch.
    """

    def __init__(self, task: Task, budget: int) -> None:
        self.task = task
        self.budget = budget

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> float:
        fixed = optuna.trial.FixedTrial(trial.params)
        config = self.task.search_space(fixed)  # type: ignore[arg-type]
        seed = trial.user_attrs.get("seed", 0)
        try:
            return float(self.task.evaluate(config, self.budget, seed=int(seed)).value)
        except TrialFailure:
            return math.nan


@PRUNERS.add(
    "oracle",
    "knows each trial's final value (replay tasks): the most any pruner could save (a yardstick)",
)
def oracle(
    *,
    task: Task | None = None,
    max_budget: int | None = None,
    seed: int | None = None,
    k: int = 1,
    min_epochs: int | None = None,
    noise: float = 0.0,
) -> OraclePruner:
    """The oracle on ``task`` (given by the lab: the task being tuned); ``min_epochs`` defaults
    to the first epoch at which ``curve`` decides."""
    if task is None:
        raise InputError(
            "the oracle pruner reads final values from the task being tuned; a user's "
            "objective has none to read (use it on a task such as lcbench-<id>)"
        )
    if not isinstance(task, Task):
        raise InputTypeError(f"task must be a hyperlab Task, got {task!r}")
    budget = max_budget or task.max_budget
    at = default_min_epochs(budget) if min_epochs is None else min_epochs
    if isinstance(at, int) and not isinstance(at, bool) and at > budget:
        raise InputError(f"min_epochs must be at most the budget {budget}, got {at}")
    return OraclePruner(TaskFinalValue(task, budget), min_epochs=at, k=k, noise=noise, seed=seed)


__all__ = ["OraclePruner", "TaskFinalValue", "oracle"]
