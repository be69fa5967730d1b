"""Building a run's tuners and pruners from their registered names and the run's options.

This is the one place the lab turns a tuner or pruner name into an object. The lab knows no
plug-in by name: each declares what it needs and the lab asks generically —

- its options: the keywords its factory takes (:meth:`~hyperlab.registry.Registry.options`);
  each tuner and each pruner of a run gets the run's options that it takes;
- the tasks an option names (``reads_tasks`` at registration; the registry builds them);
- the files an option names (``reads_files`` at registration): the run records their paths
  absolute (:func:`absolute_files`);
- the task being tuned: every tuner gets it, and a pruner whose factory names a ``task``
  keyword (the ``oracle``, which reads final values from it);
- ``startup_trials``: the complete trials it needs before its model (or its rule) acts;
- ``records_predictions`` (pruners): the tuner option ``pruner_predictions=True`` needs a
  pruner of the run that records predicted final values;
- ``stops_trials`` (tuners: a stopping rule of their own, ``should_stop(study, trial)``) and
  ``asks_tuner`` (pruners: the pruner hands the decision to the study's tuner): a run whose
  pruner asks the tuner warns about its tuners that have no rule (their trials run in full).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

from hyperlab.errors import HyperlabError, InputError, InputTypeError, SetupWarning
from hyperlab.lab.notes import startup_trials
from hyperlab.registry import PRUNERS, TUNERS, Registry
from hyperlab.tasks.base import Task

#: What the lab itself gives every tuner factory; not options.
SET_FOR_TUNERS = ("seed", "study_seed", "space", "task", "search_space")
#: What the lab itself gives every pruner factory; not options.
SET_FOR_PRUNERS = ("max_budget", "seed", "task")


class StartupOnlyWarning(SetupWarning):
    """A tuner will not leave its start-up design in the trials asked for."""


def max_budget(budget: int | None, task: Task | None) -> int | None:
    """Epochs per trial: ``budget`` when given, else the task's maximum; ``None`` when neither
    is known (an objective's steps are its own: the pruners learn them)."""
    if budget is not None:
        return budget
    return task.max_budget if task is not None else None


def absolute_files(
    registry: Registry[Any], names: Sequence[str], options: dict[str, Any]
) -> dict[str, Any]:
    """``options`` with the path in each option that one of ``names`` declares as naming a
    file (``reads_files``) made absolute, from the current folder, as a string; a path given
    absolute, and every other option, is kept as it is. A run records these, so that its
    setup names the same file wherever it is resumed, reported or joined from."""
    files = {option for name in names for option in registry.file_options(name)}
    return {
        key: (
            os.path.abspath(os.fspath(value))
            if key in files and isinstance(value, str | os.PathLike) and os.fspath(value)
            else value
        )
        for key, value in options.items()
    }


def share(registry: Registry[Any], name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The run's ``options`` that the factory of ``name`` takes."""
    return {k: v for k, v in options.items() if registry.takes(name, k)}


def make_tuner(
    name: str,
    options: dict[str, Any],
    *,
    seed: int,
    task: Task | None,
    study_seed: int | None = None,
) -> Any:
    """The tuner ``name`` (an Optuna sampler) with its share of ``options``.

    Args:
        name: A registered tuner name.
        options: The run's tuner options.
        seed: The sampler's seed (another in each worker process and after a resume).
        task: The task whose search space is known in advance, or ``None`` (the objective
            suggests its own parameters; the tuner then gets no space).
        study_seed: The study's own seed, the same in every process, for a tuner whose
            factory names the keyword ``study_seed`` (a grid's order must be the study's).
    """
    space = task.distributions() if task is not None else None
    extra = share(TUNERS, name, options)
    named = TUNERS.options(name)
    if study_seed is not None and named is not None and "study_seed" in named:
        extra["study_seed"] = study_seed
    return TUNERS.create(name, seed=seed, space=space, task=task, **extra)


def make_pruner(
    name: str,
    options: dict[str, Any],
    *,
    seed: int,
    budget: int | None,
    task: Task | None = None,
) -> Any:
    """The pruner ``name`` with its share of ``options``; ``budget`` is the trials' epochs
    (``None``: the pruner learns them from the trials). A pruner whose factory names a ``task``
    keyword (the ``oracle``) gets the task being tuned (``None`` for an objective)."""
    mine = share(PRUNERS, name, options)
    if "task" in (PRUNERS.options(name) or ()):
        mine["task"] = task
    return PRUNERS.create(name, max_budget=budget, seed=seed, **mine)


def check_plugins(
    tuners: list[str],
    pruners: list[str],
    tuner_options: dict[str, Any],
    pruner_options: dict[str, Any],
    *,
    task_name: str | None,
    task: Task | None,
    budget: int | None,
    trials: int,
    stop_at_noise: bool = False,
) -> frozenset[str]:
    """Check a run's tuners and pruners before anything is stored or runs.

    Every option is taken by one of the run's tuners (or pruners) at least; no option names
    the task being tuned among the tasks a plug-in reads (its own curves would leak); each
    plug-in is built once with its share, so a bad value fails now; a pruner that could stop
    no trial is refused; a tuner that would never leave its start-up design is warned about
    (:class:`StartupOnlyWarning`); ``pruner_predictions=True`` needs a pruner that records
    predictions; a tuner with a ``check_run`` method checks the run's size, pruners and
    ``stop_at_noise`` itself.

    Returns:
        The tuners that drive their trials themselves (``drives_trials``).
    """
    _check_no_leak(PRUNERS, pruners, pruner_options, task_name)
    _check_no_leak(TUNERS, tuners, tuner_options, task_name)
    _check_keys(PRUNERS, "pruner", pruners, pruner_options, SET_FOR_PRUNERS)
    built_pruners = []
    for p in pruners:
        pruner = _built(
            PRUNERS,
            p,
            pruner_options,
            lambda p=p: make_pruner(p, pruner_options, seed=0, budget=budget, task=task),
            len(pruners),
        )
        built_pruners.append(pruner)
    _check_keys(TUNERS, "tuner", tuners, tuner_options, SET_FOR_TUNERS)
    driving, built_tuners = set(), []
    for t in tuners:
        tuner = _built(
            TUNERS,
            t,
            tuner_options,
            lambda t=t: make_tuner(t, tuner_options, seed=0, task=task),
            len(tuners),
        )
        built_tuners.append(tuner)
        _warn_startup_only(t, tuner, trials)
        check_run = getattr(tuner, "check_run", None)
        if callable(check_run):
            check_run(trials=trials, budget=budget, pruners=pruners, stop_at_noise=stop_at_noise)
        if getattr(tuner, "drives_trials", False):
            driving.add(t)
    steps = budget if budget is not None else getattr(task, "max_budget", None)
    for p, pruner in zip(pruners, built_pruners):  # after the tuners: one may refuse pruners
        _check_pruner_startup(p, pruner, trials)
        if p not in ("none", "tuner") and steps == 1:  # 'tuner': the tuner's own rule
            raise InputError(
                f"pruner {p!r} can never stop a trial early: the trials {_of_task(task_name, task)}"
                "train one epoch (a budget of 1), so there is nothing to save; use the pruner "
                "'none' (or a larger budget)"
            )
        predictor = getattr(pruner, "predictor", None)
        if task is not None and predictor is not None:
            predictor.check_space(task.distributions())  # e.g. its pretraining curves' space
    _check_predictions(tuner_options, pruners, built_pruners)
    _warn_no_rule(tuners, built_tuners, pruners, built_pruners)
    return frozenset(driving)


def _of_task(task_name: str | None, task: Task | None) -> str:
    """``"of task 'NAME' "``, or nothing for a user's objective (the lab has no task)."""
    name = task_name or getattr(task, "name", None)
    return f"of task {name!r} " if name else ""


def _check_keys(
    registry: Registry[Any],
    kind: str,
    names: list[str],
    options: dict[str, Any],
    set_by_lab: tuple[str, ...],
) -> None:
    """Every option is taken by at least one of ``names``, and none is one the lab sets."""
    if not isinstance(options, dict):
        raise InputTypeError(f"{kind}_options must be a dict, got {options!r}")
    for key in options:
        if key in set_by_lab:
            raise InputError(f"{kind} option {key!r} is set by the lab, not by an option")
        if not any(registry.takes(n, key) for n in names):
            taken = {n: sorted(set(registry.options(n) or ()) - set(set_by_lab)) for n in names}
            raise InputError(
                f"no {kind} of this run takes the option {key!r}; the options each takes: {taken}"
            )


def _check_no_leak(
    registry: Registry[Any], names: list[str], options: dict[str, Any], task_name: str | None
) -> None:
    """A plug-in that reads other tasks (e.g. pretraining on their curves) must not read the
    task being tuned: its own results would leak into the study."""
    if task_name is None:
        return
    for name in names:
        if task_name in registry.task_names(name, share(registry, name, options)):
            raise InputError(
                f"{registry.kind} {name!r} would read the task being tuned, {task_name!r}: its "
                f"own results would leak into the study; name other tasks of its search space"
            )


def _built(
    registry: Registry[Any], name: str, options: dict[str, Any], build: Any, of: int = 1
) -> Any:
    """``build()``, with a plain ``TypeError``/``ValueError`` turned into an :class:`InputError`
    naming the plug-in and its options; the plug-in's own error names the plug-in too when
    the run has ``of`` > 1 of its kind (another of them may take the value it refused)."""
    try:
        return build()
    except HyperlabError as exc:  # a bad value, already named by the plug-in
        if of < 2:
            raise
        raise type(exc)(f"{registry.kind} {name!r}: {exc}") from None
    except (TypeError, ValueError) as exc:  # no such keyword, or a value it refuses
        mine = share(registry, name, options)
        raise InputError(f"{registry.kind} {name!r} refused its options {mine}: {exc}") from None


_startup = startup_trials  # (a pruner declares it as a tuner does)


def _check_pruner_startup(name: str, pruner: Any, trials: int) -> None:
    """A pruner that stops no trial before ``startup_trials`` complete must have a trial left
    to stop: otherwise it would silently prune nothing."""
    startup = _startup(pruner)
    if startup is not None and trials <= startup:
        raise InputError(
            f"pruner {name!r} stops no trial before {startup} trials have completed, and the "
            f"run has trials={trials}: it would prune nothing; ask for more than {startup} "
            f"trials (or pruner 'none')"
        )


def _warn_startup_only(name: str, tuner: Any, trials: int) -> None:
    """Warn when a tuner draws all ``trials`` from its start-up design: its results are those
    of that design, not of its model."""
    startup = _startup(tuner)
    if startup is not None and trials <= startup:
        warnings.warn(
            f"tuner {name!r} draws its first {startup} trials from its start-up design before "
            f"its model chooses; with trials={trials} it never does, so its results are "
            "those of that design (ask for more trials)",
            StartupOnlyWarning,
            stacklevel=5,
        )


def _warn_no_rule(
    tuners: list[str], built_tuners: list[Any], pruners: list[str], built_pruners: list[Any]
) -> None:
    """A pruner that hands the decision to the tuner (``asks_tuner``) stops no trial of a tuner
    without a stopping rule of its own (``stops_trials``): warn that those run in full."""
    asking = [p for p, built in zip(pruners, built_pruners) if getattr(built, "asks_tuner", False)]
    plain = [  # a population trains every member to the end by design: nothing to warn of
        t
        for t, built in zip(tuners, built_tuners)
        if not getattr(built, "stops_trials", False) and not getattr(built, "drives_trials", False)
    ]
    if asking and plain:
        warnings.warn(
            f"pruner {asking[0]!r} asks the tuner whether a trial stops; tuners {plain} have no "
            "stopping rule of their own, so their trials run to the full budget",
            SetupWarning,
            stacklevel=5,
        )


def _check_predictions(
    tuner_options: dict[str, Any], pruners: list[str], built_pruners: list[Any]
) -> None:
    """``pruner_predictions=True`` (the tuner option that shows a tuner the predicted final
    values a pruner records) needs a pruner of the run that records them (one that declares
    ``records_predictions``); otherwise the option would do nothing."""
    if tuner_options.get("pruner_predictions") is not True:
        return
    if not any(getattr(p, "records_predictions", False) for p in built_pruners):
        raise InputError(
            f"tuner option pruner_predictions=True needs a pruner that records predicted "
            f"finals (curve, curve-parametric or curve-halving); this run's pruners are {pruners}"
        )
