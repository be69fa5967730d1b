"""Replay a schedule a population discovered: one fresh model trained segment by segment
with the hyperparameters each segment of the schedule used."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from hyperlab.errors import (
    HyperlabError,
    InputError,
    InputTypeError,
    TrialFailure,
    check_bool,
    check_nonneg_int,
)
from hyperlab.population.randomness import seeded_globals, segment_seed
from hyperlab.population.segments import divergence, placed_in_task
from hyperlab.population.selftuning import (
    RecordingWrapper,
    check_wrapped,
    hypergradient_twin,
    learning_rate_of,
    with_learned_rate,
)
from hyperlab.registry import TASKS
from hyperlab.tasks.base import Segment, Task, check_segment

#: What a task argument may be, as :func:`hyperlab.tune` takes it.
TaskLike = Task | type[Task] | str


def replay(
    task: TaskLike,
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
        task: The task the population trained: a :class:`Task`, its class or its name (a
            registered name or a reference ``path/to/file.py:Class``), as for
            :func:`hyperlab.tune`.
        schedule: Segments with ``start``, ``end`` and ``config``, contiguous from epoch 0.
        seed: Seeds the fresh model.
        hypergradient: Train with hypergradient optimizers, as self-tuning members do.
        member_seeds: Each member's seed by its number (``None``: ``seed`` for every segment,
            exact for a task that keeps its random streams in its state).

    Returns:
        The segments, in order.

    Raises:
        InputTypeError: ``task`` is not a task, a task class or a name, ``seed`` is not an
            integer or ``hypergradient`` not ``True`` or ``False``.
        InputError: A negative ``seed``; the schedule is empty, an entry lacks ``start``,
            ``end`` or ``config``, the entries are not contiguous from epoch 0, or an entry's
            configuration is not one of the task's (each message names the entry).
        InputTypeError, InputError: A segment breaks the task's contract
            (:func:`~hyperlab.tasks.base.check_segment`); the message names the schedule
            entry, its member and its epochs (``task 'x', schedule entry 1 (member 3), segment
            from epoch 2 to 4: its segment ...``).
        InputError: With ``hypergradient``, a task whose rate cannot be learned, refused as
            the self-tuning tuners refuse it: one naming no ``learning_rate_param`` of its
            space, before anything trains (``selftuning.learning_rate_of``), or one whose
            first segment, a fresh model, passed no optimizer through ``wrap_optimizer``,
            before the next trains (``selftuning.check_wrapped``, ``TaskContractError``).
        TrialFailure: A segment's training diverged: its task raised ``TrialFailure``, or a
            score, its ``std_err`` or a fold value is NaN or infinite. The replay has no
            result; the message names the place as above and the first epoch whose score is
            not finite (``...: the training diverged: non-finite score nan at epoch 4``), or
            the segment's last for a ``std_err`` or fold value, and ``curves`` holds that
            segment's curves.
    """
    check_nonneg_int("seed", seed)
    check_bool("hypergradient", hypergradient)  # ("no" would train with the twins)
    task = _as_task(task)
    if hypergradient:
        learning_rate_of(task, "a replay with hypergradient")
    state: Any = None
    out = []
    start = 0
    for i, (entry, (config, epochs)) in enumerate(zip(schedule, _segments(task, schedule))):
        trainer = _trainer_seed(entry, seed, member_seeds)
        place = _place(i, entry, start, epochs)
        wrap = RecordingWrapper(hypergradient_twin) if hypergradient else None
        try:
            with placed_in_task(task.name, place):
                with seeded_globals(segment_seed(trainer, start)):  # as the population's was
                    segment = task.train_segment(
                        config, state, epochs, seed=trainer, wrap_optimizer=wrap
                    )
                check_segment(task.name, segment, epochs, start=start)
                if wrap is not None and state is None:
                    check_wrapped(wrap, task.name, "the replayed model's optimizers", _INSTEAD)
                diverged = divergence(segment, start)
                if diverged is not None:
                    raise TrialFailure(diverged, segment.curves)
        except TrialFailure as exc:  # (a diverged training: the replay has no result)
            raise TrialFailure(f"task {task.name!r}, {place}: {exc}", exc.curves) from None
        out.append(with_learned_rate(task, segment, wrap))
        state, start = segment.state, start + epochs
    return out


#: What else to do about a task that wraps no optimizer in a replay with hypergradient.
_INSTEAD = "replay with the task that trained the run (its models learned their rate)"


def _place(i: int, entry: Mapping[str, Any], start: int, epochs: int) -> str:
    """Schedule entry ``i`` and its epochs, for the message of an error that stops a replay
    (``"schedule entry 1 (member 3), segment from epoch 2 to 4"``)."""
    member = f" (member {entry['member']})" if "member" in entry else ""
    return f"schedule entry {i}{member}, segment from epoch {start} to {start + epochs}"


def _as_task(task: Any) -> Task:
    """The task to replay with, one that continues training: a :class:`Task` as it is, a Task
    class made with its defaults, a name (registered, or a reference to user code) made by
    the registry.

    Raises:
        InputTypeError: ``task`` is none of these.
        InputError: The class cannot be made without arguments, the name is not registered,
            or the task cannot continue training (it has no schedule).
    """
    made = _made(task)
    if not made.continues_training:
        raise InputError(
            f"task {made.name!r} cannot continue training, so no population trained it and it "
            "has no schedule to replay: pass the task the population trained"
        )
    return made


def _made(task: Any) -> Task:
    if isinstance(task, Task):
        return task
    if isinstance(task, type) and issubclass(task, Task):
        try:
            return task()
        except HyperlabError:
            raise
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"task class {task.__qualname__} cannot be made without arguments ({exc}): "
                "pass the task object itself"
            ) from None
    if isinstance(task, str):
        return TASKS.create(task)  # type: ignore[no-any-return]
    raise InputTypeError(
        f"task must be a Task, a Task class or a task name, got {type(task).__name__}"
    )


def _entries(schedule: Any) -> list[tuple[int, int, dict[str, Any]]]:
    """``(start, end, config)`` of each entry of a schedule, after checking that each is a
    dict with them and that they follow each other from epoch 0.

    Raises:
        InputTypeError: The schedule is not a list, or an entry not a dict.
        InputError: The schedule is empty, an entry lacks a key or its epochs are not whole
            numbers, or the entries are not contiguous from epoch 0.
    """
    if isinstance(schedule, str | bytes) or not isinstance(schedule, Sequence):
        raise InputTypeError(f"the schedule must be a list of segments, got {schedule!r:.60}")
    if not schedule:
        raise InputError("the schedule to replay is empty")
    epoch = 0
    out = []
    for i, entry in enumerate(schedule):
        if not isinstance(entry, Mapping):
            raise InputTypeError(f"schedule entry {i} must be a dict, got {entry!r:.60}")
        lacks = [key for key in ("start", "end", "config") if key not in entry]
        if lacks:
            raise InputError(f"schedule entry {i} lacks {lacks}; it has {list(entry)}")
        start, end = entry["start"], entry["end"]
        if any(isinstance(e, bool) or not isinstance(e, int) for e in (start, end)):
            raise InputError(
                f"schedule entry {i}'s start and end must be epochs, got {start!r}..{end!r}"
            )
        if start != epoch or end <= epoch:
            raise InputError(
                f"schedule segments must follow each other from epoch 0; entry {i} is "
                f"{start}..{end} after epoch {epoch}"
            )
        out.append((start, end, entry["config"]))
        epoch = end
    return out


def _segments(task: Task, schedule: Any) -> list[tuple[dict[str, Any], int]]:
    """``(configuration, epochs)`` of each segment of a schedule, after checking its entries
    (:func:`_entries`) and each entry's parameters against the task's search space.

    Raises:
        InputTypeError, InputError: As :func:`_entries`, or an entry's parameters are not
            the task's (the message names the entry and the value).
    """
    return [
        (task.configuration(config, f"schedule entry {i}'s config"), end - start)
        for i, (start, end, config) in enumerate(_entries(schedule))
    ]


def members(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The complete trials of ``study`` that are members of a finished population (they carry
    a ``schedule``); empty for any other study."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if "schedule" in t.user_attrs
    ]


def replay_member(
    study: optuna.Study, task: TaskLike, member: int | None = None
) -> tuple[optuna.trial.FrozenTrial, list[Segment]]:
    """Replay the schedule of one member of a finished population: by default the best one.

    The fresh model gets the seed of the member its schedule starts from, and hypergradient
    optimizers when the population trained with them, so it retraces the member's path.

    Args:
        study: A population's study (its trials carry ``member``, ``seed`` and ``schedule``).
        task: The task the population trained: a :class:`Task`, its class or its name, as
            for :func:`hyperlab.tune`.
        member: The member to replay (``None``: the member with the best value).

    Returns:
        The member's trial and the replayed segments.

    Raises:
        InputTypeError: ``task`` is not a task, a task class or a name.
        InputError: The study holds no population, or no member ``member``, or the
            member's schedule is not one the task can replay (see :func:`replay`).
        TrialFailure: The replay's training diverged (see :func:`replay`).
    """
    task = _as_task(task)
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
    schedule = trial.user_attrs["schedule"]
    _entries(schedule)  # before its first entry is read for the seed
    seed, hypergradient = _path_start(study, trial)
    seeds = {
        int(t.user_attrs["member"]): int(t.user_attrs.get("seed", 0))
        for t in trials
        if "member" in t.user_attrs
    }
    return trial, replay(task, schedule, seed=seed, hypergradient=hypergradient, member_seeds=seeds)


def member_test_score(
    study: optuna.Study, task: TaskLike, trial: optuna.trial.FrozenTrial
) -> float | None:
    """The held-out test score of a member's model: one fresh model trained on all the
    training data through the member's schedule (:meth:`Task.schedule_test_score`), seeded as
    its path began and with hypergradient optimizers when the population trained with them.
    ``None`` when the task has no test split."""
    task = _as_task(task)
    steps = _segments(task, trial.user_attrs["schedule"])
    seed, hypergradient = _path_start(study, trial)
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
    segment, else that member's seed), and whether the population's members (or the trial's
    model, marked ``hypergradient``: a ``tpe-hd`` trial's) trained with hypergradient
    optimizers."""
    first = trial.user_attrs["schedule"][0].get("member")
    hypergradient = bool(study.user_attrs.get("population", {}).get("hypergradient", False))
    hypergradient = hypergradient or trial.user_attrs.get("hypergradient") is True
    if "seed" in trial.user_attrs["schedule"][0]:
        return int(trial.user_attrs["schedule"][0]["seed"]), hypergradient
    seed = 0
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if t.user_attrs.get("member") == first:
            seed = int(t.user_attrs.get("seed", 0))
            break
    return seed, hypergradient
