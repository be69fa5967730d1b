"""The claim rule behind exact counts, on hand-made trial states."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hyperlab.errors import FAILURE_ATTR
from hyperlab.lab.heartbeat import FIRST_BEAT_WAIT, STALE_REASON, requeue
from hyperlab.lab.trial_kinds import admitted, is_interrupted, progress

DIST = {"x": FloatDistribution(0, 1)}


def _add(study: optuna.Study, state: TrialState, **attrs: object) -> None:
    value = 1.0 if state == TrialState.COMPLETE else None
    study.add_trial(
        create_trial(state=state, value=value, params={"x": 0.5}, distributions=DIST, **attrs)  # type: ignore[arg-type]
    )


def test_admission_counts_finished_and_earlier_live_trials() -> None:
    study = optuna.create_study()
    for _ in range(3):
        _add(study, TrialState.COMPLETE)  # 0, 1, 2
    _add(study, TrialState.RUNNING)  # 3
    _add(study, TrialState.FAIL)  # 4: frees its slot
    _add(study, TrialState.RUNNING)  # 5
    _add(study, TrialState.WAITING)  # 6
    # trial 5: 3 finished + trial 3 ahead of it = 4
    assert admitted(study, 5, target=5)
    assert not admitted(study, 5, target=4)
    # trial 6 also counts trial 5; a later trial 7 counts all six live ones
    assert admitted(study, 6, target=6) and not admitted(study, 6, target=5)
    assert not admitted(study, 7, target=6)
    assert progress(study) == (3, 5)  # a queued trial is not yet running


def test_a_stale_failure_stored_by_an_older_version_is_still_read_as_cut_off() -> None:
    study = optuna.create_study()
    old = "worker lost: no heartbeat within the grace period (killed or hung); re-queued"
    for reason in (STALE_REASON, old):
        _add(study, TrialState.FAIL, user_attrs={"fail_reason": reason})
    _add(study, TrialState.FAIL, user_attrs={"fail_reason": "worker lost: something else"})
    assert [is_interrupted(t) for t in study.trials] == [True, True, False]
    assert progress(study, pending=True) == (0, 2)  # both promise a retry
    assert "cut off from the storage" in STALE_REASON  # (an outage loses live beats too)


def test_stale_failure_holds_its_slot_until_requeued() -> None:
    study = optuna.create_study()
    _add(study, TrialState.COMPLETE)
    _add(study, TrialState.FAIL, user_attrs={"fail_reason": STALE_REASON})
    stale = study.trials[1]
    assert progress(study, pending=True) == (1, 2)  # the retry is promised
    assert progress(study, pending=False) == (1, 1)
    assert requeue(study, stale, max_retry=3)
    retry = study.trials[2]
    assert retry.state == TrialState.WAITING and retry.params == stale.params
    assert retry.system_attrs["failed_trial"] == 1 and not retry.user_attrs.get("fail_reason")
    assert progress(study, pending=True) == (1, 1)  # the slot now belongs to the retry
    # a configuration is re-queued at most max_retry times
    chain = study.trials[2]
    chain.system_attrs = {"retry_history": [1, 2, 3], "failed_trial": 1}
    assert not requeue(study, chain, max_retry=3)


def test_only_the_cut_offs_of_a_retry_chain_count_towards_its_limit() -> None:
    """A retry that lost its slot to another worker (or that its tuner failed) never ran: it
    was counted as a retry all the same, and the configuration dropped early. A chain queued
    by an older version (no record of its cut-offs) still counts its whole history."""
    from hyperlab.lab.cut_off import keep_retry
    from hyperlab.lab.heartbeat import CUT_OFFS_ATTR, cut_offs
    from hyperlab.lab.trial_kinds import SURPLUS_REASON

    study = optuna.create_study()
    _add(study, TrialState.FAIL, user_attrs={"fail_reason": STALE_REASON})  # 0: cut off
    _add(study, TrialState.FAIL)  # 1, 2: queued retries their tuner failed
    _add(study, TrialState.FAIL)
    chain = {"failed_trial": 0, "retry_history": [0, 1, 2], CUT_OFFS_ATTR: [0]}
    _add(study, TrialState.FAIL, user_attrs={"fail_reason": SURPLUS_REASON}, system_attrs=chain)
    keep_retry(study, study.trials[3]._trial_id, target=5)  # 3 lost its slot: queued again
    retry = study.trials[4]
    assert retry.system_attrs["retry_history"] == [0, 1, 2, 3]  # (3's slot given up)
    assert cut_offs(retry) == [0]
    assert requeue(study, retry, max_retry=3)  # 4 cut off: the second cut-off, queued again
    assert cut_offs(study.trials[5]) == [0, 4]
    older = study.trials[5]  # as a version before the record of cut-offs queued it
    older.system_attrs = {"failed_trial": 0, "retry_history": [0, 1, 2, 3, 4]}
    assert cut_offs(older) == [0, 1, 2, 3, 4]
    assert not requeue(study, older, max_retry=3)


def test_a_trial_lost_before_it_chose_a_parameter_is_not_queued_again() -> None:
    """Its retry was a waiting trial with no parameter, which could stay waiting after the
    study had all its trials."""
    study = optuna.create_study()
    study.add_trial(create_trial(state=TrialState.FAIL, params={}, distributions={}))
    assert not requeue(study, study.trials[0], max_retry=3)
    assert len(study.trials) == 1


def test_a_stale_trial_with_no_parameter_says_nothing_was_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    import warnings

    from hyperlab.lab.heartbeat import STALE_UNCHOSEN
    from hyperlab.lab.storage import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(storage=storage, study_name="s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (Optuna: heartbeats are meant for Study.optimize)
        chose, _lost = study.ask(), study.ask()
    chose.suggest_float("x", 0, 1)
    assert storage._get_stale_trial_ids(study._study_id) == []  # (first seen with no beat now)
    later = time.monotonic() + FIRST_BEAT_WAIT + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    optuna.storages.fail_stale_trials(study)
    reasons = [t.user_attrs.get("fail_reason") for t in study.trials]
    assert reasons[:2] == [STALE_REASON, STALE_UNCHOSEN]
    assert [t.user_attrs[FAILURE_ATTR] for t in study.trials[:2]] == ["cut off"] * 2
    waiting = [t for t in study.trials if t.state == TrialState.WAITING]
    assert [t.params for t in waiting] == [{"x": chose.params["x"]}]
    assert progress(study, pending=True) == (0, 0)  # (the retry waits; no slot held for none)


def test_a_trial_lost_before_it_chose_a_parameter_is_the_runs_bookkeeping() -> None:
    """Failed as lost before its sampler chose anything, it was counted as the task's failure
    (the run's summary, its report's failure groups, results.csv's ``failure``), though the
    task never ran: its worker died or lost the database."""
    from hyperlab.lab.heartbeat import STALE_UNCHOSEN
    from hyperlab.lab.trial_kinds import failed_trials, failure_kind

    study = optuna.create_study()
    study.add_trial(
        create_trial(
            state=TrialState.FAIL,
            params={},
            distributions={},
            user_attrs={"fail_reason": STALE_UNCHOSEN},
        )
    )
    (lost,) = study.trials
    assert failure_kind(lost) == "cut off" and is_interrupted(lost)
    assert failed_trials(study) == 0 and failed_trials(study, interrupted=True) == 1


def test_a_cut_off_trial_with_no_parameter_holds_no_slot_for_a_retry() -> None:
    """No retry is ever queued for a trial that had no parameter (``requeue`` refuses it), so
    its slot was held for nothing for a minute: the other workers waited instead of running a
    fresh trial in its place."""
    study = optuna.create_study()
    reason = "interrupted by SIGINT mid-trial; its parameters are queued again"
    study.add_trial(
        create_trial(
            state=TrialState.FAIL, params={}, distributions={}, user_attrs={"fail_reason": reason}
        )
    )
    assert is_interrupted(study.trials[0])
    assert progress(study, pending=True) == (0, 0)
