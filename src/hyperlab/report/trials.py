"""Report records of one trial: its curves (and their diagnosis), or why it was pruned."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hyperlab.lab.results import cv_std_err, trial_budget, trial_config


@dataclass
class PrunedTrial:
    """Why and where a trial was stopped early (``curve``: its reported values at ``steps``)."""

    label: str
    seed: int | None  # None in a single study's report
    trial: int
    epoch: int
    curve: list[float]
    reason: str
    predicted_mean: float | None
    predicted_std: float | None
    steps: list[int] = field(default_factory=list)
    predicted_epoch: int | None = None  # the epoch the prediction is for (the full budget)


@dataclass
class TrialCurves:
    """Per-epoch curves of one trial.

    Attributes:
        label: The method it belongs to (empty in a single-study report).
        trial: The trial's number.
        value: Its score.
        params: Its parameters.
        curves: A task's per-epoch curves (``train_loss``, ``val_loss``, ...).
        diagnosis: The learning-curve diagnosis of those curves, when there is one.
        std_err: The score's standard error over CV folds, or over seeds where the task's
            spread is over seeds (``None``: no CV).
        reported_steps: Steps of the values a user's objective reported with ``trial.report``
            (filled only when there are no task curves).
        reported_values: Those values.
        params_at_end: ``params`` are those the trial's model ended with (a population's
            member changes its hyperparameters while it trains), not those it started with.
        learned: Hyperparameters its training set itself, at the end (a hypergradient-learned
            rate), where there are any.
        seed: The seed of its study, in a comparison (trial numbers repeat across seeds).
    """

    label: str
    trial: int
    value: float
    params: dict[str, Any]
    curves: dict[str, list[float]]
    diagnosis: dict[str, Any] | None = None
    std_err: float | None = None
    reported_steps: list[int] = field(default_factory=list)
    reported_values: list[float] = field(default_factory=list)
    params_at_end: bool = False
    learned: dict[str, float] = field(default_factory=dict)
    seed: int | None = None

    @property
    def title(self) -> str:
        """``<label>, seed S, trial N``; the label and seed only where there are some."""
        parts = [self.label] if self.label else []
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return ", ".join([*parts, f"trial {self.trial}"])

    @property
    def has_curves(self) -> bool:
        """Whether the trial has task curves or reported values to draw."""
        return bool(self.reported_values) or any(self.curves.values())


def trial_value(t: FrozenTrial) -> float:
    return float(t.value) if t.value is not None else math.nan


def sorted_best_first(trials: list[FrozenTrial], direction: str) -> list[FrozenTrial]:
    """Completed trials with a value, best first."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return sorted(done, key=trial_value, reverse=direction == "maximize")


def curves_of(label: str, t: FrozenTrial, seed: int | None = None) -> TrialCurves:
    curves = {k: list(v) for k, v in t.user_attrs.get("curves", {}).items()}
    reported = sorted(t.intermediate_values.items()) if not curves else []
    se = cv_std_err(t)
    schedule = t.user_attrs.get("schedule")
    params = trial_config(t)
    return TrialCurves(
        label=label,
        trial=t.number,
        value=trial_value(t),
        params=params,
        params_at_end=bool(schedule),
        learned=dict(schedule[-1].get("learned") or {}) if schedule else {},
        curves=curves,
        diagnosis=_diagnosis(t, params),
        std_err=None if math.isnan(se) else se,
        reported_steps=[int(s) for s, _ in reported],
        reported_values=[float(v) for _, v in reported],
        seed=seed,
    )


def _diagnosis(t: FrozenTrial, config: dict[str, Any]) -> dict[str, Any] | None:
    """The diagnosis of ``t``'s curves, its advice read against ``config`` (the
    hyperparameters its model trained with at the end). What the diagnosis warns of the
    curves (an error given as a metric, losses that never changed) is kept with it as
    ``warnings``, shown beside it in the report, rather than printed without the trial's
    number while the report is built."""
    curves = t.user_attrs.get("curves", {})
    if len(curves.get("val_loss", [])) < 3 or "train_loss" not in curves:
        return None
    try:
        from hyperlab.diagnose import diagnose
        from hyperlab.diagnose.inputs import without_odd_metrics
    except ImportError:
        return None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            result: dict[str, Any] = diagnose(without_odd_metrics(curves), config=config).to_dict()
    except Exception:  # a diagnosis is a bonus; it never breaks a report
        return None
    told = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    for w in caught:  # (others, a library's, go on as they came)
        if not issubclass(w.category, UserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if told:
        result["warnings"] = told
    return result


def pruned_of(label: str, seed: int | None, t: FrozenTrial) -> PrunedTrial:
    reported = sorted(t.intermediate_values.items())
    return PrunedTrial(
        label=label,
        seed=seed,
        trial=t.number,
        epoch=trial_budget(t),
        curve=[v for _, v in reported],
        reason=t.user_attrs.get("prune_reason", "stopped by the pruner"),
        predicted_mean=t.user_attrs.get("predicted_final_mean"),
        predicted_epoch=t.user_attrs.get("predicted_final_epoch"),
        predicted_std=t.user_attrs.get("predicted_final_std"),
        steps=[int(s) for s, _ in reported],
    )
