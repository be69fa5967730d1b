"""Objectives: a Task (or a user's function) turned into an Optuna objective that records
everything the reports need on the trial."""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import optuna

from hyperlab.errors import (
    TRACEBACK_ATTR,
    ObjectiveContractError,
    TaskContractError,
    TrialFailure,
    exit_reason,
    failure_reason,
    traceback_text,
)
from hyperlab.lab.fold_scores import report_fold_scores
from hyperlab.randomness import seeded_globals
from hyperlab.tasks.base import (
    EXTRAS_ATTR,
    Task,
    check_evaluation,
    check_reported,
    check_score,
    extra_names,
    not_finite,
)

UserObjective = Callable[[optuna.Trial], float]


def trial_seed(study_seed: int, trial_number: int) -> int:
    """A per-trial seed that depends only on the study's seed and the trial's number."""
    return zlib.crc32(f"{study_seed}:{trial_number}".encode()) % (2**31)


def _fail(trial: optuna.Trial, reason: str, curves: dict[str, list[float]] | None = None) -> None:
    trial.set_user_attr("fail_reason", reason)
    if curves:
        trial.set_user_attr("curves", curves)


def _fail_by(trial: optuna.Trial, exc: Exception) -> None:
    """Record an error of the objective's own code: its reason with the place it was raised,
    and its traceback (the console shows neither: Optuna logs one line)."""
    _fail(trial, failure_reason(exc))
    trial.set_user_attr(TRACEBACK_ATTR, traceback_text(exc))


def _exited(trial: optuna.Trial, exc: SystemExit) -> TrialFailure:
    """Fail a trial whose code called ``sys.exit()`` (else it is left running and the whole
    process ends with no word); return the error that fails it."""
    reason = exit_reason(exc)
    _fail(trial, reason)
    trial.set_user_attr(TRACEBACK_ATTR, traceback_text(exc))
    return TrialFailure(reason)


def _broken(trial: optuna.Trial, exc: TaskContractError, task: str) -> TaskContractError:
    """Fail a trial whose task broke its contract, with the reason and its traceback; return
    the error that stops the run, naming the task and the trial."""
    broken = exc.in_trial(task, f"trial {trial.number}")
    _fail(trial, f"{type(broken).__name__}: {broken}")
    trial.set_user_attr(TRACEBACK_ATTR, traceback_text(exc))
    return broken


#: A tuner's own training of a trial: ``(task, config, budget, seed, on_epoch) -> Evaluation``
#: (a tuner's ``evaluate_trial``, e.g. ``tpe-hd``'s, whose models learn their rate). The
#: ``optuna.TrialPruned`` it lets pass from ``on_epoch`` may carry an ``extra`` dict, kept on
#: the pruned trial as an evaluation's ``extra`` is on a finished one.
TrialTrainer = Callable[[Task, dict[str, Any], int | None, int, Any], Any]


class TaskObjective:
    """Evaluate a task's configuration in a trial, reporting every epoch.

    Args:
        task: The task.
        seed: The study's seed (each trial derives its own).
        budget: Epochs per trial (``None``: the task's maximum).
        trainer: Trains the trial in place of ``task.evaluate`` (the tuner's
            ``evaluate_trial``; ``None``: the task's own evaluation).
    """

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        budget: int | None = None,
        trainer: TrialTrainer | None = None,
    ) -> None:
        self.task = task
        self.seed = seed
        self.budget = budget
        self.trainer = trainer

    def _evaluate(self, config: dict[str, Any], seed: int, on_epoch: Any) -> Any:
        """The trial's evaluation: the tuner's own training, else the task's."""
        if self.trainer is not None:
            return self.trainer(self.task, config, self.budget, seed, on_epoch)
        return self.task.evaluate(config, self.budget, seed=seed, on_epoch=on_epoch)

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            config = self.task.search_space(trial)
        except Exception as exc:  # (a search space that fails: its reason kept, as a trial's)
            _fail_by(trial, exc)
            raise
        seed = trial_seed(self.seed, trial.number)
        trial.set_user_attr("seed", seed)
        last = self.budget if self.budget is not None else self.task.max_budget

        def on_epoch(epoch: int, value: float, curves: dict[str, list[float]]) -> None:
            value = _reported_own(self.task, value, epoch)
            if not math.isfinite(value):
                raise TrialFailure(f"non-finite validation loss {value} at epoch {epoch}", curves)
            trial.report(value, epoch)
            # after the last epoch there is nothing left to save: a prune would only lose it
            if epoch < last and trial.should_prune():
                trial.set_user_attr("curves", curves)
                trial.set_user_attr("budget", epoch)
                # read the stored attributes: a pruner may have written its own reason there
                stored = trial.study._storage.get_trial_user_attrs(trial._trial_id)
                if "prune_reason" not in stored:
                    trial.set_user_attr(
                        "prune_reason", f"stopped by the pruner at epoch {epoch}: value {value:.4g}"
                    )
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        try:
            ev = self._evaluate(config, seed, on_epoch)
            ev = _checked_own(self.task, ev, last)
        except TrialFailure as exc:
            _fail(trial, str(exc), exc.curves)
            raise
        except optuna.TrialPruned as exc:
            for key, val in (getattr(exc, "extra", None) or {}).items():
                trial.set_user_attr(key, val)  # (what a tuner's own training had got to)
            raise
        except TaskContractError as exc:
            raise _broken(trial, exc, self.task.name) from None
        except Exception as exc:
            _fail_by(trial, exc)
            raise
        except SystemExit as exc:
            raise _exited(trial, exc) from exc
        trial.set_user_attr("curves", ev.curves)
        trial.set_user_attr("std_err", ev.std_err)
        trial.set_user_attr("budget", ev.budget)
        trial.set_user_attr("wall_time", ev.wall_time)
        trial.set_user_attr("fold_values", ev.fold_values)
        for key, val in ev.extra.items():
            trial.set_user_attr(key, val)
        names = extra_names(ev.extra)
        if names:  # (which attributes are the task's own: results.csv's columns)
            trial.storage.set_trial_system_attr(trial._trial_id, EXTRAS_ATTR, names)
        reason = not_finite(ev.value, ev.std_err, ev.fold_values)
        if reason is not None:  # a diverged training: this trial fails, the run goes on
            _fail(trial, reason)
            raise TrialFailure(reason)
        if len(ev.fold_values) >= 2:
            report_fold_scores(trial, ev.fold_values)
        return ev.value


class WrappedObjective:
    """A user's ``f(trial) -> float`` with failures recorded as reasons on the trial.

    Each call runs with the global random streams (torch's, NumPy's, Python's) seeded from the
    study's seed and the trial's number (recorded as the trial's ``seed`` attribute), so that
    an objective that draws from them without seeding them itself gives the same results when
    the run is made again, and other ones under another seed.

    Args:
        func: The objective.
        name: Its name in messages (default: the function's own).
        budget: The epochs a trial trains, as the pruners are told (``None``: unknown).
        seed: The study's seed (each trial derives its own).
    """

    def __init__(
        self,
        func: UserObjective,
        name: str | None = None,
        budget: int | None = None,
        seed: int = 0,
    ) -> None:
        self.func = func
        self.name = name or getattr(func, "__qualname__", type(func).__name__)
        self.budget = budget
        self.seed = seed
        self._warned = False

    def __call__(self, trial: optuna.Trial) -> float:
        seed = trial_seed(self.seed, trial.number)
        trial.set_user_attr("seed", seed)
        try:
            with seeded_globals(seed):
                value = self.func(trial)
            self._check_budget(trial)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            _fail_by(trial, exc)
            raise
        except SystemExit as exc:
            raise _exited(trial, exc) from exc
        try:
            value = check_score(value, f"objective {self.name!r}")
        except TrialFailure as exc:
            broken = ObjectiveContractError(
                f"{exc} (trial {trial.number}): an objective returns its score as a number (a "
                f"float, or a tensor of one number){_several_scores(value)}; the run stops here, "
                "its finished trials kept (fix the objective and run the same command again to "
                "go on)"
            )
            _fail(trial, str(broken))
            raise broken from None
        if not math.isfinite(value):
            _fail(trial, f"objective returned {value}")
            raise TrialFailure(f"objective returned {value}")
        return value

    def _check_budget(self, trial: optuna.Trial) -> None:
        """Warn (once) when the objective reported steps past ``budget``: it runs its own
        epochs, and the budget only tells the pruners where a trial ends."""
        if self.budget is None or self._warned:
            return
        steps = trial.study._storage.get_trial(trial._trial_id).intermediate_values
        if steps and max(steps) > self.budget:
            self._warned = True
            warnings.warn(
                f"objective {self.name!r} reported step {max(steps)}, past the budget "
                f"{self.budget}: a plain objective trains as long as its own code says; the "
                "budget only tells the pruners where a trial ends, so they read its value at "
                f"step {self.budget} as final (pass the budget the objective trains, or none: "
                "the pruners then take the longest finished trial)",
                stacklevel=2,
            )


def _several_scores(value: Any) -> str:
    """What to do instead when ``value`` is a tuple or list of several numbers (the scores of
    several objectives, which a run's study of one score cannot take); else nothing."""
    if not isinstance(value, tuple | list) or len(value) < 2:
        return ""
    try:
        for score in value:
            check_score(score, "")
    except TrialFailure:
        return ""
    return (
        f"; hyperlab optimizes one score, and this objective returned {len(value)} scores: "
        "combine them into one (a weighted sum, say) or, to trade them off against each "
        "other, run Optuna's NSGAIISampler on them directly (optuna.create_study(directions="
        "[...], sampler=optuna.samplers.NSGAIISampler()))"
    )


def planned(task: Task | None) -> Task | None:
    """``task`` when its search space is known in advance (``None`` for a task that runs whole
    trials itself: like a user function, it suggests its own parameters)."""
    return task if task is not None and task.trial_objective() is None else None


def make_objective(
    task: Task | None,
    func: UserObjective | None,
    seed: int,
    budget: int | None,
    sampler: Any = None,
) -> Any:
    """The objective for a task or a user function (exactly one of them).

    A task that runs whole trials itself (:meth:`~hyperlab.tasks.Task.trial_objective`) is
    called as a user function is. A ``sampler`` (the study's tuner) with an
    ``evaluate_trial`` method trains a task's trials itself (:data:`TrialTrainer`).
    """
    own = task.trial_objective() if task is not None else None
    if own is not None:
        return WrappedObjective(own, task.name if task is not None else None, budget, seed)
    if task is not None:
        trainer = getattr(sampler, "evaluate_trial", None)
        return TaskObjective(task, seed, budget, trainer if callable(trainer) else None)
    assert func is not None  # guaranteed by the public callers' checks
    return WrappedObjective(func, budget=budget, seed=seed)


def _checked_own(task: Task, ev: Any, budget: int | None) -> Any:
    """What ``task.evaluate`` returned, checked again: :meth:`Task.evaluate` has checked what
    ``_evaluate`` returns, so only a task that overrides ``evaluate`` itself fails here, and
    the message names that method."""
    try:
        return check_evaluation(task, ev, budget)
    except TaskContractError as exc:
        raise _named_own(task, exc) from None


def _reported_own(task: Task, value: Any, epoch: int) -> float:
    """A score ``task.evaluate`` reported to ``on_epoch``, checked again: :meth:`Task.evaluate`
    has checked what ``_evaluate`` reports, so only a task that overrides ``evaluate`` itself
    fails here, and the message names that method."""
    try:
        return check_reported(task, value, epoch)
    except TaskContractError as exc:
        raise _named_own(task, exc) from None


def _named_own(task: Task, exc: TaskContractError) -> TaskContractError:
    """``exc``, which names ``Cls._evaluate``, naming ``Cls.evaluate`` instead."""
    name = type(task).__name__
    return TaskContractError(str(exc).replace(f"{name}._evaluate", f"{name}.evaluate", 1))
