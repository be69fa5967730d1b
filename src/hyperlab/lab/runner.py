"""Running one study in one process: resumable, and sharing its storage with any others.

:func:`run_job` builds the study (:mod:`hyperlab.lab.study_job`), fails what an earlier,
interrupted run left running (:mod:`hyperlab.lab.cut_off`) and runs trials until the study
holds the finished trials asked for (:mod:`hyperlab.lab.trial_loop`); a tuner that drives its
trials itself is handed the study instead. Every finished trial is in storage before the next
one starts, and with many workers the counts are exact: the claim rule is told in
:mod:`hyperlab.lab.admission`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import optuna
from optuna.trial import TrialState

from hyperlab.direction import MAXIMIZE, name_of
from hyperlab.errors import HyperlabError, InputError
from hyperlab.lab.admission import Claimed
from hyperlab.lab.cut_off import fail_interrupted as fail_interrupted
from hyperlab.lab.held_out import record_test_score as record_test_score
from hyperlab.lab.identity import SpaceGuard
from hyperlab.lab.notes import (
    TrendWatch,
    note_startup_only,
    note_unused_settings,
    startup_trials,
)
from hyperlab.lab.objective import UserObjective, make_objective, planned
from hyperlab.lab.plugins import max_budget
from hyperlab.lab.results import CV_SCORES as CV_SCORES
from hyperlab.lab.results import spread_over
from hyperlab.lab.run_folder import RunDir
from hyperlab.lab.storage_errors import storage_failures
from hyperlab.lab.study_job import StudyJob as StudyJob
from hyperlab.lab.study_job import build_study as build_study
from hyperlab.lab.study_job import resumed_seed as resumed_seed
from hyperlab.lab.trial_loop import DONE, RETRY, TrialLoop
from hyperlab.lab.worker_logs import configure_worker
from hyperlab.registry import TASKS
from hyperlab.stops import DRIVING, clear_failure_stop, settle_failure_stop
from hyperlab.tasks.base import FOLDS, SEEDS, Task

#: What a noise stop compared the remaining improvement with, by what the spread is over.
_NOISE_WORDS = {
    FOLDS: "cross-validation error {error:.4g} (the best trial's fold scores with Nadeau and "
    "Bengio's correction for overlapping folds, as Optuna's Terminator computes it; larger "
    "than the standard error beside the best value)",
    SEEDS: "standard error over seeds {error:.4g} (the best trial's scores over the task's "
    "seeds, independent trainings: the standard error beside the best value, with no "
    "correction for overlapping folds)",
}


def _noise_stop(study: optuna.Study) -> str | None:
    """A message when the remaining improvement (Optuna's regret bound) is within the noise of
    the best trial's score, else ``None``. The noise is the best trial's cross-validation
    error as Optuna's Terminator computes it (Nadeau and Bengio's correction for overlapping
    folds), or, where the task's spread is over seeds, the plain standard error of its mean
    over them: independent trainings share no training data to correct for."""
    from optuna.terminator import CrossValidationErrorEvaluator, RegretBoundEvaluator

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(trials) < 8 or not any(CV_SCORES in t.system_attrs for t in trials):
        return None
    over = spread_over(study)
    try:
        with warnings.catch_warnings():  # Optuna >= 4.9 marks the terminator deprecated
            warnings.simplefilter("ignore", FutureWarning)
            regret = RegretBoundEvaluator().evaluate(trials, study.direction)
        if over == SEEDS:
            error = seed_error(trials, study.direction)
        else:
            error = CrossValidationErrorEvaluator().evaluate(trials, study.direction)
    except Exception:  # the GP fit can fail on degenerate data; then keep going
        return None
    if regret < error:
        return (
            f"stopped at noise after {len(trials)} trials: possible remaining improvement "
            f"{regret:.4g} < " + _NOISE_WORDS[over].format(error=error)
        )
    return None


def seed_error(trials: list[optuna.trial.FrozenTrial], direction: Any) -> float:
    """The standard error of the best trial's mean score over its seeds (its reported fold
    scores, one per seed), the best as Optuna's Terminator picks it; no correction for
    overlapping folds.

    Raises:
        ValueError: The best trial reported fewer than two scores (as the Terminator's).
    """
    best = (max if name_of(direction) == MAXIMIZE else min)(
        trials, key=lambda t: cast(float, t.value)
    )
    scores = np.asarray(best.system_attrs.get(CV_SCORES, []), dtype=float)
    if scores.size < 2:
        raise ValueError(f"trial {best.number} reported {scores.size} seed score(s), not 2+")
    return float(scores.std(ddof=1) / math.sqrt(scores.size))


def run_job(
    job: StudyJob,
    *,
    worker: int = 0,
    worker_name: str | None = None,
    objective: UserObjective | None = None,
    on_trial: Callable[[], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
    owner: bool = True,
    wait: bool = False,
    max_trials: int | None = None,
    poll: float = 1.0,
    storage_retries: int = 5,
    follow_setup: bool = False,
    built_from: StudyJob | None = None,
) -> optuna.Study:
    """Run ``job`` until its study holds ``job.trials`` finished trials.

    Args:
        job: The study to run.
        worker: Index of this worker (seeds the sampler differently in each worker).
        worker_name: The name its trials record as their ``worker`` (default: the process,
            ``host:pid``).
        objective: A user objective (when ``job.task`` is ``None``).
        on_trial: Called after each trial (progress bars).
        on_progress: Called by a tuner that drives its trials itself as its work goes on, with
            a short note of where it stands (a population writes its trials only at its end).
        owner: Whether this is the only process on the study (then trials left RUNNING by an
            earlier, interrupted run are marked failed first).
        wait: When every remaining trial is running elsewhere, wait (and recover trials whose
            worker died, if heartbeats are on) until the study is finished, instead of leaving.
        max_trials: Run at most this many trials here (``None``: no limit).
        poll: Seconds between checks while waiting.
        storage_retries: Consecutive transient storage errors tolerated (with back-off).
        follow_setup: Read the count of trials again from the study's setup for workers before
            each trial (a ``hyperlab worker``: its run may be set up again for more trials).
        built_from: With ``follow_setup``, the job as the study's setup for workers described
            it when the worker read it: the trials end (and the study is returned) as soon as
            the setup differs from it in anything but the count, so that the worker joins the
            study again as set up now (:func:`~hyperlab.lab.study_job.setup_changes`).

    Raises:
        KeyboardInterrupt: On SIGINT (or SIGTERM in a worker); the trial that was running is
            failed with a reason and its parameters are queued again.
        StorageError: The storage kept failing.
    """
    configure_worker()
    task = TASKS.create(job.task, **job.task_options) if job.task is not None else None
    if task is not None:
        task.warm_up()  # (before the first trial's clock starts)
    # a storage down or hung past the retries (the loop's, the storage's) ends the process
    # with an error that names it, not a traceback
    with storage_failures(job.storage, "join the study in"):
        study = build_study(job, task, worker, reuse_storage=not owner)
        if owner:
            clear_failure_stop(study)
    if getattr(study.sampler, "drives_trials", False):
        return _hand_over(study, job, task, on_progress)
    with storage_failures(job.storage, "run the trials of the study in"):
        if owner:
            fail_interrupted(study)
        guard = SpaceGuard(study)  # a changed search space must not join the study's trials
        made = make_objective(task, objective, job.seed, job.budget, study.sampler)
        func = Claimed(made, job.trials, guard, worker_name)
        startup = startup_trials(study.sampler)  # (None: not known before the first trial)
        loop = TrialLoop(study, job, func, storage_retries, follow_setup, built_from)
        _run_trials(study, job, loop, on_trial, wait, max_trials, poll)
        note_unused_settings(study, job)
        note_startup_only(study, job, startup)
        _tidy_heartbeats(study)
        settle_failure_stop(study, loop.target)  # another process may have finished the study
    if owner and job.test_score and task is not None:
        # a tuner that trains its trials itself scores its best model itself (tpe-hd)
        record_test_score(study, task, job, getattr(study.sampler, "member_test_score", None))
    return study


def _run_trials(
    study: optuna.Study,
    job: StudyJob,
    loop: TrialLoop,
    on_trial: Callable[[], None] | None,
    wait: bool,
    max_trials: int | None,
    poll: float,
) -> None:
    """Run trials through ``loop`` until the study is done or ``max_trials`` ran here,
    watching the reports' trend and the noise level after each (see :func:`run_job`)."""
    trend = TrendWatch(study)
    while max_trials is None or loop.ran < max_trials:
        step = loop.step(wait, poll)
        if step == DONE:
            break
        if step == RETRY:
            continue
        if loop.after_trial():
            break
        trend.check()
        if on_trial is not None:
            on_trial()
        if job.stop_at_noise:
            message = _noise_stop(study)
            if message:
                study.set_user_attr("stopped_at_noise", message)


def _tidy_heartbeats(study: optuna.Study) -> None:
    """Leave no empty heartbeat folder behind a journal (its storage removes it if empty)."""
    tidy = getattr(study._storage, "tidy", None)
    if callable(tidy):
        tidy()


def _hand_over(
    study: optuna.Study,
    job: StudyJob,
    task: Task | None,
    on_progress: Callable[[str], None] | None = None,
) -> optuna.Study:
    """Let a tuner that drives its trials itself (``drives_trials``: a population that trains
    its members in segments) run the study; its checkpoints go to ``population/`` in the run
    folder."""
    known = planned(task)
    if known is None or job.folder is None:
        raise InputError(
            f"tuner {job.tuner!r} trains a task's models itself (a population, or trials it "
            "continues): it needs a registered task and a run folder (run it with "
            "hyperlab.tune/compare or the CLI)"
        )
    workdir = RunDir(job.folder).population_folder(study.study_name)
    driver: Any = study.sampler
    # the note a progress bar shows, for a driver that takes one (a plug-in's may not)
    told = {"on_progress": on_progress} if _takes(driver.run_trials, "on_progress") else {}
    study.set_user_attr(DRIVING, True)  # until it ends: a cut-off run is told as unfinished
    try:
        driver.run_trials(
            study,
            known,
            trials=job.trials,
            budget=cast(int, max_budget(job.budget, known)),
            seed=job.seed,
            workdir=workdir,
            **told,
        )
    except HyperlabError:  # refused or failed by name: not a run cut off, which rerunning ends
        study.set_user_attr(DRIVING, False)
        raise
    study.set_user_attr(DRIVING, False)
    if job.test_score:
        record_test_score(study, known, job, getattr(driver, "member_test_score", None))
    return study


def _takes(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` accepts the keyword argument ``name``."""
    import inspect

    params = inspect.signature(func).parameters.values()
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)
