"""A run's plan: its setup built and checked once, then passed down.

:func:`make_plan` turns what a user asked for (through :func:`hyperlab.tune`,
:func:`hyperlab.compare`, the command line or ``--create-only`` for workers) into a
:class:`RunPlan`: the :class:`~hyperlab.lab.runspec.RunSpec` that ``run.json`` records, the
task built from its name, and the objective function when the user gave one. Every check runs
here, before anything is stored or any trial runs; :meth:`RunPlan.jobs` then gives one
:class:`~hyperlab.lab.study_job.StudyJob` per study.
"""

from __future__ import annotations

import numbers
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from hyperlab.direction import MINIMIZE, check_direction, past_tense
from hyperlab.errors import (
    InputError,
    InputTypeError,
    SetupWarning,
    check_bool,
    check_positive_int,
)
from hyperlab.lab.compare_reference import check_reference
from hyperlab.lab.objective import UserObjective, planned
from hyperlab.lab.plugins import absolute_files, check_plugins, max_budget
from hyperlab.lab.run_paths import check_name
from hyperlab.lab.runspec import RunSpec
from hyperlab.lab.storage_settings import check_url
from hyperlab.lab.study_job import StudyJob
from hyperlab.lab.target import build_task, check_objective, is_objective
from hyperlab.registry import PRUNERS, TUNERS
from hyperlab.tasks.base import Task

#: The largest seed: seeds reach NumPy's generators, which take 0..2**32 - 1.
MAX_SEED = 2**32 - 1


@dataclass
class RunPlan:
    """A checked run: what ``run.json`` records and the objects it was built from.

    Attributes:
        spec: The recorded setup.
        task: The task (``None`` for an objective function).
        objective: The objective function (``None`` for a task).
        folder: The run folder, once the run has started (:func:`~hyperlab.lab.execute.start_run`).
        driving: The tuners that train their trials themselves (``drives_trials``): they run
            only in this process's run folder.
    """

    spec: RunSpec
    task: Task | None = None
    objective: UserObjective | None = None
    folder: Path | None = None
    driving: frozenset[str] = frozenset()

    @property
    def planned_task(self) -> Task | None:
        """The task when its search space is known in advance, else ``None``."""
        return planned(self.task)

    def jobs(self) -> list[StudyJob]:
        """One job per study: tuner x pruner x seed."""
        s = self.spec
        return [
            StudyJob(
                study_name=study_name,
                storage=s.storage,
                task=s.task,
                tuner=tuner,
                pruner=pruner,
                seed=seed,
                trials=s.trials,
                budget=s.budget,
                stop_at_noise=s.stop_at_noise,
                direction=s.direction,
                task_options=s.task_options,
                tuner_options=s.tuner_options,
                pruner_options=s.pruner_options,
                folder=str(self.folder) if self.folder is not None else None,
                run=s.created or None,
            )
            for study_name, tuner, pruner, seed in s.study_names()
        ]


def make_plan(
    kind: str,
    task: Task | str | UserObjective,
    *,
    name: str,
    tuners: list[str],
    pruners: list[str],
    seeds: list[int],
    trials: int,
    jobs: int = 1,
    storage: str | None = None,
    budget: int | None = None,
    stop_at_noise: bool = False,
    direction: str | None = None,
    task_options: dict[str, Any] | None = None,
    tuner_options: dict[str, Any] | None = None,
    pruner_options: dict[str, Any] | None = None,
    command: Sequence[str] | None = None,
    reference: str | None = None,
) -> RunPlan:
    """Check a run's setup and build its plan (arguments as for :func:`hyperlab.compare`).

    Raises:
        InputError: A setting is bad; the message names it.
    """
    trials = positive_int("trials", trials)
    jobs = positive_int("jobs", jobs)
    check_bool("stop_at_noise", stop_at_noise)
    _check_command(command)
    seeds = check_seeds(seeds)
    check_name(name)
    reference = _check_methods(tuners, pruners, reference)
    objective, task_name, task_obj = _what_is_tuned(task, task_options)
    # (checked before any check that warns: a refused run warns of nothing else first)
    given_direction, direction = direction, resolve_direction(direction, task_name, task_obj)
    known = planned(task_obj)  # ``None``: the steps are the objective's own, pruners learn them
    if budget is not None:
        budget = _check_budget(budget, task_name, known)
    if storage is not None:
        check_url(storage)
    tuner_options, pruner_options = (  # paths of files recorded absolute
        absolute_files(TUNERS, tuners, _options("tuner", tuner_options)),
        absolute_files(PRUNERS, pruners, _options("pruner", pruner_options)),
    )
    with _kept_warnings() as said:
        warn_unsaid_direction(given_direction, task_name, task_obj)
        driving = check_plugins(
            tuners,
            pruners,
            tuner_options,
            pruner_options,
            task_name=task_name,
            task=known,
            budget=max_budget(budget, known),
            trials=trials,
            stop_at_noise=stop_at_noise,
        )
    spec = RunSpec(
        kind=kind,
        task=task_name,
        tuners=list(tuners),
        pruners=list(pruners),
        seeds=list(seeds),
        trials=trials,
        storage=storage or "",
        budget=budget,
        jobs=jobs,
        stop_at_noise=stop_at_noise,
        direction=direction,
        task_options=dict(task_options or {}),
        tuner_options=tuner_options,
        pruner_options=pruner_options,
        name=name,
        command=list(command or []),
        objective=_identity(objective),
        warnings=said,
        reference=reference,
    )
    return RunPlan(spec, task_obj, objective, driving=driving)


def _check_methods(tuners: list[str], pruners: list[str], reference: Any) -> str | None:
    """The tuners' and pruners' names checked, then the reference named (``None``: the
    default, :mod:`~hyperlab.lab.compare_reference`)."""
    for t in tuners:
        TUNERS.check(t)
    for p in pruners:
        PRUNERS.check(p)
    return check_reference(reference, tuners, pruners)


def _what_is_tuned(
    task: Task | str | UserObjective, task_options: dict[str, Any] | None
) -> tuple[UserObjective | None, str | None, Task | None]:
    """``(objective, None, None)`` for an objective function, else ``(None, the task's
    registered name or None, the task)``, each checked."""
    if is_objective(task):
        check_objective(task)
        _refuse_task_options(task_options)
        return cast(UserObjective, task), None, None
    task_name, task_obj = build_task(cast("Task | str", task), task_options)
    return None, task_name, task_obj


@contextmanager
def _kept_warnings() -> Iterator[list[str]]:
    """The messages of the :class:`~hyperlab.errors.SetupWarning`s raised in the block that
    the caller's filters let through; every warning of the block is passed on
    after it, through those filters (shown, ignored, or raised), unless the block raised."""
    said: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield said  # (a refusal raised here drops them: the run they were about never starts)
    for w in caught:
        with warnings.catch_warnings(record=True) as passed:  # the caller's filters decide
            warnings.warn_explicit(
                w.message, w.category, w.filename, w.lineno, module=_module_of(w.filename)
            )
        for kept in passed:
            warnings.showwarning(kept.message, kept.category, kept.filename, kept.lineno)
            if issubclass(kept.category, SetupWarning):
                said.append(str(kept.message))


def _module_of(filename: str) -> str | None:
    """The name of the loaded module whose file is ``filename`` (what a filter on a module
    matches), ``None`` when none is."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return None


def _refuse_task_options(options: Any) -> None:
    """Refuse task options given with an objective function: no factory would read them, and
    the run would record settings it never used."""
    if options:
        raise InputError(
            f"task_options {options!r} are given to a task's factory; an objective function "
            "has none to take them: read such settings inside the objective"
        )


def _options(kind: str, options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InputTypeError(f"{kind}_options must be a dict, got {options!r}")
    return dict(options)


def _identity(objective: UserObjective | None) -> str | None:
    from hyperlab.lab.identity import objective_identity

    return objective_identity(objective) if objective is not None else None


def _check_budget(budget: Any, task_name: str | None, task: Task | None) -> int:
    budget = positive_int("budget", budget)
    if task is not None and budget > task.max_budget:  # an objective's steps are its own
        raise InputError(f"budget must be at most {task.max_budget} for {task_name}, got {budget}")
    return budget


def positive_int(name: str, value: Any) -> int:
    """``value`` if it is a positive integer, else an error naming ``name`` and the value."""
    return cast(int, check_positive_int(name, value))


def _check_command(command: Any) -> None:
    """The recorded command line: ``None`` or a sequence of strings, not one string."""
    if command is None:
        return
    if isinstance(command, str) or not isinstance(command, Sequence):
        raise InputTypeError(f"command must be a list of strings, got {command!r}")
    for part in command:
        if not isinstance(part, str):
            raise InputTypeError(f"command must be a list of strings, got {part!r} in it")


def check_seeds(seeds: list[int]) -> list[int]:
    """``seeds`` as Python ints (NumPy's integers too: the run records them) when every one is
    an integer in 0..:data:`MAX_SEED` and none repeats (one study each)."""
    out: list[int] = []
    for s in seeds:
        if isinstance(s, bool | np.bool_) or not isinstance(s, numbers.Integral):
            raise InputTypeError(f"seed must be an integer, got {s!r}")
        if not 0 <= s <= MAX_SEED:
            raise InputError(f"seed must be in 0..{MAX_SEED} (2**32 - 1), got {s}")
        out.append(int(s))
    if len(set(out)) != len(out):
        raise InputError(f"seeds must not repeat, got {out}")
    return out


def resolve_direction(direction: Any, task_name: str | None, task: Task | None) -> str:
    """The run's direction: ``direction`` when given, else the task's, else ``"minimize"``.

    A task that declares its direction (every :class:`Task` does unless it sets ``None``) is
    optimized that way; an explicit ``direction`` that contradicts it is refused by name.
    """
    if direction is not None:
        check_direction(direction)
    if task is None or task.direction is None:
        return str(direction or MINIMIZE)
    declared = check_direction(task.direction, f"direction of task {task_name!r}")
    if direction is not None and direction != declared:
        # (a maximized task that kept the default metric name "loss" would read as nonsense)
        named = f" ({task.metric})" if task.metric != "loss" or declared == MINIMIZE else ""
        raise InputError(
            f"direction {direction!r} contradicts task {task_name!r}, whose score{named} is to "
            f"be {past_tense(declared)}{_inherited_direction(task, direction)}"
        )
    return declared


def _sets_direction(task: Task) -> bool:
    """Whether ``task`` is built in or its class (a mixin included) or itself sets its
    direction, rather than keeping :class:`Task`'s default."""
    own = [k for k in type(task).__mro__ if k is not Task]  # (a mixin's direction counts)
    builtin = type(task).__module__.partition(".")[0] == "hyperlab"
    return builtin or "direction" in vars(task) or any("direction" in vars(k) for k in own)


def _inherited_direction(task: Task, wanted: str) -> str:
    """The end of the message that refuses ``wanted`` for ``task``: where the class of a task
    of the user's own never set its direction (it has :class:`Task`'s default), how to set it."""
    if _sets_direction(task):
        return "; leave direction out to use the task's"
    return (
        f": its class {type(task).__name__} does not set direction, so it has Task's default "
        f"{Task.direction!r}; if that is wrong, set direction = {wanted!r} in the class "
        "(a run's direction cannot override a Task's)"
    )


#: Words of a metric's name that say higher is better (scikit-learn's scorers' among them).
HIGHER_IS_BETTER = frozenset(
    {"accuracy", "acc", "auc", "roc", "f1", "precision", "recall", "r2", "iou", "dice", "ndcg"}
)


def warn_unsaid_direction(direction: Any, task_name: str | None, task: Task | None) -> None:
    """Warn when the run gives no ``direction`` and ``task``, a task of the user's own whose
    class does not set one, names a metric that is higher-is-better (an accuracy, an AUC, an
    R²): it keeps :class:`Task`'s default and is minimized, which a task that reports no score
    per epoch gives no other sign of."""
    if direction is not None or task is None or _sets_direction(task):
        return
    words = set(re.split(r"[^a-z0-9]+", str(task.metric).lower()))
    if not words & HIGHER_IS_BETTER:
        return
    warnings.warn(
        f"task {task_name!r} is minimized: its class {type(task).__name__} does not set "
        f"direction, so it has Task's default {Task.direction!r}, while its metric "
        f"{task.metric!r} reads as higher-is-better; set direction = 'maximize' in the class "
        "(or direction = 'minimize', if lower is better, to say so)",
        SetupWarning,
        stacklevel=3,
    )
