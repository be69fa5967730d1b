"""replay and replay_member take the task as hyperlab.tune does (an object, its class, its
name or a reference to its file) and refuse a schedule they cannot replay by its entry."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import tests.population.quadratic as quadratic
from hyperlab.errors import InputError, InputTypeError, TrialFailure, UnknownNameError
from hyperlab.population.replay import replay, replay_member
from hyperlab.registry import TASKS
from tests.population.conftest import run_population
from tests.population.quadratic import Diverging, Quadratic

CONFIG = {"lr": 0.05, "momentum": 0.5, "steps": 2, "start": "near"}
SCHEDULE = [
    {"start": 0, "end": 2, "config": CONFIG, "member": 0},
    {"start": 2, "end": 3, "config": dict(CONFIG, lr=0.02), "member": 0},
]


def _values(segments: list[Any]) -> list[float]:
    return [v for s in segments for v in s.values]


def test_replay_member_takes_the_task_as_tune_does(tmp_path: Path) -> None:
    study = run_population("pbt", Quadratic(), tmp_path, trials=4, budget=4, interval=2)
    trial, by_object = replay_member(study, Quadratic())
    assert _values(by_object) == list(trial.intermediate_values.values())
    for task in (Quadratic, f"{quadratic.__file__}:Quadratic"):  # its class, its reference
        assert _values(replay_member(study, task)[1]) == _values(by_object)
    assert _values(replay(Quadratic, SCHEDULE)) == _values(replay(Quadratic(), SCHEDULE))


def test_replay_member_takes_a_registered_tasks_name(tmp_path: Path) -> None:
    study = run_population("pbt", TASKS.create("digits-mlp-bank"), tmp_path, trials=4, budget=4)
    trial, segments = replay_member(study, "digits-mlp-bank")
    assert _values(segments) == list(trial.intermediate_values.values())


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        ({"hypergradient": "no"}, InputTypeError, r"hypergradient must be True or False, got 'no'"),
        ({"hypergradient": None}, InputTypeError, r"hypergradient must be True or False, got No"),
        ({"seed": "a"}, InputTypeError, r"seed must be an integer >= 0, got 'a'"),
        ({"seed": 1.5}, InputTypeError, r"seed must be an integer >= 0, got 1\.5"),
        ({"seed": None}, InputTypeError, r"seed must be an integer >= 0, got None"),
        ({"seed": -1}, InputError, r"seed must be an integer >= 0, got -1"),
    ],
)
def test_a_seed_or_hypergradient_flag_replay_cannot_use_is_refused_by_name(
    given: dict[str, Any], error: type[Exception], message: str
) -> None:
    """``hypergradient="no"`` replayed with the hypergradient twins (text counts as true),
    ``None`` without; a seed of text or ``None`` failed deep in the seeding (a ``ValueError``
    or ``TypeError`` from ``int()``), and 1.5 or -1 replayed under a seed not given."""
    with pytest.raises(error, match=message):
        replay(Quadratic(), SCHEDULE, **given)


@pytest.mark.parametrize(
    ("task", "error", "message"),
    [
        ("no-such-task", UnknownNameError, r"unknown task 'no-such-task'"),
        (3, InputTypeError, r"task must be a Task, a Task class or a task name, got int"),
        ("branin", InputError, r"task 'branin' cannot continue training"),
    ],
)
def test_a_task_replay_cannot_use_is_refused_by_name(
    task: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        replay(task, SCHEDULE)


def _entry(i: int, **change: Any) -> list[dict[str, Any]]:
    """SCHEDULE with entry ``i`` changed (a key set to ``None`` is left out)."""
    entry = {k: v for k, v in {**SCHEDULE[i], **change}.items() if v is not None}
    return [entry if j == i else dict(e) for j, e in enumerate(SCHEDULE)]


@pytest.mark.parametrize(
    ("schedule", "error", "message"),
    [
        (_entry(1, config=None), InputError, r"schedule entry 1 lacks \['config'\]"),
        (_entry(0, end=None), InputError, r"schedule entry 0 lacks \['end'\]"),
        (
            _entry(1, config=dict(CONFIG, lr=5.0)),
            InputError,
            r"schedule entry 1's config for quadratic: lr=5.0 is outside its range: float in "
            r"\[0.001, 0.1\]",
        ),
        (
            _entry(0, config=dict(CONFIG, steps="2")),
            InputTypeError,
            r"schedule entry 0's config for quadratic: steps='2' \(str\) must be an integer",
        ),
        (
            _entry(0, config={"lr": 0.05}),
            InputError,
            r"schedule entry 0's config for quadratic lacks \['momentum', 'start', 'steps'\]",
        ),
        (_entry(1, start=1), InputError, r"entry 1 is 1..3 after epoch 2"),
        (_entry(0, config="lr=0.05"), InputTypeError, r"schedule entry 0's config must be a dict"),
        ([SCHEDULE[0], "segment"], InputTypeError, r"schedule entry 1 must be a dict"),
        ("schedule", InputTypeError, r"the schedule must be a list of segments"),
        ([], InputError, r"the schedule to replay is empty"),
    ],
)
def test_a_schedule_replay_cannot_follow_is_refused_by_its_entry(
    schedule: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        replay(Quadratic(), schedule)


class _BadSecondSegment(Quadratic):
    """Breaks the segment contract from its second segment on: text for its scores
    (``broken="values"``) or an ``epoch`` that does not count the model's epochs (``"epoch"``,
    in ``train_segment`` itself, past the task's own check)."""

    def __init__(self, broken: str) -> None:
        super().__init__()
        self.broken = broken

    def train_segment(self, config: Any, state: Any, epochs: int, seed: int = 0, **kw: Any) -> Any:
        if self.broken == "values" or state is None:
            return super().train_segment(config, state, epochs, seed, **kw)
        return replace(super().train_segment(config, state, epochs, seed, **kw), epoch=7)

    def _train_segment(self, config: Any, state: Any, *args: Any) -> Any:
        segment = super()._train_segment(config, state, *args)
        if self.broken == "values" and state is not None:
            segment.values = ["0.5"] * len(segment.values)
        return segment


@pytest.mark.parametrize(
    ("broken", "error", "said"),
    [
        ("values", InputTypeError, "its segment returned '0.5' of type str, not a number"),
        ("epoch", InputError, "its segment from epoch 2 trained 1 epoch but says epoch=7"),
    ],
)
def test_a_segment_that_breaks_the_contract_names_its_entry_and_epochs(
    broken: str, error: type[Exception], said: str
) -> None:
    schedule = _entry(1, member=3)
    place = "schedule entry 1 (member 3), segment from epoch 2 to 3"
    with pytest.raises(error, match=f"^task 'quadratic', {re.escape(place)}: {re.escape(said)}"):
        replay(_BadSecondSegment(broken), schedule)


@pytest.mark.parametrize(
    ("odd", "said"),
    [
        ("nan", "non-finite score nan at epoch 4"),
        ("inf", "non-finite score inf at epoch 4"),
        ("std_err", "non-finite std_err nan (the score's standard error over folds) at epoch 4"),
    ],
)
def test_a_replay_whose_training_diverges_fails_naming_the_segment_and_epoch(
    odd: str, said: str
) -> None:
    """Its NaN or infinite scores were returned as the replay's results."""
    schedule = _entry(1, member=3, end=4)
    place = "schedule entry 1 (member 3), segment from epoch 2 to 4"
    with pytest.raises(TrialFailure) as info:
        replay(Diverging(odd), schedule)
    assert str(info.value) == f"task 'quadratic', {place}: the training diverged: {said}"
    assert len(info.value.curves["val_loss"]) == 2  # the segment's curves


def test_a_replay_whose_task_says_it_diverged_names_the_segment() -> None:
    """The task's own TrialFailure passed as it was, with no word of where."""
    schedule = [dict(SCHEDULE[0], config=dict(CONFIG, lr=0.9))]
    with pytest.raises(TrialFailure, match=r"^task 'quadratic', schedule entry 0 \(member 0\), "
                       r"segment from epoch 0 to 2: diverged: loss "):  # fmt: skip
        replay(Quadratic(lr_high=1.0), schedule)
