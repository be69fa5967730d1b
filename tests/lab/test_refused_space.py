"""A search space whose range Optuna refuses stops the run at its first trial, by name; a
ValueError of the objective's own still fails only its trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

import hyperlab
from hyperlab.errors import InputError, SearchSpaceError
from hyperlab.lab.panel import run_study
from hyperlab.lab.trial_kinds import failed_trials, is_bookkeeping
from hyperlab.tasks.base import EpochCallback, Evaluation, Task


def _load(run: Path) -> optuna.Study:
    storage = f"sqlite:///{run / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("trial.suggest_float('lr', 1.0, 0.1)", "suggest_float('lr', 1.0, 0.1)"),
        (
            "trial.suggest_float('lr', 0.0, 1.0, log=True)",
            "suggest_float('lr', 0.0, 1.0, log=True)",
        ),
    ],
)
def test_a_range_optuna_refuses_exits_2_at_its_first_trial_the_finished_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, says: str
) -> None:
    """Each trial failed alike with Optuna's ValueError until 10 had failed (exit 1)."""
    from hyperlab.cli import main

    (tmp_path / "space.py").write_text(
        "def objective(trial):\n"
        "    x = trial.suggest_float('x', 0.0, 1.0)\n"
        "    if trial.number >= 2:\n"
        f"        return x + {bad}\n"
        "    return x\n"
    )
    argv = ["tune", "--task", f"{tmp_path / 'space.py'}:objective", "--tuner", "random"]
    assert main([*argv, "--trials", "5", "--runs-dir", str(tmp_path), "--name", "s"]) == 2
    err = capsys.readouterr().err
    assert f"error: trial 2: parameter 'lr' is asked for with {says} (at space.py:4 in " in err
    assert "a range Optuna refuses" in err and "its finished trials kept" in err
    assert "Traceback" not in err
    trials = _load(tmp_path / "s").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAIL]
    assert trials[2].user_attrs["fail_reason"].startswith("SearchSpaceError: trial 2: ")
    assert is_bookkeeping(trials[2])  # (as for an objective that breaks its contract)


def test_an_objectives_own_value_error_fails_only_its_trial(tmp_path: Path) -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number == 1:
            raise ValueError("the data has a NaN")
        return x

    study, _ = hyperlab.tune(objective, "random", trials=3, runs_dir=tmp_path, progress=False)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL] + [TrialState.COMPLETE] * 2
    assert failed_trials(study) == 1


def test_a_range_that_depends_on_another_value_fails_only_the_trials_it_breaks(
    tmp_path: Path,
) -> None:
    """A parameter an earlier trial drew has a range that depends on the trial's other values
    (``suggest_int('k', 4, width)``): only the trials it breaks fail, and the run goes on."""

    def objective(trial: optuna.Trial) -> float:
        width = trial.suggest_int("width", 1, 16)
        return float(trial.suggest_int("k", 4, max(width, 4) if trial.number < 2 else width))

    study, _ = hyperlab.tune(objective, "random", trials=8, runs_dir=tmp_path, progress=False)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 8
    assert failed and failed_trials(study) == len(failed)  # the task's, one by one
    assert all("`low <= high` must hold" in t.user_attrs["fail_reason"] for t in failed)


class _BadBranch(Task):
    """A Task whose space Optuna refuses on a branch the space's first reading may miss."""

    name = "bad-branch"
    max_budget = 1
    armed = False  # (refused in memory too: a panel's study, once the space was read)

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        x = trial.suggest_float("x", 0.0, 1.0)
        if x > 0.999:  # (never drawn while the space is read, nor in trial 0)
            return {"x": x}
        in_memory = isinstance(trial.study._storage, optuna.storages.InMemoryStorage)
        if trial.number >= 1 and (self.armed or not in_memory):
            return {"x": x, "lr": trial.suggest_float("lr", 1.0, 0.1)}
        return {"x": x}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        return Evaluation(value=config["x"], budget=budget)


def test_a_tasks_range_optuna_refuses_stops_the_run_by_name(tmp_path: Path) -> None:
    with pytest.raises(SearchSpaceError, match=r"trial 1: parameter 'lr' is asked for with "):
        hyperlab.tune(_BadBranch, "random", trials=4, runs_dir=tmp_path, name="t")
    assert [t.state for t in _load(tmp_path / "t").trials] == [TrialState.COMPLETE, TrialState.FAIL]


class _BadSpace(_BadBranch):
    name = "bad-space"

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"lr": trial.suggest_float("lr", 0.0, 1.0, log=True)}


def test_a_tasks_space_refused_while_it_is_read_names_the_parameter(tmp_path: Path) -> None:
    """The space is read before anything runs: refused there, the message names the range."""
    with pytest.raises(SearchSpaceError, match=r"parameter 'lr' is asked for with suggest_float\("):
        hyperlab.tune(_BadSpace, "random", trials=4, runs_dir=tmp_path, name="t")
    assert isinstance(SearchSpaceError("x"), InputError)  # (the command line's exit 2)
    assert not (tmp_path / "t").exists()


def test_a_panel_stops_at_a_range_optuna_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    from hyperlab.registry import TASKS

    task = _BadBranch()
    task.distributions()  # (read: kept)
    task.armed = True
    monkeypatch.setattr(TASKS, "create", lambda name, **options: task)
    with pytest.raises(SearchSpaceError, match=r"trial 1: parameter 'lr'"):
        run_study("bad-branch", "random", seed=0, trials=3)
