"""Synthetic problem families: synth-<function>-<d>d-<instance> and gpprior-<d>d-<instance>."""

from __future__ import annotations

import pickle

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from hyperlab.errors import InputError, UnknownNameError
from hyperlab.registry import TASKS
from hyperlab.tasks.synthetic_families import FUNCTIONS, GPPriorTask, SynthTask


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("dim", [1, 3, 20])
def test_optimum_is_exact_and_never_undercut(function: str, dim: int) -> None:
    task = TASKS.create(f"synth-{function}-{dim}d-5")
    assert isinstance(task, SynthTask) and task.optimum is not None
    best = task.evaluate(task.argmin_config())
    assert best.value == pytest.approx(task.optimum, rel=1e-9, abs=1e-9)
    _, values = task.sample_points(500, seed=1)
    assert np.all(values >= task.optimum - 1e-9)
    assert np.all(np.isfinite(values))


def test_same_name_same_function_and_instances_differ() -> None:
    a, b = TASKS.create("synth-ackley-6d-3"), TASKS.create("synth-ackley-6d-3")
    other = TASKS.create("synth-ackley-6d-4")
    x, values = a.sample_points(50, seed=2)
    assert np.array_equal(values, b.function_batch(x))
    assert a.distributions() == b.distributions() and a.optimum == b.optimum
    assert a.distributions() != other.distributions() or a.optimum != other.optimum
    again = pickle.loads(pickle.dumps(a))
    assert np.array_equal(again.function_batch(x), values)


def test_ints_and_log_floats_and_their_grid() -> None:
    task = TASKS.create("synth-sphere-20d-0")
    dists = task.distributions()
    assert any(isinstance(d, IntDistribution) for d in dists.values())
    assert any(isinstance(d, FloatDistribution) and d.log for d in dists.values())
    assert any(isinstance(d, FloatDistribution) and not d.log for d in dists.values())
    best = task.argmin_config()
    for name, d in dists.items():
        assert d._contains(d.to_internal_repr(best[name]))
        if isinstance(d, IntDistribution):
            assert isinstance(best[name], int)
    nudged = {**best}
    name = next(n for n, d in dists.items() if isinstance(d, IntDistribution))
    nudged[name] = best[name] + (1 if best[name] < dists[name].high else -1)
    assert task.evaluate(nudged).value > task.optimum


def test_batch_values_and_evaluate_agree() -> None:
    task = TASKS.create("synth-levy-4d-2")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: task.evaluate(task.search_space(t)).value, n_trials=20)
    configs = [t.params for t in study.trials]
    # a batch differs from one point at a time by rounding only (BLAS blocks differently)
    assert np.allclose(task.values(configs), [t.value for t in study.trials], rtol=1e-12)
    assert task.test_score(configs[0]) is None  # a function has no held-out split
    with pytest.raises(InputError, match="outside"):
        task.function_batch(np.full((1, 4), 1e9))


def test_gp_prior_instance() -> None:
    task = TASKS.create("gpprior-3d-7")
    assert isinstance(task, GPPriorTask)
    x, values = task.sample_points(2000, seed=3)
    assert np.array_equal(TASKS.create("gpprior-3d-7").function_batch(x), values)
    assert task.optimum is not None and task.optimum <= values.min()
    assert task.evaluate(task.argmin_config()).value == pytest.approx(task.optimum, abs=1e-6)
    assert np.std(values) > 0
    other = TASKS.create("gpprior-3d-8")
    u = task.to_unit(x)
    assert not np.allclose(other.unit_function(u), task.unit_function(u))


@pytest.mark.parametrize(
    "name",
    [
        "synth-foo-3d-0",
        "synth-ackley-0d-1",
        "synth-ackley-21d-1",
        "synth-ackley-3d",
        "synth-ackley",
        "gpprior-3d",
        "gpprior-25d-0",
        "gpprior-x",
    ],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InputError, match=r"synth|gpprior|dimensions|function"):
        TASKS.create(name)


def test_an_unknown_function_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="ackley"):
        TASKS.create("synth-foo-3d-0")


@pytest.mark.parametrize("name", ["synth-ackley-2d-0", "gpprior-2d-0"])
def test_a_configuration_lacking_a_parameter_is_refused_by_name(name: str) -> None:
    task = TASKS.create(name)
    with pytest.raises(InputError, match="lacks the parameter 'x0'"):
        task.values([{}])
    with pytest.raises(InputError, match="lacks the parameter 'x1'"):
        task.values([{"x0": 1}])
