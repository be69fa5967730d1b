"""Crash recovery: killed workers' trials are failed with a reason and re-run; Ctrl-C resumes."""

from __future__ import annotations

import functools
import os
import random
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hyperlab.lab.admission import process_of
from hyperlab.lab.heartbeat import STALE_REASON
from hyperlab.lab.runner import StudyJob
from hyperlab.lab.storage import open_storage
from hyperlab.lab.trial_kinds import SURPLUS_REASON
from hyperlab.lab.workers import create_studies, run_worker
from hyperlab.testing.tasks import SLEEP_BRANIN

from .helpers import fork, wait_for


def _job(url: str, trials: int, seconds: float) -> StudyJob:
    return StudyJob(
        "faults:tpe:none:seed0",
        url,
        SLEEP_BRANIN,
        "tpe",
        "none",
        0,
        trials,
        task_options={"seconds": seconds},
        heartbeat_interval=1,
        grace_period=3,
    )


@functools.lru_cache(maxsize=4)
def _storage(url: str) -> optuna.storages.BaseStorage:
    return open_storage(url)


def _trials(url: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="faults:tpe:none:seed0", storage=_storage(url))
    return study.get_trials(deepcopy=False)


def _running_in(url: str, pids: set[int]) -> dict[int, int]:
    """``{pid: trial number}`` of the running trials (that are past their claim) of ``pids``."""
    out = {}
    for t in _trials(url):
        pid = int((process_of(t) or ":0").rsplit(":", 1)[1])
        if t.state == TrialState.RUNNING and pid in pids and "seed" in t.user_attrs:
            out[pid] = t.number
    return out


@pytest.mark.slow
def test_kill_9_workers_mid_trial(storage_url: str) -> None:
    # fewer on PostgreSQL, where each trial costs ~1 s of round trips on this shared machine
    trials, kills = (15, 3) if storage_url.startswith("journal:") else (8, 1)
    create_studies([_job(storage_url, trials, seconds=0.5)])
    kw = {"storage": storage_url, "name": "faults", "poll": 0.2}
    procs = [fork(run_worker, worker_name=f"w{i}", **kw) for i in range(3)]
    rng = random.Random(0)
    victims: list[int] = []
    for k in range(kills):
        pids = {p.pid for p in procs}
        snapshot: dict[int, int] = {}

        def any_busy(pids: set[int] = pids, snapshot: dict[int, int] = snapshot) -> bool:
            snapshot.clear()
            snapshot.update(_running_in(storage_url, pids))
            return len(snapshot) >= 1

        wait_for(any_busy, timeout=60, poll=0.1)
        pid, number = rng.choice(sorted(snapshot.items()))
        os.kill(pid, signal.SIGKILL)  # inside the 0.5 s sleep of trial `number`
        victim = next(p for p in procs if p.pid == pid)
        victim.join()
        procs.remove(victim)
        victims.append(number)
        procs.append(fork(run_worker, worker_name=f"r{k}", **kw))  # the process manager restarts
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    all_trials = _trials(storage_url)
    for t in all_trials:  # shown when an assertion fails
        print(
            t.number,
            t.state.name,
            t.datetime_start,
            t.datetime_complete,
            t.user_attrs.get("worker"),
            t.user_attrs.get("fail_reason", ""),
            t.system_attrs.get("retry_history"),
        )
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    failed = [
        t
        for t in all_trials
        if t.state == TrialState.FAIL and t.user_attrs.get("fail_reason") != SURPLUS_REASON
    ]
    assert len(complete) == trials  # nothing lost, nothing counted twice
    assert not [t for t in all_trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert sorted(t.number for t in failed) == sorted(victims)  # just the killed trials
    assert all(t.user_attrs.get("fail_reason") == STALE_REASON for t in failed)
    by_number = {t.number: t for t in all_trials}
    for t in failed:
        # its retry (or, if the retry lost a claim race, the retry's retry) completed
        retries = [r for r in all_trials if r.system_attrs.get("failed_trial") == t.number]
        assert retries, f"trial {t.number} was not retried"
        assert all(r.params == by_number[t.number].params for r in retries)  # same configuration
        assert [r.state for r in retries].count(TrialState.COMPLETE) == 1
    assert sorted(by_number) == list(range(len(all_trials)))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.slow
def test_signal_fails_trial_cleanly_and_restart_resumes(tmp_path: Path, sig: int) -> None:
    url = f"journal:{tmp_path / 'study.journal'}"
    create_studies([_job(url, 3, seconds=2.0)])
    proc = fork(run_worker, storage=url, name="faults", worker_name="a")
    # past its claim (the trial has its seed), so inside the objective's 2 s sleep
    wait_for(lambda: proc.pid in _running_in(url, {proc.pid}), timeout=60)
    time.sleep(0.2)
    os.kill(proc.pid, sig)
    proc.join(30)
    assert proc.exitcode == 130  # left through KeyboardInterrupt, at once
    first = _trials(url)
    assert [t.state for t in first] == [TrialState.FAIL, TrialState.WAITING]
    assert "interrupted by" in first[0].user_attrs["fail_reason"]
    assert first[1].params == first[0].params  # queued again with the same parameters
    # restart: the queued configuration runs first, then the rest
    proc = fork(run_worker, storage=url, name="faults", worker_name="b")
    proc.join(60)
    assert proc.exitcode == 0
    final = _trials(url)
    complete = [t for t in final if t.state == TrialState.COMPLETE]
    assert len(complete) == 3
    assert final[1].state == TrialState.COMPLETE and final[1].params == first[0].params


def test_a_task_that_does_not_wait_fails_a_lost_trial_holding_the_last_slot(
    tmp_path: Path,
) -> None:
    """A Dask task (one trial, no waiting) that found the study's last slot held by a trial
    of a killed worker left without failing it: a ``--dask`` run resumed after a ``kill -9`` of
    its main process sent such tasks for ever, and the study never finished."""
    from hyperlab.lab.heartbeat import beats_folder
    from hyperlab.lab.runner import run_job

    url = f"journal:{tmp_path / 'study.journal'}"
    job = StudyJob(
        "lost:random:none:seed0",
        url,
        "branin",
        "random",
        "none",
        0,
        3,
        heartbeat_interval=1,
        grace_period=3,
    )
    create_studies([job])
    study = run_job(job, owner=False, max_trials=2)
    done = study.trials[0]
    with pytest.warns(UserWarning, match="Heartbeat"):  # (Optuna: heartbeats outside optimize)
        lost = study.ask(done.distributions)  # its worker was killed: its heartbeat file is old
    old = time.time() - 60
    os.utime(beats_folder(tmp_path / "study.journal") / str(lost._trial_id), (old, old))
    study = run_job(job, owner=False, wait=False, max_trials=1)  # as a Dask task runs
    trials = study.get_trials(deepcopy=False)
    assert trials[lost.number].state == TrialState.FAIL
    assert trials[lost.number].user_attrs["fail_reason"] == STALE_REASON
    assert sorted(t.state.name for t in trials) == ["COMPLETE"] * 3 + ["FAIL"]
    assert trials[-1].params == trials[lost.number].params  # its parameters, run again
