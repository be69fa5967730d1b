"""A task's one-time work (imports, its data, torch's first optimizer step) is done before
the first trial's clock starts, so that the first study of a comparison is not charged it."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

import hyperlab
from hyperlab.registry import TASKS
from hyperlab.tasks.base import Segment
from tests.population.quadratic import Quadratic


class Warming(Quadratic):
    """A task that notes when it was warmed up and when each of its trainings began."""

    name = "warming"
    events: ClassVar[list[tuple[str, datetime.datetime]]] = []

    def warm_up(self) -> None:
        Warming.events.append(("warm", datetime.datetime.now()))

    def _evaluate(self, *args: Any) -> Any:
        Warming.events.append(("train", datetime.datetime.now()))
        return super()._evaluate(*args)

    def _train_segment(self, *args: Any) -> Segment:
        Warming.events.append(("train", datetime.datetime.now()))
        return super()._train_segment(*args)


@pytest.mark.parametrize("tuner", ["random", "pbt"])
def test_a_study_warms_its_task_up_before_its_first_trial_starts(
    tuner: str, tmp_path: Path
) -> None:
    """A trial's seconds run from its start (a population member's, over its segments): both
    begin after the warm-up (which was part of the first trial's training before)."""
    Warming.events = []
    study, _ = hyperlab.tune(
        Warming, tuner, trials=4, budget=2, runs_dir=tmp_path, name=tuner, progress=False,
        report=False,
    )  # fmt: skip
    kinds = [kind for kind, _ in Warming.events]
    assert kinds[0] == "warm" and kinds.count("warm") == 1 and "train" in kinds
    warmed = Warming.events[0][1]
    starts = [t.datetime_start for t in study.trials if t.datetime_start is not None]
    if tuner == "random":  # (a population's members are stored at its end)
        assert len(starts) == 4 and min(starts) >= warmed


def test_a_panel_warms_its_task_up_before_its_clock_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from hyperlab.lab import panel

    clock: list[str] = []
    monkeypatch.setattr(TASKS, "create", lambda name, **kw: Warming())
    monkeypatch.setattr(Warming, "warm_up", lambda self: clock.append("warm"))
    real = time.perf_counter
    monkeypatch.setattr(panel.time, "perf_counter", lambda: clock.append("clock") or real())
    panel.run_study("warming", "random", seed=0, trials=2)
    assert clock[0] == "warm" and clock.count("warm") == 1  # (was never warmed, clock first)


def test_an_mlp_task_loads_its_data_and_steps_an_optimizer_when_warmed_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hyperlab.tasks import mlp

    stepped: list[bool] = []
    monkeypatch.setattr(mlp, "first_optimizer_step", lambda: stepped.append(True))
    task = TASKS.create("wine-mlp")
    assert "_data" not in vars(task)  # (loaded at the first training, inside its clock)
    task.warm_up()
    assert "_data" in vars(task) and "_folds" in vars(task) and stepped == [True]


def test_the_first_optimizer_step_draws_no_random_number() -> None:
    import torch

    from hyperlab.tasks.mlp import first_optimizer_step

    torch.manual_seed(3)
    before = torch.get_rng_state()
    first_optimizer_step()
    assert torch.equal(torch.get_rng_state(), before)


def test_a_task_that_does_not_warm_up_is_left_as_it_is() -> None:
    """The base class's warm-up does nothing (a task of the user's own need not write one)."""
    task = TASKS.create("branin")
    before = dict(vars(task))
    task.warm_up()
    assert vars(task) == before
