"""A configuration handed to a task holds values its search space could have suggested:
each value of the right type and in its parameter's range, on the branch its values choose,
and no key that is no parameter of the task."""

from __future__ import annotations

from typing import Any

import pytest

from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TASKS
from hyperlab.tasks.base import Evaluation, Task
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
        ("n_layers", 2.0, InputTypeError, r"n_layers=2.0 \(float\) must be an integer: int in"),
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
    with pytest.raises(error, match=message):
        task.train_segment(config, None, 1)
    with pytest.raises(error, match=rf"segment 1's config for wine-mlp: {message}"):
        task.schedule_test_score([(SMALL, 1), (config, 1)])


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
