"""Trials that gave no score because their configuration failed, read as the worst score.

A trial that raised or returned NaN (Optuna marks it failed), one that returned an infinite
value, and one pruned with nothing finite to read (no report and no prediction: an objective
that raises ``TrialPruned`` for a configuration it cannot run, say) hold no score. Left out of
the data, they teach a model-based tuner nothing: it keeps proposing the region they failed in
(a learning rate too high to train, say) and the study fails there trial after trial. The meta
tuner (in its context) and the neural tuner (in its surrogate's training data) read each such
trial at the worst score of the study's trials so far instead. A failed trial that lacks a
parameter of the space (one that failed before its configuration was complete, or the lab's
bookkeeping of a claim) is left out, and so is one whose configuration another trial has since
run (a retry).

Only the task's own failures count: a trial the lab failed for another reason says nothing of
its configuration, and is left out too. The lab records how each failure counts on the trial
(:data:`~hyperlab.errors.FAILURE_ATTR`, results.csv's ``failure``): one cut off (an interrupt, a
lost worker; its parameters queued again), one whose pruner or tuner raised, and the run's
bookkeeping (surplus, refused) are not the task's. A failed trial with no such record (a plain
Optuna study, outside the lab) failed in its objective, and counts.
"""

from __future__ import annotations

import math

import numpy as np
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import FAILURE_ATTR, TASK_FAILURE
from hyperlab.space import SpaceEncoder
from hyperlab.tuners.feedback import predicted_final
from hyperlab.tuners.trial_points import encode_trial


def is_failure(t: FrozenTrial) -> bool:
    """Whether ``t`` finished without a score because of its configuration (see the module
    docstring)."""
    if t.state == TrialState.FAIL:
        return t.user_attrs.get(FAILURE_ATTR, TASK_FAILURE) == TASK_FAILURE
    if t.state == TrialState.COMPLETE:
        return t.value is None or not math.isfinite(t.value)
    if t.state == TrialState.PRUNED and predicted_final(t) is None:
        last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        return last is None or not math.isfinite(last)
    return False


class FailedTrials:
    """The encoded points of a study's failed trials, each trial encoded once per space."""

    def __init__(self) -> None:
        self._enc: SpaceEncoder | None = None
        self._points: dict[tuple[str, int], np.ndarray | None] = {}

    def points(self, study: Study, trial: FrozenTrial, enc: SpaceEncoder) -> list[np.ndarray]:
        """The points of the study's failed trials (``trial`` left out) that hold every
        parameter of ``enc``."""
        if enc is not self._enc:
            self._enc, self._points = enc, {}
        out = []
        for t in study.get_trials(deepcopy=False):
            if t.number == trial.number or not t.state.is_finished():
                continue
            key = (study.study_name, t.number)
            if key not in self._points:
                self._points[key] = encode_trial(enc, t) if is_failure(t) else None
            x = self._points[key]
            if x is not None:
                out.append(x)
        return out


def as_worst(
    x: np.ndarray, y: np.ndarray, failed: list[np.ndarray], running: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The data ``x, y`` with the ``failed`` points joined at its worst (highest) score;
    a failed point that a row of ``x`` or a ``running`` point repeats (a retry) is left out,
    and so is every one when the data hold no score yet."""
    if not failed or not len(y):
        return x, y
    seen = {row.tobytes() for row in np.round(np.vstack([x, *running]), 9)}
    new = [p for p in failed if np.round(p, 9).tobytes() not in seen]
    if not new:
        return x, y
    return np.vstack([x, np.stack(new)]), np.concatenate([y, np.full(len(new), y.max())])
