"""A configuration handed to a task holds values its search space could have suggested:
each value of the right type and in its parameter's range, on the branch its values choose,
and no key that is no parameter of the task."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TASKS
from hyperlab.tasks.base import EpochCallback, Evaluation, Segment, Task
from tests.tasks.test_tasks import SMALL, Conditional


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        ({"x0": 1000, "x1": 1.0}, InputError, r"x0=1000 is outside its range: float in \[-5.0, 10"),
        ({"x0": float("nan"), "x1": 1.0}, InputError, r"x0=nan is outside its range"),
        ({"x0": "0", "x1": 1.0}, InputTypeError, r"x0='0' \(str\) must be a number"),
        ({"x0": True, "x1": 1.0}, InputTypeError, r"x0=True \(bool\) must be a number"),
        ({"x0": 1.0, "x1": 1.0, "x9": 3}, InputError, r"unknown keys: x9=3; .*: x0, x1"),
    ],
)
def test_branin_refuses_a_value_it_could_not_suggest_by_name(
    config: dict[str, Any], error: type[Exception], message: str
) -> None:
    task = TASKS.create("branin")
    with pytest.raises(error, match=f"config for branin: ?{message}|{message}"):
        task.evaluate(config)
    assert task.evaluate({"x0": 1, "x1": 2.0}).value > 0  # an int is a number


@pytest.mark.parametrize(
    ("key", "value", "error", "message"),
    [
        ("n_layers", 2.5, InputTypeError, r"n_layers=2.5 \(float\) must be an integer: int in"),
        ("activation", "RELU", InputError, r"activation='RELU' is not one of \['relu'"),
        ("batch_size", 8, InputError, r"batch_size=8 is outside its range: int in \[16, 256\]"),
    ],
)
def test_an_mlp_refuses_a_bad_value_before_it_trains(
    key: str, value: Any, error: type[Exception], message: str
) -> None:
    task = TASKS.create("wine-mlp", max_epochs=2)
    config = dict(SMALL, **{key: value})
    with pytest.raises(error, match=message):
        task.evaluate(config)


def test_a_conditional_space_is_checked_on_the_branch_the_values_choose() -> None:
    task = Conditional()
    assert task.evaluate({"opt": "sgd", "momentum": 0.5}).value == 0.5  # its branch only
    other = {"opt": "adam", "beta1": 0.9, "momentum": 0.5}  # as a population member may carry
    assert task.evaluate(other).value == pytest.approx(1.4)
    with pytest.raises(InputError, match=r"beta1=0.1 is outside its range: float in \[0.5"):
        task.evaluate({"opt": "adam", "beta1": 0.1})
    with pytest.raises(InputError, match=r"lacks \['beta1'\], which its values ask for"):
        task.evaluate({"opt": "adam", "momentum": 0.5})
    with pytest.raises(InputError, match=r"unknown keys: lr=0.1"):
        task.evaluate({"opt": "sgd", "momentum": 0.5, "lr": 0.1})


class Dynamic(Task):
    """A range that ends at another parameter's value, and a key the space returns that it
    does not suggest."""

    name = "dynamic"

    def search_space(self, trial: Any) -> dict[str, Any]:
        high = trial.suggest_int("high", 2, 10)
        return {
            "high": high,
            "low": trial.suggest_int("low", 1, high),
            "width": trial.suggest_int("width", 16, 256, step=16),
            "label": f"up to {high}",
        }

    def _evaluate(self, config: dict[str, Any], budget: int, seed: int, on_epoch: Any) -> Any:
        return Evaluation(value=float(config["low"]))


def test_a_range_that_depends_on_another_value_is_checked_with_that_value() -> None:
    task = Dynamic()
    ok = {"high": 9, "low": 8, "width": 32, "label": "up to 9"}
    assert task.evaluate(ok).value == 8.0  # whatever range the first throwaway trial had
    with pytest.raises(InputError, match=r"low=8 is outside its range: int in \[1, 3\]"):
        task.evaluate(dict(ok, high=3))
    with pytest.raises(InputError, match=r"width=40 is outside its range: .*step 16"):
        task.evaluate(dict(ok, width=40))
    assert task.evaluate(task.default_config() | {"label": "x"}).value >= 1  # on the step


ACTS = {"relu": math.tanh, "tanh": math.sin}


class Transformed(Task):
    """A space that returns values made of its suggestions under the parameters' names."""

    name = "transformed"
    max_budget = 1

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "act": ACTS[trial.suggest_categorical("act", ["relu", "tanh"])],
            "batch_size": 2 ** trial.suggest_int("batch_size", 4, 8),
            "x": trial.suggest_float("x", -1.0, 1.0),
        }

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        return Evaluation(value=float(config["act"](config["x"])) + config["batch_size"] / 1000)


def test_a_value_the_space_made_of_its_suggestion_is_not_checked_against_it() -> None:
    """``2 ** batch_size`` and ``ACTS[act]`` were refused as outside the parameters' ranges:
    every trial of such a task failed."""
    task = Transformed()
    config = task.search_space(optuna.trial.FixedTrial({"act": "tanh", "batch_size": 6, "x": 0.5}))
    assert config["batch_size"] == 64
    assert task.evaluate(config).value == pytest.approx(math.sin(0.5) + 0.064)
    scaled = Scaled()
    config = scaled.search_space(optuna.trial.FixedTrial({"batch_size": 6, "x": 0.5}))
    assert scaled.evaluate(config).value == pytest.approx(0.564)
    with pytest.raises(InputError, match=r"x=3.0 is outside its range"):
        scaled.evaluate(dict(config, x=3.0))  # returned as it was suggested: checked


class Scaled(Task):
    name = "scaled"
    max_budget = 1

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "batch_size": 2 ** trial.suggest_int("batch_size", 4, 8),
            "x": trial.suggest_float("x", -1.0, 1.0),
        }

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        return Evaluation(value=config["x"] + config["batch_size"] / 1000)


class DynamicSegments(Task):
    """A range that depends on another value, in a task a population trains."""

    name = "dynamic-segments"
    max_budget = 4
    mutable_params = ("lr",)

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        n = trial.suggest_int("n", 1, 8)
        return {
            "n": n,
            "k": trial.suggest_int("k", 1, n),
            "lr": trial.suggest_float("lr", 1e-3, 1.0, log=True),
        }

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        return Evaluation(value=float(config["n"] - config["k"]))

    def _train_segment(
        self, config: dict[str, Any], state: Any, epochs: int, seed: int, wrap_optimizer: Any
    ) -> Segment:
        done = (state or 0) + epochs
        values = [float(abs(config["n"] - config["k"]) + config["lr"])] * epochs
        return Segment(state=done, values=values, epoch=done)


def test_a_population_on_a_dependent_range_still_trains(tmp_path: Path) -> None:
    """Members are drawn in the ranges first read from the space: with the values checked in
    train_segment, a member whose k passed its n stopped the whole run."""
    study, _ = hyperlab.tune(
        DynamicSegments, "pbt", trials=8, runs_dir=tmp_path, progress=False, report=False
    )
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 8


def test_what_a_table_row_or_numpy_holds_for_a_value_is_read_as_that_value() -> None:
    """A whole float for an int (a DataFrame row holds ints as floats), a float32 at a bound
    and numpy's True were refused, though Optuna's own FixedTrial takes them."""
    import numpy as np
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from hyperlab.space.config import check_value

    check_value("row", "n", 32.0, IntDistribution(1, 64))
    check_value("row", "n", np.float64(32), IntDistribution(1, 64))
    check_value("row", "x", np.float32(0.3), FloatDistribution(0.0, 0.3))
    check_value("row", "flag", np.True_, CategoricalDistribution([True, False]))
    with pytest.raises(InputError, match="outside its range"):
        check_value("row", "x", np.float32(0.31), FloatDistribution(0.0, 0.3))
