"""A run whose trials' reports get worse as they train, in its direction, says so: an accuracy
minimized (``--direction maximize`` left out), or a loss reported beside a returned accuracy."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

import hyperlab
from hyperlab.lab.trend import against_direction

EPOCHS = 6


def _trial(curve: list[float], value: float | None = None, pruned: bool = False) -> FrozenTrial:
    return optuna.trial.create_trial(
        state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
        value=None if pruned else (curve[-1] if value is None else value),
        params={"x": 0.5},
        distributions={"x": FloatDistribution(0.0, 1.0)},
        intermediate_values=dict(enumerate(curve, start=1)),
    )


def _rising(end: float) -> list[float]:
    """An accuracy-like curve from 0.3 up to ``end``."""
    return [0.3 + (end - 0.3) * (1 - math.exp(-e)) for e in range(1, EPOCHS + 1)]


def test_rising_curves_read_against_a_minimized_run() -> None:
    trials = [_trial(_rising(end)) for end in (0.6, 0.7, 0.8, 0.9)]
    trend = against_direction(trials, "minimize")
    assert trend is not None and (trend.worse, trend.curves) == (4, 4)
    assert "--direction maximize" in trend.note() and "4 of the 4" in trend.note()
    # (a Task's run refuses --direction: the note says where a Task sets it)
    assert "a Task says it in its class: direction = 'maximize'" in trend.note()
    assert against_direction(trials, "maximize") is None
    losses = [_trial([1.0 - v for v in _rising(end)]) for end in (0.6, 0.7, 0.8, 0.9)]
    assert against_direction(losses, "minimize") is None


def test_a_loss_reported_beside_a_returned_accuracy_is_named() -> None:
    trials = [_trial([1.0 - v for v in _rising(end)], value=end) for end in (0.6, 0.7, 0.8)]
    trials.append(_trial([1.0 - v for v in _rising(0.9)][:4], pruned=True))
    trend = against_direction(trials, "maximize")
    assert trend is not None and not trend.returns_last_report
    assert "return another value than their last report" in trend.advice()


def test_flat_noisy_curves_and_few_curves_say_nothing() -> None:
    flat = [_trial([0.95, 0.953, 0.947, 0.95, 0.953, 0.947]) for _ in range(6)]
    assert against_direction(flat, "maximize") is None  # no clear move either way
    few = [_trial(_rising(end)) for end in (0.6, 0.7, 0.8)]
    assert against_direction(few, "minimize") is None  # three curves are too few to tell
    short = [_trial(_rising(end)[:3]) for end in (0.6, 0.7, 0.8, 0.9, 0.95)]
    assert against_direction(short, "minimize") is None  # three reports do not make a curve


def test_one_curve_against_among_many_along_says_nothing() -> None:
    trials = [_trial(_rising(end)) for end in (0.6, 0.7, 0.8, 0.9)]
    trials.append(_trial(list(reversed(_rising(0.9)))))  # one accuracy that fell
    assert against_direction(trials, "maximize") is None


def accuracy(trial: optuna.Trial) -> float:
    """Reports and returns an accuracy (higher is better)."""
    end = 0.5 + 0.45 * trial.suggest_float("x", 0.0, 1.0)
    curve = _rising(end)
    for epoch, value in enumerate(curve, start=1):
        trial.report(value, epoch)
    return curve[-1]


def loss_reported_accuracy_returned(trial: optuna.Trial) -> float:
    """Reports a loss each epoch but returns an accuracy."""
    end = 0.5 + 0.45 * trial.suggest_float("x", 0.0, 1.0)
    curve = _rising(end)
    for epoch, value in enumerate(curve, start=1):
        trial.report(-math.log(value), epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return curve[-1]


def _tune(tmp_path: Path, objective: Any, **kw: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _, summary = hyperlab.tune(
            objective, "random", trials=8, runs_dir=tmp_path, progress=False, **kw
        )
    return summary, [str(w.message) for w in seen if issubclass(w.category, UserWarning)]


def test_an_accuracy_minimized_is_told_in_a_warning_the_summary_and_the_report(
    tmp_path: Path,
) -> None:
    summary, said = _tune(tmp_path, accuracy, name="forgot")
    assert summary.stopped is not None and "--direction maximize" in summary.stopped
    assert "(minimize: lower is better)" in summary.stopped
    assert sum("--direction maximize" in line for line in said) == 1  # once
    assert "--direction maximize" in (summary.run_dir / "report.html").read_text()


def test_a_loss_reported_under_maximize_is_told(tmp_path: Path) -> None:
    summary, _ = _tune(
        tmp_path, loss_reported_accuracy_returned, direction="maximize", pruner="median"
    )
    assert summary.stopped is not None
    assert "return another value than their last report" in summary.stopped


def test_a_run_the_right_way_round_says_nothing(tmp_path: Path) -> None:
    summary, said = _tune(tmp_path, accuracy, direction="maximize", name="right")
    assert summary.stopped is None
    assert not [line for line in said if "get worse as they train" in line]
