"""A tuner that raises while choosing a trial's parameters: the failed trial is the tuner's
failure (``failure=tuner``), not the task's, in results.csv, the summary and the report."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

import hyperlab
from hyperlab.cli.compare import print_summary
from hyperlab.errors import FAILURE_ATTR
from hyperlab.lab.admission import Claimed
from hyperlab.lab.cut_off import fail_interrupted
from hyperlab.lab.results import study_records
from hyperlab.lab.summary import PRUNER_FAILED, TUNER_FAILED, state_counts
from hyperlab.lab.trial_loop import run_trial
from hyperlab.report import compare_records
from hyperlab.report.comparison_html import render_compare
from hyperlab.space import SpaceEncoder
from hyperlab.stops import stopped_by_failures
from hyperlab.tasks.base import EpochCallback, Evaluation, Task
from hyperlab.tuners.failed_trials import FailedTrials, as_worst, is_failure
from hyperlab.tuners.peers.hyperopt import HyperoptSampler


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    if trial.number == 1:
        raise RuntimeError("the model broke")  # the task's own failure
    return x * x


def _rows(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run / "results.csv").open()))


def test_a_peer_that_raises_in_its_ask_fails_the_trial_as_the_tuners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A peer raising in its ask was counted as the task's failure: the user's model read as
    broken where the tuner was."""
    ask = HyperoptSampler._ask

    def flaky_ask(self: HyperoptSampler) -> Any:
        if len(self._told) == 2:
            raise RuntimeError("the peer broke")
        return ask(self)

    monkeypatch.setattr(HyperoptSampler, "_ask", flaky_ask)
    hyperlab.compare(
        _objective, ["hyperopt-tpe"], seeds=1, trials=3, runs_dir=tmp_path, name="c",
        tuner_options={"n_startup_jobs": 1}, progress=False,
    )  # fmt: skip
    failed = {r["trial"]: r for r in _rows(tmp_path / "c") if r["state"] == "FAIL"}
    assert failed["1"]["failure"] == "task"
    assert failed["2"]["failure"] == "tuner"
    assert "the peer broke" in failed["2"]["fail_reason"]
    (method,) = compare_records(tmp_path / "c").methods
    assert (method.n_failed, method.n_tuner_failed) == (1, 1)
    page = render_compare(compare_records(tmp_path / "c"))
    assert "failed in the tuner" in page
    assert "in the tuner, choosing the parameters: RuntimeError: the peer broke" in page
    print_summary(tmp_path / "c")
    out = capsys.readouterr().out
    assert "hyperopt-tpe: 1 trial failed over its seeds" in out
    assert "hyperopt-tpe: 1 trial failed in the tuner" in out


class _Raises(optuna.samplers.RandomSampler):
    """Raises choosing trial 1 of a run (not of the throwaway study that reads the space)."""

    def sample_independent(self, study: Any, trial: Any, *args: Any) -> Any:
        throwaway = isinstance(study._storage, optuna.storages.InMemoryStorage)
        if trial.number == 1 and not throwaway:
            raise ValueError("the sampler broke")
        return super().sample_independent(study, trial, *args)


class _Small(Task):
    name = "small"
    max_budget = 1

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0, 1)}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        return Evaluation(value=config["x"], budget=budget)


def test_a_sampler_raising_on_a_tasks_search_space_is_the_tuners_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Optuna sampler raising while a Task's search space was suggested failed the trial as
    the task's, with no reason recorded."""
    monkeypatch.setattr(optuna.samplers, "RandomSampler", _Raises)
    study, summary = hyperlab.tune(
        _Small, "random", trials=2, runs_dir=tmp_path, name="t", progress=False
    )
    failed = [r for r in study_records(study) if r["state"] == "FAIL"]  # results.csv's rows
    assert failed and {r["failure"] for r in failed} == {"tuner"}
    assert all("ValueError: the sampler broke" in r["fail_reason"] for r in failed)
    assert state_counts(study)[TUNER_FAILED] == len(failed) and summary.n_failed == 0
    assert f"{len(failed)} trial failed in the tuner" in "\n".join(summary.lines())


class _RaisesBefore(optuna.samplers.RandomSampler):
    """Its ``before_trial`` (called in ``study.ask``, before the objective) raises on the
    run's trials numbered in ``broken`` (not on the throwaway study that reads the space)."""

    broken: frozenset[int] = frozenset({1})

    def before_trial(self, study: Any, trial: Any) -> None:
        throwaway = isinstance(study._storage, optuna.storages.InMemoryStorage)
        if trial.number in self.broken and not throwaway:
            raise ValueError("before_trial broke")
        super().before_trial(study, trial)


def test_a_sampler_raising_in_before_trial_fails_the_trial_as_the_tuners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sampler's before_trial raising escaped the run (a bare ValueError) and left its trial
    RUNNING in the storage for ever."""
    monkeypatch.setattr(optuna.samplers, "RandomSampler", _RaisesBefore)
    study, summary = hyperlab.tune(
        _Small, "random", trials=2, runs_dir=tmp_path, name="t", progress=False
    )
    states = [t.state for t in study.get_trials()]
    assert TrialState.RUNNING not in states and states.count(TrialState.COMPLETE) == 2
    (failed,) = [r for r in study_records(study) if r["state"] == "FAIL"]  # results.csv's row
    assert failed["trial"] == 1 and failed["failure"] == "tuner"
    assert "ValueError: before_trial broke" in failed["fail_reason"]
    assert study.trials[1].user_attrs[FAILURE_ATTR] == "tuner"  # (as the tuners read it)
    assert state_counts(study)[TUNER_FAILED] == 1 and summary.n_failed == 0
    assert "1 trial failed in the tuner" in "\n".join(summary.lines())


def test_a_sampler_whose_before_trial_always_raises_stops_at_the_failure_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tuner's failures count towards the limit on failed trials (max(10, trials))."""
    monkeypatch.setattr(_RaisesBefore, "broken", frozenset(range(1, 100)))
    monkeypatch.setattr(optuna.samplers, "RandomSampler", _RaisesBefore)
    study, summary = hyperlab.tune(
        _Small, "random", trials=2, runs_dir=tmp_path, name="t", progress=False
    )
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.COMPLETE] + [TrialState.FAIL] * 10
    assert summary.n_failed == 0 and summary.n_tuner_failed == 10
    assert "stopped after 10 failed trials" in summary.stopped


class _RaisesBeforeRetry(optuna.samplers.RandomSampler):
    """Its ``before_trial`` raises on the first queued retry of a trial cut off."""

    def before_trial(self, study: Any, trial: Any) -> None:
        retried = trial.system_attrs.get("retry_history")
        if retried == [1] and not isinstance(study._storage, optuna.storages.InMemoryStorage):
            raise ValueError("before_trial broke on a retry")
        super().before_trial(study, trial)


def test_a_retry_its_tuner_fails_before_it_runs_is_queued_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queued retry (a trial cut off by Ctrl-C) whose tuner raised in before_trial was failed
    as the tuner's and never queued again: the cut-off configuration silently never ran."""
    monkeypatch.setattr(optuna.samplers, "RandomSampler", _RaisesBeforeRetry)
    cut = []

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number == 1 and not cut:
            cut.append(x)
            raise KeyboardInterrupt
        return x

    options: dict[str, Any] = {"runs_dir": tmp_path, "name": "t", "progress": False}
    with pytest.raises(KeyboardInterrupt):
        hyperlab.tune(objective, "random", trials=3, **options)
    study, summary = hyperlab.tune(objective, "random", trials=3, **options)
    trials = study.get_trials()
    failed = trials[2]  # the retry of trial 1, failed in the tuner
    assert failed.state == TrialState.FAIL and failed.params == {"x": cut[0]}
    assert "ValueError: before_trial broke on a retry" in failed.user_attrs["fail_reason"]
    assert failed.user_attrs["fail_reason"].endswith("its parameters are queued again")
    ran = [t for t in trials if t.state == TrialState.COMPLETE and t.params == {"x": cut[0]}]
    assert len(ran) == 1 and ran[0].system_attrs["retry_history"] == [1, 2]
    assert summary.n_tuner_failed == 1 and summary.n_failed == 0


class _RaisesOnQueued(optuna.samplers.RandomSampler):
    """Its ``before_trial`` raises on the next ``failures`` queued trials it is asked for."""

    failures = 0

    def before_trial(self, study: Any, trial: Any) -> None:
        if trial.params and self.failures > 0:
            self.failures -= 1
            raise ValueError("before_trial broke on a queued trial")
        super().before_trial(study, trial)


def _cut_off(study: optuna.Study, how: str, clock: list[float]) -> None:
    """Run the next trial (the queued one) and cut it off: its worker killed, or lost (no
    heartbeat)."""
    import warnings

    from hyperlab.lab.heartbeat import FIRST_BEAT_WAIT

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (Optuna: heartbeats are meant for Study.optimize)
        trial = study.ask({"x": _X["x"]})
    if how == "killed":
        trial.set_user_attr("worker", "host:1")
        fail_interrupted(study, "host:1", "its worker process was killed", max_retry=3)
        return
    study._storage._get_stale_trial_ids(study._study_id)  # (first seen with no beat now)
    clock[0] += FIRST_BEAT_WAIT + 1
    optuna.storages.fail_stale_trials(study)


@pytest.mark.parametrize("how", ["killed", "stale"])
def test_a_retry_its_tuner_failed_still_gets_three_cut_offs(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each queuing again after a tuner's failure (before_trial raising on a queued retry)
    counted as a retry: the configuration was dropped after fewer than three cut-offs, and the
    reason said "retried 3 times" after one."""
    import time

    from hyperlab.lab.admission import Claimed
    from hyperlab.lab.heartbeat import STALE_FINAL
    from hyperlab.lab.storage import open_storage
    from hyperlab.lab.trial_loop import _run_one

    clock = [time.monotonic()]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=2)
    sampler = _RaisesOnQueued(seed=0)
    study = optuna.create_study(storage=storage, study_name="s", sampler=sampler)
    _cut_off(study, how, clock)  # the first cut-off: queued again
    sampler.failures = 2
    func = Claimed(lambda trial: trial.suggest_float("x", 0.0, 1.0), target=1)
    _run_one(study, func)
    _run_one(study, func)  # the tuner failed the queued retry twice: queued again each time
    (queued,) = study.get_trials(states=(TrialState.WAITING,))
    assert queued.system_attrs["retry_history"] == [0, 1, 2]
    for _ in range(3):  # three more cut-offs: the last is not queued again
        _cut_off(study, how, clock)
    trials = study.get_trials()
    assert [t.params for t in trials] == [trials[0].params] * 6
    assert not study.get_trials(states=(TrialState.WAITING,))  # not queued a fourth time
    reasons = [t.user_attrs["fail_reason"] for t in trials]
    final = STALE_FINAL.format(n=3) if how == "stale" else "; not re-queued (retried 3 times)"
    assert reasons[-1].endswith(final)
    assert not any("not re-queued" in r for r in reasons[:-1])


def test_enqueued_parameters_their_tuner_fails_before_they_run_are_enqueued_again() -> None:
    """Parameters enqueued with study.enqueue_trial, failed by the tuner before they ran, are
    enqueued again as they were."""
    from hyperlab.lab.admission import Claimed
    from hyperlab.lab.trial_loop import _run_one

    class _RaisesOnce(optuna.samplers.RandomSampler):
        def before_trial(self, study: Any, trial: Any) -> None:
            if trial.number == 0:
                raise ValueError("before_trial broke")

    study = optuna.create_study(sampler=_RaisesOnce(seed=0))
    study.enqueue_trial({"x": 0.25}, user_attrs={"why": "a guess"})
    func = Claimed(lambda trial: trial.suggest_float("x", 0.0, 1.0), target=1)
    _run_one(study, func)
    _run_one(study, func)
    first, second = study.get_trials()
    assert first.state == TrialState.FAIL and "queued again" in first.user_attrs["fail_reason"]
    assert second.state == TrialState.COMPLETE and second.params == {"x": 0.25}
    assert second.user_attrs["why"] == "a guess"


class _RaisesPruning(optuna.pruners.MedianPruner):
    """Raises deciding whether to stop trial 1."""

    def prune(self, study: Any, trial: Any) -> bool:
        if trial.number == 1:
            raise ValueError("the pruner broke")
        return bool(super().prune(study, trial))


class _Epochs(_Small):
    name = "epochs"
    max_budget = 3

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        for epoch in range(1, budget + 1):
            if on_epoch is not None:
                on_epoch(epoch, config["x"], {"val_loss": [config["x"]] * epoch})
        return Evaluation(value=config["x"], budget=budget)


def test_a_pruner_that_raises_fails_the_trial_as_the_pruners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pruner raising in should_prune was counted as the task's failure (failure=task)."""
    monkeypatch.setattr(optuna.pruners, "MedianPruner", _RaisesPruning)
    study, summary = hyperlab.tune(
        _Epochs, "random", pruner="median", trials=6, runs_dir=tmp_path, name="t",
        progress=False,
    )  # fmt: skip
    (failed,) = [r for r in study_records(study) if r["state"] == "FAIL"]  # results.csv's row
    assert failed["trial"] == 1 and failed["failure"] == "pruner"
    assert "ValueError: the pruner broke" in failed["fail_reason"]
    assert state_counts(study)[PRUNER_FAILED] == 1 and summary.n_failed == 0
    assert "1 trial failed in the pruner" in "\n".join(summary.lines())
    page = (tmp_path / "t" / "report.html").read_text()
    assert "in the pruner, deciding whether to stop: ValueError: the pruner broke" in page


class _RaisesAfter(optuna.samplers.RandomSampler):
    """Its ``after_trial`` (called in ``tell``, once the trial's result is in) raises on the
    run's trials numbered in ``broken`` (not on the throwaway study that reads the space)."""

    broken: frozenset[int] = frozenset({1})

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        throwaway = isinstance(study._storage, optuna.storages.InMemoryStorage)
        if trial.number in self.broken and not throwaway:
            raise RuntimeError("after_trial broke")
        super().after_trial(study, trial, state, values)


def test_a_finished_trial_whose_tuner_raises_taking_it_in_keeps_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sampler's after_trial raising ended the run with a traceback (the trial stored as
    complete first); the error is now the tuner's, recorded on the trial, which keeps its
    value, and the run goes on."""
    monkeypatch.setattr(_RaisesAfter, "broken", frozenset({0}))
    monkeypatch.setattr(optuna.samplers, "RandomSampler", _RaisesAfter)
    hyperlab.compare(
        _objective, ["random"], seeds=1, trials=3, runs_dir=tmp_path, name="c", progress=False
    )
    rows = {r["trial"]: r for r in _rows(tmp_path / "c")}
    assert rows["0"]["state"] == "COMPLETE" and float(rows["0"]["value"]) >= 0
    assert rows["0"]["failure"] == "tuner"
    assert "RuntimeError: after_trial broke" in rows["0"]["fail_reason"]
    assert [r["state"] for r in rows.values()].count("COMPLETE") == 3
    (method,) = compare_records(tmp_path / "c").methods
    assert (method.n_failed, method.n_tuner_failed, method.n_tuner_after) == (1, 0, 1)
    page = render_compare(compare_records(tmp_path / "c"))
    assert "in the tuner, taking in the finished trial (its value kept): RuntimeError" in page
    print_summary(tmp_path / "c")
    assert "random: the tuner raised taking in the result of 1 finished trial" in (
        capsys.readouterr().out
    )


def test_a_sampler_whose_after_trial_always_raises_stops_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its trials finish (the failure limit, max(10, trials), would come only with the last):
    the study stops once the tuner raised taking in 10 trials in a row, their values kept."""
    monkeypatch.setattr(_RaisesAfter, "broken", frozenset(range(100)))
    monkeypatch.setattr(optuna.samplers, "RandomSampler", _RaisesAfter)
    study, summary = hyperlab.tune(
        _Small, "random", trials=12, runs_dir=tmp_path, name="t", progress=False
    )
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 10
    assert summary.n_tuner_after == 10 and summary.n_failed == summary.n_tuner_failed == 0
    assert summary.stopped is not None
    assert "its tuner raised taking in the results of 10 trials in a row" in summary.stopped
    assert "the last: RuntimeError: after_trial broke" in summary.stopped
    assert stopped_by_failures(study)


@pytest.mark.parametrize("queued", ["retry", "enqueued"])
def test_a_queued_trial_its_tuner_fails_holds_its_slot_until_queued_again(
    queued: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between its FAIL and its queuing again, a waiting worker saw the slot free and started
    a fresh trial there: the study then had its trials, and the one queued again never ran."""
    from hyperlab.lab.admission import Claimed
    from hyperlab.lab.trial_kinds import progress
    from hyperlab.lab.trial_loop import _run_one

    class _RaisesOnce(optuna.samplers.RandomSampler):
        def before_trial(self, study: Any, trial: Any) -> None:
            if trial.number == 1:
                raise ValueError("before_trial broke")

    study = optuna.create_study(sampler=_RaisesOnce(seed=0))
    study.add_trial(optuna.trial.create_trial(value=0.5, params={"x": 0.5}, distributions=_X))
    if queued == "retry":
        retry = optuna.trial.create_trial(
            state=TrialState.WAITING, params={"x": 0.25}, distributions=_X,
            system_attrs={"failed_trial": 0, "retry_history": [0]},
        )  # fmt: skip
        study.add_trial(retry)
    else:
        study.enqueue_trial({"x": 0.25})
    seen = []  # the claimed trials a waiting worker sees as the trial is queued again
    add = optuna.Study.add_trial

    def spied(self: optuna.Study, trial: Any) -> None:
        seen.append(progress(self, pending=True))
        add(self, trial)

    monkeypatch.setattr(optuna.Study, "add_trial", spied)
    _run_one(study, Claimed(lambda trial: trial.suggest_float("x", 0.0, 1.0), target=2))
    assert seen == [(1, 2)]  # its slot still held: no fresh trial takes it
    assert progress(study, pending=True) == (1, 1)  # the slot now the queued trial's
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].system_attrs["retry_history"][-1] == 1


_X = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}


class _RaisesAfterFailed(optuna.samplers.RandomSampler):
    """Its ``after_trial`` raises taking in a failed trial."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        if state == TrialState.FAIL:
            raise RuntimeError("after_trial broke on a failed trial")
        super().after_trial(study, trial, state, values)


def test_a_failed_trial_its_tuner_raises_taking_in_keeps_no_traceback_of_the_tuners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial failed with no traceback (a NaN score) was given the tuner's after_trial
    traceback, which the report showed under the trial's own reason."""
    from hyperlab.report.failures import failure_groups

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        return math.nan if trial.number == 1 else x

    monkeypatch.setattr(optuna.samplers, "RandomSampler", _RaisesAfterFailed)
    study, _ = hyperlab.tune(
        objective, "random", trials=3, runs_dir=tmp_path, name="t", progress=False
    )
    (group,) = failure_groups(study.get_trials())
    assert group.trials == [1] and group.reason == "objective returned nan"
    assert "after_trial broke" not in group.traceback


def _reports(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    trial.report(x, 1)
    trial.should_prune()  # (the pruner raises on trial 1)
    if trial.number == 0:
        raise RuntimeError("the model broke")  # the task's own failure
    return x


def test_a_tuner_reads_only_the_tasks_own_failures_as_the_worst_score() -> None:
    """meta, neural and diagnosis read every failed trial as its configuration's failure, at
    the worst score so far: a trial failed by the pruner, or cut off (its parameters queued
    again), steered them away from a configuration that had done nothing wrong."""
    study = optuna.create_study(pruner=_RaisesPruning())
    for _ in range(3):  # the task fails trial 0, the pruner trial 1; trial 2 scores
        run_trial(study, Claimed(_reports, target=10))
    cut = study.ask({"x": FloatDistribution(0, 1)})
    cut.set_user_attr("worker", "host:1")
    assert fail_interrupted(study, "host:1", "its worker process was killed (signal 9)") == 1
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert [t.user_attrs.get(FAILURE_ATTR) for t in failed] == ["task", "pruner", "cut off"]
    assert [is_failure(t) for t in failed] == [True, False, False]
    enc = SpaceEncoder({"x": FloatDistribution(0, 1)})
    points = FailedTrials().points(study, study.ask(), enc)
    assert np.allclose(points, enc.encode([failed[0].params]))  # the task's failure alone
    scored = study.trials[2]
    x, y = as_worst(enc.encode([scored.params]), np.array([scored.value]), points, [])
    assert x.shape == (2, 1) and y.tolist() == [scored.value] * 2  # one row at the worst score
