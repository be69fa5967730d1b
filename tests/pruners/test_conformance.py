"""Every registered pruner passes the conformance suite of ``hyperlab.testing.pruners``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import optuna
import pytest

from hyperlab.pruners.oracle import OraclePruner
from hyperlab.pruners.schedule import default_min_epochs
from hyperlab.registry import PRUNERS
from hyperlab.testing import pruners as suite

# Small networks keep the neural pruner's checks quick; the rule under test is unchanged.
OPTIONS: dict[str, dict[str, Any]] = {
    "curve": {"predictor_options": {"n_members": 2, "width": 8, "steps": 50, "warm_steps": 20}},
    "curve-halving": {
        "predictor_options": {"n_members": 2, "width": 8, "steps": 50, "warm_steps": 20}
    },
}


def oracle(*, max_budget: int | None, seed: int | None) -> OraclePruner:
    """The oracle reading the suite's own final values (the lab hands it a task's instead)."""
    return OraclePruner(
        suite.synthetic_final, min_epochs=default_min_epochs(max_budget or suite.BUDGET), seed=seed
    )


def factory(name: str) -> Callable[..., optuna.pruners.BasePruner]:
    if name == "oracle":
        return oracle
    return functools.partial(PRUNERS.create, name, **OPTIONS.get(name, {}))


def test_every_pruner_is_covered() -> None:
    assert {
        "none",
        "median",
        "asha",
        "hyperband",
        "curve",
        "curve-parametric",
        "curve-halving",
        "oracle",
    } <= set(PRUNERS.names())


@pytest.mark.slow
@pytest.mark.parametrize("check", suite.ALL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", PRUNERS.names())
def test_conformance(name: str, check: Callable[[Any], None]) -> None:
    check(factory(name))


def test_a_broken_pruner_fails_the_suite() -> None:
    class Flaky(optuna.pruners.BasePruner):
        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            return 1  # type: ignore[return-value]

    with pytest.raises(AssertionError, match="bool"):
        suite.check_returns_bool(lambda **_: Flaky())
