"""A study's trials as the lab counts them: finished, claimed or admitted, and which failures
are the task's and which the run's own bookkeeping (a surplus claim, a trial cut off and queued
again, one refused for a changed search space).

The claim these counts serve is told in :mod:`hyperlab.lab.admission`.
"""

from __future__ import annotations

import copy
import datetime

import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import (
    CUT_OFF_FAILURE,
    FAILURE_ATTR,
    PRUNER_FAILURE,
    REFUSED_ATTR,
    REFUSED_FAILURE,
    SURPLUS_FAILURE,
    TASK_FAILURE,
    TUNER_FAILURE,
    HyperlabError,
)
from hyperlab.lab.heartbeat import MAX_RETRY, STALE_UNCHOSEN, is_stale_reason
from hyperlab.lab.storage_errors import error_chain, is_transient

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
CLAIMED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
SURPLUS_REASON = "surplus: the study already had its trials claimed by other workers"
INTERRUPT_REASON = "interrupted by {signal} mid-trial; its parameters are queued again"
#: How the reason of a trial whose ``--jobs`` process was killed (``kill -9``) begins.
KILLED_REASON = "its worker process was killed"
#: How the reason of a trial begins whose storage stayed unreachable past the repeats of a
#: write or read it made while it ran (:func:`storage_cut_reason`).
STORAGE_CUT_REASON = "cut off from the storage mid-trial"
#: Added to the reason of a queued trial whose tuner failed it before it ran, queued again.
QUEUED_AGAIN = "; its parameters are queued again"
#: Added to the reason of a cut-off trial whose parameters were not queued again.
NOT_REQUEUED = "; not re-queued (retried {n} times)"


def storage_cut_reason(cause: str, retried: int) -> str:
    """The reason of a trial cut off from its storage by ``cause`` (the driver's message), its
    configuration cut off ``retried`` times before: queued again below :data:`MAX_RETRY`."""
    tail = NOT_REQUEUED.format(n=retried) if retried >= MAX_RETRY else QUEUED_AGAIN
    return f"{STORAGE_CUT_REASON} ({cause}){tail}"


def raised_in_storage(exc: BaseException) -> bool:
    """Whether ``exc``, or an error behind it, is a transient error of an Optuna storage: one
    whose traceback passes through a method of a :class:`~optuna.storages.BaseStorage` (the
    trial's own reads and writes, however deep in the objective, the sampler or the pruner)
    and that is transient itself or by the driver's error it was raised from
    (:func:`~hyperlab.lab.storage_errors.is_transient`). A transient error of the objective's
    own, raised while it handled another error of a storage (a study it looked for and did not
    find), is not."""
    return any(_in_storage(e) and is_transient(e) for e in error_chain(exc))


def _in_storage(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if isinstance(tb.tb_frame.f_locals.get("self"), optuna.storages.BaseStorage):
            return True
        tb = tb.tb_next
    return False


def is_surplus(trial: FrozenTrial) -> bool:
    """Whether ``trial`` was failed at once because other workers had claimed the study's
    last trials: bookkeeping of the check-and-claim, not a failure of the task."""
    return trial.state == TrialState.FAIL and trial.user_attrs.get("fail_reason") == SURPLUS_REASON


#: A failed trial's user attribute: the tuner (its sampler) raised while choosing the trial's
#: parameters, before the objective's own work could fail (:func:`raised_in_sampler`).
TUNER_FAILED_ATTR = "failed_in_tuner"

_SAMPLER_CALLS = (
    "before_trial",
    "infer_relative_search_space",
    "sample_relative",
    "sample_independent",
)


def raised_in_sampler(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside a sampler's choice of parameters: its traceback passes
    through an Optuna sampler's ``sample_relative``, ``sample_independent`` or
    ``infer_relative_search_space`` (a peer's ask included), called from a suggestion, or its
    ``before_trial``, called when the trial is asked for (before the objective runs)."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name in _SAMPLER_CALLS and isinstance(
            frame.f_locals.get("self"), optuna.samplers.BaseSampler
        ):
            return True
        tb = tb.tb_next
    return False


#: A trial's user attribute: its tuner's ``after_trial`` raised taking in the trial's result
#: (the reason): the trial keeps its state and value, the error counts as the tuner's.
TUNER_AFTER_ATTR = "tuner_failed_after"


def is_tuner_failure_after(trial: FrozenTrial) -> bool:
    """Whether ``trial`` finished (complete or pruned) and its tuner's ``after_trial`` then
    raised taking in its result."""
    return trial.state in FINISHED and TUNER_AFTER_ATTR in trial.user_attrs


#: A failed trial's user attribute: the pruner raised while deciding whether to stop the trial
#: (:func:`raised_in_pruner`), not the task's own work.
PRUNER_FAILED_ATTR = "failed_in_pruner"


def raised_in_pruner(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside a pruner's decision: its traceback passes through an
    Optuna pruner's ``prune`` (called from ``trial.should_prune``)."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "prune" and isinstance(
            frame.f_locals.get("self"), optuna.pruners.BasePruner
        ):
            return True
        tb = tb.tb_next
    return False


def is_pruner_failure(trial: FrozenTrial) -> bool:
    """Whether ``trial`` failed inside its pruner's decision (not the task's failure)."""
    return trial.state == TrialState.FAIL and PRUNER_FAILED_ATTR in trial.user_attrs


def _plugin_failure(trial: FrozenTrial) -> bool:
    return is_tuner_failure(trial) or is_pruner_failure(trial)


def is_tuner_failure(trial: FrozenTrial) -> bool:
    """Whether ``trial`` failed inside its tuner's choice of parameters (not the task's
    failure, nor the run's bookkeeping)."""
    return trial.state == TrialState.FAIL and TUNER_FAILED_ATTR in trial.user_attrs


def is_interrupted(trial: FrozenTrial) -> bool:
    """Whether ``trial`` failed because it was cut off, its parameters queued again: by an
    interrupt, by its worker's death (no heartbeat within the grace period, or a ``--jobs``
    process killed by a signal), or by a storage that stayed unreachable while it ran
    (:data:`STORAGE_CUT_REASON`; the last retry, which is not queued again, counts as the
    task's failure). A trial lost before its sampler chose any parameter is cut off too: it
    has nothing to queue again, and a fresh trial takes its place."""
    reason = str(trial.user_attrs.get("fail_reason") or "")
    lost = is_stale_reason(reason) or reason == STALE_UNCHOSEN
    cut = reason.startswith(("interrupted", KILLED_REASON, STORAGE_CUT_REASON)) or lost
    return trial.state == TrialState.FAIL and cut and "not re-queued" not in reason


def is_bookkeeping(trial: FrozenTrial) -> bool:
    """Whether ``trial`` failed for the run's own reasons, not the task's: a surplus claim
    (:func:`is_surplus`), a trial cut off and queued again (:func:`is_interrupted`), or one the
    run refused because the search space had changed."""
    if trial.state != TrialState.FAIL:
        return False
    return is_surplus(trial) or is_interrupted(trial) or REFUSED_ATTR in trial.user_attrs


def failure_kind(trial: FrozenTrial) -> str:
    """How a failed trial counts: ``"task"`` (the task's failure), ``"tuner"`` (the tuner
    raised choosing its parameters; or, for a finished trial, taking in its result), ``"pruner"`` (the pruner raised deciding whether to stop
    it), ``"cut off"`` (an interrupt or a lost worker; queued
    again, when it had parameters), ``"surplus"`` or ``"refused"`` (the run's bookkeeping);
    ``""`` for a trial that did not fail."""
    if is_tuner_failure_after(trial):
        return TUNER_FAILURE
    if trial.state != TrialState.FAIL:
        return ""
    if is_tuner_failure(trial):
        return TUNER_FAILURE
    if is_pruner_failure(trial):
        return PRUNER_FAILURE
    if is_interrupted(trial):
        return CUT_OFF_FAILURE
    if is_surplus(trial):
        return SURPLUS_FAILURE
    return REFUSED_FAILURE if REFUSED_ATTR in trial.user_attrs else TASK_FAILURE


def record_failure(storage: optuna.storages.BaseStorage, trial_id: int) -> None:
    """Record on a trial about to be failed (still running, its reason written) how its failure
    counts (:func:`failure_kind`), in :data:`~hyperlab.errors.FAILURE_ATTR`: a tuner reads a
    failed trial as its configuration's failure only when the task failed it. Called by every
    place the lab fails a trial, before the trial's state is set."""
    trial = copy.copy(storage.get_trial(trial_id))
    trial.state = TrialState.FAIL
    storage.set_trial_user_attr(trial_id, FAILURE_ATTR, failure_kind(trial))


def fail_trial(storage: optuna.storages.BaseStorage, trial_id: int, reason: str) -> None:
    """Fail a running trial the lab gives up on: its ``fail_reason``, how the failure counts
    (:func:`record_failure`), then its state, in that order (a finished trial takes no more
    attributes)."""
    storage.set_trial_user_attr(trial_id, "fail_reason", reason)
    record_failure(storage, trial_id)
    storage.set_trial_state_values(trial_id, TrialState.FAIL)


def failed_trials(study: optuna.Study, *, interrupted: bool = False) -> int:
    """The task's failed trials: those of the run's own bookkeeping (:func:`is_bookkeeping`)
    and the tuner's and the pruner's failures (:func:`is_tuner_failure`,
    :func:`is_pruner_failure`) left out; ``interrupted``: those cut off by an interrupt and the
    tuner's and pruner's failures counted too, and the finished trials whose tuner raised
    taking them in (a rule that stops a run whose trials keep failing counts them: workers
    killed again and again, or a tuner that cannot choose or learn, are a failure of the
    run)."""
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    counted = sum(
        (interrupted and (is_interrupted(t) or _plugin_failure(t)))
        or not (is_bookkeeping(t) or _plugin_failure(t))
        for t in failed
    )
    return counted + (tuner_after_failures(study) if interrupted else 0)


def tuner_failures(study: optuna.Study) -> int:
    """The study's trials failed inside its tuner's choice of parameters."""
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return sum(map(is_tuner_failure, failed))


def tuner_after_failures(study: optuna.Study) -> int:
    """The study's finished trials whose tuner raised taking in their result (``after_trial``)."""
    finished = study.get_trials(deepcopy=False, states=FINISHED)
    return sum(map(is_tuner_failure_after, finished))


def pruner_failures(study: optuna.Study) -> int:
    """The study's trials failed inside its pruner's decision."""
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return sum(map(is_pruner_failure, failed))


def count(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


# A failed trial whose retry is promised but not yet queued holds its slot this long at most.
RETRY_WINDOW_S = 60.0


def progress(study: optuna.Study, pending: bool = False) -> tuple[int, int]:
    """``(finished, claimed)`` trials of the study, read from storage.

    ``claimed`` counts finished and running trials and, with ``pending``, failed trials whose
    re-queue is promised (by their reason) but not visible yet: between a stale trial's FAIL and
    its re-queue, another worker must not start a fresh trial in its place, or the retry would
    find the study full and the sampler's choice would be lost; so too between the FAIL and the
    re-queue of a queued trial its tuner failed before it ran (:data:`QUEUED_AGAIN`). A trial
    with no parameter holds no slot, unless queued so: nothing of it is ever queued again (see
    :func:`~hyperlab.lab.heartbeat.requeue`).
    """
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    finished = sum(t.state in FINISHED for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    held = 0
    if pending:
        # (the whole chain, not only its cut-offs: a trial queued again for any reason gave
        # its slot to the queued one)
        retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
        now = datetime.datetime.now()
        for t in trials:
            if t.state != TrialState.FAIL or t.number in retried or t.datetime_complete is None:
                continue
            if _retry_promised(t) and (now - t.datetime_complete).total_seconds() < RETRY_WINDOW_S:
                held += 1
    return finished, finished + running + held


def _retry_promised(trial: FrozenTrial) -> bool:
    """Whether the reason of ``trial``, failed, promises that its parameters are queued again:
    a trial cut off that had parameters (one lost before its sampler chose has none to queue),
    or a queued trial its tuner failed before it ran (its parameters, or those enqueued)."""
    reason = str(trial.user_attrs.get("fail_reason") or "")
    if TUNER_FAILED_ATTR in trial.user_attrs and reason.endswith(QUEUED_AGAIN):
        return True  # (fail_unasked queues it again, with parameters or with those enqueued)
    return bool(trial.params) and (is_stale_reason(reason) or is_interrupted(trial))


def admitted(study: optuna.Study, number: int, target: int) -> bool:
    """Whether trial ``number`` may run: finished plus earlier live trials below ``target``."""
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False, states=CLAIMED)
    ahead = sum(t.state in FINISHED or t.number < number for t in trials if t.number != number)
    return ahead < target


class SurplusTrial(HyperlabError, RuntimeError):
    """A trial claimed after the study had all its trials (failed at once, not retried)."""
