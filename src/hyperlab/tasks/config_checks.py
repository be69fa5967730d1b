"""A task's configurations checked against its search space: the configuration
:meth:`Task.evaluate`, :meth:`Task.train_segment` and :meth:`Task.configuration` are given,
and each of a schedule's (:meth:`Task.schedule_test_score`).

The space is read from throwaway trials once per task and kept on it (``_space_cache``; read
again, thoroughly, once, where a configuration would otherwise be refused:
``_space_thorough``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from optuna.distributions import BaseDistribution

from hyperlab.errors import InputError, InputTypeError
from hyperlab.space.config import checked_space
from hyperlab.space.distributions import capture_space

if TYPE_CHECKING:
    from hyperlab.tasks.base import Task


def captured(task: Task) -> tuple[dict[str, BaseDistribution], set[str]]:
    """``task``'s space's distributions, and the parameters every configuration has (fewer
    than all in a conditional space). A task whose class overrides :meth:`Task.distributions`
    states its space itself: every configuration has all of its parameters."""
    from hyperlab.tasks.base import Task  # (base imports this module)

    if type(task).distributions is not Task.distributions:
        given = task.distributions()
        return given, set(given)
    if not hasattr(task, "_space_cache"):
        task._space_cache = capture_space(task.search_space, name=f"task {task.name!r}")
        task._space_thorough = False
    return task._space_cache


def read_thoroughly(task: Task) -> bool:
    """Read ``task``'s space again on many more throwaway trials, once (a rare branch of a
    conditional space may have parameters the quick reading missed, or lack one every branch
    read so far had); whether it was read again."""
    if getattr(task, "_space_thorough", True):
        return False
    task._space_cache = capture_space(
        task.search_space, 1024, name=f"task {task.name!r}", settled=1024
    )
    task._space_thorough = True
    return True


def check_config(
    task: Task, config: dict[str, Any], where: str = "config", *, values: bool = True
) -> None:
    """Refuse a configuration ``task``'s search space could not have made: one that lacks a
    parameter, holds a value of the wrong type or out of its parameter's range (checked on the
    branch its values choose, with the ranges that branch asks for), or holds a key that is
    neither a parameter of any branch nor one the space returns. A key of another branch of a
    conditional space is let through, as a population member's configuration may carry one. A
    task that runs whole trials itself has no configuration to check.

    ``values=False`` checks the keys only: a population's members are drawn and moved in the
    ranges first read from the space, which a range that depends on another value
    (``suggest_int("k", 1, n)``) may not keep for every member.

    Raises:
        InputTypeError, InputError: The message names ``where`` (for the task), the keys or
            the value.
    """
    where = f"{where} for {task.name}"
    missing = captured(task)[1] - set(config)
    if missing and read_thoroughly(task):
        missing = captured(task)[1] - set(config)
    if missing:
        raise InputError(f"{where} lacks {sorted(missing)}")
    if task.trial_objective() is not None or not values:
        return
    seen = checked_space(task.search_space, config, where)
    if seen is None:  # the space needs a real trial: its values cannot be checked here
        return
    unknown = set(config) - seen[0] - seen[1] - set(captured(task)[0])
    if unknown and read_thoroughly(task):
        unknown -= set(captured(task)[0])
    if unknown:
        listed = ", ".join(f"{k}={config[k]!r:.40}" for k in sorted(unknown))
        known = ", ".join(sorted(captured(task)[0]))
        raise InputError(f"{where} has unknown keys: {listed}; the task's parameters: {known}")


def check_schedule(task: Task, schedule: Any) -> list[tuple[dict[str, Any], int]]:
    """``schedule``, ``(configuration, epochs)`` per segment, as a list of such pairs (each
    configuration copied) when it is one for ``task``: not empty, each epochs a positive int,
    each configuration's keys checked as :meth:`Task.train_segment` checks them.

    Raises:
        InputTypeError: ``schedule`` is not a list (a sequence), or a configuration not a dict.
        InputError: The schedule is empty, a segment is not a ``(dict, epochs)`` pair, its
            epochs are not a positive int, or its configuration lacks a parameter.
    """
    if isinstance(schedule, str | bytes) or not isinstance(schedule, Sequence):
        raise InputTypeError(
            f"schedule must be a list of (config, epochs), got {type(schedule).__name__}"
        )
    if not schedule:
        raise InputError("the schedule to score on the test split is empty")
    for i, segment in enumerate(schedule):
        if not (isinstance(segment, tuple | list) and len(segment) == 2):
            raise InputError(f"segment {i} of the schedule is not (config, epochs): {segment!r}")
        config, epochs = segment
        if not isinstance(config, dict):
            raise InputTypeError(
                f"segment {i}'s config must be a dict, got {type(config).__name__}"
            )
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise InputError(f"segment {i}'s epochs must be a positive integer, got {epochs!r}")
        check_config(task, config, f"segment {i}'s config", values=False)
    return [(dict(c), int(e)) for c, e in schedule]
