"""The held-out test score of a study's best trial, scored once when the study ends.

The score comes from the task's own code (``Task.test_score``, or a population tuner's
``member_test_score``), which runs after every trial is stored: an error there, or a score
that is not a finite number, is told as a warning that names the task, the trial and the
reason, and no score is recorded, so the run's results, summary and report stay as they are
(running the command again scores the best trial again).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from hyperlab.errors import HyperlabError, TrialFailure, exit_reason, failure_reason
from hyperlab.tasks.base import Task, check_score

#: Scores a population member's model on the test split (a population tuner's own).
MemberScore = Callable[[optuna.Study, Task, FrozenTrial], Any]


def record_test_score(
    study: optuna.Study,
    task: Task,
    job: Any,
    member_score: MemberScore | None = None,
) -> None:
    """Score the best trial on the task's held-out test split (once) and store it with the
    task's ``metric`` (what the test score measures).

    A trial with a ``schedule`` (a population member: its hyperparameters changed as it
    trained) is scored by ``member_score``, the population tuner's own, which retrains the
    model through the schedule; without one it gets no score, since retraining its starting
    configuration would score a model the population never trained.

    Args:
        study: The finished study.
        task: Its task.
        job: The study's job (its ``budget`` and ``seed`` are used).
        member_score: The population tuner's scorer of a member, if any.
    """
    try:
        best = study.best_trial
    except ValueError:
        return
    if study.user_attrs.get("test_score", {}).get("trial") == best.number:
        return
    if "schedule" in best.user_attrs and member_score is None:
        return
    try:
        score = _score(study, task, job, best, member_score)
    except (HyperlabError, MemoryError):
        raise  # the lab's own refusal, or out of memory: not the task's code failing
    except Exception as exc:
        _not_scored(task, best, failure_reason(exc))
        return
    except SystemExit as exc:  # (an argument parser in the task's code, say)
        _not_scored(task, best, exit_reason(exc, "the task's test_score"))
        return
    if score is None:
        return
    try:
        value = check_score(score, f"test_score of task {task.name!r}")
    except TrialFailure as exc:
        _not_scored(task, best, str(exc))
        return
    if not math.isfinite(value):
        _not_scored(task, best, f"test_score of task {task.name!r} returned {value}")
        return
    study.set_user_attr("test_score", {"trial": best.number, "value": value, "metric": task.metric})


def own_scorer(job: Any, task: Task) -> MemberScore:
    """The scorer of ``job``'s tuner, for a caller that holds the study without the sampler
    that ran its trials (a Dask run's, loaded from the storage): it makes the tuner anew, once
    the best trial holds a ``schedule`` (a ``tpe-hd`` trial), and scores with the tuner's own
    ``member_test_score``; a tuner without one gives no score, as :func:`record_test_score`
    gives none without a ``member_score``."""

    def score(study: optuna.Study, known: Task, trial: FrozenTrial) -> Any:
        from hyperlab.lab.objective import planned
        from hyperlab.lab.plugins import make_tuner

        tuner = make_tuner(
            job.tuner, job.tuner_options, seed=job.seed, task=planned(known), study_seed=job.seed
        )
        own = getattr(tuner, "member_test_score", None)
        return None if own is None else own(study, known, trial)

    return score


def _score(
    study: optuna.Study,
    task: Task,
    job: Any,
    best: FrozenTrial,
    member_score: MemberScore | None,
) -> Any:
    """What the task's (or the population tuner's) code says the best trial scores."""
    if "schedule" in best.user_attrs and member_score is not None:
        return member_score(study, task, best)
    config = task.search_space(optuna.trial.FixedTrial(best.params))  # type: ignore[arg-type]
    return task.test_score(config, job.budget, seed=job.seed)


def _not_scored(task: Task, best: FrozenTrial, reason: str) -> None:
    warnings.warn(
        f"no held-out test score for trial {best.number} of task {task.name!r}: {reason}; the "
        "trials, the summary and the report are kept without it (run the command again to "
        "score it again)",
        stacklevel=3,
    )
