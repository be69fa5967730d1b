"""Every registered tuner passes hyperlab's conformance checks (and the neural ones Optuna's)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase

from hyperlab.registry import TASKS, TUNERS
from hyperlab.testing.tuners import CHECKS
from hyperlab.tuners.meta import MetaSampler
from hyperlab.tuners.neural import NeuralSampler

# Small surrogates keep the neural tuners quick here; their defaults are tested elsewhere.
# n_startup=3 makes the model choose most trials of each check.
_FAST = {"surrogate_options": {"steps": 60, "warm_steps": 15}, "n_candidates": 200, "n_startup": 3}
# The population tuners need a task that continues training; as samplers they draw at random.
_POPULATION = {"task": TASKS.create("wine-mlp")}
_OPTIONS: dict[str, dict[str, Any]] = {
    "neural": _FAST,
    "neural-ensemble": _FAST,
    "pbt": _POPULATION,
    "pb2": _POPULATION,
    "pbt-hd": _POPULATION,
    "pb2-hd": _POPULATION,
    "tpe-hd": _POPULATION,  # they train through train_segment; as samplers they are tpe/random
    "random-hd": _POPULATION,
    "one-epoch": _POPULATION,  # it screens a task's epochs; as a sampler it draws at random
    # each of BORE's candidates is one XGBoost call; the peers' own tests run it with the model
    "syne-bore": {"feval_acq": 20},
}
_SLOW = {"gp", "neural", "neural-ensemble"}


def _factory(name: str) -> Any:
    return functools.partial(TUNERS.create, name, **_OPTIONS.get(name, {}))


def _cases() -> list[Any]:
    cases = []
    for name in TUNERS.names():
        for check in CHECKS:
            marks: list[Any] = [pytest.mark.slow] if name in _SLOW else []
            cases.append(pytest.param(name, check, id=f"{name}-{check}", marks=marks))
    return cases


@pytest.mark.parametrize(("tuner", "check"), _cases())
def test_conformance(tuner: str, check: str) -> None:
    CHECKS[check](_factory(tuner))


def test_every_tuner_is_covered() -> None:
    names = set(TUNERS.names())
    assert {
        "random",
        "grid",
        "qmc",
        "ga",
        "tpe",
        "cmaes",
        "gp",
        "neural",
        "neural-ensemble",
        "meta",
        "pbt",
        "pb2",
        "pbt-hd",
        "pb2-hd",
        "tpe-hd",
        "random-hd",
    } <= names


# Optuna's own suite (shipped in the wheel) on the hyperlab samplers that are not Optuna's.
# Tiny networks and a 2-trial initial design make the model choose almost every trial.
_TINY = {"surrogate_options": {"steps": 20, "warm_steps": 5, "width": 16}, "n_candidates": 64}


@pytest.mark.slow
class TestNeuralOptunaBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: NeuralSampler(seed=0, n_startup=2, **_TINY)  # type: ignore[arg-type]


@pytest.mark.slow
class TestMetaOptunaBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: MetaSampler(seed=0, n_candidates=64)
