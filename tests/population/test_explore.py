"""Explore: perturbed and bandit-chosen values stay inside their distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hyperlab.population import Context, GPBandit, Perturb
from hyperlab.population.explore import perturb
from hyperlab.testing.tuners import MIXED_SPACE


def _inside(dist: object, value: object) -> bool:
    return dist._contains(dist.to_internal_repr(value))  # type: ignore[attr-defined]


def _context(log: list[dict[str, object]] | None = None) -> Context:
    return Context(MIXED_SPACE, tuple(MIXED_SPACE), log or [], epoch=2, budget=10)


def test_perturbed_values_stay_inside_every_distribution() -> None:
    rng = np.random.default_rng(0)
    params = {"float": 1.9, "log_float": 1e-5, "step_float": 1.0, "int": -2, "step_int": 20,
              "log_int": 256, "categorical": None}  # fmt: skip
    for resample in (0.0, 0.3):
        current = [dict(params)]
        for _ in range(300):
            current = Perturb(resample).explore(current, _context(), rng)
            for name, value in current[0].items():
                assert _inside(MIXED_SPACE[name], value), (name, value)


def test_a_log_float_moves_by_the_pbt_factors_and_is_clipped() -> None:
    dist = FloatDistribution(1e-4, 1.0, log=True)
    rng = np.random.default_rng(1)
    ratios = {round(perturb(1e-2, dist, rng) / 1e-2, 6) for _ in range(50)}
    assert ratios == {0.8, 1.25}
    assert {perturb(1.0, dist, rng) for _ in range(30)} <= {1.0, 0.8}
    assert min(perturb(1e-4, dist, rng) for _ in range(30)) == 1e-4


def test_ints_and_categoricals_move_to_neighbours() -> None:
    rng = np.random.default_rng(2)
    ints = IntDistribution(0, 20, step=5)
    assert {perturb(10, ints, rng) for _ in range(40)} <= {5, 15}
    assert {perturb(20, ints, rng) for _ in range(40)} <= {15, 20}
    log_ints = IntDistribution(1, 256, log=True)
    assert {perturb(16, log_ints, rng) for _ in range(40)} == {13, 20}
    assert {perturb(1, log_ints, rng) for _ in range(40)} <= {1, 2}  # one step at least
    cats = CategoricalDistribution(["a", "b", "c"])
    assert {perturb("b", cats, rng) for _ in range(40)} == {"a", "c"}
    assert {perturb("a", cats, rng) for _ in range(40)} == {"b"}


def test_the_bandit_chooses_inside_the_space_and_learns_from_improvements() -> None:
    rng = np.random.default_rng(3)
    base = {"float": 0.0, "log_float": 1e-3, "step_float": 0.5, "int": 0, "step_int": 5,
            "log_int": 8, "categorical": "a"}  # fmt: skip
    # improvements grow with `float`: the bandit should pick large values of it
    log = []
    for i in range(30):
        config = dict(base, float=-1.0 + 3.0 * (i % 10) / 9)
        log.append({"start": 2 * (i // 10), "config": config, "improvement": config["float"]})
    chosen = GPBandit(kappa=0.1).explore([dict(base)] * 3, _context(log), rng)
    assert len(chosen) == 3
    for params in chosen:
        for name, value in params.items():
            assert _inside(MIXED_SPACE[name], value), (name, value)
    assert np.mean([p["float"] for p in chosen]) > 1.0
    # without data it draws at random, still inside
    first = GPBandit().explore([dict(base)], _context(), rng)[0]
    assert all(_inside(MIXED_SPACE[n], v) for n, v in first.items())


@pytest.mark.parametrize("explorer", [Perturb(0.25), GPBandit()], ids=["pbt", "pb2"])
def test_only_the_explored_parameters_change(explorer: object) -> None:
    rng = np.random.default_rng(4)
    params = {"float": 0.5, "log_float": 1e-3, "step_float": 0.5, "int": 1, "step_int": 5,
              "log_int": 8, "categorical": "a"}  # fmt: skip
    context = Context(MIXED_SPACE, ("float", "log_int"), [], epoch=1, budget=4)
    for new in explorer.explore([dict(params)] * 5, context, rng):  # type: ignore[attr-defined]
        assert {k: v for k, v in new.items() if k not in ("float", "log_int")} == {
            k: v for k, v in params.items() if k not in ("float", "log_int")
        }
        assert math.isfinite(new["float"])
