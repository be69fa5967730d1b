"""A tuner whose ``after_trial`` raises, taking in a finished trial's result.

Optuna calls the sampler's ``after_trial`` in ``tell``, after the objective, and stores the
trial's state and value even when it raises; the error then escaped ``study.optimize`` and
ended the run with a traceback. While :func:`told_guarded` holds, such an error is recorded on
the trial instead (its reason in :data:`~hyperlab.lab.trial_kinds.TUNER_AFTER_ATTR`, its
traceback where the trial has none), which keeps its state and value; the trial loop counts it
as the tuner's failure.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import TRACEBACK_ATTR, failure_reason, traceback_text
from hyperlab.lab.trial_kinds import TUNER_AFTER_ATTR


@contextlib.contextmanager
def told_guarded(study: optuna.Study) -> Iterator[None]:
    """While in the block, an error of the study's sampler's ``after_trial`` is recorded on the
    trial it was taking in (:func:`_record`), not raised. A sampler that takes no attribute of
    its own (``__slots__``) is left as it is."""
    sampler = study.sampler
    own = getattr(sampler, "__dict__", {}).get("after_trial")  # (one set on the instance)
    told = sampler.after_trial

    def after_trial(
        inner: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        try:
            told(inner, trial, state, values)
        except Exception as exc:
            _record(study, trial, state, exc)

    try:
        sampler.after_trial = after_trial  # type: ignore[method-assign]
    except AttributeError:
        yield
        return
    try:
        yield
    finally:
        if own is None:
            del sampler.after_trial
        else:
            sampler.after_trial = own  # type: ignore[method-assign]


def _record(study: optuna.Study, trial: FrozenTrial, state: TrialState, exc: Exception) -> None:
    """Record on ``trial`` (still running: Optuna stores its ``state`` after ``after_trial``)
    that its tuner raised ``exc`` taking in its result; its traceback too, where the trial
    finished with none (a failed trial's traceback is its own error's: one that keeps none, a
    NaN score, would be shown with the tuner's under its reason)."""
    storage: Any = study._storage
    reason = failure_reason(exc)
    storage.set_trial_user_attr(trial._trial_id, TUNER_AFTER_ATTR, reason)
    finished = state != TrialState.FAIL
    if finished and TRACEBACK_ATTR not in storage.get_trial_user_attrs(trial._trial_id):
        storage.set_trial_user_attr(trial._trial_id, TRACEBACK_ATTR, traceback_text(exc))
    logging.getLogger("optuna.study._optimize").warning(
        f"Trial {trial.number}: the tuner raised taking in its result (after_trial; the trial "
        f"keeps its state): {reason}"
    )
