"""What the summary of a run says beside its numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab


def test_a_held_out_loss_far_above_the_validation_loss_is_told() -> None:
    from hyperlab.lab.summary import TuneSummary

    def lines(test: float, direction: str = "minimize") -> str:
        summary = TuneSummary({"x": 1}, 0.25, float("nan"), test, 4, direction=direction)
        return "\n".join(summary.lines())

    assert "235x the validation value" in lines(58.76) and "diverged" in lines(58.76)
    assert "diverged" not in lines(0.3) and "diverged" not in lines(58.76, "maximize")


def _good_then_bad(trial: optuna.Trial) -> float:
    """Trials 0-2 and from 8 on learn; 3-7 stay at 1.0 (each is stopped by the median rule)."""
    trial.suggest_float("x", 0.0, 1.0)
    good = trial.number < 3 or trial.number >= 8
    value = 1.0
    for epoch in range(1, 11):
        value = 1.0 / epoch if good else 1.0
        trial.report(value, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def test_a_curve_pruner_whose_predictor_never_acted_says_so_until_it_has(tmp_path: Path) -> None:
    """Its median stand-in stopped every trial after 3 had completed: the predictor waited for
    5 and never acted, and nothing said so; the summary did not count the stopped trials."""
    run = {"runs_dir": tmp_path, "name": "p", "progress": False, "budget": 10}
    _, summary = hyperlab.tune(_good_then_bad, "random", pruner="curve-parametric", trials=8, **run)
    assert summary.n_pruned == 5
    assert "after 8 trials (5 of them pruned)" in summary.lines()[0]
    assert summary.stopped == (
        "pruner 'curve-parametric': its curve predictor never acted; it waits for 5 complete "
        "trials, and only 3 completed: its stand-in, the median rule, made all 5 stops (ask for "
        "more trials, or a smaller min_finished)"
    )
    _, summary = hyperlab.tune(
        _good_then_bad, "random", pruner="curve-parametric", trials=10, **run
    )
    assert summary.stopped is None  # 5 completed now: the note went


def _prunes_itself(trial: optuna.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    for epoch in range(1, 11):
        trial.report(1.0, epoch)
    if trial.number >= 2:
        raise optuna.TrialPruned()  # the objective's own decision, not the pruner's
    return 1.0


@pytest.mark.parametrize(("objective", "pruner"), [(_prunes_itself, "curve-parametric")])
def test_the_idle_predictor_note_counts_only_the_median_rules_stops(
    tmp_path: Path, objective: Any, pruner: str
) -> None:
    """Trials an objective pruned itself were said to be the median rule's stops."""
    _, summary = hyperlab.tune(
        objective, "random", pruner=pruner, trials=5, runs_dir=tmp_path, progress=False, budget=10
    )
    assert summary.n_pruned == 3 and summary.stopped is None


def test_a_users_own_schedule_attribute_never_replaces_a_trials_parameters() -> None:
    from hyperlab.lab.results import trial_config

    trial = optuna.trial.create_trial(
        params={"x": 0.5},
        distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
        value=1.0,
        user_attrs={"schedule": [{"config": {"warmup": 3}}]},  # the user's, not a population's
    )
    assert trial_config(trial) == {"x": 0.5}


def test_a_learned_rate_is_the_value_a_self_tuning_trial_ended_with() -> None:
    """The line of hyperparameters at the end showed the rate the last segment started from,
    though the member had learned another by its end."""
    from hyperlab.lab.summary import TuneSummary

    schedule = [
        {"config": {"lr": 0.05, "dropout": 0.1}, "learned": {"lr": 0.03}},
        {"config": {"lr": 0.0499, "dropout": 0.2}, "learned": {"lr": 0.024}},
    ]
    summary = TuneSummary({}, 0.8, float("nan"), None, 4, extra={"schedule": schedule})
    end = next(line for line in summary.lines() if "at the end:" in line)
    assert "lr=0.024 (learned; 0.0499 at its last segment's start)" in end
    assert "dropout=0.2" in end
