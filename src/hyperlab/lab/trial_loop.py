"""One worker's trial loop over a study: claim a slot, run one trial, book it; retries after
transient storage errors, and the limit on failed trials.

Each trial runs behind the admission check of :mod:`hyperlab.lab.admission`; trials cut off
are handled by :mod:`hyperlab.lab.cut_off`.
"""

from __future__ import annotations

import time
import warnings

import optuna
from optuna.trial import TrialState

from hyperlab.errors import StorageError
from hyperlab.lab.admission import Claimed, fail_unasked
from hyperlab.lab.cut_off import (
    keep_retry,
    recover_stale,
    requeue_interrupted,
    requeue_storage_cut,
)
from hyperlab.lab.storage_errors import error_chain, is_transient, redact, transient_cause
from hyperlab.lab.study_job import StudyJob, asked_trials, setup_changes
from hyperlab.lab.trial_kinds import TUNER_AFTER_ATTR, progress
from hyperlab.lab.tuner_told import told_guarded
from hyperlab.stops import failures_reason, stop_for_failures

DONE, RETRY, RAN = "done", "retry", "ran"


class TrialLoop:
    """One worker's trial loop over a study: counts, retries and failure limits.

    With ``follow_setup`` (a ``hyperlab worker``), the count of trials is read again from the
    study's setup before each trial (:func:`~hyperlab.lab.study_job.asked_trials`): a run set
    up again for more trials while its workers run has them go on to the new count. Given the
    job it was ``built_from`` (as the setup described it), the loop ends, before it claims
    another trial, once the setup differs from that in anything else (:attr:`setup_changed`
    then says in what), for its worker to join the study again as set up now.
    """

    def __init__(
        self,
        study: optuna.Study,
        job: StudyJob,
        func: Claimed,
        retries: int,
        follow_setup: bool = False,
        built_from: StudyJob | None = None,
    ) -> None:
        self.study, self.job, self.func, self.retries = study, job, func, retries
        self.follow_setup = follow_setup
        self.built_from = built_from
        self.setup_changed: list[str] = []
        if follow_setup:  # (its trials are admitted against the setup's count too)
            func.follow_setup = True
        self.failures = self.ran = self.errors = self.told_in_row = 0
        self.target = job.trials
        self.max_failures = max(10, job.trials)

    def _follow_setup(self) -> None:
        """Take the count of trials the study's setup asks for now, and note any other change
        of the setup (see the class)."""
        if self.built_from is not None:
            self.setup_changed = setup_changes(self.study, self.built_from)
        asked = asked_trials(self.study)
        if asked is not None and asked != self.target:
            self.target = self.func.target = asked
            self.max_failures = max(10, asked)

    def step(self, wait: bool, poll: float) -> str:
        """Run one trial if one is left to claim: :data:`DONE` when the study needs no more
        from this worker, :data:`RETRY` to look again, :data:`RAN` after a trial."""
        study = self.study
        # no trial of this step yet: an interrupt while looking or waiting cuts off none (the
        # last trial run here is finished; failed, its parameters are not queued again)
        self.func.trial_id = self.func.cut_off = None
        cut: Exception | None = None
        try:
            if self.follow_setup:
                self._follow_setup()
                if self.setup_changed:
                    return DONE  # (its worker joins the study again, as set up now)
            target = self.target
            finished, claimed = progress(study, pending=wait)
            if finished >= target or study.user_attrs.get("stopped_at_noise"):
                return DONE
            if claimed >= target:
                if not wait:
                    # a dead worker's trial holds its slot until someone fails it: a one-trial
                    # task (Dask) that left without looking would be sent again for ever
                    recover_stale(study)
                    return DONE if progress(study)[1] >= target else RETRY
                time.sleep(poll)
                recover_stale(study)  # (study.optimize does this before each trial itself)
                return RETRY
            if trials_exhausted(study, finished, target):
                return DONE
            run_trial(study, self.func)
            cut = self.func.cut_off  # (the storage stayed down past the trial's repeats)
            if cut is None:
                self.errors = 0
            else:
                requeue_storage_cut(study, self.func)
        except KeyboardInterrupt:
            requeue_interrupted(study, self.func)
            raise
        except optuna.exceptions.UpdateFinishedTrialError:
            # Another worker failed our trial as stale (we were too slow to beat); its
            # parameters were queued again there, so this result is dropped, never counted.
            return RETRY
        except Exception as exc:
            if not _finished_elsewhere(exc):
                self._storage_error(exc)
            return RETRY
        if cut is not None:  # a storage error, as those of the loop itself: not the task's
            self._storage_error(cut)
            return RETRY
        self.ran += 1
        return RAN

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
            keep_retry(study, func.trial_id, func.target)
        if func.surplus:
            return False
        last = study._storage.get_trial(func.trial_id) if func.trial_id is not None else None
        if last is None:
            return False
        told = last.user_attrs.get(TUNER_AFTER_ATTR)  # (the tuner raised taking it in)
        self.told_in_row = self.told_in_row + 1 if told is not None else 0
        if last.state == TrialState.FAIL or told is not None:
            self.failures += 1
            if self.failures >= self.max_failures:
                stop_for_failures(study, failures_reason(self.failures))
                return True
        if self.told_in_row >= TOLD_LIMIT:  # (its trials finish: the limit above comes late)
            stop_for_failures(study, _told_reason(self.told_in_row, str(told)))
            return True
        return False


#: A study stops once its tuner's ``after_trial`` raised on this many trials in a row.
TOLD_LIMIT = 10


def _told_reason(in_row: int, last: str) -> str:
    """Why a study stopped for its tuner's errors taking in trials (``after_trial``)."""
    return (
        f"stopped after its tuner raised taking in the results of {in_row} trials in a row in "
        "a process of this run (its after_trial: the trials keep their values, but the tuner "
        f"may have learnt nothing from them); the last: {last}"
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


def trials_exhausted(study: optuna.Study, finished: int, target: int) -> bool:
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


def run_trial(study: optuna.Study, func: Claimed) -> None:
    """One trial of ``study`` on the lab's trial path (:func:`_run_one`), which ``tune``,
    ``compare`` and a tuner panel share: the tuner's and the pruner's failures told from the
    task's, a trial never left running by an error of the tuner.

    Raises:
        HyperlabError: What ``func`` kept to stop the run (a search space changed or one Optuna
            refuses, a task or an objective that breaks its contract, a setting that cannot
            work): every later trial would fail the same way.
    """
    _run_one(study, func)
    if func.conflict is not None:
        raise func.conflict


def _run_one(study: optuna.Study, func: Claimed) -> None:
    """One trial; an interrupt of its objective always leaves as ``KeyboardInterrupt``.

    Optuna re-raises the objective's ``KeyboardInterrupt`` after telling the failed trial, but
    an error of that tell (a storage error, a trial already failed as stale) replaces it, and
    the caller would retry instead of leaving: the interrupt is raised again here. A tuner
    whose ``before_trial`` raises (in ``study.ask``, before the objective) fails the trial that
    Optuna left running, as the tuner's, and the loop books it like any failed trial; one whose
    ``after_trial`` raises (in ``tell``, after it) leaves the trial as it ended, the error
    recorded on it (:mod:`hyperlab.lab.tuner_told`).
    """
    func.trial_id, func.interrupted, func.cut_off = None, None, None
    try:
        with warnings.catch_warnings(), told_guarded(study):
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(func, n_trials=1, catch=(Exception,), gc_after_trial=False)
    except Exception as exc:
        if func.interrupted is not None:
            raise KeyboardInterrupt(func.interrupted) from exc
        if func.trial_id is None:  # (raised before the objective: in the tuner's ask?)
            func.trial_id = fail_unasked(study, exc)
            if func.trial_id is not None:
                return
        raise
