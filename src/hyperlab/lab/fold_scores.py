"""Fold scores: how an objective that cross-validates hands the lab one score per fold, from
which the summary, the report and ``results.csv`` give its CV standard error and
``stop_at_noise`` reads the noise."""

from __future__ import annotations

from typing import Any

import optuna

from hyperlab.errors import ObjectiveContractError, TrialFailure, counted
from hyperlab.tasks.base import check_score

#: The trial's system attribute that holds its fold scores: the key Optuna's (deprecated)
#: ``optuna.terminator.report_cross_validation_scores`` writes, so that either call is read.
CV_SCORES = "terminator:cv_scores"


def report_fold_scores(trial: Any, scores: Any) -> None:
    """Keep ``scores``, the cross-validation scores of ``trial``'s configuration (one per fold,
    at least two), with the trial; the objective returns their mean as its score.

    Called inside an objective, as ``report_fold_scores(trial, cross_val_score(...))``: a
    NumPy array, a tensor or any sequence of numbers is stored as a list of floats. A
    :class:`optuna.trial.FixedTrial` (an objective tried by hand) keeps nothing.

    Args:
        trial: The trial the objective was given.
        scores: The fold scores.

    Raises:
        ObjectiveContractError: ``trial`` is not an Optuna trial, or ``scores`` is not a
            sequence of at least two numbers (a mistake in the objective's code, which every
            trial would repeat: raised in a run, it stops the run at the trial).
    """
    values = _fold_numbers(scores)
    if isinstance(trial, optuna.trial.FixedTrial):
        return
    if not isinstance(trial, optuna.Trial):
        raise ObjectiveContractError(
            f"report_fold_scores needs the optuna.Trial the objective was given, got "
            f"{type(trial).__name__}"
        )
    trial.study._storage.set_trial_system_attr(trial._trial_id, CV_SCORES, values)


def _fold_numbers(scores: Any) -> list[float]:
    """``scores`` as a list of floats (a NumPy array's or a tensor's through ``tolist``)."""
    listed = scores.tolist() if callable(getattr(scores, "tolist", None)) else scores
    if not isinstance(listed, list | tuple):
        raise ObjectiveContractError(
            f"report_fold_scores needs the fold scores as a list of numbers, got "
            f"{type(scores).__name__}"
        )
    if len(listed) < 2:
        raise ObjectiveContractError(
            f"report_fold_scores needs at least two fold scores, got {counted(len(listed), 'score')}"
            " (a standard error needs two folds)"
        )
    out = []
    for i, value in enumerate(listed):
        try:
            out.append(check_score(value, "report_fold_scores"))
        except TrialFailure:
            raise ObjectiveContractError(
                f"report_fold_scores needs one number per fold, got {value!r:.80} of type "
                f"{type(value).__name__} as fold score {i}"
            ) from None
    return out
