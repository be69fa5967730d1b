"""The epochs a trial used, as every count of epochs in the lab reads them."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.lab.results import trial_budget


def _trial(steps: list[int], **attrs: object) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        value=0.0, intermediate_values={s: 0.0 for s in steps}, user_attrs=dict(attrs)
    )


@pytest.mark.parametrize(
    ("steps", "epochs"),
    [
        (list(range(5, 51, 5)), 50),  # a value every fifth epoch of 50: 50, not 10
        (list(range(1, 11)), 10),
        (list(range(10)), 10),  # steps counted from 0
        (list(range(0, 50, 5)), 50),  # every fifth, counted from 0
        ([3, 7, 30], 30),
        ([], 1),  # a plain objective that reports nothing ran once
    ],
)
def test_a_plain_objectives_epochs_are_read_from_its_steps(steps: list[int], epochs: int) -> None:
    assert trial_budget(_trial(steps)) == epochs


def test_a_tasks_recorded_budget_wins() -> None:
    assert trial_budget(_trial(list(range(5, 51, 5)), budget=7)) == 7


def every_fifth(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    for epoch in range(5, 51, 5):
        trial.report(x / epoch, epoch)
    return x / 50


def test_a_run_counts_the_epochs_its_objective_trained(tmp_path: Path) -> None:
    from hyperlab.report import compare_records

    hyperlab.compare(
        every_fifth, ["random"], seeds=1, trials=4, runs_dir=tmp_path, name="e5", progress=False
    )
    method = compare_records(tmp_path / "e5").methods[0]
    assert method.epochs == [200]


def test_a_budget_short_of_what_the_objective_trains_is_warned_about(tmp_path: Path) -> None:
    """The pruners would read step 5 of 50 as the final value, in silence."""
    with pytest.warns(UserWarning, match=r"reported step 50, past the budget 5"):
        hyperlab.tune(
            every_fifth, "random", trials=2, budget=5, runs_dir=tmp_path, name="b", progress=False
        )
