"""Helpers of the population tests: run a population on a task into a fresh study."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from hyperlab.registry import TUNERS
from hyperlab.tasks.base import Task


def run_population(
    tuner: str,
    task: Task,
    workdir: Path,
    *,
    trials: int = 4,
    budget: int = 6,
    seed: int = 0,
    study: optuna.Study | None = None,
    on_progress: Callable[[str], None] | None = None,
    **options: Any,
) -> optuna.Study:
    """A population of ``trials`` members trained by ``tuner`` for ``budget`` epochs."""
    sampler = TUNERS.create(tuner, seed=seed, space=task.distributions(), task=task, **options)
    study = study or optuna.create_study(sampler=sampler)
    sampler.run_trials(
        study, task, trials=trials, budget=budget, seed=seed, workdir=workdir,
        on_progress=on_progress,
    )  # fmt: skip
    return study


def outcome(study: optuna.Study) -> list[tuple[Any, ...]]:
    """What a population ended with: each trial's member, value, curve, schedule, lineage."""
    return [
        (
            t.user_attrs["member"],
            t.value,
            list(t.intermediate_values.values()),
            t.user_attrs["schedule"],
            t.user_attrs["lineage"],
        )
        for t in sorted(study.trials, key=lambda t: t.user_attrs["member"])
    ]


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
