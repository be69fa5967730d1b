"""Replay a schedule a population discovered: one fresh model trained segment by segment
with the hyperparameters each segment of the schedule used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from hyperlab.errors import InputError
from hyperlab.population.randomness import seeded_globals, segment_seed
from hyperlab.population.selftuning import hypergradient_twin
from hyperlab.tasks.base import Segment, Task, check_segment


def replay(
    task: Task,
    schedule: list[dict[str, Any]],
    *,
    seed: int = 0,
    hypergradient: bool = False,
    member_seeds: Mapping[int, int] | None = None,
) -> list[Segment]:
    """Train one fresh model of ``task`` with ``schedule`` (a trial's ``schedule`` attribute).

    With the seed of the member the schedule starts from (the ``seed`` attribute of the trial
    of ``schedule[0]["member"]``), every member's seed (``member_seeds``, for the global random
    streams of the segments each trained) and the run's ``hypergradient``, the replay retraces
    the member's path: the same scores, epoch for epoch. :func:`replay_member` finds them.

    Args:
        task: The task the population trained.
        schedule: Segments with ``start``, ``end`` and ``config``, contiguous from epoch 0.
        seed: Seeds the fresh model.
        hypergradient: Train with hypergradient optimizers, as self-tuning members do.
        member_seeds: Each member's seed by its number (``None``: ``seed`` for every segment,
            exact for a task that keeps its random streams in its state).

    Returns:
        The segments, in order.

    Raises:
        InputError: The schedule is empty or its segments are not contiguous from epoch 0.
    """
    wrap = hypergradient_twin if hypergradient else None
    state: Any = None
    out = []
    start = 0
    for entry, (config, epochs) in zip(schedule, _segments(task, schedule)):
        trainer = _trainer_seed(entry, seed, member_seeds)
        with seeded_globals(segment_seed(trainer, start)):  # as the population's segment was
            segment = task.train_segment(config, state, epochs, seed=trainer, wrap_optimizer=wrap)
        check_segment(task.name, segment, epochs, start=start)
        out.append(segment)
        state, start = segment.state, start + epochs
    return out


def _segments(task: Task, schedule: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """``(configuration, epochs)`` of each segment of a schedule, after checking that they
    follow each other from epoch 0.

    Raises:
        InputError: The schedule is empty or its segments are not contiguous from epoch 0.
    """
    if not schedule:
        raise InputError("the schedule to replay is empty")
    epoch = 0
    out = []
    for entry in schedule:
        if entry["start"] != epoch or entry["end"] <= epoch:
            raise InputError(
                f"schedule segments must follow each other from epoch 0; got {entry['start']}.."
                f"{entry['end']} after epoch {epoch}"
            )
        config = task.search_space(optuna.trial.FixedTrial(entry["config"]))  # type: ignore[arg-type]
        out.append((config, int(entry["end"]) - epoch))
        epoch = int(entry["end"])
    return out


def members(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The complete trials of ``study`` that are members of a finished population (they carry
    a ``schedule``); empty for any other study."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if "schedule" in t.user_attrs
    ]


def replay_member(
    study: optuna.Study, task: Task, member: int | None = None
) -> tuple[optuna.trial.FrozenTrial, list[Segment]]:
    """Replay the schedule of one member of a finished population: by default the best one.

    The fresh model gets the seed of the member its schedule starts from, and hypergradient
    optimizers when the population trained with them, so it retraces the member's path.

    Args:
        study: A population's study (its trials carry ``member``, ``seed`` and ``schedule``).
        task: The task the population trained.
        member: The member to replay (``None``: the member with the best value).

    Returns:
        The member's trial and the replayed segments.

    Raises:
        InputError: The study holds no population, or no member ``member``.
    """
    trials = members(study)
    if not trials:
        raise InputError(
            f"study {study.study_name!r} holds no population (no trial has a schedule); "
            "replay runs of the pbt and pb2 tuners"
        )
    if member is None:
        trial = study.best_trial if "schedule" in study.best_trial.user_attrs else trials[0]
    else:
        found = [t for t in trials if t.user_attrs.get("member") == member]
        if not found:
            known = sorted(int(t.user_attrs.get("member", -1)) for t in trials)
            raise InputError(f"no member {member!r} in the population; its members: {known}")
        trial = found[0]
    seed, hypergradient = _path_start(study, trial)
    seeds = {
        int(t.user_attrs["member"]): int(t.user_attrs.get("seed", 0))
        for t in trials
        if "member" in t.user_attrs
    }
    schedule = trial.user_attrs["schedule"]
    return trial, replay(task, schedule, seed=seed, hypergradient=hypergradient, member_seeds=seeds)


def member_test_score(
    study: optuna.Study, task: Task, trial: optuna.trial.FrozenTrial
) -> float | None:
    """The held-out test score of a member's model: one fresh model trained on all the
    training data through the member's schedule (:meth:`Task.schedule_test_score`), seeded as
    its path began and with hypergradient optimizers when the population trained with them.
    ``None`` when the task has no test split."""
    seed, hypergradient = _path_start(study, trial)
    steps = _segments(task, trial.user_attrs["schedule"])
    wrap = hypergradient_twin if hypergradient else None
    return task.schedule_test_score(steps, seed, wrap_optimizer=wrap)


def _trainer_seed(entry: dict[str, Any], seed: int, member_seeds: Mapping[int, int] | None) -> int:
    """The seed of the member that trained a schedule's segment: recorded with the segment
    (schedules since 2026-12-05), else its member's seed now, else ``seed``."""
    if "seed" in entry:
        return int(entry["seed"])
    member = entry.get("member")
    if member_seeds is None or member is None:
        return seed
    return int(member_seeds.get(int(member), seed))


def _path_start(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> tuple[int, bool]:
    """The seed of the member a trial's schedule starts from (recorded with its first
    segment, else that member's seed), and whether the population's members trained with
    hypergradient optimizers."""
    first = trial.user_attrs["schedule"][0]["member"]
    hypergradient = bool(study.user_attrs.get("population", {}).get("hypergradient", False))
    if "seed" in trial.user_attrs["schedule"][0]:
        return int(trial.user_attrs["schedule"][0]["seed"]), hypergradient
    seed = 0
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if t.user_attrs.get("member") == first:
            seed = int(t.user_attrs.get("seed", 0))
            break
    return seed, hypergradient
