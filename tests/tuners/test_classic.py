"""The classic tuners' own additions to Optuna's samplers."""

from __future__ import annotations

import pickle
import re
import threading
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TUNERS
from hyperlab.testing.tuners import mixed_objective


def _optimize(study: optuna.Study, n_trials: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(mixed_objective, n_trials=n_trials, n_jobs=2)


def test_ga_pickles_before_and_after_threaded_use() -> None:
    sampler = TUNERS.create("ga", seed=0, population_size=4)
    assert isinstance(sampler, optuna.samplers.NSGAIISampler)
    sampler = pickle.loads(pickle.dumps(sampler))
    study = optuna.create_study(sampler=sampler)
    _optimize(study, 10)  # past the first generation, from two threads
    clone = pickle.loads(pickle.dumps(study.sampler))
    assert type(clone) is type(sampler) and clone.population_size == 4
    study.sampler = clone
    _optimize(study, 6)
    assert len(study.trials) == 16
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    generations = [t.system_attrs.get("NSGAIISampler:generation") for t in study.trials]
    assert max(g for g in generations if g is not None) >= 2


def test_ga_pickled_while_a_lock_is_held_loads_unlocked() -> None:
    sampler = TUNERS.create("ga", seed=1)
    sampler._held = threading.Lock()  # type: ignore[attr-defined]
    sampler._reentrant = threading.RLock()  # type: ignore[attr-defined]
    with sampler._held, sampler._reentrant:  # type: ignore[attr-defined]
        data = pickle.dumps(sampler)
    clone = pickle.loads(data)
    for name, kind in (("_held", threading.Lock), ("_reentrant", threading.RLock)):
        lock = getattr(clone, name)
        assert type(lock) is type(kind()), name
        assert lock.acquire(blocking=False), f"{name} was loaded locked"
        lock.release()
    assert "_hyperlab_locks" not in vars(clone)


def test_ga_suggests_as_optuna_nsgaii_does() -> None:
    runs = []
    for sampler in (
        TUNERS.create("ga", seed=2, population_size=4),
        optuna.samplers.NSGAIISampler(seed=2, population_size=4),
    ):
        study = optuna.create_study(sampler=sampler)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(mixed_objective, n_trials=12)
        runs.append([(t.params, t.system_attrs) for t in study.trials])
    assert runs[0] == runs[1]


@pytest.mark.slow  # two spawned processes
def test_a_grid_run_by_two_processes_visits_every_point_once(tmp_path: Path) -> None:
    """Trial n takes the n-th point of the grid's seeded order, so both processes must share
    the order (their samplers are seeded apart): before, 64 trials visited 48 of 64 points."""
    from hyperlab.cli import main
    from hyperlab.lab.rundir import load_studies

    argv = ["tune", "--task", "hartmann6", "--tuner", "grid", "--tuner-option", "points=2"]
    runs = ["--runs-dir", str(tmp_path), "--name", "g", "--no-progress"]
    assert main([*argv, "--trials", "64", "--jobs", "2", *runs]) == 0
    study = load_studies(tmp_path / "g")[0][0]
    points = {tuple(sorted(t.params.items())) for t in study.trials if t.state.name == "COMPLETE"}
    assert len(points) == 64


def test_only_a_tuner_that_names_study_seed_gets_it() -> None:
    from hyperlab.lab.plugins import make_tuner
    from hyperlab.registry import TASKS

    task = TASKS.create("branin")
    a = make_tuner("grid", {}, seed=1, task=task, study_seed=0)
    b = make_tuner("grid", {}, seed=2, task=task, study_seed=0)
    assert a._all_grids == b._all_grids  # the study's order, whatever the process's seed
    make_tuner("random", {}, seed=1, task=task, study_seed=0)  # takes no study_seed: not given


@pytest.mark.parametrize("seed", ["a", -1, 1.5, True])
def test_the_ga_sampler_refuses_a_seed_numpy_cannot_take(seed: object) -> None:
    from hyperlab.tuners import GASampler

    with pytest.raises((InputError, InputTypeError), match=re.escape(f"or None, got {seed!r}")):
        GASampler(seed=seed)  # type: ignore[arg-type]
    assert GASampler(seed=0, population_size=4)._population_size == 4
