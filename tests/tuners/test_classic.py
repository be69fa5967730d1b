"""The classic tuners' own additions to Optuna's samplers."""

from __future__ import annotations

import pickle
import threading
import warnings

import optuna
from optuna.trial import TrialState

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
