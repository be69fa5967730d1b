"""Objectives that raise, return NaN, or diverge: failed with a reason, the study goes on."""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import hyperlab
from hyperlab.errors import InputError, NoCompletedTrialError
from hyperlab.lab.objective import TaskObjective
from hyperlab.tasks.base import EpochCallback, Evaluation, Task


def flaky(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1, 1)
    if trial.number == 1:
        raise RuntimeError("boom in user code")
    if trial.number == 2:
        return float("nan")
    return x**2


def test_failures_are_recorded_and_study_goes_on(tmp_path: Path) -> None:
    study, summary = hyperlab.tune(
        flaky, "random", trials=4, runs_dir=tmp_path, name="f", progress=False
    )
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 2
    assert len([s for s in states if s == TrialState.COMPLETE]) == 4
    reasons = [
        t.user_attrs.get("fail_reason", "") for t in study.trials if t.state == TrialState.FAIL
    ]
    assert any("boom in user code" in r for r in reasons)
    assert any("nan" in r for r in reasons)
    assert summary.n_trials == 4


def always_fails(trial: optuna.Trial) -> float:
    trial.suggest_float("x", 0, 1)
    raise ValueError("never works")


def test_objective_that_always_fails_stops(tmp_path: Path) -> None:
    study = optuna.create_study()
    del study
    try:
        hyperlab.tune(always_fails, "random", trials=2, runs_dir=tmp_path, name="a", progress=False)
    except NoCompletedTrialError as exc:
        assert "no completed trial (" in str(exc) and " failed" in str(exc)  # how each ended
        assert "?" not in str(exc).split(";")[0]
        assert (tmp_path / "a" / "report.html").is_file()  # the page of its failures is kept
    else:
        raise AssertionError("expected an error")


def fails_but_near_minus_one(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1, 1)
    if x > -0.9:
        raise ValueError("bad region")
    return x * x


def test_a_stop_for_failures_says_it_counted_one_process_of_this_run(tmp_path: Path) -> None:
    """A resumed run counts its failures afresh: its page said "stopped after 10 failed
    trials" beside "20 failed" with nothing to tell the two counts apart."""
    from hyperlab.lab.rundir import load_studies
    from hyperlab.report import study_report_records

    for _ in range(2):  # (the first ends with no completed trial)
        with contextlib.suppress(NoCompletedTrialError):
            hyperlab.tune(
                fails_but_near_minus_one, "random", trials=4, runs_dir=tmp_path, name="r",
                progress=False,
            )  # fmt: skip
    rec = study_report_records(load_studies(tmp_path / "r")[0][0])
    assert rec.counts["failed"] == 20
    assert rec.stopped == "stopped after 10 failed trials in a process of this run"


def _interrupted_at_the_third_call() -> Any:
    """An objective ``x ** 2`` whose third call is cut off by Ctrl-C."""
    calls = {"n": 0}

    def interrupt_once(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return x**2

    return interrupt_once


def test_interrupted_trial_is_failed_and_resumed(tmp_path: Path) -> None:
    interrupt_once = _interrupted_at_the_third_call()

    try:
        hyperlab.tune(
            interrupt_once, "random", trials=5, runs_dir=tmp_path, name="i", progress=False
        )
    except KeyboardInterrupt:
        pass
    study, _summary = hyperlab.tune(
        interrupt_once, "random", trials=5, runs_dir=tmp_path, name="i", progress=False
    )
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 5
    assert len([t for t in study.trials if t.state == TrialState.FAIL]) == 1
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    # it is not the task's failure: the summary counted it as one, and the report listed it
    assert _summary.n_failed == 0 and _summary.n_interrupted == 1
    assert "1 trial cut off by an interrupt or a lost worker (not counted as failed" in "\n".join(
        _summary.lines()
    )
    page = (tmp_path / "i" / "report.html").read_text()
    assert "Failed trials" not in page and "1 cut off and run again" in page


def test_interrupt_is_not_lost_when_telling_the_failed_trial_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C in the objective leaves even if the storage then refuses the failed trial."""
    from hyperlab.lab.admission import Claimed
    from hyperlab.lab.trial_loop import _run_one

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        raise KeyboardInterrupt("SIGTERM")

    study = optuna.create_study()
    func = Claimed(objective, 5)

    def refuse(*args: object, **kwargs: object) -> bool:
        raise optuna.exceptions.UpdateFinishedTrialError("failed as stale elsewhere")

    monkeypatch.setattr(study._storage, "set_trial_state_values", refuse)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        _run_one(study, func)


def returns_numpy_numbers(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1, 1)
    odd: dict[int, object] = {1: np.float32(0.25), 2: np.int64(3)}
    return odd.get(trial.number, x**2)  # type: ignore[return-value]


def test_numpy_numbers_are_numbers(tmp_path: Path) -> None:
    study, _summary = hyperlab.tune(
        returns_numpy_numbers, "random", trials=3, runs_dir=tmp_path, name="o", progress=False
    )
    assert [t.value for t in study.trials][1:] == [0.25, 3.0]


@pytest.mark.parametrize(
    ("odd", "shown"),
    [
        ("0.5", "'0.5' of type str"),
        (True, "True of type bool"),
        (None, "None of type NoneType"),
        ([0.5], "[0.5] of type list"),
        ((0.5, "adam"), "(0.5, 'adam') of type tuple"),  # not the scores of several objectives
    ],
)
def test_an_objective_that_returns_no_number_stops_the_run_at_that_trial(
    tmp_path: Path, odd: object, shown: str
) -> None:
    """Such a value failed its trial and the run went on, failing trial after trial alike
    (a bug in the objective's code) until max(10, trials) had failed (exit 1)."""
    from hyperlab.errors import ObjectiveContractError
    from hyperlab.lab.trial_kinds import is_bookkeeping

    def odd_on_trial_one(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        return odd if trial.number == 1 else x**2  # type: ignore[return-value]

    with pytest.raises(ObjectiveContractError) as info:
        hyperlab.tune(odd_on_trial_one, "random", trials=5, runs_dir=tmp_path, name="o")
    says = f"objective '{odd_on_trial_one.__qualname__}' returned {shown}, not a number (trial 1): "
    assert str(info.value).startswith(says) and isinstance(info.value, TypeError | InputError)
    assert "optimizes one score" not in str(info.value)  # said of several numbers alone
    storage = f"sqlite:///{tmp_path / 'o' / 'study.db'}"
    trials = optuna.load_study(study_name="o:random:none:seed0", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]  # the first kept
    assert trials[1].user_attrs["fail_reason"] == f"ObjectiveContractError: {info.value}"
    assert is_bookkeeping(trials[1])  # as for a task that breaks its contract


def exits_on_trial_one(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1, 1)
    if trial.number == 1:
        sys.exit(2)  # as argparse does when a training script meets arguments it does not know
    return x**2


def test_an_objective_that_calls_sys_exit_fails_its_trial_by_name(tmp_path: Path) -> None:
    """Before: the trial was left running and the whole run ended with exit code 2, no word."""
    study, summary = hyperlab.tune(
        exits_on_trial_one, "random", trials=3, runs_dir=tmp_path, name="x", progress=False
    )
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 1 and states.count(TrialState.COMPLETE) == 3
    reason = study.trials[1].user_attrs["fail_reason"]
    assert reason.startswith("the code of the trial called sys.exit(2) (at test_failures.py:")
    assert "in exits_on_trial_one)" in reason and "argparse" in reason
    assert summary.n_trials == 3


class _Exits(Task):
    name = "exits"
    max_budget = 1

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0, 1)}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        sys.exit("usage: train.py [-h]")


def test_a_task_that_calls_sys_exit_fails_its_trial_by_name() -> None:
    study = optuna.create_study()
    study.optimize(TaskObjective(_Exits()), n_trials=1, catch=(Exception,))
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    assert "called sys.exit('usage: train.py [-h]')" in trial.user_attrs["fail_reason"]


class _SpaceFails(Task):
    """A task whose search space raises (a bug in the user's space, not in its training)."""

    name = "space-fails"
    max_budget = 1

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        x = trial.suggest_float("x", 0, 1)
        raise KeyError(f"no setting for x={x:.2f}")

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        raise AssertionError("never reached")


def test_a_task_whose_search_space_raises_fails_its_trial_with_the_reason() -> None:
    study = optuna.create_study()
    study.optimize(TaskObjective(_SpaceFails()), n_trials=1, catch=(Exception,))
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    assert "KeyError" in trial.user_attrs["fail_reason"]
    assert "no setting for x=" in trial.user_attrs["fail_reason"]
    assert "search_space" in trial.user_attrs["fail_traceback"]


ODD_SCORES: dict[str, object] = {"text": "0.5", "bool": False, "none": None, "nan": float("nan")}


class _OddScore(Task):
    """Scores trial 1 (told by the seed the lab hands it) with ``ODD_SCORES[odd]``: as its
    ``Evaluation.value`` (``at="value"``) or to ``on_epoch`` at epoch 1 (``at="epoch"``)."""

    name = "odd-score"
    max_budget = 2

    def __init__(self, odd: str = "text", at: str = "value", own: bool = False) -> None:
        self.odd, self.at, self.own = odd, at, own

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0, 1)}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        from hyperlab.lab.objective import trial_seed

        odd = seed == trial_seed(0, 1)
        for epoch in range(1, budget + 1):
            score = ODD_SCORES[self.odd] if odd and self.at == "epoch" else config["x"]
            if on_epoch is not None:
                on_epoch(epoch, score, {"val_loss": [config["x"]] * epoch})  # type: ignore[arg-type]
        value = ODD_SCORES[self.odd] if odd and self.at == "value" else config["x"]
        return Evaluation(value=value, budget=budget)  # type: ignore[arg-type]

    def evaluate(self, config: Any, budget: Any = None, seed: int = 0, on_epoch: Any = None) -> Any:
        if self.own:  # (``Task.evaluate``'s checks skipped)
            return self._evaluate(config, budget or self.max_budget, seed, on_epoch)
        return super().evaluate(config, budget, seed, on_epoch)


@pytest.mark.parametrize(
    ("odd", "at", "says"),
    [
        ("text", "value", "returned Evaluation.value '0.5' of type str, not a number"),
        ("bool", "value", "returned Evaluation.value False of type bool, not a number"),
        ("none", "value", "returned Evaluation.value None of type NoneType, not a number"),
        ("text", "epoch", "reported '0.5' of type str to on_epoch at epoch 1, not a number"),
        ("none", "epoch", "reported None of type NoneType to on_epoch at epoch 1, not a number"),
    ],
)
def test_a_task_score_that_is_not_a_number_stops_the_run_at_that_trial(
    tmp_path: Path, odd: str, at: str, says: str
) -> None:
    """Such a score failed its trial and the run went on, failing trial after trial alike (a
    mistake in the task's code) until max(10, trials) had failed (exit 1), as an objective's
    did."""
    from hyperlab.errors import TaskContractError
    from hyperlab.lab.trial_kinds import is_bookkeeping

    with pytest.raises(TaskContractError) as info:
        hyperlab.tune(
            _OddScore, "random", trials=5, task_options={"odd": odd, "at": at},
            runs_dir=tmp_path, name="s", progress=False,
        )  # fmt: skip
    message = str(info.value)
    stops = "the run stops here, its finished trials kept (fix the task and run the same command"
    assert message.startswith(f"task 'odd-score', trial 1: _OddScore._evaluate {says} (")
    assert message.endswith(f"; {stops} again to go on)")
    assert isinstance(info.value, TypeError | InputError)
    storage = f"sqlite:///{tmp_path / 's' / 'study.db'}"
    trials = optuna.load_study(study_name="s:random:none:seed0", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]  # the first kept
    assert trials[1].user_attrs["fail_reason"] == f"TaskContractError: {message}"
    assert "_evaluate" in trials[1].user_attrs["fail_traceback"]  # where the task gave it
    assert is_bookkeeping(trials[1])  # as for an objective that returns no number


@pytest.mark.parametrize("at", ["value", "epoch"])
def test_a_score_that_is_not_a_number_from_a_task_s_own_evaluate_names_that_method(
    tmp_path: Path, at: str
) -> None:
    """A score reported to ``on_epoch`` by a task's own ``evaluate`` was told as reported by
    its ``_evaluate`` (which such a task may never call), while a returned one named
    ``evaluate``."""
    from hyperlab.errors import TaskContractError

    with pytest.raises(TaskContractError) as info:
        hyperlab.tune(
            _OddScore, "random", trials=3, task_options={"odd": "text", "at": at, "own": True},
            runs_dir=tmp_path, name="s", progress=False,
        )  # fmt: skip
    assert str(info.value).startswith("task 'odd-score', trial 1: _OddScore.evaluate ")


@pytest.mark.parametrize(
    ("at", "says"), [("value", "non-finite score nan"), ("epoch", "non-finite validation loss nan")]
)
def test_a_task_score_that_is_nan_fails_only_its_trial(tmp_path: Path, at: str, says: str) -> None:
    """A diverged training is no mistake in the task's code: the run goes on."""
    study, summary = hyperlab.tune(
        _OddScore, "random", trials=4, task_options={"odd": "nan", "at": at},
        runs_dir=tmp_path, name="n", progress=False,
    )  # fmt: skip
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 4 and states[1] == TrialState.FAIL
    assert study.trials[1].user_attrs["fail_reason"].startswith(says)
    assert summary.n_failed == 1


ODD_SPREADS: dict[str, dict[str, Any]] = {
    "std_err text": {"std_err": "0.1"},
    "std_err negative": {"std_err": -0.25},
    "folds of text": {"fold_values": ["0.5", "0.4"]},
    "curve of mixed types": {"curves": {"val_loss": [0.5, None]}},
    "curve too long": {"curves": {"val_loss": [0.5, 0.4, 0.3]}},
    "curve named by a number": {"curves": {0: [0.5, 0.4]}},
    "std_err nan": {"std_err": float("nan")},
    "fold inf": {"fold_values": [0.5, float("inf")]},
    "budget past the asked, curves as long": {"budget": 5, "curves": {"val_loss": [0.5] * 5}},
    "budget past the asked": {"budget": 3},
    "budget of a float": {"budget": 2.0},
    "budget unset": {"budget": 0},
}


class _OddSpread(Task):
    """Gives trial 1 (told by the seed the lab hands it) the fields ``ODD_SPREADS[odd]`` in its
    ``Evaluation``; with ``own=True`` through an ``evaluate`` of its own (``Task.evaluate``'s
    checks skipped)."""

    name = "odd-spread"
    max_budget = 2

    def __init__(self, odd: str = "std_err text", own: bool = False) -> None:
        self.odd, self.own = odd, own

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0, 1)}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        from hyperlab.lab.objective import trial_seed

        odd = ODD_SPREADS[self.odd] if seed == trial_seed(0, 1) else {}
        fields = {"std_err": 0.1, "fold_values": [0.4, 0.6], "budget": budget, **odd}
        return Evaluation(value=config["x"], **fields)

    def evaluate(self, config: Any, budget: Any = None, seed: int = 0, on_epoch: Any = None) -> Any:
        if self.own:
            return self._evaluate(config, budget or self.max_budget, seed, on_epoch)
        return super().evaluate(config, budget, seed, on_epoch)


@pytest.mark.parametrize("own", [False, True])
@pytest.mark.parametrize(
    ("odd", "says"),
    [
        ("std_err text", "std_err '0.1' of type str, not a number (the standard error of value"),
        ("std_err negative", "std_err -0.25, a negative number (the standard error of value"),
        ("folds of text", "fold_values[0] '0.5' of type str, not a number (one score per fold)"),
        ("curve of mixed types", "curves['val_loss'][1] None of type NoneType, not a number ("),
        ("curve too long", "curves['val_loss'] of 3 points, more than the 2 epochs trained ("),
        ("curve named by a number", "curves key 0 of type int, not a curve's name (text, such"),
    ],
)
def test_an_evaluation_whose_std_err_folds_or_curves_are_not_numbers_stops_the_run(
    tmp_path: Path, odd: str, says: str, own: bool
) -> None:
    """They passed, were stored with a complete trial, and broke or misled what read them
    later (the leaderboard's statistics, the report, a tuner's noise model)."""
    message = _stopped_by(tmp_path, odd, own)
    method = "evaluate" if own else "_evaluate"  # (the method that answered)
    said = f"task 'odd-spread', trial 1: _OddSpread.{method} returned Evaluation.{says}"
    assert message.startswith(said) and "the run stops here, its finished trials kept" in message
    storage = f"sqlite:///{tmp_path / 's' / 'study.db'}"
    trials = optuna.load_study(study_name="s:random:none:seed0", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert trials[1].user_attrs["fail_reason"] == f"TaskContractError: {message}"


@pytest.mark.parametrize("own", [False, True])
@pytest.mark.parametrize(
    ("odd", "says"),
    [
        ("budget past the asked, curves as long", "budget 5 (int)"),
        ("budget past the asked", "budget 3 (int)"),
        ("budget of a float", "budget 2.0 (float)"),
    ],
)
def test_an_evaluation_that_reports_another_budget_than_asked_stops_the_run_saying_so(
    tmp_path: Path, odd: str, says: str, own: bool
) -> None:
    """Through a task's own ``evaluate``, a budget past the one asked for was told as curves
    too long (when they were as long as it said), or stored with a complete trial."""
    message = _stopped_by(tmp_path, odd, own)
    method = "evaluate" if own else "_evaluate"
    said = f"task 'odd-spread', trial 1: _OddSpread.{method} reported {says}: it must be the "
    assert message.startswith(said)
    assert "epochs it used, a whole number in 1..2 (the budget asked for), or 0 for" in message


@pytest.mark.parametrize("own", [False, True])
def test_an_evaluation_of_an_unset_budget_is_recorded_as_the_budget_asked(
    tmp_path: Path, own: bool
) -> None:
    """Through a task's own ``evaluate``, budget 0 (all of them) was stored as 0 epochs."""
    study, _ = hyperlab.tune(
        _OddSpread, "random", trials=2, task_options={"odd": "budget unset", "own": own},
        runs_dir=tmp_path, name="s", progress=False,
    )  # fmt: skip
    assert [t.user_attrs["budget"] for t in study.trials] == [2, 2]


@pytest.mark.parametrize(
    ("odd", "says"),
    [
        ("std_err nan", "non-finite std_err nan (the score's standard error over folds)"),
        ("fold inf", "non-finite fold_values [0.5, inf]"),
    ],
)
def test_an_evaluation_whose_std_err_or_a_fold_is_nan_fails_only_its_trial(
    tmp_path: Path, odd: str, says: str
) -> None:
    """A NaN std_err was stored with a complete trial (the statistics read it as no CV at
    all); like a NaN score, it fails its trial and the run goes on."""
    study, summary = hyperlab.tune(
        _OddSpread, "random", trials=4, task_options={"odd": odd},
        runs_dir=tmp_path, name="n", progress=False,
    )  # fmt: skip
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 4 and states[1] == TrialState.FAIL
    assert study.trials[1].user_attrs["fail_reason"] == says
    assert summary.n_failed == 1


def test_a_result_for_a_trial_another_worker_failed_is_recognized_as_such() -> None:
    """A worker too slow to beat finds its trial failed as stale elsewhere; Optuna's tell then
    refuses the result in its own words, which the loop must read as that case (and drop the
    result) rather than as an error that ends the worker."""
    from hyperlab.lab.trial_loop import _finished_elsewhere

    study = optuna.create_study()

    def failed_meanwhile(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        return 1.0

    with pytest.raises(Exception) as caught:
        study.optimize(failed_meanwhile, n_trials=1, catch=(Exception,))
    assert _finished_elsewhere(caught.value)
    assert not _finished_elsewhere(ValueError("some other problem"))


def _wrapped_refusal() -> BaseException:
    """A driver's refused connection as Optuna wraps it, and its tell hides it again."""
    from optuna.exceptions import StorageInternalError

    try:
        try:
            try:
                raise RuntimeError(
                    "(OperationalError) connection to server failed: Connection refused"
                )
            except RuntimeError as driver:
                raise StorageInternalError(
                    "An exception is raised during the commit. This typically happens due to "
                    "invalid data in the commit, e.g. exceeding max length."
                ) from driver
        except StorageInternalError:
            raise UnboundLocalError("cannot access local variable 'updated_state'")  # noqa: B904
    except UnboundLocalError as outer:
        return outer
    raise AssertionError("unreachable")


def test_a_storage_error_is_transient_however_deep_it_is_wrapped() -> None:
    from hyperlab.lab.storage import is_transient

    assert is_transient(_wrapped_refusal())
    assert not is_transient(UnboundLocalError("cannot access local variable 'x'"))


def test_a_worker_that_gives_up_on_the_storage_names_the_driver_s_reason() -> None:
    """Not Optuna's wrapper, which blames the data ("exceeding max length")."""
    from types import SimpleNamespace

    from hyperlab.errors import StorageError
    from hyperlab.lab.trial_loop import TrialLoop

    job = SimpleNamespace(storage="postgresql://u:topsecret@h/db", trials=1)
    loop = TrialLoop(None, job, None, retries=0)  # type: ignore[arg-type]
    with pytest.raises(StorageError) as info:
        loop._storage_error(_wrapped_refusal())  # type: ignore[arg-type]
    assert "Connection refused" in str(info.value)
    assert "max length" not in str(info.value)
    assert "topsecret" not in str(info.value)


def test_a_heartbeat_that_meets_a_transient_storage_error_skips_a_beat(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from optuna.storages import RDBStorage

    from hyperlab.lab.heartbeat import HeartbeatRDBStorage

    storage = HeartbeatRDBStorage(f"sqlite:///{tmp_path}/s.db", heartbeat_interval=1)

    def down(self: object, trial_id: int) -> None:
        raise _wrapped_refusal()

    monkeypatch.setattr(RDBStorage, "record_heartbeat", down)
    with caplog.at_level(logging.WARNING, logger="hyperlab.lab.heartbeat"):
        storage.record_heartbeat(0)  # skipped, not raised: Optuna's heartbeat thread lives on
    assert "Connection refused" in caplog.text and "max length" not in caplog.text

    def broken(self: object, trial_id: int) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(RDBStorage, "record_heartbeat", broken)
    with pytest.raises(KeyError):
        storage.record_heartbeat(0)


def test_a_skipped_heartbeat_names_its_trial_by_number(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the trial as everything else does, by its number (not its id),
    whether this process created the trial or claimed it queued by another."""
    from optuna.storages import RDBStorage

    from hyperlab.lab.heartbeat import HeartbeatRDBStorage

    url = f"sqlite:///{tmp_path}/s.db"
    other = optuna.create_study(study_name="other", storage=url)
    other.add_trial(optuna.trial.create_trial(value=1.0))  # ids and numbers now differ
    ours = HeartbeatRDBStorage(url, heartbeat_interval=1)
    study = optuna.create_study(study_name="s", storage=ours)
    asked = study.ask()  # this process created it: number 0, id 2
    optuna.load_study(study_name="s", storage=url).enqueue_trial({"x": 1.0})
    claimed = study.ask()  # queued by another process: number 1, id 3
    assert (asked.number, asked._trial_id, claimed.number, claimed._trial_id) == (0, 2, 1, 3)

    def down(self: object, trial_id: int) -> None:
        raise _wrapped_refusal()

    monkeypatch.setattr(RDBStorage, "record_heartbeat", down)
    with caplog.at_level(logging.WARNING, logger="hyperlab.lab.heartbeat"):
        ours.record_heartbeat(asked._trial_id)
        ours.record_heartbeat(claimed._trial_id)
    assert "heartbeat of trial 0 skipped" in caplog.text
    assert "heartbeat of trial 1 skipped" in caplog.text
    assert "trial 2" not in caplog.text and "trial 3" not in caplog.text


KILLS_ITSELF_ONCE = """
import os, signal
import html
import re
from pathlib import Path

def objective(trial):
    x = trial.suggest_float("x", -1, 1)
    marker = Path(__file__).with_name("killed")
    if not marker.exists():
        marker.write_text("once")
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
    return x * x
"""


def test_a_jobs_process_killed_by_a_signal_is_replaced_and_its_trial_run_again(
    tmp_path: Path,
) -> None:
    from hyperlab.cli import main

    (tmp_path / "dies.py").write_text(KILLS_ITSELF_ONCE)
    argv = ["tune", "--task", f"{tmp_path / 'dies.py'}:objective", "--tuner", "random"]
    runs = ["--runs-dir", str(tmp_path / "runs"), "--name", "k", "--no-progress"]
    assert main([*argv, "--trials", "6", "--jobs", "2", *runs]) == 0
    study = next(iter(optuna.get_all_study_names(_journal(tmp_path / "runs" / "k"))))
    trials = optuna.load_study(study_name=study, storage=_journal(tmp_path / "runs" / "k")).trials
    states = sorted(t.state.name for t in trials)
    assert states == ["COMPLETE"] * 6 + ["FAIL"]
    failed = next(t for t in trials if t.state.name == "FAIL")
    assert failed.user_attrs["fail_reason"] == "its worker process was killed (signal 9)"


def _journal(folder: Path) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(folder / "study.journal")))


def test_a_worker_whose_parent_is_gone_ends_even_when_idle() -> None:
    """A pool's process whose parent was killed stops its trial and then ends, instead of
    waiting for work forever (here: a process idle in a long sleep, its 'parent' long gone)."""
    import subprocess
    import sys

    code = (
        "import time; from hyperlab.lab import interrupts; interrupts.install(); "
        "interrupts.follow_parent(parent=-1, poll=0.05, grace=0.2); time.sleep(600)"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=120, check=False)
    assert done.returncode == 130


KIND_BY_ENV = """
import os

def objective(trial):
    if os.environ.get("HYPERLAB_TEST_KIND") == "int":
        return trial.suggest_int("x", 0, 1)
    return trial.suggest_float("x", 0, 1)
"""


def test_a_parameter_of_another_kind_on_resume_stops_the_run_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hyperlab.cli import main

    (tmp_path / "kind.py").write_text(KIND_BY_ENV)
    argv = ["tune", "--task", f"{tmp_path / 'kind.py'}:objective", "--tuner", "random"]
    runs = ["--runs-dir", str(tmp_path / "runs"), "--name", "k", "--no-progress"]
    assert main([*argv, "--trials", "2", *runs]) == 0
    monkeypatch.setenv("HYPERLAB_TEST_KIND", "int")
    capsys.readouterr()
    assert main([*argv, "--trials", "5", *runs]) == 2
    err = capsys.readouterr().err
    assert "parameter 'x' of study 'k:random:none:seed0' is suggested as int" in err
    assert "another kind, log setting or set of choices than its earlier trials had" in err
    study = optuna.load_study(
        study_name="k:random:none:seed0", storage=f"sqlite:///{tmp_path}/runs/k/study.db"
    )
    assert sorted(t.state.name for t in study.trials) == ["COMPLETE", "COMPLETE", "FAIL"]


KILLS_ITSELF_ALWAYS = """
import os, signal

def objective(trial):
    trial.suggest_float("x", -1, 1)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_jobs_processes_killed_past_their_replacements_stop_the_run_with_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hyperlab.cli import main

    (tmp_path / "dies.py").write_text(KILLS_ITSELF_ALWAYS)
    argv = ["tune", "--task", f"{tmp_path / 'dies.py'}:objective", "--tuner", "random"]
    runs = ["--runs-dir", str(tmp_path / "runs"), "--name", "k", "--no-progress"]
    assert main([*argv, "--trials", "6", "--jobs", "2", *runs]) == 2
    assert "exited with code -9" in capsys.readouterr().err
    trials = optuna.load_study(
        study_name="k:random:none:seed0", storage=_journal(tmp_path / "runs" / "k")
    ).trials
    assert trials and "RUNNING" not in {t.state.name for t in trials}  # queued again instead


def test_a_trial_orphaned_by_a_process_killed_before_it_named_itself_is_run_again() -> None:
    """A ``--jobs`` process killed between Optuna's ask and its ``worker`` attribute leaves a
    RUNNING trial no one owns; once every process has ended, it is failed, queued again and
    one more process started for it (within the N successors)."""
    from types import SimpleNamespace

    from optuna.distributions import FloatDistribution

    from hyperlab.lab import processes

    class Proc:
        def __init__(self, exitcode: int | None = None, **_: object) -> None:
            self.exitcode, self.started = exitcode, False

        def start(self) -> None:
            self.started = True

    study = optuna.create_study()
    for _ in range(3):
        study.tell(study.ask({"x": FloatDistribution(-1, 1)}), 0.0)
    orphan = study.ask({"x": FloatDistribution(-1, 1)})
    job = SimpleNamespace(trials=5)
    ctx = SimpleNamespace(Process=lambda target, args: Proc())
    how = (ctx, (False, 0), 2)
    procs: list[Any] = [Proc(0), Proc(0)]
    assert not processes._rerun_orphans(study, job, procs, how)  # nobody was killed
    assert study.trials[orphan.number].state == TrialState.RUNNING
    procs = [Proc(-9), Proc(0)]
    assert processes._rerun_orphans(study, job, procs, how)
    assert study.trials[orphan.number].state == TrialState.FAIL
    assert len(procs) == 3 and procs[-1].started
    assert study.get_trials(states=(TrialState.WAITING,))  # its parameters queued again
    assert not processes._rerun_orphans(study, job, procs, how)  # nothing left running
    study.ask({"x": FloatDistribution(-1, 1)})  # another orphan, but no successor is left
    procs += [Proc(-9)]
    assert not processes._rerun_orphans(study, job, procs, how)
    assert len(procs) == 4


class _Epochs(Task):
    """Reports ``max_budget`` epochs of 1, 1/2, 1/3, ..."""

    name = "epochs"

    def __init__(self, max_budget: int) -> None:
        self.max_budget = max_budget

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0, 1)}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        curve = [1.0 / (e + 1) for e in range(budget)]
        for e in range(1, budget + 1):
            if on_epoch is not None:
                on_epoch(e, curve[e - 1], {"val_loss": curve[:e]})
        return Evaluation(value=curve[-1], budget=budget)


def test_a_pruner_is_never_asked_after_the_last_epoch() -> None:
    """A prune there would throw away a finished result and save nothing."""

    class Always(optuna.pruners.BasePruner):
        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            return True

    for budget, state in ((1, TrialState.COMPLETE), (3, TrialState.PRUNED)):
        study = optuna.create_study(pruner=Always())
        study.optimize(TaskObjective(_Epochs(budget)), n_trials=1)
        assert study.trials[0].state == state
    study = optuna.create_study(pruner=Always())  # a run's --budget is the last epoch too
    study.optimize(TaskObjective(_Epochs(3), budget=1), n_trials=1)
    assert study.trials[0].state == TrialState.COMPLETE


def _deep_in_training(x: float) -> float:
    raise RuntimeError(f"shape mismatch at x={x:.2f}")


def fails_on_odd_trials(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    if trial.number % 2:
        return _deep_in_training(x)
    return x**2


def test_a_failures_reason_names_where_and_the_report_and_summary_show_them(
    tmp_path: Path,
) -> None:
    """The report promised each failure's reason but showed only a count; the reason had no
    place, and no traceback was kept anywhere."""
    study, summary = hyperlab.tune(
        fails_on_odd_trials, "random", trials=3, runs_dir=tmp_path, name="f", progress=False
    )
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) == 2
    reason = failed[0].user_attrs["fail_reason"]
    assert re.fullmatch(
        r"RuntimeError: shape mismatch at x=-?\d\.\d\d \(at test_failures\.py:\d+ in _deep_in_training\)",
        reason,
    ), reason
    assert "in fails_on_odd_trials" in failed[0].user_attrs["fail_traceback"]
    page = (tmp_path / "f" / "report.html").read_text()
    assert "Failed trials" in page and html.escape(reason) in page and "Traceback" in page
    assert summary.n_failed == 2 and "2 trials failed" in "\n".join(summary.lines())


def backwards_range(trial: optuna.Trial) -> float:
    return trial.suggest_float("lr", 0.3, 1e-4, log=True)  # low > high: Optuna raises


def reads_bad_json(trial: optuna.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    return float(json.loads("{"))  # the standard library raises


def test_an_error_raised_inside_a_library_also_names_the_users_line_that_called_it(
    tmp_path: Path,
) -> None:
    """The place was the library's (decoder.py) alone: which line of the objective called it
    was left to the traceback."""
    with pytest.raises(NoCompletedTrialError) as failed:
        hyperlab.tune(
            reads_bad_json, "random", trials=1, runs_dir=tmp_path, progress=False, report=False
        )
    assert re.search(
        r"JSONDecodeError: .* \(at decoder\.py:\d+ in raw_decode, "
        r"called from test_failures\.py:\d+ in reads_bad_json\)",
        str(failed.value),
    ), failed.value


def test_a_search_space_that_raises_inside_a_library_names_the_users_line() -> None:
    """(Optuna refusing the range: the place is the user's line that asked for it.)"""
    from hyperlab.space.distributions import capture_space

    with pytest.raises(InputError, match=r"\(at test_failures\.py:\d+ in backwards_range\)"):
        capture_space(backwards_range, name="task 't'")


def test_the_reason_of_an_error_never_raised_has_no_place() -> None:
    from hyperlab.errors import failure_reason

    assert failure_reason(ValueError("x")) == "ValueError: x"


def test_compares_console_summary_counts_each_methods_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its report listed the failures, but the console table said nothing of them."""
    from hyperlab.cli.compare import print_summary

    hyperlab.compare(
        fails_on_odd_trials,
        ["random"],
        seeds=2,
        trials=3,
        runs_dir=tmp_path,
        name="c",
        progress=False,
    )
    capsys.readouterr()
    print_summary(tmp_path / "c")
    out = capsys.readouterr().out
    assert "random: 4 trials failed over its seeds" in out  # trials 1 and 3 of each


def test_the_jobs_parent_creates_its_shared_study_without_optunas_info_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under --jobs the parent printed Optuna's "[I ...] A new study created" line."""
    from hyperlab.lab import processes
    from hyperlab.lab.runner import StudyJob

    seen: list[int] = []

    def build(*args: Any, **kwargs: Any) -> Any:
        seen.append(optuna.logging.get_verbosity())
        raise KeyboardInterrupt  # stop before any process starts

    monkeypatch.setattr(processes, "build_study", build)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    job = StudyJob(
        task="wine-mlp",
        tuner="random",
        pruner="none",
        seed=0,
        trials=2,
        storage=f"sqlite:///{tmp_path / 's.db'}",
        study_name="s",
    )
    with pytest.raises(KeyboardInterrupt):
        processes.run_jobs([job], processes=2, progress=False)
    assert seen == [optuna.logging.WARNING]
    assert optuna.logging.get_verbosity() == optuna.logging.INFO  # the caller's setting is back


@pytest.mark.parametrize("objective", [lambda: 1.0, lambda trial, data: 1.0])
def test_an_objective_that_cannot_take_the_trial_alone_is_refused_before_any_trial(
    tmp_path: Path, objective: Any
) -> None:
    """It ran 10 failing trials before 'no completed trial'."""
    from hyperlab.errors import InputError

    with pytest.raises(InputError, match=r"objective <lambda>\(.*\) cannot be called with the"):
        hyperlab.tune(objective, "random", trials=2, runs_dir=tmp_path, name="o", progress=False)
    assert not (tmp_path / "o").exists()


def test_optuna_says_nothing_of_a_trial_an_interrupt_cut_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each Ctrl-C added Optuna's two "[W] Trial N failed ... KeyboardInterrupt" lines."""
    import logging

    from hyperlab.lab.worker_logs import _SurplusFilter

    keep = _SurplusFilter()

    def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("optuna", logging.WARNING, "", 0, message, None, info)

    cut = "Trial 2 failed with parameters: {'x': 1.0} because of the following error: "
    assert not keep.filter(record(cut + "KeyboardInterrupt('SIGINT')."))
    assert not keep.filter(record("Trial 2 failed with value None."))
    assert not keep.filter(record("Trial 3 failed.", KeyboardInterrupt()))
    assert keep.filter(record(cut.replace("2", "4") + "ValueError('boom')."))
    assert keep.filter(record("Trial 4 failed with value None."))


def test_a_lost_workers_trial_queued_again_is_not_the_tasks_failure() -> None:
    from hyperlab.lab.heartbeat import STALE_FINAL, STALE_REASON
    from hyperlab.lab.summary import INTERRUPTED, state_counts
    from hyperlab.lab.trial_kinds import failed_trials

    study = optuna.create_study()
    for reason in (STALE_REASON, STALE_FINAL.format(n=3), "ValueError: boom"):
        study.add_trial(
            optuna.trial.create_trial(state=TrialState.FAIL, user_attrs={"fail_reason": reason})
        )
    # the retried one is bookkeeping; the last retry and the task's error are failures
    assert failed_trials(study) == 2 and failed_trials(study, interrupted=True) == 3
    assert state_counts(study)[INTERRUPTED] == 1
    # results.csv tells them apart by the same rule (its FAIL rows are more than "failed")
    from hyperlab.lab.results import study_records

    assert [r["failure"] for r in study_records(study)] == ["cut off", "task", "task"]


def test_a_setting_that_cannot_work_with_the_space_stops_the_run_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The meta tuner on a user objective wider than it reads failed every trial (12 of 12,
    exit 1) once the first trial showed the space; the run now stops at the first (exit 2)."""
    from hyperlab.cli import main

    (tmp_path / "wide.py").write_text(
        "def objective(trial):\n"
        "    return sum(trial.suggest_float(f'x{i}', 0, 1) for i in range(45))\n"
    )
    argv = ["tune", "--task", f"{tmp_path / 'wide.py'}:objective", "--tuner", "meta"]
    assert main([*argv, "--trials", "12", "--runs-dir", str(tmp_path), "--name", "w"]) == 2
    err = capsys.readouterr().err
    assert "error: the meta tuner reads at most 40 encoded columns" in err
    assert "Trial 1 failed" not in err  # told once, by the command
    storage = f"sqlite:///{tmp_path / 'w' / 'study.db'}"
    study = optuna.load_study(study_name="w:meta:none:seed0", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL]
    from hyperlab.lab.trial_kinds import failed_trials, is_bookkeeping

    assert is_bookkeeping(study.trials[1]) and failed_trials(study) == 0


def test_a_killed_jobs_process_trial_queued_again_is_not_the_tasks_failure() -> None:
    """A ``--jobs`` process killed by a signal (its trial queued again) was counted as the
    task's failure (``1 trial failed``, the report's 'Failed trials'); a heartbeat's lost
    worker was not. The last retry, not queued again, still counts."""
    from optuna.distributions import FloatDistribution

    from hyperlab.lab.runner import fail_interrupted
    from hyperlab.lab.summary import INTERRUPTED, state_counts
    from hyperlab.lab.trial_kinds import failed_trials

    study = optuna.create_study()
    trial = study.ask({"x": FloatDistribution(-1, 1)})
    trial.set_user_attr("worker", "host:1")
    reason = "its worker process was killed (signal 9)"
    assert fail_interrupted(study, "host:1", reason, max_retry=3) == 1
    assert failed_trials(study) == 0 and state_counts(study)[INTERRUPTED] == 1
    for _ in range(3):  # the same parameters, killed each time
        trial = study.ask()
        trial.set_user_attr("worker", "host:1")
        fail_interrupted(study, "host:1", reason, max_retry=3)
    assert not study.get_trials(states=(TrialState.WAITING,))  # not queued a fourth time
    last = study.trials[-1]
    assert last.user_attrs["fail_reason"] == f"{reason}; not re-queued (retried 3 times)"
    assert failed_trials(study) == 1 and state_counts(study)[INTERRUPTED] == 3


def test_a_comparison_counts_the_trials_cut_off_apart(tmp_path: Path) -> None:
    """The tune page counted a trial cut off by an interrupt apart; a comparison's did not."""
    from hyperlab.report.records import compare_records

    interrupt_once = _interrupted_at_the_third_call()

    for _ in range(2):  # interrupted, then resumed
        try:
            hyperlab.compare(
                interrupt_once, ["random"], seeds=1, trials=5, runs_dir=tmp_path, name="c",
                progress=False,
            )  # fmt: skip
        except KeyboardInterrupt:
            pass
    (method,) = compare_records(tmp_path / "c").methods
    assert (method.n_failed, method.n_cut_off) == (0, 1)
    page = (tmp_path / "c" / "report.html").read_text()
    assert "cut off and run again</th>" in page


@pytest.mark.parametrize("heartbeats", [False, True])
def test_a_trial_outlives_a_short_storage_outage(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, heartbeats: bool
) -> None:
    """A database that restarted while a trial wrote its result made the trial fail; its
    worker left it running, and it was failed as lost and run again from the start."""
    from optuna.storages import RDBStorage

    from hyperlab.lab.retrying import RetryWrites
    from hyperlab.lab.storage import open_storage

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.01)
    storage = open_storage(
        f"sqlite:///{tmp_path}/s.db", heartbeat_interval=5 if heartbeats else None
    )
    outage = {"left": 3}
    real = RDBStorage.set_trial_state_values

    def flaky(self: RDBStorage, *args: Any, **kwargs: Any) -> bool:
        if outage["left"]:
            outage["left"] -= 1
            raise _wrapped_refusal()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RDBStorage, "set_trial_state_values", flaky)
    study = optuna.create_study(storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]
    assert outage["left"] == 0


@pytest.mark.parametrize("heartbeats", [False, True])
def test_a_trial_outlives_a_short_outage_that_meets_a_read_or_a_parameter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, heartbeats: bool
) -> None:
    """A PostgreSQL restart while a trial ran failed the trial's next read (Optuna's tell reads
    the trial first) or its parameter write (Optuna's cached storage calls the private
    ``_set_trial_param``): neither was repeated, the worker went on with a new trial and left
    this one running, to be failed as lost and run again from the start."""
    from optuna.storages import RDBStorage

    from hyperlab.lab.retrying import RetryWrites
    from hyperlab.lab.storage import open_storage

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.01)
    storage = open_storage(
        f"sqlite:///{tmp_path}/s.db", heartbeat_interval=5 if heartbeats else None
    )
    outage = {"get_trial": 0, "_set_trial_param": 0}

    def flaky(name: str) -> Any:
        real = getattr(RDBStorage, name)

        def call(self: RDBStorage, *args: Any, **kwargs: Any) -> Any:
            if outage[name]:
                outage[name] -= 1
                raise _wrapped_refusal()
            return real(self, *args, **kwargs)

        return call

    for name in outage:
        monkeypatch.setattr(RDBStorage, name, flaky(name))

    def objective(trial: optuna.Trial) -> float:
        outage["_set_trial_param"] = 2  # the database goes away while the trial runs
        x = trial.suggest_float("x", 0, 1)
        outage["get_trial"] = 2
        return x

    study = optuna.create_study(storage=storage)
    study.optimize(objective, n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]
    assert outage == {"get_trial": 0, "_set_trial_param": 0}


def test_a_storage_write_that_keeps_failing_or_is_refused_is_not_repeated_for_ever(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from optuna.storages import RDBStorage

    from hyperlab.lab.retrying import RetryWrites
    from hyperlab.lab.storage import open_storage

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.001)
    storage = open_storage(f"sqlite:///{tmp_path}/s.db")
    calls = []

    def down(self: RDBStorage, *args: Any) -> None:
        calls.append(args)
        raise _wrapped_refusal()

    monkeypatch.setattr(RDBStorage, "set_study_user_attr", down)
    with pytest.raises(UnboundLocalError):  # as the storage raised it: the loop judges it
        storage.set_study_user_attr(0, "k", 1)
    assert len(calls) == RetryWrites.write_retries + 1

    def refused(self: RDBStorage, *args: Any) -> None:
        calls.append(args)
        raise KeyError("not a storage outage")

    calls.clear()
    monkeypatch.setattr(RDBStorage, "set_study_user_attr", refused)
    with pytest.raises(KeyError):
        storage.set_study_user_attr(0, "k", 1)
    assert len(calls) == 1


@pytest.mark.parametrize("heartbeats", [False, True])
def test_a_result_stored_whose_answer_was_lost_is_not_refused_when_repeated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, heartbeats: bool
) -> None:
    """The connection dropped after the commit of a trial's result: the repeat found the trial
    finished and raised UpdateFinishedTrialError, which ended the worker with a traceback."""
    from optuna.storages import RDBStorage

    from hyperlab.lab.retrying import RetryWrites
    from hyperlab.lab.storage import open_storage

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.01)
    storage = open_storage(
        f"sqlite:///{tmp_path}/s.db", heartbeat_interval=5 if heartbeats else None
    )
    real = RDBStorage.set_trial_state_values
    lost = {"left": 1}

    def answer_lost(self: RDBStorage, *args: Any, **kwargs: Any) -> bool:
        changed = real(self, *args, **kwargs)
        if lost["left"]:
            lost["left"] -= 1
            raise _wrapped_refusal()
        return changed

    study = optuna.create_study(storage=storage)
    trial = study.ask()
    monkeypatch.setattr(RDBStorage, "set_trial_state_values", answer_lost)
    study.tell(trial, 0.25)
    assert [(t.state, t.value) for t in study.trials] == [(TrialState.COMPLETE, 0.25)]
    other = study.ask()  # another worker's result stays refused
    real(storage, other._trial_id, TrialState.FAIL)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        storage.set_trial_state_values(other._trial_id, TrialState.COMPLETE, [1.0])


def _answers_of_failures_lost(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Make the next commits that fail a trial lose their answer (``lost``: that many, each
    stored, then a dropped connection), or fail before they are stored while another process
    fails the trial (``other``: a callable that does)."""
    import sqlalchemy.exc
    import sqlalchemy.orm
    from optuna.storages._rdb import models

    real = sqlalchemy.orm.Session.commit
    armed: dict[str, Any] = {"lost": 0, "other": None}
    dropped = ConnectionError("server closed the connection unexpectedly")

    def commit(self: sqlalchemy.orm.Session) -> None:
        failing = any(
            isinstance(o, models.TrialModel) and o.state == TrialState.FAIL for o in self.dirty
        )
        if failing and armed["other"] is not None:
            other, armed["other"] = armed["other"], None
            self.rollback()  # (not stored: another process fails it meanwhile)
            other()
            raise sqlalchemy.exc.OperationalError("COMMIT", None, dropped)
        real(self)
        if failing and armed["lost"]:
            armed["lost"] -= 1
            raise sqlalchemy.exc.OperationalError("COMMIT", None, dropped)

    monkeypatch.setattr(sqlalchemy.orm.Session, "commit", commit)
    return armed


def test_a_lost_trial_whose_failure_lost_its_answer_is_queued_again_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A worker's check for lost trials failed a trial and the connection dropped after the
    commit: the repeat found the trial failed and answered "another process failed it"
    (False), so no worker queued its parameters again, though its reason says they were
    (answering True instead queued them twice where another worker had failed it first)."""
    from optuna.storages import RDBStorage

    from hyperlab.lab.cut_off import recover_stale
    from hyperlab.lab.heartbeat import STALE_REASON
    from hyperlab.lab.retrying import RetryWrites
    from hyperlab.lab.storage import open_storage

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.001)
    url = f"sqlite:///{tmp_path}/s.db"
    storage = open_storage(url, heartbeat_interval=10, grace_period=30)
    study = optuna.create_study(storage=storage)
    lost = study.ask()
    lost.suggest_float("x", 0, 1)
    stale = [lost._trial_id]  # (its worker stopped beating long ago)
    monkeypatch.setattr(RDBStorage, "_get_stale_trial_ids", lambda self, study_id: stale)
    armed = _answers_of_failures_lost(monkeypatch)
    armed["lost"] = 1
    recover_stale(study)
    assert armed["lost"] == 0
    failed, again = study.get_trials()
    assert (failed.state, failed.user_attrs["fail_reason"]) == (TrialState.FAIL, STALE_REASON)
    assert (again.state, again.params) == (TrialState.WAITING, lost.params)
    # failed by another process between its tries, the trial is that process's to queue again
    other = study.ask()
    elsewhere = open_storage(url)
    armed["other"] = lambda: elsewhere.set_trial_state_values(other._trial_id, TrialState.FAIL)
    assert storage.set_trial_state_values(other._trial_id, TrialState.FAIL) is False
    assert armed["other"] is None and study.get_trials()[-1].state == TrialState.FAIL


def test_a_failure_whose_postgresql_connection_is_killed_before_its_commit_is_repeated(
    postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure with a token is written through Optuna's private session helpers, which
    wrap the driver's error (``StorageInternalError`` from ``OperationalError``): a PostgreSQL
    backend terminated between the failure's update and its commit is a transient error there
    too, and the failure is written again on a fresh connection, with its token."""
    import os

    import sqlalchemy
    import sqlalchemy.orm

    from hyperlab.lab.retrying import FAILED_BY_ATTR, RetryWrites
    from hyperlab.lab.storage import open_storage

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.001)
    storage = open_storage(postgres.create_database(f"killed{os.getpid()}"), heartbeat_interval=10)
    trial = optuna.create_study(storage=storage).ask()
    other = sqlalchemy.create_engine(storage.engine.url)  # type: ignore[attr-defined]
    real, kills = sqlalchemy.orm.Session.commit, [1]

    def killed_before_commit(self: sqlalchemy.orm.Session) -> None:
        failing = any(getattr(o, "state", None) == TrialState.FAIL for o in self.dirty)
        if failing and kills:
            kills.pop()
            pid = self.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar()
            with other.begin() as conn:
                conn.execute(sqlalchemy.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        real(self)

    monkeypatch.setattr(sqlalchemy.orm.Session, "commit", killed_before_commit)
    assert storage.set_trial_state_values(trial._trial_id, TrialState.FAIL) is True
    other.dispose()
    failed = storage.get_trial(trial._trial_id)
    assert kills == [] and failed.state == TrialState.FAIL
    assert isinstance(failed.system_attrs[FAILED_BY_ATTR], str)


def test_claiming_a_waiting_trial_is_not_repeated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A claim stored whose answer was lost, repeated, found the trial running and answered
    False (another worker's): the trial stayed RUNNING with no worker and no heartbeat."""
    from optuna.storages import RDBStorage

    from hyperlab.lab.retrying import RetryWrites
    from hyperlab.lab.storage import open_storage

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.001)
    storage = open_storage(f"sqlite:///{tmp_path}/s.db")
    study = optuna.create_study(storage=storage)
    study.enqueue_trial({"x": 0.5})
    (waiting,) = study.get_trials(states=(TrialState.WAITING,))
    real = RDBStorage.set_trial_state_values
    calls = []

    def answer_lost(self: RDBStorage, *args: Any, **kwargs: Any) -> bool:
        calls.append(args)
        real(self, *args, **kwargs)
        raise _wrapped_refusal()

    monkeypatch.setattr(RDBStorage, "set_trial_state_values", answer_lost)
    with pytest.raises(UnboundLocalError):  # as the storage raised it, not a quiet False
        storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)
    assert len(calls) == 1


def test_a_task_that_breaks_its_contract_stops_the_run_at_its_first_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Task whose _evaluate returned a bare float failed each trial alike, a whole training
    each, and the run ended only after 10 such failures (exit 1)."""
    from hyperlab.cli import main

    (tmp_path / "broken_task.py").write_text(
        "from hyperlab.tasks import Task\n\n"
        "class Broken(Task):\n"
        "    name = 'broken'\n"
        "    max_budget = 2\n\n"
        "    def search_space(self, trial):\n"
        "        return {'x': trial.suggest_float('x', 0, 1)}\n\n"
        "    def _evaluate(self, config, budget, seed, on_epoch):\n"
        "        return config['x']\n"
    )
    argv = ["tune", "--task", f"{tmp_path / 'broken_task.py'}:Broken", "--tuner", "random"]
    assert main([*argv, "--trials", "12", "--runs-dir", str(tmp_path), "--name", "b"]) == 2
    err = capsys.readouterr().err
    assert "error: task 'broken', trial 0: Broken._evaluate returned" in err  # names the trial
    assert "not an Evaluation" in err and "the run stops here, its finished trials kept" in err
    storage = f"sqlite:///{tmp_path / 'b' / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)
    assert [t.state for t in optuna.load_study(study_name=name, storage=storage).trials] == [
        TrialState.FAIL
    ]


RETURNS_TEXT = "def objective(trial):\n    return str(trial.suggest_float('x', 0, 1))\n"


def test_an_objective_that_returns_no_number_stops_the_command_at_its_first_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a task that breaks its contract: exit 2 at the first trial, said once, by name
    (each trial failed alike, a whole training each, until 10 had failed, exit 1)."""
    from hyperlab.cli import main

    (tmp_path / "text.py").write_text(RETURNS_TEXT)
    argv = ["tune", "--task", f"{tmp_path / 'text.py'}:objective", "--tuner", "random"]
    assert main([*argv, "--trials", "12", "--runs-dir", str(tmp_path), "--name", "t"]) == 2
    err = capsys.readouterr().err
    said = f"error: objective '{tmp_path / 'text.py'}:objective' returned '0.5488135039273248' "
    assert said + "of type str, not a number (trial 0): " in err
    assert "Trial 0 failed" not in err  # told once, by the command
    storage = f"sqlite:///{tmp_path / 't' / 'study.db'}"
    study = optuna.load_study(study_name="t:random:none:seed0", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL]


def test_an_objective_that_returns_no_number_stops_jobs_processes_and_a_comparison(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The processes of --jobs and the studies of a comparison stop as for a task that breaks
    its contract (the processes' stderr is read by file descriptor)."""
    from hyperlab.cli import main

    (tmp_path / "text.py").write_text(RETURNS_TEXT)
    argv = ["--task", f"{tmp_path / 'text.py'}:objective", "--trials", "12", "--no-progress"]
    runs = ["--runs-dir", str(tmp_path)]
    assert main(["tune", *argv, "--tuner", "random", "--jobs", "2", *runs, "--name", "j"]) == 2
    err = capfd.readouterr().err
    assert "hyperlab worker process: error: objective '" in err and "(trial " in err
    study = optuna.load_study(study_name="j:random:none:seed0", storage=_journal(tmp_path / "j"))
    assert {t.state for t in study.trials} == {TrialState.FAIL} and len(study.trials) <= 2
    assert main(["compare", *argv, "--tuners", "random,tpe", *runs, "--name", "c"]) == 2
    assert "returned '0.5488135039273248' of type str, not a number" in capfd.readouterr().err


TEXT_SCORE_TASK = (
    "from hyperlab.tasks import Evaluation, Task\n\n"
    "class TextScore(Task):\n"
    "    name = 'text-score'\n"
    "    max_budget = 2\n\n"
    "    def search_space(self, trial):\n"
    "        return {'x': trial.suggest_float('x', 0, 1)}\n\n"
    "    def _evaluate(self, config, budget, seed, on_epoch):\n"
    "        return Evaluation(value=str(config['x']), budget=budget)\n"
)


def test_a_task_score_that_is_not_a_number_stops_the_command_its_workers_and_a_comparison(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 at the first trial, said once, by name, in this process, in the processes of
    --jobs, in `hyperlab worker` and in each study of a comparison (each trial failed alike
    until 12 had failed, exit 1). The processes' stderr is read by file descriptor."""
    from hyperlab.cli import main

    (tmp_path / "text_task.py").write_text(TEXT_SCORE_TASK)
    argv = ["--task", f"{tmp_path / 'text_task.py'}:TextScore", "--trials", "12", "--no-progress"]
    runs = ["--runs-dir", str(tmp_path)]
    said = "task 'text-score', trial 0: TextScore._evaluate returned Evaluation.value "
    said += "'0.5488135039273248' of type str, not a number"
    assert main(["tune", *argv, "--tuner", "random", *runs, "--name", "t"]) == 2
    err = capfd.readouterr().err
    assert f"hyperlab tune: error: {said}" in err and "Trial 0 failed" not in err
    storage = f"sqlite:///{tmp_path / 't' / 'study.db'}"
    study = optuna.load_study(study_name="t:random:none:seed0", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert main(["tune", *argv, "--tuner", "random", "--jobs", "2", *runs, "--name", "j"]) == 2
    err = capfd.readouterr().err
    assert "hyperlab worker process: error: task 'text-score', trial " in err
    study = optuna.load_study(study_name="j:random:none:seed0", storage=_journal(tmp_path / "j"))
    assert {t.state for t in study.trials} == {TrialState.FAIL} and len(study.trials) <= 2
    assert main(["compare", *argv, "--tuners", "random,tpe", *runs, "--name", "c"]) == 2
    assert f"hyperlab compare: error: {said}" in capfd.readouterr().err
    shared = ["--storage", f"journal:{tmp_path / 'w.journal'}", "--name", "w"]
    assert main(["tune", *argv, "--tuner", "random", *runs, *shared, "--create-only"]) == 0
    assert main(["worker", *shared, "--no-wait"]) == 2
    err = capfd.readouterr().err  # (a worker draws its own parameters)
    assert f"hyperlab worker: error: {said.partition(' Evaluation.value')[0]}" in err
    assert "of type str, not a number" in err


def _stopped_by(tmp_path: Path, odd: str, own: bool) -> str:
    """What stops a run of ``_OddSpread`` with ``odd`` (through its own ``evaluate``: ``own``)."""
    from hyperlab.errors import TaskContractError

    with pytest.raises(TaskContractError) as info:
        hyperlab.tune(
            _OddSpread, "random", trials=4, task_options={"odd": odd, "own": own},
            runs_dir=tmp_path, name="s", progress=False,
        )  # fmt: skip
    return str(info.value)


@pytest.mark.parametrize("reason_refused", [False, True])
def test_a_trial_cut_off_by_an_outage_longer_than_its_repeats_is_queued_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reason_refused: bool
) -> None:
    """A database down for longer than a trial's repeated writes (about 30 s) failed the trial
    as the task's own failure, with Optuna's reason (``invalid data in the commit, e.g.
    exceeding max length``), and the sampler's choice was never run again. Where the write of
    its reason was refused too and the storage came back for the write of its failure, the
    trial was failed without that reason (with the one its objective gave the storage's
    error): counted as the task's failure."""
    from hyperlab.lab.trial_kinds import failed_trials

    study = _run_through_an_outage(monkeypatch, tmp_path, reason_refused)
    trials = study.trials
    cut = trials[1]
    assert cut.state == TrialState.FAIL
    assert cut.user_attrs["fail_reason"].startswith("cut off from the storage mid-trial (")
    assert "Connection refused" in cut.user_attrs["fail_reason"]
    assert cut.user_attrs["failure_kind"] == "cut off"
    again = [t for t in trials if t.params == cut.params and t.number != cut.number]
    assert [t.state for t in again] == [TrialState.COMPLETE]
    assert failed_trials(study) == 0
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3


def _run_through_an_outage(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reason_refused: bool = False
) -> optuna.Study:
    """Three random trials on SQLite whose second meets a storage refusing its writes for
    longer than every repeat of them (a database down past a trial's retries); with
    ``reason_refused``, the write of that trial's reason is refused past its repeats too (the
    storage is back only for the write of its failure)."""
    from optuna.storages import RDBStorage

    from hyperlab.lab.retrying import RetryWrites

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.001)
    outage = {"left": 0, "reason": 0}
    real = RDBStorage.set_trial_intermediate_value
    real_attr = RDBStorage.set_trial_user_attr

    def flaky(self: RDBStorage, *args: Any, **kwargs: Any) -> Any:
        if outage["left"]:
            outage["left"] -= 1
            raise _wrapped_refusal()
        return real(self, *args, **kwargs)

    def reason_flaky(self: RDBStorage, trial_id: int, key: str, value: Any) -> None:
        if key == "fail_reason" and str(value).startswith("cut off") and outage["reason"]:
            outage["reason"] -= 1  # (the reason of the trial cut off)
            raise _wrapped_refusal()
        real_attr(self, trial_id, key, value)

    monkeypatch.setattr(RDBStorage, "set_trial_intermediate_value", flaky)
    monkeypatch.setattr(RDBStorage, "set_trial_user_attr", reason_flaky)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        if trial.number == 1:
            outage["left"] = RetryWrites.write_retries + 1  # past every repeat of this write
            outage["reason"] = (RetryWrites.write_retries + 1) * reason_refused
        trial.report(x, 0)
        return x**2

    storage = f"sqlite:///{tmp_path}/s.db"
    hyperlab.tune(
        objective, "random", trials=3, storage=storage, runs_dir=tmp_path, name="o",
        progress=False,
    )  # fmt: skip
    return optuna.load_study(study_name="o:random:none:seed0", storage=storage)


def test_a_users_own_transient_error_after_a_storage_error_is_the_tasks_failure(
    tmp_path: Path,
) -> None:
    """An objective that, told by the storage that a study does not exist (a ``KeyError``, no
    outage), fell back on its own data service and lost its connection there was cut off as
    if from the storage, and its configuration was queued again; it is the task's failure."""
    from hyperlab.lab.trial_kinds import failed_trials

    storage = f"sqlite:///{tmp_path}/s.db"

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        if trial.number == 1:
            try:
                optuna.load_study(study_name="warm-start", storage=trial.study._storage)
            except KeyError:
                raise ConnectionError("the data service refused the connection") from None
        return x**2

    hyperlab.tune(
        objective, "random", trials=3, storage=storage, runs_dir=tmp_path, name="o",
        progress=False,
    )  # fmt: skip
    study = optuna.load_study(study_name="o:random:none:seed0", storage=storage)
    failed = study.trials[1]
    assert failed.state == TrialState.FAIL
    assert not failed.user_attrs["fail_reason"].startswith("cut off from the storage")
    assert [t.number for t in study.trials if t.params == failed.params] == [1]
    assert failed_trials(study) == 1


class _DownStorage(optuna.storages.InMemoryStorage):
    """A storage whose server refuses connections."""

    def get_study_id_from_name(self, study_name: str) -> int:
        raise ConnectionError("connection refused")


def test_an_error_raised_from_none_hides_the_storage_error_it_handled(tmp_path: Path) -> None:
    """An objective that caught a storage's refused connection and raised its own error ``from
    None`` (hiding the first) was cut off from the storage all the same: queued again, its
    reason the hidden error's. The error its author raised is the task's failure, and its
    reason says what that error says."""
    from hyperlab.lab.storage_errors import error_chain
    from hyperlab.lab.trial_kinds import failed_trials

    storage = f"sqlite:///{tmp_path}/s.db"

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        if trial.number == 1:
            try:
                _DownStorage().get_study_id_from_name("warm-start")
            except ConnectionError:
                raise RuntimeError("no warm start: its study is unreadable") from None
        return x**2

    hyperlab.tune(
        objective, "random", trials=3, storage=storage, runs_dir=tmp_path, name="o",
        progress=False,
    )  # fmt: skip
    study = optuna.load_study(study_name="o:random:none:seed0", storage=storage)
    failed = study.trials[1]
    assert failed.state == TrialState.FAIL
    assert failed.user_attrs["fail_reason"].startswith("RuntimeError: no warm start")
    assert [t.number for t in study.trials if t.params == failed.params] == [1]
    assert failed_trials(study) == 1
    assert [type(e) for e in error_chain(_raised(hide=False))] == [ValueError, ConnectionError]
    assert [type(e) for e in error_chain(_raised(hide=True))] == [ValueError]


def _raised(hide: bool) -> ValueError:
    """A ``ValueError`` raised while handling a ``ConnectionError``, ``from None`` if ``hide``."""
    try:
        try:
            raise ConnectionError("refused")
        except ConnectionError:
            if hide:
                raise ValueError("hidden") from None
            raise ValueError("shown")  # noqa: B904
    except ValueError as exc:
        return exc
    raise AssertionError("unreachable")


def test_a_storage_cut_is_queued_again_when_another_worker_took_it_for_lost_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A worker cut off from the storage writes its trial's reason, then fails it; another
    worker that found the trial's beats stopped meanwhile writes its own reason over it (as its
    check for lost trials does while the trial still runs) and then loses the race to fail it,
    so it queues nothing. The first worker read the other's reason, took the trial for queued
    by the other, and the sampler's choice was dropped."""
    from hyperlab.lab.admission import Claimed
    from hyperlab.lab.heartbeat import STALE_REASON
    from hyperlab.lab.trial_kinds import failed_trials

    real_cut = Claimed._storage_cut

    def overtaken(self: Claimed, trial: optuna.Trial, exc: Exception) -> None:
        real_cut(self, trial, exc)  # then the other worker's check for lost trials writes
        trial.study._storage.set_trial_user_attr(trial._trial_id, "fail_reason", STALE_REASON)

    monkeypatch.setattr(Claimed, "_storage_cut", overtaken)
    study = _run_through_an_outage(monkeypatch, tmp_path)
    cut = study.trials[1]
    assert cut.state == TrialState.FAIL
    again = [t for t in study.trials if t.params == cut.params and t.number != cut.number]
    assert [t.state for t in again] == [TrialState.COMPLETE]
    assert failed_trials(study) == 0
