"""Conformance checks that every tuner passes (after Optuna's ``optuna/testing/pytest_samplers``).

Each ``check_*`` function takes a *tuner factory* — a callable
``factory(*, seed, space) -> optuna.samplers.BaseSampler`` like the entries of
:data:`hyperlab.registry.TUNERS` — runs a small study and raises ``AssertionError`` with a
message when the tuner misbehaves. :func:`run_all` runs them all. They cover what Optuna's own
suites do not: every distribution type (float, log float, stepped float, int, stepped int,
log int, categorical with mixed types), the same seed giving the same suggestions, failed,
NaN and pruned trials, ``enqueue_trial``, pickling, threads, conditional spaces, and a
maximized objective handled exactly as the minimized negation.

Example::

    from hyperlab.registry import TUNERS
    from hyperlab.testing.tuners import run_all

    run_all(lambda **kw: TUNERS.create("tpe", **kw))
"""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.study import StudyDirection
from optuna.trial import TrialState

TunerFactory = Callable[..., BaseSampler]

#: A space with one parameter of every kind the checks cover.
MIXED_SPACE: dict[str, BaseDistribution] = {
    "float": FloatDistribution(-1.0, 2.0),
    "log_float": FloatDistribution(1e-5, 1e-1, log=True),
    "step_float": FloatDistribution(0.0, 1.0, step=0.25),
    "int": IntDistribution(-2, 5),
    "step_int": IntDistribution(0, 20, step=5),
    "log_int": IntDistribution(1, 256, log=True),
    "categorical": CategoricalDistribution(["a", 1, None, 2.5]),
}

#: A conditional space: ``lr`` always, ``momentum`` only for ``sgd``, ``beta`` only for ``adam``.
CONDITIONAL_SPACE: dict[str, BaseDistribution] = {
    "optimizer": CategoricalDistribution(["sgd", "adam"]),
    "lr": FloatDistribution(1e-4, 1.0, log=True),
    "momentum": FloatDistribution(0.0, 0.99),
    "beta": FloatDistribution(0.5, 0.999),
}


def suggest_mixed(trial: optuna.Trial) -> dict[str, Any]:
    """Suggest every parameter of :data:`MIXED_SPACE`."""
    return {
        "float": trial.suggest_float("float", -1.0, 2.0),
        "log_float": trial.suggest_float("log_float", 1e-5, 1e-1, log=True),
        "step_float": trial.suggest_float("step_float", 0.0, 1.0, step=0.25),
        "int": trial.suggest_int("int", -2, 5),
        "step_int": trial.suggest_int("step_int", 0, 20, step=5),
        "log_int": trial.suggest_int("log_int", 1, 256, log=True),
        "categorical": trial.suggest_categorical("categorical", ["a", 1, None, 2.5]),
    }


def mixed_objective(trial: optuna.Trial) -> float:
    """A smooth function of every parameter of :data:`MIXED_SPACE` (minimum near the centre)."""
    p = suggest_mixed(trial)
    cat = {"a": 0.0, 1: 0.5, None: 1.0, 2.5: 0.2}[p["categorical"]]
    return (
        (p["float"] - 0.5) ** 2
        + (math.log10(p["log_float"]) + 3) ** 2 / 4
        + (p["step_float"] - 0.5) ** 2
        + (p["int"] - 1) ** 2 / 10
        + (p["step_int"] - 10) ** 2 / 100
        + math.log2(p["log_int"]) / 8
        + cat
    )


def conditional_objective(trial: optuna.Trial) -> float:
    """An objective over :data:`CONDITIONAL_SPACE` whose parameters depend on ``optimizer``."""
    opt = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    if opt == "sgd":
        extra = (trial.suggest_float("momentum", 0.0, 0.99) - 0.9) ** 2
    else:
        extra = (trial.suggest_float("beta", 0.5, 0.999) - 0.9) ** 2
    return (math.log10(lr) + 2) ** 2 + extra


def _study(
    factory: TunerFactory, seed: int | None, space: dict[str, BaseDistribution]
) -> optuna.Study:
    return optuna.create_study(sampler=factory(seed=seed, space=dict(space)))


def _check_params(params: dict[str, Any], space: dict[str, BaseDistribution], where: str) -> None:
    for name, value in params.items():
        dist = space[name]
        if isinstance(dist, CategoricalDistribution):
            assert any(
                value is c or (type(value) is type(c) and value == c) for c in dist.choices
            ), f"{where}: {name}={value!r} is not one of {dist.choices}"
            continue
        assert isinstance(dist, IntDistribution | FloatDistribution)
        if isinstance(dist, IntDistribution):
            assert isinstance(value, int) and not isinstance(value, bool), (
                f"{where}: {name}={value!r} should be an int"
            )
        assert dist.low <= value <= dist.high, (
            f"{where}: {name}={value!r} outside [{dist.low}, {dist.high}]"
        )
        if dist.step is not None:
            k = (value - dist.low) / dist.step
            assert abs(k - round(k)) < 1e-8, f"{where}: {name}={value!r} is off the step grid"


def check_distributions(factory: TunerFactory, n_trials: int = 10, seed: int = 0) -> None:
    """Every suggested value lies in its distribution, on its step grid, with the right type."""
    study = _study(factory, seed, MIXED_SPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(mixed_objective, n_trials=n_trials)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == n_trials, f"only {len(done)} of {n_trials} trials completed"
    for t in done:
        assert set(t.params) == set(MIXED_SPACE), f"trial {t.number} has params {sorted(t.params)}"
        _check_params(t.params, MIXED_SPACE, f"trial {t.number}")


def check_determinism(factory: TunerFactory, n_trials: int = 8, seed: int = 1) -> None:
    """Two studies with the same seed get the same suggestions (trials run one at a time)."""
    runs = []
    for _ in range(2):
        study = _study(factory, seed, MIXED_SPACE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(mixed_objective, n_trials=n_trials)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1], f"same seed, different suggestions:\n{runs[0]}\n{runs[1]}"


def check_failures(factory: TunerFactory, n_trials: int = 12, seed: int = 2) -> None:
    """Failed (raising), NaN and pruned trials neither crash the tuner nor stop the study."""

    def objective(trial: optuna.Trial) -> float:
        value = mixed_objective(trial)
        kind = trial.number % 4
        if kind == 1:
            raise RuntimeError("diverged")
        if kind == 2:
            return float("nan")
        if kind == 3:
            trial.report(value + 1.0, 1)
            raise optuna.TrialPruned()
        return value

    study = _study(factory, seed, MIXED_SPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n_trials, catch=(RuntimeError,))
    states = [t.state for t in study.trials]
    assert len(states) == n_trials, f"{len(states)} of {n_trials} trials ran"
    assert states.count(TrialState.FAIL) == sum(1 for i in range(n_trials) if i % 4 in (1, 2))
    assert states.count(TrialState.PRUNED) == sum(1 for i in range(n_trials) if i % 4 == 3)
    for t in study.trials:
        _check_params(t.params, MIXED_SPACE, f"trial {t.number}")


def check_enqueue(factory: TunerFactory, seed: int = 3) -> None:
    """Enqueued configurations are evaluated exactly as given, and sampling goes on after."""
    study = _study(factory, seed, MIXED_SPACE)
    fixed = {
        "float": 0.25,
        "log_float": 1e-3,
        "step_float": 0.5,
        "int": 2,
        "step_int": 10,
        "log_int": 4,
        "categorical": None,
    }
    study.enqueue_trial(fixed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(mixed_objective, n_trials=3)
    assert study.trials[0].params == fixed, f"enqueued {fixed}, ran {study.trials[0].params}"
    for t in study.trials[1:]:
        _check_params(t.params, MIXED_SPACE, f"trial {t.number}")


def check_pickle(factory: TunerFactory, n_trials: int = 6, seed: int = 4) -> None:
    """The tuner pickles before and after use, and an unpickled copy keeps suggesting."""
    sampler = factory(seed=seed, space=dict(MIXED_SPACE))
    sampler = pickle.loads(pickle.dumps(sampler))
    study = optuna.create_study(sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(mixed_objective, n_trials=n_trials)
        clone = pickle.loads(pickle.dumps(study.sampler))
        assert type(clone) is type(sampler)
        study.sampler = clone
        study.optimize(mixed_objective, n_trials=2)
    assert len(study.trials) == n_trials + 2
    for t in study.trials:
        assert t.state == TrialState.COMPLETE, f"trial {t.number} is {t.state.name}"
        _check_params(t.params, MIXED_SPACE, f"trial {t.number}")


def check_threads(factory: TunerFactory, n_trials: int = 8, seed: int = 5) -> None:
    """``study.optimize(n_jobs=2)`` completes every trial with valid suggestions."""
    study = _study(factory, seed, MIXED_SPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(mixed_objective, n_trials=n_trials, n_jobs=2)
    assert len(study.trials) == n_trials
    for t in study.trials:
        assert t.state == TrialState.COMPLETE, f"trial {t.number} is {t.state.name}"
        _check_params(t.params, MIXED_SPACE, f"trial {t.number}")


def check_conditional(factory: TunerFactory, n_trials: int = 10, seed: int = 6) -> None:
    """Conditional parameters appear only in their branch and respect their distributions."""
    study = _study(factory, seed, CONDITIONAL_SPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(conditional_objective, n_trials=n_trials)
    for t in study.trials:
        assert t.state == TrialState.COMPLETE, f"trial {t.number} is {t.state.name}"
        branch = "momentum" if t.params["optimizer"] == "sgd" else "beta"
        assert set(t.params) == {"optimizer", "lr", branch}, f"trial {t.number}: {t.params}"
        _check_params(t.params, CONDITIONAL_SPACE, f"trial {t.number}")


def _signed_objective(sign: float) -> Callable[[optuna.Trial], float]:
    """``sign`` times :func:`mixed_objective`; every fourth trial is pruned after one step with
    a prediction of its final value recorded, as a learning-curve pruner records it."""

    def objective(trial: optuna.Trial) -> float:
        value = sign * mixed_objective(trial)
        if trial.number % 4 == 3:
            trial.report(value, 1)
            trial.set_user_attr("predicted_final_mean", value)
            trial.set_user_attr("predicted_final_std", 0.1)
            raise optuna.TrialPruned()
        return value

    return objective


def check_direction(factory: TunerFactory, n_trials: int = 10, seed: int = 7) -> None:
    """Maximizing ``-f`` suggests exactly what minimizing ``f`` does (same seed, trials one at
    a time), pruned trials with a predicted final value included.

    A tuner that reads ``study.direction`` (as every Optuna sampler does, by negating maximized
    values) passes; one that minimizes whatever the direction drives a maximized objective
    down, and fails here.
    """
    studies = []
    for direction, sign in ((StudyDirection.MINIMIZE, 1.0), (StudyDirection.MAXIMIZE, -1.0)):
        study = optuna.create_study(
            direction=direction, sampler=factory(seed=seed, space=dict(MIXED_SPACE))
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(_signed_objective(sign), n_trials=n_trials)
        studies.append(study)
    low, high = studies
    for a, b in zip(low.trials, high.trials):
        if a.params != b.params:
            raise AssertionError(
                f"maximizing -f and minimizing f differ from trial {a.number} on ({b.params} vs "
                f"{a.params}); best f found: {-high.best_value:.4g} maximizing -f, "
                f"{low.best_value:.4g} minimizing f (lower is better): the tuner must read "
                "study.direction"
            )
    assert high.best_value == -low.best_value, (
        f"best value {high.best_value} maximizing -f, {low.best_value} minimizing f"
    )


#: Every check, by name.
CHECKS: dict[str, Callable[[TunerFactory], None]] = {
    "distributions": check_distributions,
    "determinism": check_determinism,
    "failures": check_failures,
    "enqueue": check_enqueue,
    "pickle": check_pickle,
    "threads": check_threads,
    "conditional": check_conditional,
    "direction": check_direction,
}


def run_all(factory: TunerFactory) -> None:
    """Run every check on ``factory``; the first failure raises ``AssertionError``."""
    for check in CHECKS.values():
        check(factory)
