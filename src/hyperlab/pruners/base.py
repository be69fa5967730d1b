"""``PredictorPruner``: what the curve pruners share.

A curve pruner decides with a :class:`~hyperlab.curves.CurvePredictor` that it refits on the
study's finished trials. The final step whose value is predicted is ``max_budget`` when it is
known (a task's epochs); without it (a user's objective) it is learned from the study: the
largest step a complete trial reported. No trial is stopped before one has completed (a
warm-up, like Optuna's ``n_startup_trials``), and the budget grows when a later trial completes
with more steps. A maximized study's values are negated once, as they are read
(:func:`hyperlab.direction.study_sign`; values written back, in reasons and predictions, are
turned back), so that every rule and the predictor minimize.

When a curve pruner stops a trial it records on it (user attributes) ``prune_reason`` and, when
a prediction decided, ``predicted_final_mean`` and ``predicted_final_std``; the report shows
them and a tuner may learn from them (``records_predictions``).
"""

from __future__ import annotations

import math
import threading
import warnings
from abc import abstractmethod
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from hyperlab.curves.base import CurvePredictor
from hyperlab.errors import InputError, InputTypeError, check_nonneg, user_stacklevel
from hyperlab.pickling import LockFreePickling
from hyperlab.pruners.trials import (
    complete_with_steps,
    first_steps,
    learned_budget,
    not_epochs,
    reports_epochs,
    shared_space,
    trial_curve,
)


def check_int(name: str, value: Any, low: int, *, optional: bool = False) -> None:
    """Refuse ``value`` unless it is an int ``>= low`` (or ``None`` when ``optional``)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        allowed = " or None" if optional else ""
        raise InputError(f"{name} must be an int >= {low}{allowed}, got {value!r}")


class PredictorPruner(LockFreePickling, BasePruner):
    """Base class of the pruners that decide with a refitted curve predictor.

    Args:
        predictor: The curve predictor (a :class:`~hyperlab.curves.CurvePredictor`); it is
            refitted on the study's trials as they finish.
        max_budget: The final step (epoch) whose value is predicted; ``None``: learned from
            the study (see the module docstring).
        min_finished: Complete trials that must have reached the final step before the
            predictor acts.
        refit_growth: Refit the predictor when the number of finished trials (complete or
            pruned) has grown by this fraction since the last fit (at least by one).
    """

    #: It stores each stopped trial's predicted final value (read by ``pruner_predictions``).
    records_predictions = True

    def __init__(
        self,
        predictor: CurvePredictor,
        *,
        max_budget: int | None = None,
        min_finished: int = 5,
        refit_growth: float = 0.25,
    ) -> None:
        if not isinstance(predictor, CurvePredictor):
            raise InputTypeError(f"predictor must be a CurvePredictor, got {predictor!r}")
        check_int("max_budget", max_budget, 1, optional=True)
        check_int("min_finished", min_finished, 1)
        check_nonneg("refit_growth", refit_growth)
        self.predictor = predictor
        self.max_budget = max_budget
        self.min_finished = min_finished
        self.refit_growth = refit_growth
        self._fitted_on = 0
        self._fitted_budget: int | None = None
        # the parameters the predictor was fitted on (those all trials share, see _refit)
        self._space: dict[str, BaseDistribution] = {}
        self._fits = 0  # fits so far: a prediction is valid for the fit it was made with
        self._warned_inert = False
        self._warned_steps = False
        self._warned_reach = False
        self._lock = threading.RLock()

    #: What decides without a prediction (for a message).
    _without_prediction = "its rule without predictions decides"

    @property
    @abstractmethod
    def startup_trials(self) -> int:
        """Complete trials the pruner needs before it can stop one (the lab refuses a run of
        no more trials than this)."""

    @abstractmethod
    def _inert_reason(self, budget: int) -> str | None:
        """Why the settings leave nothing to check with the final step ``budget``, or ``None``."""

    def budget(self, trials: list[FrozenTrial]) -> int | None:
        """The final step: ``max_budget``, or else learned from ``trials`` (the largest step a
        complete one reported; ``None`` before one has). Warns once when a trial's steps are
        not its epochs, and once when a learned budget leaves the pruner's settings nothing to
        act on (:meth:`_inert_reason`)."""
        if self.max_budget is not None:
            self._check_steps(trials)
            return self.max_budget
        budget = learned_budget(trials)
        if budget is not None:
            self._check_steps(trials)
        if budget is not None and not self._warned_inert:
            reason = self._inert_reason(budget)
            if reason is not None:
                self._warned_inert = True
                warnings.warn(
                    f"{type(self).__name__}: {reason}, the largest step a complete trial "
                    f"reported: it stops no trial until a trial completes with more steps",
                    UserWarning,
                    stacklevel=2,
                )
        return budget

    def _check_steps(self, trials: list[FrozenTrial]) -> None:
        """Warn once when a complete trial's steps are not its epochs 1, 2, 3, ... (with a
        given ``max_budget`` and steps from 0, no trial reaches the final step: the predictor
        never acts), and with a given ``max_budget`` once when the complete trials' steps end
        elsewhere (:meth:`_check_reach`)."""
        if not self._warned_steps:
            odd = not_epochs(trials)
            if odd is not None:
                self._warn_steps(odd)
        if self.max_budget is not None and not self._warned_reach:
            self._check_reach(trials, self.max_budget)

    def _check_own_steps(self, trial: FrozenTrial) -> None:
        """Warn once when the trial being checked has reported four steps or more (as many as
        the message names) other than 1, 2, ..., n: a pruner that acts only at given epochs
        (the rungs of a given budget) would otherwise never read the study for it, and stop
        no trial in silence."""
        if self._warned_steps or len(trial.intermediate_values) < 4:
            return
        if not reports_epochs(trial):
            self._warn_steps(trial)

    def _warn_steps(self, odd: FrozenTrial) -> None:
        self._warned_steps = True
        warnings.warn(
            f"{type(self).__name__} reads a trial's steps as its epochs 1, 2, 3, ...; "
            f"trial {odd.number} reported steps {first_steps(odd)}: report once per "
            "epoch with step=epoch (1-based), or its checks and predictions are for the "
            "wrong epochs",
            UserWarning,
            stacklevel=user_stacklevel(),
        )

    def _check_reach(self, trials: list[FrozenTrial], budget: int) -> None:
        """Warn once when a complete trial reported steps past the given final step
        ``budget`` (nothing after it is read or checked), or when ``min_finished`` trials
        have completed and none reached it (a final value is the value at ``budget``: the
        predictor never acts)."""
        complete = complete_with_steps(trials)
        longest = learned_budget(complete)
        if longest is None or longest == budget:
            return
        if longest > budget:
            past = next(t for t in complete if t.last_step == longest)
            problem = (
                f"trial {past.number} reported steps up to {longest}, past max_budget="
                f"{budget}: the pruner predicts the value at step {budget}, compares it "
                f"with the trials' values there and stops no trial after it"
            )
        elif len(complete) >= self.min_finished:
            problem = (
                f"none of the {len(complete)} complete trials reached max_budget={budget} "
                f"(the longest ended at step {longest}): a final value is the value at step "
                f"{budget}, so the predictor never acts ({self._without_prediction})"
            )
        else:
            return
        self._warned_reach = True
        warnings.warn(
            f"{type(self).__name__}: {problem}; give max_budget the last step the trials "
            "report, or None to learn it from the study",
            UserWarning,
            stacklevel=user_stacklevel(),
        )

    def _settled(self, study: optuna.Study, trial: FrozenTrial) -> bool | None:
        """The answer before any rule: ``False`` with no value yet; for a non-finite last
        value, ``True`` (recorded) when the value before it was non-finite too (a run that
        stays diverged) and ``False`` after a finite one (a blip, as Optuna's median rule
        reads one: no decision this epoch); ``None`` to go on."""
        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        if value is None or not math.isfinite(value):
            earlier = [s for s in trial.intermediate_values if s < step]
            before = trial.intermediate_values[max(earlier)] if earlier else None
            if before is not None and math.isfinite(before):
                return False
            self._record(study, trial, f"non-finite intermediate value {value} at epoch {step}")
            return True
        return None

    def _refit(
        self, others: list[FrozenTrial], sign: float, budget: int, predicting: list[FrozenTrial]
    ) -> None:
        """Refit the predictor on the finished trials' curves (cut at ``budget``) when they
        have grown by ``refit_growth``, the budget has changed since the last fit, or a trial
        in ``predicting`` (those to predict next) lacks a parameter of the fit. A predictor
        that reads configurations reads the parameters every trial shares
        (:func:`~hyperlab.pruners.trials.shared_space`: a conditional space's branches differ)."""
        done = [
            t
            for t in others
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.intermediate_values
        ]
        uses_config = self.predictor.uses_config
        space = shared_space(done + predicting) if uses_config else {}
        needed = self._fitted_on + max(1, int(self.refit_growth * self._fitted_on))
        fitted = self._fitted_on and self._fitted_budget == budget
        covered = all(space.get(name) == d for name, d in self._space.items())
        if fitted and covered and len(done) < needed and self.predictor.max_budget_ is not None:
            return
        curves, configs = [], []
        for t in done:
            curve = (sign * trial_curve(t))[:budget]
            if np.isfinite(curve[0]):
                curves.append(curve)
                configs.append({name: t.params[name] for name in space})
        self.predictor.fit(
            curves,
            configs if uses_config else None,
            [budget] * len(curves),
            distributions=space if uses_config else None,
        )
        self._fitted_on = len(done)
        self._fitted_budget = budget
        self._space = space
        self._fits += 1

    def _config(self, trial: FrozenTrial) -> dict[str, Any] | None:
        """What the predictor reads of ``trial``'s configuration (after :meth:`_refit` with
        ``trial`` among those to predict): the fit's parameters; ``None`` for a predictor
        that reads none."""
        if not self.predictor.uses_config:
            return None
        return {name: trial.params[name] for name in self._space}

    @staticmethod
    def _record(
        study: optuna.Study,
        trial: FrozenTrial,
        reason: str,
        mean: float | None = None,
        std: float | None = None,
        epoch: int | None = None,
    ) -> None:
        """Write why ``trial`` stops (and its predicted final ``mean`` and ``std``, the value
        it would have at ``epoch``) on it."""
        attrs: dict[str, Any] = {"prune_reason": reason}
        if mean is not None and std is not None:
            attrs.update(predicted_final_mean=float(mean), predicted_final_std=float(std))
            if epoch is not None:
                attrs["predicted_final_epoch"] = int(epoch)
        for key, value in attrs.items():
            study._storage.set_trial_user_attr(trial._trial_id, key, value)
            # Optuna hands the pruner a shallow copy of the running trial's cached record, so
            # this makes the attributes visible through ``Trial.user_attrs`` in the objective
            # as well (a harmless local update where it is a deep copy).
            trial.user_attrs[key] = value
