"""A resumed run keeps its objective: another function, or other ranges, cannot join its studies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

import hyperlab
from hyperlab.errors import RunConflictError
from hyperlab.lab.rundir import load_studies
from tests.modules import load_file


def square(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0) ** 2


def shifted(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0) - 100.0


def ranged(high: float) -> Any:
    """The same objective (same qualified name) over ``[0, high]``."""

    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("x", 0.0, high)

    return objective


def _tune(runs: Path, func: Any, trials: int, **kw: Any) -> Any:
    return hyperlab.tune(func, "random", trials=trials, name="iris-tpe", runs_dir=runs, **kw)


def _trials(runs: Path) -> list[optuna.trial.FrozenTrial]:
    return load_studies(runs / "iris-tpe")[0][0].trials


@pytest.mark.parametrize("trials", [6, 2])
def test_another_function_cannot_join_an_old_run(tmp_path: Path, trials: int) -> None:
    _study, first = _tune(tmp_path, square, 4, progress=False)
    with pytest.raises(RunConflictError) as info:
        _tune(tmp_path, shifted, trials, progress=False)
    message = str(info.value)
    assert f"{__name__}:square" in message and f"{__name__}:shifted" in message
    after = _trials(tmp_path)
    assert len(after) == 4 and min(t.value for t in after) == first.best_value


def test_the_same_function_resumes(tmp_path: Path) -> None:
    _tune(tmp_path, square, 3, progress=False)
    _study, summary = _tune(tmp_path, square, 5, progress=False)
    assert summary.n_trials == 5
    recorded = json.loads((tmp_path / "iris-tpe" / "run.json").read_text())
    assert recorded["objective"] == f"{__name__}:square"


def test_overwrite_lets_another_function_start_over(tmp_path: Path) -> None:
    _tune(tmp_path, square, 3, progress=False)
    _study, summary = _tune(tmp_path, shifted, 2, progress=False, overwrite=True)
    assert summary.n_trials == 2 and summary.best_value < -99


def test_a_changed_search_space_is_refused_by_parameter(tmp_path: Path) -> None:
    _tune(tmp_path, ranged(1.0), 3, progress=False)
    with pytest.raises(
        RunConflictError, match=r"'x': float in \[0.0, 1.0\] -> float in \[0.0, 5.0\]"
    ):
        _tune(tmp_path, ranged(5.0), 5, progress=False)
    complete = [t for t in _trials(tmp_path) if t.state == TrialState.COMPLETE]
    assert len(complete) == 3 and all(t.params["x"] <= 1.0 for t in complete)
    _study, summary = _tune(tmp_path, ranged(1.0), 4, progress=False)  # the original resumes
    assert summary.n_trials == 4
    # the refused trial is the run's bookkeeping, not a failure of the task
    assert summary.n_failed == 0 and "failed" not in "\n".join(summary.lines())


TASK = """
from hyperlab.tasks import Evaluation, Task

class Line(Task):
    name = "line"

    def search_space(self, trial):
        return {{"x": trial.suggest_float("x", 0.0, {high})}}

    def _evaluate(self, config, budget, seed, on_epoch):
        return Evaluation(value=config["x"])
"""


def test_a_task_file_with_a_changed_space_is_refused_before_any_trial(tmp_path: Path) -> None:
    code = tmp_path / "line_task.py"
    code.write_text(TASK.format(high="1.0"))
    ref = f"{code}:Line"
    _tune(tmp_path, ref, 2, progress=False)
    code.write_text(TASK.format(high="25.0"))
    with pytest.raises(RunConflictError, match=r"'x': float in \[0.0, 1.0\] -> float in"):
        _tune(tmp_path, ref, 4, progress=False)
    assert len(_trials(tmp_path)) == 2  # nothing ran


def test_a_run_recorded_without_an_identity_resumes(tmp_path: Path) -> None:
    _tune(tmp_path, square, 2, progress=False)
    spec_file = tmp_path / "iris-tpe" / "run.json"
    data = json.loads(spec_file.read_text())
    del data["objective"]  # as an older hyperlab wrote it
    spec_file.write_text(json.dumps(data))
    _study, summary = _tune(tmp_path, square, 3, progress=False)
    assert summary.n_trials == 3


def test_two_scripts_functions_are_told_apart(tmp_path: Path) -> None:
    """Every script's module is __main__: the identity names the script's file instead."""

    from hyperlab.lab.identity import objective_identity

    funcs = []
    for name, body in (
        ("a", "trial.suggest_float('x', 0, 1)"),
        ("b", "trial.suggest_int('n', 1, 5)"),
    ):
        path = tmp_path / f"{name}.py"
        path.write_text(f"def objective(trial):\n    return {body}\n")
        module = load_file(path, f"script_{name}")
        module.objective.__module__ = "__main__"
        funcs.append(module.objective)
    ids = [objective_identity(f) for f in funcs]
    assert ids[0] != ids[1] and ids[0].endswith("a.py:objective")
    hyperlab.tune(funcs[0], "random", trials=2, runs_dir=tmp_path, name="s", progress=False)
    with pytest.raises(RunConflictError, match=r"b\.py:objective"):
        hyperlab.tune(funcs[1], "random", trials=3, runs_dir=tmp_path, name="s", progress=False)


def dynamic_range(trial: optuna.Trial) -> float:
    """A standard Optuna pattern: an upper bound set by another parameter."""
    n = trial.suggest_int("n", 2, 10)
    k = trial.suggest_int("k", 1, n)
    return (n - 6) ** 2 + (k - 3) ** 2


def test_a_range_that_depends_on_another_parameter_runs_and_resumes(tmp_path: Path) -> None:
    """It was refused at the second trial as a changed search space."""
    _tune(tmp_path, dynamic_range, 8, progress=False)
    _study, summary = _tune(tmp_path, dynamic_range, 12, progress=False)
    complete = [t for t in _trials(tmp_path) if t.state == TrialState.COMPLETE]
    assert summary.n_trials == 12 and len(complete) == 12
    assert len({t.distributions["k"].high for t in complete}) > 1


def log_in_one_branch(trial: optuna.Trial) -> float:
    if trial.suggest_categorical("branch", ["a", "b"]) == "a":
        return trial.suggest_float("lr", 1e-3, 1.0, log=True)
    return trial.suggest_float("lr", 1e-3, 1.0) + 0.5


def test_one_name_with_two_log_settings_is_refused_by_name_not_failed_in_silence(
    tmp_path: Path,
) -> None:
    """Every trial of one branch failed with Optuna's ValueError and the run ended as if fine."""
    with pytest.raises(RunConflictError, match=r"another kind, log setting.*name them apart"):
        _tune(tmp_path, log_in_one_branch, 12, progress=False, seed=1)


def test_one_name_with_two_log_settings_names_the_parameter_and_both_distributions(
    tmp_path: Path,
) -> None:
    """The message named neither 'lr' nor either distribution: Optuna's words do not."""
    with pytest.raises(RunConflictError) as info:
        _tune(tmp_path, log_in_one_branch, 12, progress=False, seed=1)
    message = str(info.value)
    assert "parameter 'lr' of study" in message
    assert "float in [0.001, 1.0] (log)" in message and "float in [0.001, 1.0])" in message


def kinded(kind: str) -> Any:
    """The same objective (same qualified name) with ``x`` an int or a float."""

    def objective(trial: optuna.Trial) -> float:
        if kind == "int":
            return float(trial.suggest_int("x", 0, 1))
        return trial.suggest_float("x", 0.0, 1.0)

    return objective


def test_a_kind_changed_on_resume_is_refused_naming_the_parameter_and_its_kinds(
    tmp_path: Path,
) -> None:
    _tune(tmp_path, kinded("float"), 3, progress=False)
    with pytest.raises(RunConflictError) as info:
        _tune(tmp_path, kinded("int"), 5, progress=False)
    message = str(info.value)
    assert "parameter 'x' of study 'iris-tpe:random:none:seed0' is suggested as int in [0, 1]" in (
        message
    )
    assert "earlier trials had (float in [0.0, 1.0])" in message


def test_a_dynamic_ranges_kind_and_log_setting_are_still_checked(tmp_path: Path) -> None:
    from hyperlab.lab.identity import SpaceGuard

    study = optuna.create_study()
    for high in (3, 5):
        study.add_trial(
            optuna.trial.create_trial(
                params={"k": 1}, distributions={"k": optuna.distributions.IntDistribution(1, high)},
                value=1.0,
            )
        )  # fmt: skip
    guard = SpaceGuard(study)
    guard.check({"k": optuna.distributions.IntDistribution(1, 9)}, complete=True)  # varies: fine
    with pytest.raises(
        RunConflictError, match=r"'k': int in \[1, 3\] -> int in \[1, 9\] \(step 2\)"
    ):
        guard.check({"k": optuna.distributions.IntDistribution(1, 9, step=2)}, complete=True)
    fresh = SpaceGuard(optuna.create_study())  # one process: a first range, then another
    fresh.check({"k": optuna.distributions.IntDistribution(1, 4)}, complete=True)
    fresh.check({"k": optuna.distributions.IntDistribution(1, 6)}, complete=True)


def test_a_dynamic_range_whose_first_trial_was_pruned_is_not_refused() -> None:
    """A pruned trial's range, then a completed one's other range, then the first again."""
    from hyperlab.lab.identity import SpaceGuard

    guard = SpaceGuard(optuna.create_study())
    guard.check({"k": optuna.distributions.IntDistribution(1, 4)}, complete=False)
    guard.check({"k": optuna.distributions.IntDistribution(1, 8)}, complete=True)
    guard.check({"k": optuna.distributions.IntDistribution(1, 4)}, complete=True)
