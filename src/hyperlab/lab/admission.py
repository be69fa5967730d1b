"""The claim of a trial slot: exact counts with many workers sharing a study.

A worker starts a trial only while fewer than ``trials`` trials are finished or running; two
workers may still pass that check at once, so the new trial is *claimed* inside the objective
(:class:`Claimed`), before any work: trial ``k`` is admitted when the finished trials plus the
running or queued trials numbered below ``k`` are fewer than ``trials``. Otherwise it is failed
at once as surplus (reason recorded) and the worker waits or leaves. Trial numbers are unique
and given in creation order (Optuna locks the study row while numbering on a database; the
journal is a single ordered log), and a FAIL is final, so the admitted trials that are not
failed never exceed ``trials``: the highest-numbered one saw all the others when it was
claimed. Hence finished trials never exceed ``trials``, and workers run until they reach it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import (
    REFUSED_ATTR,
    TRACEBACK_ATTR,
    HyperlabError,
    RunConflictError,
    SearchSpaceError,
    SettingError,
    failure_reason,
    traceback_text,
)
from hyperlab.lab.heartbeat import CUT_OFFS_ATTR, cut_offs, record_grace, requeue
from hyperlab.lab.identity import SpaceGuard, is_kind_change, kind_conflict
from hyperlab.lab.retrying import before_fail
from hyperlab.lab.storage_errors import is_transient, transient_cause
from hyperlab.lab.study_job import asked_trials
from hyperlab.lab.trial_kinds import (
    INTERRUPT_REASON,
    PRUNER_FAILED_ATTR,
    QUEUED_AGAIN,
    SURPLUS_REASON,
    TUNER_FAILED_ATTR,
    SurplusTrial,
    admitted,
    fail_trial,
    raised_in_pruner,
    raised_in_sampler,
    raised_in_storage,
    record_failure,
    storage_cut_reason,
)
from hyperlab.space.refused import refused_range

#: A trial's user attribute: the process that ran it, ``host:pid`` (what finds the trials of a
#: process that was killed), where its ``worker`` attribute holds a worker's name instead.
PROCESS_ATTR = "process"


def process_of(trial: FrozenTrial) -> str | None:
    """The process that ran ``trial``, ``host:pid`` (``None``: it was never claimed)."""
    process = trial.user_attrs.get(PROCESS_ATTR, trial.user_attrs.get("worker"))
    return None if process is None else str(process)


class Claimed:
    """The objective behind an admission check; remembers the trial and how it ended.

    With a ``guard``, a trial whose search space differs from the study's is failed, and the
    conflict kept in ``conflict`` for the caller to raise (Optuna catches it in the trial);
    so is a :class:`~hyperlab.errors.SettingError` of the tuner or pruner (a setting that the
    trials' search space shows cannot work), which would fail every trial the same way, and a
    parameter whose range Optuna refuses (:func:`refused_space`). A trial it fails records how
    the failure counts (:func:`~hyperlab.lab.trial_kinds.record_failure`). A trial whose
    storage stayed unreachable past its repeats keeps that error in ``cut_off``. Each trial
    records who ran it in its ``worker`` attribute: ``worker_name`` where given (a
    ``hyperlab worker``'s name, its process then in :data:`PROCESS_ATTR`), else the process.
    With ``follow_setup`` (a worker's), a trial is admitted against the count of trials its
    study's setup asks for as it is claimed, not as its worker last looked (a run set up again
    for fewer trials meanwhile).
    """

    def __init__(
        self,
        func: Any,
        target: int,
        guard: SpaceGuard | None = None,
        worker_name: str | None = None,
    ) -> None:
        self.func = func
        self.target = target
        self.guard = guard
        self.worker_name = worker_name
        self.follow_setup = False  # (set by a worker's trial loop: see _claimed)
        self.trial_id: int | None = None
        self.surplus = False
        self.interrupted: str | None = None
        self.cut_off: Exception | None = None
        self.conflict: HyperlabError | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            return self._claimed(trial)
        except optuna.TrialPruned:
            raise
        except BaseException:
            with contextlib.suppress(Exception):  # (the storage may be what was interrupted)
                record_failure(trial.study._storage, trial._trial_id)
            raise

    def _claimed(self, trial: optuna.Trial) -> float:
        self.trial_id, self.surplus, self.interrupted = trial._trial_id, False, None
        self.cut_off = None
        process = f"{socket.gethostname()}:{os.getpid()}"
        if self.worker_name:  # (first: a trial that names its worker names its process)
            trial.set_user_attr(PROCESS_ATTR, process)
        trial.set_user_attr("worker", self.worker_name or process)
        record_grace(trial.study._storage, trial._trial_id)  # (its beats are judged by it)
        if self.follow_setup:  # (the count its run asks for now: set up again meanwhile?)
            self.target = asked_trials(trial.study) or self.target
        if not admitted(trial.study, trial.number, self.target):
            self.surplus = True
            trial.set_user_attr("fail_reason", SURPLUS_REASON)
            raise SurplusTrial(SURPLUS_REASON)
        try:
            value = float(self.func(trial))
        except KeyboardInterrupt as exc:
            self.interrupted = str(exc) or "SIGINT"
            told = INTERRUPT_REASON.format(signal=self.interrupted)
            _keep_reason(trial, lambda _storage: told)  # (the storage may be what was interrupted)
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
            refused = refused_space(trial, exc)
            if refused is not None:
                self.conflict = refused
                trial.set_user_attr("fail_reason", f"{type(refused).__name__}: {refused}")
                trial.set_user_attr(REFUSED_ATTR, True)
                raise refused from None
            _blame_tuner(trial, exc)
            raise
        except Exception as exc:
            if is_transient(exc) and raised_in_storage(exc):
                self._storage_cut(trial, exc)
            else:
                _blame_tuner(trial, exc)
            raise
        self._check_space(trial, complete=True)
        return value

    def _storage_cut(self, trial: optuna.Trial, exc: Exception) -> None:
        """Keep ``exc``, a storage that stayed unreachable past the repeats of a read or write
        the trial made, for the trial loop (it queues the parameters again and backs off), and
        say so as the trial's reason: a cut-off, not the task's failure. A storage still down
        takes neither: the trial is left running, and failed as lost once its beats stop."""
        self.cut_off = exc
        cause, trial_id = transient_cause(exc), trial._trial_id

        def reason(storage: optuna.storages.BaseStorage) -> str:
            return storage_cut_reason(cause, len(cut_offs(storage.get_trial(trial_id))))

        _keep_reason(trial, reason)

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


Reason = Callable[[optuna.storages.BaseStorage], str]


def _keep_reason(trial: optuna.Trial, reason: Reason) -> None:
    """Store the reason of a trial cut off (``reason(storage)``, read from the storage it is
    written to). One the storage refuses now (it is what cut the trial off) is written when the
    trial is failed, before its state (:func:`~hyperlab.lab.retrying.before_fail`), with how its
    failure counts: stored failed without it, the trial counted as the task's failure."""
    storage, trial_id = trial.study._storage, trial._trial_id
    try:
        storage.set_trial_user_attr(trial_id, "fail_reason", reason(storage))
    except Exception:
        before_fail(storage, trial_id, lambda held: _write_reason(held, trial_id, reason))


def _write_reason(storage: optuna.storages.BaseStorage, trial_id: int, reason: Reason) -> None:
    storage.set_trial_user_attr(trial_id, "fail_reason", reason(storage))
    record_failure(storage, trial_id)


def refused_space(trial: optuna.Trial, exc: ValueError) -> SearchSpaceError | None:
    """The error that stops the run when ``exc`` is Optuna refusing the range of a parameter
    the trial asked for (:func:`~hyperlab.space.refused.refused_range`: ``low > high``, a log
    scale from ``low <= 0``, ...), which every trial would meet; ``None`` for any other
    ``ValueError`` (the objective's own), and for a parameter an earlier trial of the study
    drew (its range then depends on the trial's other values: this trial alone fails)."""
    refused = refused_range(exc)
    if refused is None:
        return None
    trials = trial.study._storage.get_all_trials(trial.study._study_id, deepcopy=False)
    if any(refused.name in t.distributions for t in trials if t.number != trial.number):
        return None
    return SearchSpaceError(
        f"trial {trial.number}: {refused}; every trial would fail the same way, so the run "
        "stops here, its finished trials kept (fix the search space and run the same command "
        "again to go on)"
    )


def _blame_tuner(trial: optuna.Trial, exc: Exception) -> None:
    """Mark a trial whose tuner raised while choosing its parameters as the tuner's failure,
    and one whose pruner raised deciding whether to stop it as the pruner's; its reason and
    traceback recorded where the objective had not (a task's search space)."""
    if raised_in_sampler(exc):
        trial.set_user_attr(TUNER_FAILED_ATTR, True)
    elif raised_in_pruner(exc):
        trial.set_user_attr(PRUNER_FAILED_ATTR, True)
    else:
        return
    stored = trial.study._storage.get_trial_user_attrs(trial._trial_id)
    if "fail_reason" not in stored:
        trial.set_user_attr("fail_reason", failure_reason(exc))
        trial.set_user_attr(TRACEBACK_ATTR, traceback_text(exc))


def fail_unasked(study: optuna.Study, exc: Exception) -> int | None:
    """Fail, as the tuner's, the trial that ``study.ask`` created when its sampler's
    ``before_trial`` raised ``exc`` (Optuna leaves it running: the objective never ran to be
    failed); its reason and traceback recorded. A trial that was queued (a retry of a trial cut
    off, or parameters enqueued) is queued again, so its parameters still run. Returns its id,
    or ``None`` when ``exc`` did not come from there (the caller raises it)."""
    trial_id = _asked_trial_id(exc) if raised_in_sampler(exc) else None
    if trial_id is None:
        return None
    storage = study._storage
    asked = storage.get_trial(trial_id)  # (as it was queued: its parameters, its attributes)
    queued = bool(asked.params or asked.system_attrs.get("fixed_params"))
    reason = failure_reason(exc) + (QUEUED_AGAIN if queued else "")
    storage.set_trial_user_attr(trial_id, TUNER_FAILED_ATTR, True)
    storage.set_trial_user_attr(trial_id, TRACEBACK_ATTR, traceback_text(exc))
    fail_trial(storage, trial_id, reason)
    if queued:
        _queue_again(study, asked, storage.get_trial(trial_id))
    logging.getLogger("optuna.study._optimize").warning(
        f"Trial {asked.number} failed in the tuner: {reason}"
    )
    return trial_id


def _queue_again(study: optuna.Study, asked: FrozenTrial, failed: FrozenTrial) -> None:
    """Queue again a queued trial that its tuner failed before it ran: a retry (its parameters
    stored) as a retry of it, parameters enqueued (``study.enqueue_trial``) as they were. Each
    names the failed trial in its ``retry_history``, which ends the slot the failed one holds
    until then (:func:`~hyperlab.lab.trial_kinds.progress`); it never ran, so it is no cut-off
    towards the retry limit (:func:`~hyperlab.lab.heartbeat.cut_offs`)."""
    if failed.params:
        again = asked.user_attrs.get("retry_reason", "")
        requeue(study, failed, max_retry=None, reason=again, cut_off=False)
        return
    history = [*asked.system_attrs.get("retry_history", []), asked.number]
    fixed = dict(asked.system_attrs["fixed_params"])  # (as study.enqueue_trial stores them)
    attrs = {"fixed_params": fixed, "retry_history": history, CUT_OFFS_ATTR: cut_offs(asked)}
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.WAITING, system_attrs=attrs, user_attrs=dict(asked.user_attrs)
        )
    )


def _asked_trial_id(exc: BaseException) -> int | None:
    """The id of the trial being built (``optuna.Trial.__init__``) when ``exc`` was raised."""
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if tb.tb_frame.f_code.co_name == "__init__" and isinstance(owner, optuna.Trial):
            return int(owner._trial_id)
        tb = tb.tb_next
    return None
