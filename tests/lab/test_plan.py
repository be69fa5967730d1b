"""The run plan: one checked setup, passed down to every study."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.errors import InputError
from hyperlab.lab import make_plan, start_run


def _plan(**kw: object) -> hyperlab.lab.RunPlan:
    settings: dict[str, object] = {
        "name": "p",
        "tuners": ["random", "tpe"],
        "pruners": ["none", "median"],
        "seeds": [0, 1],
        "trials": 12,
    }
    settings.update(kw)
    return make_plan("compare", "digits-mlp", **settings)  # type: ignore[arg-type]


def test_one_job_per_study_with_the_plans_settings() -> None:
    jobs = _plan().jobs()
    assert [(j.tuner, j.pruner, j.seed) for j in jobs] == [
        (t, p, s) for t in ("random", "tpe") for p in ("none", "median") for s in (0, 1)
    ]
    assert {j.trials for j in jobs} == {12}
    assert {j.task for j in jobs} == {"digits-mlp"}
    assert len({j.study_name for j in jobs}) == 8


def test_the_run_folder_reaches_every_job(tmp_path: Path) -> None:
    plan = _plan()
    assert {j.folder for j in plan.jobs()} == {None}
    run_dir = start_run(plan, tmp_path)
    assert {j.folder for j in plan.jobs()} == {str(run_dir.path.resolve())}


def test_a_pruner_option_that_names_the_tuned_task_is_refused_for_any_pruner() -> None:
    with pytest.raises(InputError, match="would read the task being tuned, 'lcbench-3945'"):
        make_plan(
            "tune",
            "lcbench-3945",
            name="leak",
            tuners=["random"],
            pruners=["curve-halving"],
            seeds=[0],
            trials=12,
            pruner_options={"pretrain": "lcbench-126026, lcbench-3945"},
        )


def _one_value(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0)


def test_a_pruner_on_a_task_of_one_epoch_is_refused_by_name() -> None:
    def _plan(**kw: object) -> object:
        settings = {"name": "p", "pruners": ["none", "median"], "seeds": [0], "trials": 12}
        return make_plan("compare", "branin", **{**settings, **kw})  # type: ignore[arg-type]

    with pytest.raises(InputError, match=r"pruner 'median' can never stop a trial early.*'branin'"):
        _plan(tuners=["random"])  # on branin
    with pytest.raises(InputError, match="pruner 'asha' can never stop"):
        make_plan(
            "tune", "digits-mlp", name="p", tuners=["random"], pruners=["asha"], seeds=[0],
            trials=12, budget=1,
        )  # fmt: skip
    with pytest.raises(InputError, match=r"early: the trials train one epoch") as info:
        make_plan(
            "tune", _one_value, name="p", tuners=["random"], pruners=["curve"], seeds=[0],
            trials=12, budget=1,
        )  # fmt: skip
    assert "'?'" not in str(info.value)  # a user's objective has no task to name


def test_numpy_seeds_are_taken_as_ints() -> None:
    import numpy as np

    plan = _plan(seeds=[np.int64(0), np.uint32(3)])
    assert plan.spec.seeds == [0, 3]
    assert all(type(s) is int for s in plan.spec.seeds)  # run.json records them
    with pytest.raises(hyperlab.errors.InputTypeError, match=r"seed must be an integer, got 0\.0"):
        _plan(seeds=[0.0])


def test_task_options_with_an_objective_function_are_refused_by_value() -> None:
    with pytest.raises(InputError, match=r"task_options \{'epochs': 5\}.*objective function"):
        make_plan(
            "tune", _one_value, name="p", tuners=["random"], pruners=["none"], seeds=[0],
            trials=2, task_options={"epochs": 5},
        )  # fmt: skip
    plan = make_plan(
        "tune", _one_value, name="p", tuners=["random"], pruners=["none"], seeds=[0],
        trials=2, task_options={},
    )  # fmt: skip
    assert plan.spec.task_options == {}
