"""Running one study in one process: resumable, and sharing its storage with any others.

A :class:`StudyJob` is plain data (picklable), so worker processes rebuild the task, tuner and
pruner from registry names. Every finished trial is in storage before the next one starts.

Exact counts with many workers (check-and-claim). A worker starts a trial only while fewer than
``trials`` trials are finished or running; two workers may still pass that check at once, so the
new trial is *claimed* inside the objective, before any work: trial ``k`` is admitted when the
finished trials plus the running or queued trials numbered below ``k`` are fewer than ``trials``.
Otherwise it is failed at once as surplus (reason recorded) and the worker waits or leaves.
Trial numbers are unique and given in creation order (Optuna locks the study row while numbering
on a database; the journal is a single ordered log), and a FAIL is final, so the admitted trials
that are not failed never exceed ``trials``: the highest-numbered one saw all the others when it
was claimed. Hence finished trials never exceed ``trials``, and workers run until they reach it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import optuna
from optuna.study import StudyDirection
from optuna.trial import TrialState

from hyperlab.direction import check_direction, name_of
from hyperlab.errors import (
    HyperlabError,
    InputError,
    RunConflictError,
    SettingError,
    StorageError,
)
from hyperlab.lab.claim import MARK, mark_of, other_owner, owner_conflict
from hyperlab.lab.heartbeat import requeue
from hyperlab.lab.held_out import record_test_score
from hyperlab.lab.identity import SpaceGuard, is_kind_change, kind_conflict
from hyperlab.lab.notes import _note_unused_settings
from hyperlab.lab.objective import UserObjective, make_objective, planned
from hyperlab.lab.plugins import make_pruner, make_tuner, max_budget
from hyperlab.lab.rundir import RunDir
from hyperlab.lab.storage import (
    error_chain,
    is_transient,
    open_storage,
    redact,
    transient_cause,
)
from hyperlab.lab.trial_kinds import (
    INTERRUPT_REASON,
    NOT_REQUEUED,
    REFUSED_ATTR,
    SURPLUS_REASON,
    SurplusTrial,
    admitted,
    progress,
)
from hyperlab.lab.worker_logs import _configure_worker
from hyperlab.registry import TASKS
from hyperlab.stops import (
    DRIVING,
    clear_failure_stop,
    failures_reason,
    settle_failure_stop,
    stop_for_failures,
)
from hyperlab.tasks.base import Task


@dataclass
class StudyJob:
    """One study to run: which task, tuner, pruner, seed, and how many finished trials;
    ``direction`` is which way its value is optimized (``"minimize"`` or ``"maximize"``)."""

    study_name: str
    storage: str
    task: str | None
    tuner: str
    pruner: str
    seed: int
    trials: int
    budget: int | None = None
    stop_at_noise: bool = False
    direction: str = "minimize"
    task_options: dict[str, Any] = field(default_factory=dict)
    tuner_options: dict[str, Any] = field(default_factory=dict)
    pruner_options: dict[str, Any] = field(default_factory=dict)
    test_score: bool = True
    heartbeat_interval: int | None = None
    grace_period: int | None = None
    folder: str | None = None
    run: str | None = None


def build_study(
    job: StudyJob, task: Task | None, worker: int = 0, reuse_storage: bool = False
) -> optuna.Study:
    """Create or load the job's study with its seeded sampler and pruner.

    The sampler of a study that holds trials already is seeded anew (:func:`resumed_seed`).
    A run has claimed its studies before (:func:`hyperlab.lab.claim.claim_studies`); a study
    that another run marked as its own is refused here too, never marked as this run's.

    Args:
        job: The study.
        task: Its task (``None`` for a user objective).
        worker: Worker index (offsets the sampler's seed).
        reuse_storage: Reuse this process's storage object for the URL (workers and Dask tasks
            that run many short jobs); otherwise open a fresh one (a run directory may have
            been deleted and recreated since).

    Raises:
        RunConflictError: The study is marked as another run's, or has the other direction.
    """
    known = planned(task)  # tuners get no space (nor task) when the objective suggests its own
    seed = job.seed if worker == 0 else (job.seed + 7919 * worker) % 2**31
    if reuse_storage:
        storage = _process_storage(
            job.storage, job.heartbeat_interval, job.grace_period, os.getpid()
        )
    else:
        storage = open_storage(
            job.storage, heartbeat_interval=job.heartbeat_interval, grace_period=job.grace_period
        )
    sampler_seed = resumed_seed(seed, _trials_so_far(storage, job.study_name))
    sampler = make_tuner(
        job.tuner, job.tuner_options, seed=sampler_seed, task=known, study_seed=job.seed
    )
    pruner = make_pruner(
        job.pruner, job.pruner_options, seed=seed, budget=max_budget(job.budget, known), task=known
    )
    study = optuna.create_study(
        study_name=job.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction=StudyDirection[check_direction(job.direction).upper()],
        load_if_exists=True,
    )
    _check_direction(study, job)
    recorded = study.user_attrs.get(MARK)
    theirs = recorded.get("run") if isinstance(recorded, dict) else None
    if job.run and theirs and theirs != job.run:  # another run's: never marked as this one's
        owner = other_owner(recorded, True, job.task, job.run) or ""
        raise owner_conflict(job.study_name, owner, redact(job.storage))
    info = mark_of(dataclasses.replace(job, run=job.run or theirs))  # (see lab/claim.py)
    if recorded != info:
        study.set_user_attr(MARK, info)
    return study


def _check_direction(study: optuna.Study, job: StudyJob) -> None:
    """A study that exists already keeps its direction (Optuna loads it without a word): a job
    with the other one is refused by name."""
    stored = name_of(study.direction)
    if stored != job.direction:
        raise RunConflictError(
            f"study {job.study_name!r} was created to {stored} its value; it cannot be resumed "
            f"to {job.direction} it: choose another run name, or start over"
        )


def resumed_seed(seed: int, trials_so_far: int) -> int:
    """The sampler's seed in a process that joins a study holding ``trials_so_far`` trials.

    A seeded sampler draws the same stream in every process it starts in: a resumed run (or a
    restarted worker, or a Dask task of a re-run) would propose its first configurations again.
    Joining a study that has trials, it is seeded from ``(seed, trials_so_far)`` instead; the
    count only grows, so no stream is replayed, and a fresh study keeps ``seed`` as it is.
    """
    if trials_so_far == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence([seed, trials_so_far]).generate_state(1)[0] % 2**31)


def _trials_so_far(storage: optuna.storages.BaseStorage, study_name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    return storage.get_n_trials(study_id)


@functools.lru_cache(maxsize=16)
def _process_storage(
    url: str, heartbeat_interval: int | None, grace_period: int | None, pid: int
) -> optuna.storages.BaseStorage:
    """One storage object per URL and process, reused by every study and trial run here.

    Opening costs a connection, schema checks and (for a journal) replaying the whole log; a
    Dask worker runs many one-trial tasks, so it opens once. ``pid`` keeps a forked child from
    using its parent's connections.
    """
    return open_storage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)


class _Claimed:
    """The objective behind an admission check; remembers the trial and how it ended.

    With a ``guard``, a trial whose search space differs from the study's is failed, and the
    conflict kept in ``conflict`` for the caller to raise (Optuna catches it in the trial);
    so is a :class:`~hyperlab.errors.SettingError` of the tuner or pruner (a setting that the
    trials' search space shows cannot work), which would fail every trial the same way.
    """

    def __init__(self, func: Any, target: int, guard: SpaceGuard | None = None) -> None:
        self.func = func
        self.target = target
        self.guard = guard
        self.trial_id: int | None = None
        self.surplus = False
        self.interrupted: str | None = None
        self.conflict: HyperlabError | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        self.trial_id, self.surplus, self.interrupted = trial._trial_id, False, None
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if not admitted(trial.study, trial.number, self.target):
            self.surplus = True
            trial.set_user_attr("fail_reason", SURPLUS_REASON)
            raise SurplusTrial(SURPLUS_REASON)
        try:
            value = float(self.func(trial))
        except KeyboardInterrupt as exc:
            self.interrupted = str(exc) or "SIGINT"
            try:
                trial.set_user_attr("fail_reason", INTERRUPT_REASON.format(signal=self.interrupted))
            except Exception:  # the storage may be what was interrupted
                pass
            raise
        except optuna.TrialPruned:
            self._check_space(trial, complete=False)
            raise
        except SettingError as exc:
            self.conflict = exc
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}")
            trial.set_user_attr(REFUSED_ATTR, True)
            raise
        except ValueError as exc:
            if is_kind_change(exc):  # Optuna refused it
                self.conflict = kind_conflict(trial, exc)
                trial.set_user_attr("fail_reason", str(self.conflict))
                trial.set_user_attr(REFUSED_ATTR, True)
                raise self.conflict from None
            raise
        self._check_space(trial, complete=True)
        return value

    def _check_space(self, trial: optuna.Trial, complete: bool) -> None:
        if self.guard is None:
            return
        try:
            self.guard.check(trial.distributions, complete, trial.params)
        except RunConflictError as exc:
            self.conflict = exc
            trial.set_user_attr("fail_reason", str(exc))
            trial.set_user_attr(REFUSED_ATTR, True)
            raise


def fail_interrupted(
    study: optuna.Study,
    worker: str | None = None,
    reason: str = "interrupted (process ended mid-trial)",
    max_retry: int | None = None,
) -> int:
    """Mark trials left RUNNING by a killed or interrupted process as failed (single owner;
    or only those of ``worker``, ``host:pid``, with ``reason``).

    Their parameters are queued again, so the resumed run evaluates the sampler's choice.
    """
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if worker is not None and t.user_attrs.get("worker") != worker:
            continue
        retried = len(t.system_attrs.get("retry_history", []))
        final = max_retry is not None and retried >= max_retry  # (as requeue decides)
        told = reason + NOT_REQUEUED.format(n=retried) if final else reason
        study._storage.set_trial_user_attr(t._trial_id, "fail_reason", told)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        if t.params:
            trial = study._storage.get_trial(t._trial_id)
            again = "resumed after interrupt" if worker is None else reason
            requeue(study, trial, max_retry=max_retry, reason=again)
        n += 1
    return n


def _noise_stop(study: optuna.Study) -> str | None:
    """A message when the remaining improvement is within the CV noise, else ``None``."""
    from optuna.terminator import CrossValidationErrorEvaluator, RegretBoundEvaluator

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(trials) < 8 or not any("terminator:cv_scores" in t.system_attrs for t in trials):
        return None
    try:
        with warnings.catch_warnings():  # Optuna >= 4.9 marks the terminator deprecated
            warnings.simplefilter("ignore", FutureWarning)
            regret = RegretBoundEvaluator().evaluate(trials, study.direction)
        error = CrossValidationErrorEvaluator().evaluate(trials, study.direction)
    except Exception:  # the GP fit can fail on degenerate data; then keep going
        return None
    if regret < error:
        return (
            f"stopped at noise after {len(trials)} trials: possible remaining improvement "
            f"{regret:.4g} < cross-validation error {error:.4g} (the best trial's fold scores "
            "with Nadeau and Bengio's correction for overlapping folds, as Optuna's Terminator "
            "computes it; larger than the standard error beside the best value)"
        )
    return None


def run_job(
    job: StudyJob,
    *,
    worker: int = 0,
    objective: UserObjective | None = None,
    on_trial: Callable[[], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
    owner: bool = True,
    wait: bool = False,
    max_trials: int | None = None,
    poll: float = 1.0,
    storage_retries: int = 5,
) -> optuna.Study:
    """Run ``job`` until its study holds ``job.trials`` finished trials.

    Args:
        job: The study to run.
        worker: Index of this worker (seeds the sampler differently in each worker).
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

    Raises:
        KeyboardInterrupt: On SIGINT (or SIGTERM in a worker); the trial that was running is
            failed with a reason and its parameters are queued again.
        StorageError: The storage kept failing.
    """
    _configure_worker()
    task = TASKS.create(job.task, **job.task_options) if job.task is not None else None
    study = build_study(job, task, worker, reuse_storage=not owner)
    if owner:
        clear_failure_stop(study)
    if getattr(study.sampler, "drives_trials", False):
        return _hand_over(study, job, task, on_progress)
    if owner:
        fail_interrupted(study)
    guard = SpaceGuard(study)  # a changed search space must not join the study's trials
    func = _Claimed(make_objective(task, objective, job.seed, job.budget), job.trials, guard)
    loop = _Loop(study, job, func, storage_retries)
    while max_trials is None or loop.ran < max_trials:
        step = loop.step(wait, poll)
        if step == _DONE:
            break
        if step == _RETRY:
            continue
        if loop.after_trial():
            break
        if on_trial is not None:
            on_trial()
        if job.stop_at_noise:
            message = _noise_stop(study)
            if message:
                study.set_user_attr("stopped_at_noise", message)
    _note_unused_settings(study, job)
    _tidy_heartbeats(study)
    settle_failure_stop(study, job.trials)  # another process may have finished the study
    if owner and job.test_score and task is not None:
        record_test_score(study, task, job)
    return study


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


_DONE, _RETRY, _RAN = "done", "retry", "ran"


class _Loop:
    """One worker's trial loop over a study: counts, retries and failure limits."""

    def __init__(self, study: optuna.Study, job: StudyJob, func: _Claimed, retries: int) -> None:
        self.study, self.job, self.func, self.retries = study, job, func, retries
        self.failures = self.ran = self.errors = 0
        self.max_failures = max(10, job.trials)

    def step(self, wait: bool, poll: float) -> str:
        """Run one trial if one is left to claim: :data:`_DONE` when the study needs no more
        from this worker, :data:`_RETRY` to look again, :data:`_RAN` after a trial."""
        study, target = self.study, self.job.trials
        # no trial of this step yet: an interrupt while looking or waiting cuts off none (the
        # last trial run here is finished; failed, its parameters are not queued again)
        self.func.trial_id = None
        try:
            finished, claimed = progress(study, pending=wait)
            if finished >= target or study.user_attrs.get("stopped_at_noise"):
                return _DONE
            if claimed >= target:
                if not wait:
                    # a dead worker's trial holds its slot until someone fails it: a one-trial
                    # task (Dask) that left without looking would be sent again for ever
                    _recover_stale(study)
                    return _DONE if progress(study)[1] >= target else _RETRY
                time.sleep(poll)
                _recover_stale(study)  # (study.optimize does this before each trial itself)
                return _RETRY
            if _exhausted(study, finished, target):
                return _DONE
            _run_one(study, self.func)
            if self.func.conflict is not None:
                raise self.func.conflict
            self.errors = 0
        except KeyboardInterrupt:
            _requeue_interrupted(study, self.func)
            raise
        except optuna.exceptions.UpdateFinishedTrialError:
            # Another worker failed our trial as stale (we were too slow to beat); its
            # parameters were queued again there, so this result is dropped, never counted.
            return _RETRY
        except Exception as exc:
            if not _finished_elsewhere(exc):
                self._storage_error(exc)
            return _RETRY
        self.ran += 1
        return _RAN

    def _storage_error(self, exc: Exception) -> None:
        """Back off after a transient storage error; re-raise any other error, or a transient
        one past the retry limit as a :class:`StorageError`."""
        # Optuna's tell can hide a storage error behind an UnboundLocalError (its context)
        if not is_transient(exc):
            raise exc
        self.errors += 1
        if self.errors > self.retries:
            raise StorageError(
                f"storage {redact(self.job.storage)!r} failed {self.errors} times in a row: "
                f"{transient_cause(exc)}; run the command again once the storage is back "
                "(a trial left running is failed and its parameters queued again)"
            ) from None
        time.sleep(min(30.0, 0.5 * 2**self.errors))

    def after_trial(self) -> bool:
        """Book the trial just run; ``True`` when the study stops for too many failures."""
        func, study = self.func, self.study
        if func.surplus and func.trial_id is not None:
            _keep_retry(study, func.trial_id, self.job.trials)
        if func.surplus:
            return False
        last = study._storage.get_trial(func.trial_id) if func.trial_id is not None else None
        if last is not None and last.state == TrialState.FAIL:
            self.failures += 1
            if self.failures >= self.max_failures:
                stop_for_failures(study, failures_reason(self.failures))
                return True
        return False


def _finished_elsewhere(exc: Exception) -> bool:
    """Whether Optuna refused to store our result because the trial was already finished:
    another worker failed it as stale while this one was too slow to beat (the same case as
    ``UpdateFinishedTrialError``, which Optuna's tell raises as ``Cannot tell a FAIL trial``,
    and its loop then as an ``AssertionError``)."""
    return any(
        isinstance(e, optuna.exceptions.UpdateFinishedTrialError)
        or (isinstance(e, ValueError) and str(e).startswith("Cannot tell a"))
        for e in error_chain(exc)
    )


def _exhausted(study: optuna.Study, finished: int, target: int) -> bool:
    """Whether the study's sampler has no new point left (a finite grid visited in full).

    The study then ends, with the reason in its ``stopped`` attribute, instead of repeating
    points. Any sampler with Optuna's ``is_exhausted(study)`` method takes part.
    """
    is_exhausted = getattr(study.sampler, "is_exhausted", None)
    if not callable(is_exhausted) or not is_exhausted(study):
        return False
    reason = f"grid exhausted after {finished} points (asked for {target} trials)"
    if study.user_attrs.get("stopped") != reason:
        study.set_user_attr("stopped", reason)
    return True


def _run_one(study: optuna.Study, func: _Claimed) -> None:
    """One trial; an interrupt of its objective always leaves as ``KeyboardInterrupt``.

    Optuna re-raises the objective's ``KeyboardInterrupt`` after telling the failed trial, but
    an error of that tell (a storage error, a trial already failed as stale) replaces it, and
    the caller would retry instead of leaving: the interrupt is raised again here.
    """
    func.trial_id, func.interrupted = None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(func, n_trials=1, catch=(Exception,), gc_after_trial=False)
    except Exception as exc:
        if func.interrupted is not None:
            raise KeyboardInterrupt(func.interrupted) from exc
        raise


def _keep_retry(study: optuna.Study, trial_id: int, target: int) -> None:
    """A re-queued configuration that lost its slot in a race is queued again, not dropped."""
    trial = study._storage.get_trial(trial_id)
    if "failed_trial" in trial.system_attrs and progress(study)[0] < target:
        requeue(study, trial, max_retry=None, reason=trial.user_attrs.get("retry_reason", ""))


def _recover_stale(study: optuna.Study) -> None:
    """Fail (and re-queue) trials whose worker stopped beating; a no-op without heartbeats."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _requeue_interrupted(study: optuna.Study, func: _Claimed) -> None:
    """After Ctrl-C: queue the parameters of the trial that was cut off, so a restart runs it."""
    if func.trial_id is None or func.surplus:
        return
    try:
        trial = study._storage.get_trial(func.trial_id)
        if trial.state == TrialState.RUNNING:  # interrupted outside the objective
            study._storage.set_trial_user_attr(
                trial._trial_id, "fail_reason", INTERRUPT_REASON.format(signal="a signal")
            )
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            trial = study._storage.get_trial(func.trial_id)
        if trial.state == TrialState.FAIL and trial.params:
            requeue(
                study, trial, max_retry=None, reason=f"retry of interrupted trial {trial.number}"
            )
    except Exception:  # best effort while shutting down; heartbeats catch what is left
        pass
