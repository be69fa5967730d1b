"""Each shipped peer passes the tuner conformance suite with its model acting, repeats itself
under a seed whatever the caller does to the global RNGs, and refuses bad options by name."""

from __future__ import annotations

import functools
import pickle
import random
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

import hyperlab
from hyperlab import StartupOnlyWarning
from hyperlab.errors import InputError, InputTypeError, UnknownNameError
from hyperlab.pruners import TunerRulePruner
from hyperlab.registry import TUNERS
from hyperlab.testing.tuners import CHECKS, MIXED_SPACE, mixed_objective

# Options that make each peer's model choose within the checks' few trials (the defaults run
# in tests/tuners/test_conformance.py with every registered tuner).
#: Every peer, single- and multi-fidelity.
PEER_NAMES = {
    "nevergrad",
    "hyperopt-tpe",
    "syne-bore",
    "syne-rea",
    "smac-rf",
    "syne-asha",
    "syne-bohb",
    "smac-hyperband",
    "dehb",
}
ACTING: dict[str, dict[str, Any]] = {
    "nevergrad": {"planned_trials": 12},
    "hyperopt-tpe": {"n_startup_jobs": 3},
    "syne-bore": {"init_random": 3, "feval_acq": 20},
    "syne-rea": {"population_size": 4, "sample_size": 2},
}


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", list(ACTING))
def test_conformance_with_the_model_acting(name: str, check: str) -> None:
    CHECKS[check](functools.partial(TUNERS.create, name, **ACTING[name]))


# SMAC's forest takes about half a second a suggestion here: the checks where its model acts on
# what it was told (its initial design is 2 of 8 trials with planned_trials=8)
@pytest.mark.slow
@pytest.mark.parametrize("check", ["determinism", "failures", "enqueue"])
def test_smac_conformance_with_the_model_acting(check: str) -> None:
    CHECKS[check](functools.partial(TUNERS.create, "smac-rf", planned_trials=8))


@pytest.mark.parametrize("name", list(ACTING))
def test_same_seed_same_trials_whatever_the_global_rngs(name: str) -> None:
    runs = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        random.seed(global_seed)
        sampler = TUNERS.create(name, seed=3, space=dict(MIXED_SPACE), **ACTING[name])
        study = optuna.create_study(sampler=sampler)
        study.optimize(mixed_objective, n_trials=8)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def _epochs(trial: optuna.Trial) -> float:
    x, y = trial.suggest_float("x", -1.0, 1.0), trial.suggest_float("y", -1.0, 1.0)
    for epoch in (1, 2, 3):
        trial.report(x + y + 1 / epoch, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x + y + 1 / 3


# (NGOpt's Cobyla starts from the best point it was told, trial 0 here: Nevergrad's own choice)
@pytest.mark.parametrize("name", sorted(PEER_NAMES - {"nevergrad"}))
def test_the_first_proposal_on_a_learnt_space_is_not_the_random_first_trial(name: str) -> None:
    """On a user's objective the first trial is drawn at random (the space is not known yet);
    the random draws and the peer's own came from one stream under the same seed, so the
    peer's first proposal repeated that trial exactly (syne-asha, syne-bohb): a trial wasted,
    silently."""
    for seed in (0, 1):
        sampler = TUNERS.create(name, seed=seed)
        study = optuna.create_study(sampler=sampler, pruner=TunerRulePruner(max_budget=3))
        study.optimize(_epochs, n_trials=5)
        assert study.trials[0].params not in [t.params for t in study.trials[1:]]


def test_nevergrad_records_the_algorithm_ngopt_picked() -> None:
    sampler = TUNERS.create("nevergrad", seed=0, space=dict(MIXED_SPACE), planned_trials=30)
    optuna.create_study(sampler=sampler).optimize(mixed_objective, n_trials=1)
    assert sampler.algorithm and sampler.algorithm != "NGOpt"


@pytest.mark.parametrize(
    ("name", "options", "error", "match"),
    [
        ("nevergrad", {"optimizer": "NoSuchOpt"}, UnknownNameError, "NoSuchOpt"),
        ("nevergrad", {"optimizer": 3}, InputTypeError, "optimizer"),
        ("nevergrad", {"planned_trials": 0}, InputError, "planned_trials"),
        ("nevergrad", {"seed": 1.5}, InputTypeError, "seed"),
        ("hyperopt-tpe", {"n_startup_jobs": -1}, InputError, "n_startup_jobs"),
        ("hyperopt-tpe", {"n_startup_jobs": "3"}, InputTypeError, "n_startup_jobs"),
        ("syne-bore", {"feval_acq": 0}, InputError, "feval_acq"),
        ("syne-rea", {"population_size": 2.5}, InputTypeError, "population_size"),
        ("smac-rf", {"planned_trials": -3}, InputError, "planned_trials"),
    ],
)
def test_bad_options_are_refused_by_name(
    name: str, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        TUNERS.create(name, **{"seed": 0, **options})


def _continuous(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 2.0)
    y = trial.suggest_float("y", 1e-5, 1e-1, log=True)
    if trial.number in (1, 4):
        raise RuntimeError("diverged")
    return (x - 0.5) ** 2 + y


def test_nevergrad_thread_based_picks_survive_what_a_study_does() -> None:
    """On a small continuous space NGOpt picks a SciPy routine that runs in a background thread
    and takes one trial at a time: enqueued points, failures before any value, parallel trials
    and a pickled copy all work, and no thread is left that would keep the process alive."""
    space = {"x": FloatDistribution(-1.0, 2.0), "y": FloatDistribution(1e-5, 1e-1, log=True)}
    sampler = TUNERS.create("nevergrad", seed=0, space=space, planned_trials=30)
    study = optuna.create_study(sampler=sampler)
    study.enqueue_trial({"x": 0.1, "y": 1e-3})
    study.optimize(_continuous, n_trials=6, catch=(RuntimeError,))
    study.optimize(_continuous, n_trials=6, n_jobs=2, catch=(RuntimeError,))
    study.sampler = pickle.loads(pickle.dumps(sampler))
    study.optimize(_continuous, n_trials=3, catch=(RuntimeError,))
    assert len(study.trials) == 15
    assert study.trials[0].params == {"x": 0.1, "y": 1e-3}
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 13
    main = threading.main_thread()
    assert not [t for t in threading.enumerate() if t is not main and not t.daemon]


ONE_VALUE_SPACE = {
    "x": FloatDistribution(0.0, 1.0),
    "f": FloatDistribution(1.0, 1.0),
    "i": IntDistribution(3, 3),
    "c": CategoricalDistribution(["only"]),
}


def _one_value_objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    f, i = trial.suggest_float("f", 1.0, 1.0), trial.suggest_int("i", 3, 3)
    assert trial.suggest_categorical("c", ["only"]) == "only"
    return (x - 0.3) ** 2 + f + i


@pytest.mark.parametrize(
    ("name", "options"),
    [*ACTING.items(), ("smac-rf", {"planned_trials": 3})],
)
def test_a_parameter_of_one_value_is_a_constant_to_every_peer(
    name: str, options: dict[str, Any]
) -> None:
    sampler = TUNERS.create(name, seed=0, space=dict(ONE_VALUE_SPACE), **options)
    study = optuna.create_study(sampler=sampler)
    study.optimize(_one_value_objective, n_trials=3)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert study.trials[-1].params["i"] == 3
    assert sampler.sample_relative(study, study.trials[-1], dict(ONE_VALUE_SPACE))["f"] == 1.0


def test_nevergrad_leaves_the_warning_filters_as_it_found_them() -> None:
    """SciPy's COBYLA (NGOpt's pick here) warns about the stopping radius Nevergrad passes it; the
    sampler hides that warning inside its calls, never with a filter left behind."""
    space = {"x": FloatDistribution(-1.0, 2.0), "y": FloatDistribution(1e-5, 1e-1, log=True)}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sampler = TUNERS.create("nevergrad", seed=0, space=space, planned_trials=30)
        optuna.create_study(sampler=sampler).optimize(_continuous, n_trials=4, catch=RuntimeError)
        left = [f for f in warnings.filters if f[1] is not None and "RHOEND" in f[1].pattern]
    assert sampler.algorithm == "Cobyla"
    assert not left
    assert not [w for w in seen if "RHOEND" in str(w.message)]


def test_syne_rea_warns_when_a_run_never_leaves_its_random_population(tmp_path: Path) -> None:
    assert TUNERS.create("syne-rea", seed=0).startup_trials == 100
    with pytest.warns(StartupOnlyWarning, match="tuner 'syne-rea'.*trials=4"):
        hyperlab.tune(
            "branin",
            "syne-rea",
            trials=4,
            tuner_options={"population_size": 4, "sample_size": 2},
            runs_dir=tmp_path,
            progress=False,
            report=False,
        )


def test_a_smac_facade_that_fails_to_build_leaves_no_folder_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hyperlab.tuners.peers.base import param_specs
    from hyperlab.tuners.peers.smac import smac_facade

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    specs = param_specs({"x": FloatDistribution(0.0, 1.0)})

    def broken(smac: Any, scenario: Any) -> Any:
        scenario(n_trials=3)
        raise RuntimeError("no facade")

    with pytest.raises(RuntimeError, match="no facade"):
        smac_facade("smac-rf", 0, specs, broken)
    assert list(tmp_path.iterdir()) == []


def _branches(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return trial.suggest_float(f"x_{kind}", 0, 1) + (kind == "b")


@pytest.mark.parametrize("name", ["hyperopt-tpe", "syne-rea"])
def test_a_branch_outside_the_learnt_space_is_drawn_at_random_with_a_warning(name: str) -> None:
    """On a user's objective the peer searches the first trial's branch; the other branch's
    parameters were drawn at random for the whole run, silently."""
    study = optuna.create_study(sampler=TUNERS.create(name, seed=0, **ACTING[name]))
    with pytest.warns(UserWarning, match=f"tuner '{name}' draws parameter 'x_[ab]' of trial"):
        study.optimize(_branches, n_trials=12)
    assert {t.params["kind"] for t in study.trials} == {"a", "b"}
