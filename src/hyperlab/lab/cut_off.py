"""Trials cut off: left running by a killed or interrupted process, held by a worker that
stopped beating, or a queued configuration that lost its slot in a race. Each is failed with a
reason and its parameters are queued again, so a later trial runs the configuration.
"""

from __future__ import annotations

import warnings

import optuna
from optuna.trial import TrialState

from hyperlab.lab.admission import Claimed, process_of
from hyperlab.lab.heartbeat import MAX_RETRY, cut_offs, requeue
from hyperlab.lab.trial_kinds import (
    INTERRUPT_REASON,
    NOT_REQUEUED,
    STORAGE_CUT_REASON,
    fail_trial,
    progress,
)


def fail_interrupted(
    study: optuna.Study,
    worker: str | None = None,
    reason: str = "interrupted (process ended mid-trial)",
    max_retry: int | None = None,
) -> int:
    """Mark trials left RUNNING by a killed or interrupted process as failed (single owner;
    or only those of the process ``worker``, ``host:pid``, with ``reason``).

    Their parameters are queued again, so the resumed run evaluates the sampler's choice.
    """
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if worker is not None and process_of(t) != worker:
            continue
        retried = len(cut_offs(t))  # (only cut-offs count, as requeue decides)
        final = max_retry is not None and retried >= max_retry
        told = reason + NOT_REQUEUED.format(n=retried) if final else reason
        fail_trial(study._storage, t._trial_id, told)
        if t.params:
            trial = study._storage.get_trial(t._trial_id)
            again = "resumed after interrupt" if worker is None else reason
            requeue(study, trial, max_retry=max_retry, reason=again)
        n += 1
    return n


def keep_retry(study: optuna.Study, trial_id: int, target: int) -> None:
    """A re-queued configuration that lost its slot in a race is queued again, not dropped
    (it never ran: no cut-off towards its retry limit)."""
    trial = study._storage.get_trial(trial_id)
    if "failed_trial" in trial.system_attrs and progress(study)[0] < target:
        again = trial.user_attrs.get("retry_reason", "")
        requeue(study, trial, max_retry=None, reason=again, cut_off=False)


def recover_stale(study: optuna.Study) -> None:
    """Fail (and re-queue) trials whose worker stopped beating; a no-op without heartbeats."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def requeue_interrupted(study: optuna.Study, func: Claimed) -> None:
    """After Ctrl-C: queue the parameters of the trial that was cut off, so a restart runs it."""
    if func.trial_id is None or func.surplus:
        return
    try:
        trial = study._storage.get_trial(func.trial_id)
        if trial.state == TrialState.RUNNING:  # interrupted outside the objective
            told = INTERRUPT_REASON.format(signal="a signal")
            fail_trial(study._storage, trial._trial_id, told)
            trial = study._storage.get_trial(func.trial_id)
        if trial.state == TrialState.FAIL and trial.params:
            requeue(
                study, trial, max_retry=None, reason=f"retry of interrupted trial {trial.number}"
            )
    except Exception:  # best effort while shutting down; heartbeats catch what is left
        pass


def requeue_storage_cut(study: optuna.Study, func: Claimed) -> None:
    """Queue again the parameters of the trial just failed because its storage stayed
    unreachable (:attr:`Claimed.cut_off`), as a lost worker's are, up to the retry limit.

    This worker's own failure of the trial was stored (the trial loop calls this only then), so
    no other worker failed it as lost and queued it: one that took it for lost meanwhile lost
    that race and queued nothing, though it may have written its reason over this one's. The
    decision therefore rests on :attr:`Claimed.cut_off`, not on the reason stored.
    """
    if func.trial_id is None or func.cut_off is None:
        return
    trial = study._storage.get_trial(func.trial_id)
    if trial.state != TrialState.FAIL:
        return
    trials = study.get_trials(deepcopy=False)
    if any(trial.number in t.system_attrs.get("retry_history", []) for t in trials):
        return  # (queued again already)
    reason = str(trial.user_attrs.get("fail_reason") or STORAGE_CUT_REASON)
    requeue(study, trial, MAX_RETRY, reason=f"retry of trial {trial.number}: {reason}")
