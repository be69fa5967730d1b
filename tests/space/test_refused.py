"""A parameter whose range Optuna refuses, told from any other ValueError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution

from hyperlab.space.refused import refused_range


def _raised(space: Callable[[optuna.Trial], Any]) -> BaseException:
    trial = optuna.create_study().ask()
    with pytest.raises(Exception) as info:
        space(trial)
    return info.value


@pytest.mark.parametrize(
    ("space", "call", "why"),
    [
        (lambda t: t.suggest_float("lr", 1.0, 0.1), "suggest_float('lr', 1.0, 0.1)", "low <= high"),
        (
            lambda t: t.suggest_float("lr", 0.0, 1.0, log=True),
            "suggest_float('lr', 0.0, 1.0, log=True)",
            "low > 0",
        ),
        (
            lambda t: t.suggest_float("p", 0.0, 1.0, step=-0.1),
            "suggest_float('p', 0.0, 1.0, step=-0.1)",
            "step > 0",
        ),
        (lambda t: t.suggest_int("k", 0, 8, log=True), "suggest_int('k', 0, 8, log=True)", ">= 1"),
        (lambda t: t.suggest_categorical("c", []), "suggest_categorical('c', [])", "choices"),
    ],
)
def test_a_range_optuna_refuses_is_named_with_its_parameter(
    space: Callable[[optuna.Trial], Any], call: str, why: str
) -> None:
    refused = refused_range(_raised(space))
    assert refused is not None and refused.call == call and why in refused.why
    assert refused.place is not None and refused.place.startswith("test_refused.py:")
    assert str(refused).startswith(f"parameter {refused.name!r} is asked for with {call} (at ")


def _own_value_error(trial: optuna.Trial) -> None:
    trial.suggest_float("x", 0.0, 1.0)
    raise ValueError("the objective's own")


def _own_distribution(trial: optuna.Trial) -> None:
    FloatDistribution(1.0, 0.1)  # (built by the user's code, not by a suggestion)


def _refused_value(trial: optuna.Trial) -> None:
    trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_categorical("x", ["a"])  # (another kind for a parameter: not a range)


@pytest.mark.parametrize("space", [_own_value_error, _own_distribution, _refused_value])
def test_any_other_error_is_not_a_refused_range(space: Callable[[optuna.Trial], Any]) -> None:
    assert refused_range(_raised(space)) is None
    assert refused_range(RuntimeError("not a ValueError")) is None
