"""Running studies: one process or several sharing a storage, resumable, with progress.

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

import datetime
import functools
import logging
import math
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import check_direction, name_of
from hyperlab.errors import (
    HyperlabError,
    InputError,
    NoCompletedTrialError,
    RunConflictError,
    SettingError,
    StorageError,
)
from hyperlab.lab import interrupts
from hyperlab.lab.heartbeat import is_stale_reason, requeue
from hyperlab.lab.identity import SpaceGuard
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
from hyperlab.optuna_logs import quiet_optuna
from hyperlab.registry import TASKS
from hyperlab.stops import (
    DRIVING,
    STOP_NOTES,
    clear_failure_stop,
    failures_reason,
    settle_failure_stop,
    stop_for_failures,
    unfinished_driver,
)
from hyperlab.tasks.base import Task

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
CLAIMED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
SURPLUS_REASON = "surplus: the study already had its trials claimed by other workers"
INTERRUPT_REASON = "interrupted by {signal} mid-trial; its parameters are queued again"
#: How the reason of a trial whose ``--jobs`` process was killed (``kill -9``) begins.
KILLED_REASON = "its worker process was killed"
#: Added to the reason of a cut-off trial whose parameters were not queued again.
NOT_REQUEUED = "; not re-queued (retried {n} times)"


def is_surplus(trial: FrozenTrial) -> bool:
    """Whether ``trial`` was failed at once because other workers had claimed the study's
    last trials: bookkeeping of the check-and-claim, not a failure of the task."""
    return trial.state == TrialState.FAIL and trial.user_attrs.get("fail_reason") == SURPLUS_REASON


#: A failed trial's user attribute: the run refused it, its search space having changed.
REFUSED_ATTR = "refused_space"


def is_interrupted(trial: FrozenTrial) -> bool:
    """Whether ``trial`` failed because it was cut off, its parameters queued again: by an
    interrupt, or by its worker's death (no heartbeat within the grace period, or a ``--jobs``
    process killed by a signal; the last retry, which is not queued again, counts as the
    task's failure)."""
    reason = str(trial.user_attrs.get("fail_reason") or "")
    cut = reason.startswith(("interrupted", KILLED_REASON)) or is_stale_reason(reason)
    return trial.state == TrialState.FAIL and cut and "not re-queued" not in reason


def is_bookkeeping(trial: FrozenTrial) -> bool:
    """Whether ``trial`` failed for the run's own reasons, not the task's: a surplus claim
    (:func:`is_surplus`), a trial cut off and queued again (:func:`is_interrupted`), or one the
    run refused because the search space had changed."""
    if trial.state != TrialState.FAIL:
        return False
    return is_surplus(trial) or is_interrupted(trial) or REFUSED_ATTR in trial.user_attrs


def failure_kind(trial: FrozenTrial) -> str:
    """How a failed trial counts: ``"task"`` (the task's failure), ``"cut off"`` (an interrupt
    or a lost worker; queued again), ``"surplus"`` or ``"refused"`` (the run's bookkeeping);
    ``""`` for a trial that did not fail."""
    if trial.state != TrialState.FAIL:
        return ""
    if is_interrupted(trial):
        return "cut off"
    if is_surplus(trial):
        return "surplus"
    return "refused" if REFUSED_ATTR in trial.user_attrs else "task"


def failed_trials(study: optuna.Study, *, interrupted: bool = False) -> int:
    """The study's failed trials, those of the run's own bookkeeping left out
    (:func:`is_bookkeeping`: they are not the task's failures); ``interrupted``: those cut off
    by an interrupt counted too (a rule that stops a run whose trials keep failing counts
    them: workers killed again and again are a failure of the run)."""
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return sum(not is_bookkeeping(t) or (interrupted and is_interrupted(t)) for t in failed)


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


def _configure_worker() -> None:
    """Settings for a process that trains small networks (one thread each is fastest)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by torch when imported later
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _quiet_surplus()
    _one_line_failures()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class _NoTraceback(logging.Filter):
    """Keep Optuna's "trial failed" warnings to one line; the reason is stored on the trial."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def _one_line_failures() -> None:
    logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _NoTraceback) for f in logger.filters):
        logger.addFilter(_NoTraceback())


#: The errors of a trial whose Optuna failure line is dropped (see :class:`_SurplusFilter`).
_TOLD_ELSEWHERE = ("SurplusTrial", "KeyboardInterrupt", "RunConflictError", "SettingError")


class _SurplusFilter(logging.Filter):
    """Drop Optuna's failure warnings for surplus trials, for trials an interrupt cut off, and
    for those that stop the run (a changed search space, a setting that cannot work): expected
    or told once by the command, and recorded on the trial."""

    def __init__(self) -> None:
        super().__init__()
        self._dropped: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        words = message.split()
        number = words[1] if len(words) > 1 and words[0] == "Trial" else ""
        cause = record.exc_info[1] if record.exc_info else None
        if any(f"{name}(" in message for name in _TOLD_ELSEWHERE) or isinstance(
            cause, SurplusTrial | KeyboardInterrupt | RunConflictError | SettingError
        ):
            self._dropped.add(number)
            return False
        if number in self._dropped and "failed with value" in message:
            self._dropped.discard(number)
            return False
        return True


def _quiet_surplus() -> None:
    logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _SurplusFilter) for f in logger.filters):
        logger.addFilter(_SurplusFilter())


def build_study(
    job: StudyJob, task: Task | None, worker: int = 0, reuse_storage: bool = False
) -> optuna.Study:
    """Create or load the job's study with its seeded sampler and pruner.

    The sampler of a study that holds trials already is seeded anew (:func:`resumed_seed`).

    Args:
        job: The study.
        task: Its task (``None`` for a user objective).
        worker: Worker index (offsets the sampler's seed).
        reuse_storage: Reuse this process's storage object for the URL (workers and Dask tasks
            that run many short jobs); otherwise open a fresh one (a run directory may have
            been deleted and recreated since).
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
    info: dict[str, Any] = {
        "task": job.task,
        "tuner": job.tuner,
        "pruner": job.pruner,
        "seed": job.seed,
    }
    recorded = study.user_attrs.get("hyperlab")
    run = job.run or (recorded.get("run") if isinstance(recorded, dict) else None)
    if run:
        info["run"] = run  # which run made it (see identity.check_owner)
    if recorded != info:
        study.set_user_attr("hyperlab", info)
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


def count(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


# A failed trial whose retry is promised but not yet queued holds its slot this long at most.
RETRY_WINDOW_S = 60.0


def progress(study: optuna.Study, pending: bool = False) -> tuple[int, int]:
    """``(finished, claimed)`` trials of the study, read from storage.

    ``claimed`` counts finished and running trials and, with ``pending``, failed trials whose
    re-queue is promised (by their reason) but not visible yet: between a stale trial's FAIL and
    its re-queue, another worker must not start a fresh trial in its place, or the retry would
    find the study full and the sampler's choice would be lost.
    """
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    finished = sum(t.state in FINISHED for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    held = 0
    if pending:
        retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
        now = datetime.datetime.now()
        for t in trials:
            if t.state != TrialState.FAIL or t.number in retried or t.datetime_complete is None:
                continue
            promised = is_stale_reason(str(t.user_attrs.get("fail_reason"))) or is_interrupted(t)
            if promised and (now - t.datetime_complete).total_seconds() < RETRY_WINDOW_S:
                held += 1
    return finished, finished + running + held


def admitted(study: optuna.Study, number: int, target: int) -> bool:
    """Whether trial ``number`` may run: finished plus earlier live trials below ``target``."""
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False, states=CLAIMED)
    ahead = sum(t.state in FINISHED or t.number < number for t in trials if t.number != number)
    return ahead < target


class SurplusTrial(HyperlabError, RuntimeError):
    """A trial claimed after the study had all its trials (failed at once, not retried)."""


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
            if any(words in str(exc) for words in _KIND_CHANGED):  # Optuna refused it
                self.conflict = _kind_conflict(trial, exc)
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


#: The study attribute that holds notes on settings that could not act (a list of lines).
NOTES = "notes"
#: The study attribute that says a curve pruner's predictor never acted ("" once it has).
IDLE_PREDICTOR = "idle_predictor"


def stop_note(study: optuna.Study) -> str | None:
    """Why the study stopped early, and what its settings could not do (``None``: nothing)."""
    parts = [study.user_attrs[k] for k in STOP_NOTES if study.user_attrs.get(k)][:1]
    parts += list(study.user_attrs.get(NOTES) or [])
    parts += [study.user_attrs[IDLE_PREDICTOR]] if study.user_attrs.get(IDLE_PREDICTOR) else []
    return "; ".join(parts) or None


def _add_note(study: optuna.Study, note: str) -> None:
    notes = list(study.user_attrs.get(NOTES) or [])
    if note not in notes:
        study.set_user_attr(NOTES, [*notes, note])


def _note_unused_settings(study: optuna.Study, job: StudyJob) -> None:
    """Note in the study (and so in its summary and report) a setting that could not act:
    ``stop_at_noise`` with no trial's fold scores, a pruner with no trial's intermediate
    values."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if job.stop_at_noise and not study.user_attrs.get("stopped_at_noise") and complete:
        if not any("terminator:cv_scores" in t.system_attrs for t in complete):
            _add_note(
                study,
                "stop at noise did not apply: no trial reported cross-validation fold scores "
                "(the task has no folds to measure its noise with), so every trial ran",
            )
    if job.pruner not in ("none", "tuner") and trials:
        if not any(t.intermediate_values for t in trials):
            _add_note(
                study,
                f"pruner {job.pruner!r} could not act: no trial reported an intermediate value "
                "(trial.report, or a task's on_epoch), so none could be stopped early",
            )
        _note_idle_predictor(study, job.pruner, len(complete), len(trials) - len(complete))


def _rule(stand_in: Any) -> str:
    """The name of a stand-in rule from how its stops' reasons begin (``median rule (...``)."""
    return str(stand_in).split(" (")[0].strip() or "rule standing in"


def _note_idle_predictor(study: optuna.Study, name: str, complete: int, pruned: int) -> None:
    """Note a curve pruner whose predictor never acted: it waits for ``min_finished`` complete
    trials, and the rule standing in for it (a pruner that has one declares how the reasons of
    its stops begin, ``stand_in``) stopped trials before that many had completed
    (``pruned``: the study's pruned trials)."""
    wanted = getattr(study.pruner, "min_finished", None)
    stand_in = getattr(study.pruner, "stand_in", None)
    stops = (
        sum(
            str(t.user_attrs.get("prune_reason", "")).startswith(stand_in)
            for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
        )
        if pruned and isinstance(stand_in, str)
        else 0
    )
    idle = isinstance(wanted, int) and complete < wanted and stops > 0
    note = (
        f"pruner {name!r}: its curve predictor never acted; it waits for {wanted} complete "
        f"trials, and only {complete} completed: its stand-in, the {_rule(stand_in)}, made "
        f"{'all ' if stops == pruned else ''}{stops} stop{'s' if stops > 1 else ''} (ask for "
        "more trials, or a smaller min_finished)"
        if idle
        else ""
    )
    if study.user_attrs.get(IDLE_PREDICTOR, "") != note:  # (a resumed run may have moved on)
        study.set_user_attr(IDLE_PREDICTOR, note)


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


#: Optuna's words when a parameter is suggested with another kind, log setting or set of
#: choices than the study's trials had.
_KIND_CHANGED = (
    "Cannot set different distribution kind to the same parameter name",
    "Cannot set different log configuration to the same parameter name",
    "CategoricalDistribution does not support dynamic value space",
)


def _kind_conflict(trial: optuna.Trial, exc: ValueError) -> RunConflictError:
    """The run-stopping error for a parameter whose kind (float, int, categorical), log
    setting or categorical choices changed since the study began (Optuna refuses it inside the
    suggest call)."""
    before = f"; the trial had suggested {sorted(trial.params)} before it" if trial.params else ""
    return RunConflictError(
        f"a parameter of study {trial.study.study_name!r} is suggested with another kind, log "
        f"setting or set of choices than its earlier trials had (Optuna: {exc}{before}): the "
        "search space changed since the study began, or two branches of a conditional space "
        "give one name to two different parameters (name them apart, e.g. lr_sgd and "
        "lr_adam); resume with the search space it began with, choose another --name, or "
        "pass --overwrite (overwrite=True) to start over"
    )


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


def record_test_score(
    study: optuna.Study,
    task: Task,
    job: StudyJob,
    member_score: Callable[[optuna.Study, Task, FrozenTrial], float | None] | None = None,
) -> None:
    """Score the best trial on the task's held-out test split (once) and store it with the
    task's ``metric`` (what the test score measures).

    A trial with a ``schedule`` (a population member: its hyperparameters changed as it
    trained) is scored by ``member_score``, the population tuner's own, which retrains the
    model through the schedule; without one it gets no score, since retraining its starting
    configuration would score a model the population never trained.
    """
    try:
        best = study.best_trial
    except ValueError:
        return
    if study.user_attrs.get("test_score", {}).get("trial") == best.number:
        return
    if "schedule" in best.user_attrs:
        if member_score is None:
            return
        score = member_score(study, task, best)
    else:
        config = task.search_space(optuna.trial.FixedTrial(best.params))  # type: ignore[arg-type]
        score = task.test_score(config, job.budget, seed=job.seed)
    if score is not None:
        record = {"trial": best.number, "value": float(score), "metric": task.metric}
        study.set_user_attr("test_score", record)


def _worker_main(job: StudyJob, worker: int, owner: bool) -> bool:
    """Run ``job`` in a worker process (after :func:`_worker_init`).

    Returns:
        Whether the worker was interrupted (then the trial it cut off is failed and queued
        again); it leaves quietly, without a traceback.
    """
    try:
        with interrupts.armed():
            run_job(job, worker=worker, owner=owner)
    except KeyboardInterrupt:
        return True
    return interrupts.interrupted() is not None


def _worker_init(interruptible: bool, parent: int) -> None:
    """Signals of a worker process: it stops once on SIGINT/SIGTERM, and when its parent ends."""
    interrupts.install(interruptible)
    interrupts.follow_parent(parent)


def _shared_worker(job: StudyJob, worker: int, interruptible: bool, parent: int) -> None:
    """A process of ``--jobs N`` on one study; exits with 130 when interrupted, and with
    :data:`WORKER_ERROR_EXIT` after printing a hyperlab error in one line."""
    _worker_init(interruptible, parent)
    try:
        interrupted = _worker_main(job, worker, owner=False)
    except NoCompletedTrialError as exc:  # recorded on the study: the parent's summary tells it
        print(f"hyperlab worker process: {exc}", file=sys.stderr, flush=True)
        sys.exit(0)
    except HyperlabError as exc:
        print(f"hyperlab worker process: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(WORKER_ERROR_EXIT)
    if interrupted:
        sys.exit(interrupts.INTERRUPTED_EXIT)


def run_jobs(
    jobs: list[StudyJob],
    processes: int = 1,
    *,
    objective: UserObjective | None = None,
    progress: bool = True,
    description: str = "trials",
) -> None:
    """Run several studies, in this process or in ``processes`` worker processes.

    With one job and several processes, the processes share the study; with several jobs,
    each process takes whole studies. Progress is read from storage, so it is exact either way.
    """
    if processes < 1:
        raise InputError(f"jobs must be a positive integer, got {processes}")
    total = sum(j.trials for j in jobs)
    bar = _progress_bar(total, description, progress)
    try:
        if processes == 1 or objective is not None:
            if processes > 1:
                warnings.warn(
                    f"a Python objective runs in this process only; jobs={processes} is "
                    "ignored (give the task as an importable reference, 'module:attribute', "
                    "to run it in several processes)",
                    stacklevel=2,
                )
            noted = _Noted(bar, jobs) if bar is not None else None
            for job in jobs:
                if noted is not None:
                    noted.next_job()  # the last job's note is not this one's
                run_job(
                    job,
                    objective=objective,
                    on_trial=lambda: _refresh(bar, jobs),
                    on_progress=noted,
                )
                if noted is not None:
                    noted.flush()  # (the job's last note, which the pace may have held back)
            return
        ctx = mp.get_context("spawn")
        if len(jobs) == 1:
            _run_shared(jobs[0], processes, ctx, bar)
        else:
            _run_pool(jobs, processes, ctx, bar)
        _refresh(bar, jobs)
    finally:
        if bar is not None:
            bar.close()


def _run_shared(job: StudyJob, processes: int, ctx: Any, bar: Any) -> None:
    """Several processes share one study.

    Raises:
        KeyboardInterrupt: This process or a worker was interrupted; the workers have ended and
            no trial is left running (the trials cut off are failed and queued again).
    """
    task = TASKS.create(job.task, **job.task_options) if job.task is not None else None
    with quiet_optuna():  # the workers' settings: no "a new study created" line in this one
        study = build_study(job, task)
    clear_failure_stop(study)  # a resumed run counts its failures afresh
    fail_interrupted(study)
    processes = _shared_workers(study, job, processes)
    signals = (interrupts.interruptible(), os.getpid())
    procs = [ctx.Process(target=_shared_worker, args=(job, w, *signals)) for w in range(processes)]
    # index of each process killed by a signal: whether a new one took its place
    replaced: dict[int, bool] = {}
    try:
        with interrupts.starting_workers():
            for p in procs:
                p.start()
        while True:
            _replace_killed(study, job, procs, replaced, (ctx, signals, processes))
            if not any(p.is_alive() for p in procs) and not _rerun_orphans(
                study, job, procs, (ctx, signals, processes)
            ):
                break
            time.sleep(0.5)
            _refresh(bar, [job])
    except BaseException:
        with interrupts.sigint_ignored():
            interrupts.stop(procs)
            fail_interrupted(study)
        raise
    if any(p.exitcode == interrupts.INTERRUPTED_EXIT for p in procs):
        fail_interrupted(study)
        raise KeyboardInterrupt("a worker process was interrupted")
    if any(p.exitcode not in (0, None) for p in procs):
        fail_interrupted(study)  # every process has ended: what is left running was cut off
    for i, p in enumerate(procs):
        if not replaced.get(i):
            _check_exit(p)
    if not getattr(study.sampler, "drives_trials", False):  # (their trials count otherwise)
        settle_failure_stop(study, job.trials)
    if task is not None and job.test_score:
        record_test_score(study, task, job)


def _replace_killed(
    study: optuna.Study,
    job: StudyJob,
    procs: list[Any],
    replaced: dict[int, bool],
    how: tuple[Any, tuple[bool, int], int],
) -> None:
    """A process of ``--jobs N`` killed by a signal (``kill -9``, the out-of-memory killer):
    its running trial is failed and queued again, and a new process takes its place while the
    study still lacks trials (at most ``N`` replacements in all)."""
    ctx, signals, processes = how
    for i, p in enumerate(list(procs)):
        if i in replaced or p.exitcode is None or p.exitcode >= 0:
            continue
        reason = f"{KILLED_REASON} (signal {-p.exitcode})"
        fail_interrupted(study, f"{socket.gethostname()}:{p.pid}", reason, max_retry=3)
        # forgiven its exit: a process the study no longer needs, or one with a successor
        # (at most N successors in all)
        needed = _lacking(study, job) > 0
        replaced[i] = not needed or len(procs) - processes < processes
        if needed and replaced[i]:
            new = ctx.Process(target=_shared_worker, args=(job, len(procs), *signals))
            with interrupts.starting_workers():
                new.start()
            procs.append(new)


def _rerun_orphans(
    study: optuna.Study, job: StudyJob, procs: list[Any], how: tuple[Any, tuple[bool, int], int]
) -> bool:
    """Once every process has ended: a process killed between creating its trial and naming
    itself on it left that trial RUNNING with no owner, and the others ended one trial short.
    Fail it, queue it again and start one more process (within the ``N`` successors);
    ``True`` when one was started."""
    ctx, signals, processes = how
    if not any(p.exitcode is not None and p.exitcode < 0 for p in procs):
        return False
    reason = f"{KILLED_REASON} before it named itself on the trial"
    if not fail_interrupted(study, reason=reason, max_retry=3):
        return False
    if _lacking(study, job) <= 0 or len(procs) - processes >= processes:
        return False
    new = ctx.Process(target=_shared_worker, args=(job, len(procs), *signals))
    with interrupts.starting_workers():
        new.start()
    procs.append(new)
    return True


def _run_pool(jobs: list[StudyJob], processes: int, ctx: Any, bar: Any) -> None:
    """A pool of long-lived processes, each taking whole studies.

    Raises:
        KeyboardInterrupt: As for :func:`_run_shared`.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(
        max_workers=_pool_workers(jobs, processes),
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(interrupts.interruptible(), os.getpid()),
    )
    pending: set[Any] = set()
    try:
        with interrupts.starting_workers():  # the pool starts its processes on submit
            pending = {pool.submit(_worker_main, job, 0, True) for job in jobs}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                if fut.result():  # re-raise a worker's error here
                    raise KeyboardInterrupt("a worker process was interrupted")
            _refresh(bar, jobs)
    except BaseException:
        with interrupts.sigint_ignored():
            _stop_pool(pool, pending)
            _fail_left_running(jobs)
        raise
    pool.shutdown(wait=True)


def _stop_pool(pool: Any, futures: set[Any], grace: float = 30.0) -> None:
    """Interrupt the pool's running studies (SIGINT, repeated until they end), then close it;
    processes still busy after ``grace`` seconds are killed."""
    from concurrent.futures import wait

    running = {fut for fut in futures if not fut.cancel()}
    processes = dict(getattr(pool, "_processes", None) or {})  # pid -> Process
    deadline = time.monotonic() + grace
    while running and time.monotonic() < deadline:
        for pid in processes:
            interrupts.send(pid, signal.SIGINT)  # idle processes only take note
        _done, running = wait(running, timeout=0.2)
    if running:
        for proc in processes.values():
            proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _shared_workers(study: optuna.Study, job: StudyJob, processes: int) -> int:
    """Processes worth starting on one shared study: no more than the trials it still lacks."""
    return max(0, min(processes, _lacking(study, job)))


def _lacking(study: optuna.Study, job: StudyJob) -> int:
    """Trials the study still lacks; at least 1 while a tuner that drives its trials was cut
    off before it ended (``one-epoch``'s screening trials fill the count before its full
    trainings)."""
    return max(job.trials - count(study, FINISHED), int(unfinished_driver(study)))


def _pool_workers(jobs: list[StudyJob], processes: int) -> int:
    """Processes worth keeping in a pool: no more than the studies not finished (at least one)."""
    unfinished = 0
    for job in jobs:
        try:
            study = optuna.load_study(
                study_name=job.study_name, storage=_shared_storage(job.storage)
            )
        except KeyError:  # not created yet
            unfinished += 1
            continue
        unfinished += int(_lacking(study, job) > 0)
    return max(1, min(processes, unfinished))


def _fail_left_running(jobs: list[StudyJob]) -> None:
    """After an interrupt: fail (and queue again) what the jobs' ended processes left running."""
    for job in jobs:
        try:
            study = optuna.load_study(study_name=job.study_name, storage=open_storage(job.storage))
        except KeyError:  # not created yet
            continue
        fail_interrupted(study)


#: Exit status of a worker process that stopped on a hyperlab error (printed by the worker).
WORKER_ERROR_EXIT = 3


def _check_exit(proc: Any) -> None:
    if proc.exitcode == WORKER_ERROR_EXIT:
        raise WorkerError("a worker process stopped on the error printed above")
    if proc.exitcode not in (0, None):
        raise WorkerError(f"a worker process exited with code {proc.exitcode}")


class WorkerError(HyperlabError, RuntimeError):
    """A worker process of ``--jobs N`` failed (its own error was printed by it)."""


def _progress_bar(total: int, description: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="trial", dynamic_ncols=True)


@functools.lru_cache(maxsize=8)
def _shared_storage(url: str) -> optuna.storages.BaseStorage:
    return open_storage(url)


class _Noted:
    """The progress bar's ``on_progress``: shows a driving tuner's note beside the bar and
    refreshes the count of finished trials, at most every :attr:`EVERY` seconds."""

    EVERY = 0.5

    def __init__(self, bar: Any, jobs: list[StudyJob]) -> None:
        self.bar, self.jobs, self.last, self.note = bar, jobs, -math.inf, ""

    def __call__(self, note: str) -> None:
        self.note = note
        now = time.monotonic()
        if now - self.last >= self.EVERY:
            self.last = now
            self.flush()

    def flush(self) -> None:
        """Show the latest note (the last of a job, which the pace may have held back)."""
        if self.note:
            self.bar.set_postfix_str(self.note, refresh=False)
        _refresh(self.bar, self.jobs)

    def next_job(self) -> None:
        """Forget the last job's note: the next job tells its own, or none."""
        if self.note:
            self.note = ""
            self.bar.set_postfix_str("", refresh=False)


def _refresh(bar: Any, jobs: list[StudyJob]) -> None:
    if bar is None:
        return
    done = 0
    for job in jobs:
        try:
            study = optuna.load_study(
                study_name=job.study_name, storage=_shared_storage(job.storage)
            )
        except KeyError:
            continue
        done += min(job.trials, count(study, FINISHED))
    bar.n = done
    bar.refresh()
