"""The meta, neural and diagnosis tuners on the studies users bring: failed trials, ranges that
change between trials, several objectives."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState, create_trial

from hyperlab.errors import FAILURE_ATTR, InputError
from hyperlab.space import SpaceEncoder
from hyperlab.surrogates import SURROGATES, BayesianLastLayer
from hyperlab.tuners.failed_trials import as_worst, is_failure
from hyperlab.tuners.guided import DiagnosisSampler
from hyperlab.tuners.merged_space import MergedSpace
from hyperlab.tuners.meta import MetaSampler
from hyperlab.tuners.neural import NeuralSampler
from hyperlab.tuners.trial_points import encode_trial

optuna.logging.set_verbosity(optuna.logging.ERROR)

#: The tuners that read the study's trials themselves, each at seed 0 (``neural`` with a short
#: fit; ``diagnosis`` follows the advice read from each trial's curves, and perturbs the best
#: trial where there are none, as on these objectives).
TUNERS: dict[str, Callable[[], BaseSampler]] = {
    "meta": lambda: MetaSampler(seed=0),
    "neural": lambda: NeuralSampler(
        seed=0, surrogate_options={"steps": 80, "warm_steps": 20}, n_candidates=300
    ),
    "diagnosis": lambda: DiagnosisSampler(seed=0),
}


def _fails_beyond_two(how: str) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        x, y = trial.suggest_float("x", -5, 5), trial.suggest_float("y", -5, 5)
        if x > 2:  # a learning rate too high to train, say
            if how == "raise":
                raise RuntimeError("diverged")
            if how == "prune":
                raise optuna.TrialPruned()  # nothing reported
            return float(how)  # "nan" (Optuna fails the trial), "inf" or "-inf"
        return (x - 1) ** 2 + (y - 1) ** 2

    return objective


#: The most of 15 trials each tuner may fail on :func:`_fails_beyond_two`. ``neural``'s Sobol
#: start-up design alone fails 3 of its first 8 there. ``diagnosis`` never moves from a failed
#: trial once one has scored (it fails 1; a failing start is tested in ``test_guided.py``).
MOST_FAILED = {"meta": 4, "neural": 6, "diagnosis": 2}


@pytest.mark.parametrize("tuner", TUNERS)
@pytest.mark.parametrize("how", ["nan", "inf", "-inf", "raise", "prune"])
def test_a_region_where_trials_fail_is_left_behind(tuner: str, how: str) -> None:
    """A failed trial left out of the context (meta) or the training data (neural) taught the
    network nothing: it proposed the same corner again and again (meta failed 14 of 15
    trials, neural 10). ``diagnosis`` took a trial that returned -inf (in a study that
    minimizes) for the best one and stayed beside it (5 of 15 failed)."""
    study = optuna.create_study(sampler=TUNERS[tuner]())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "the diagnosis tuner follows the advice")
        study.optimize(_fails_beyond_two(how), n_trials=15, catch=(RuntimeError,))
    scored = [t for t in study.trials if t.value is not None and math.isfinite(t.value)]
    failed = len(study.trials) - len(scored)
    assert failed <= MOST_FAILED[tuner], [t.params["x"] for t in study.trials]


class _Spy(BayesianLastLayer):
    """Records the training data of every fit."""

    calls: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(self, X: Any, y: Any, noise: Any = None) -> _Spy:
        _Spy.calls.append((np.array(X), np.array(y)))
        super().fit(X, y, noise)
        return self


def test_neural_trains_on_a_failed_trial_at_the_worst_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(SURROGATES, "spy", _Spy)
    _Spy.calls = []
    space = {"x": FloatDistribution(0, 1)}
    study = optuna.create_study(
        sampler=NeuralSampler(surrogate="spy", seed=0, n_startup=3, random_fraction=0.0)
    )
    for x, value in [(0.1, 1.0), (0.2, 3.0), (0.3, 2.0)]:
        study.add_trial(create_trial(params={"x": x}, distributions=space, value=value))
    study.add_trial(create_trial(state=TrialState.FAIL, params={"x": 0.9}, distributions=space))
    study.ask().suggest_float("x", 0, 1)
    X, y = _Spy.calls[-1]
    assert sorted(zip(X[:, 0].round(6).tolist(), y.tolist())) == [
        (0.1, 1.0),
        (0.2, 3.0),
        (0.3, 2.0),
        (0.9, 3.0),  # the worst score so far
    ]


def _trial(state: TrialState, value: float | None, reports: dict[int, float]) -> FrozenTrial:
    return create_trial(
        state=state,
        value=value,
        params={"x": 0.5},
        distributions={"x": FloatDistribution(0, 1)},
        intermediate_values=reports,
    )


@pytest.mark.parametrize(
    ("state", "value", "reports", "failed"),
    [
        (TrialState.FAIL, None, {}, True),
        (TrialState.COMPLETE, math.inf, {}, True),
        (TrialState.COMPLETE, 0.3, {}, False),
        (TrialState.PRUNED, None, {}, True),
        (TrialState.PRUNED, None, {1: math.nan}, True),
        (TrialState.PRUNED, None, {1: 0.3}, False),  # read at its report, or not at all
    ],
)
def test_which_trials_count_as_failed(
    state: TrialState, value: float | None, reports: dict[int, float], failed: bool
) -> None:
    assert is_failure(_trial(state, value, reports)) is failed


@pytest.mark.parametrize(
    ("kind", "failed"),
    [("task", True), ("tuner", False), ("pruner", False), ("cut off", False), ("surplus", False)],
)
def test_a_failure_counts_only_when_the_lab_recorded_it_as_the_tasks(
    kind: str, failed: bool
) -> None:
    """A trial the lab failed for a reason not its configuration's (its pruner or tuner raised,
    it was cut off, the run's bookkeeping) was read as a failed configuration too."""
    trial = create_trial(
        state=TrialState.FAIL,
        params={"x": 0.5},
        distributions={"x": FloatDistribution(0, 1)},
        user_attrs={FAILURE_ATTR: kind},
    )
    assert is_failure(trial) is failed


def test_a_failed_configuration_run_again_keeps_its_own_score() -> None:
    x, y = np.array([[0.1], [0.5]]), np.array([1.0, 3.0])
    failed = [np.array([0.5]), np.array([0.9])]  # 0.5 was retried and scored
    got_x, got_y = as_worst(x, y, failed, running=[])
    assert got_x.tolist() == [[0.1], [0.5], [0.9]]
    assert got_y.tolist() == [1.0, 3.0, 3.0]
    assert as_worst(x[:0], y[:0], failed, running=[])[0].shape == (0, 1)  # no score yet


def _added(study: optuna.Study, space: dict[str, BaseDistribution], params: dict) -> None:
    study.add_trial(create_trial(params=params, distributions=space, value=1.0))


@pytest.mark.parametrize("tuner", TUNERS)
def test_a_range_that_changes_between_trials_is_modelled_over_both(tuner: str) -> None:
    """Optuna's intersection leaves out a parameter whose range differs between trials (an
    earlier study's trials added, a range depending on another value): it was drawn at
    random for the rest of the study (by ``diagnosis`` too, which then neither kept the best
    trial's value of it nor moved it)."""
    study = optuna.create_study()
    old = {
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "units": IntDistribution(16, 128, step=16),
        "act": CategoricalDistribution(["relu", "tanh"]),
        "drop": FloatDistribution(0.0, 0.5, step=0.1),
        "depth": IntDistribution(1, 4),
    }
    new = {
        "lr": FloatDistribution(1e-5, 1e-2, log=True),
        "units": IntDistribution(32, 256, step=16),
        "act": CategoricalDistribution(["relu", "gelu"]),  # other choices: left out
        "drop": FloatDistribution(0.05, 0.45, step=0.1),  # a shifted grid: left out
        "depth": IntDistribution(1, 8, log=True),  # a log axis against a linear one: left out
    }
    _added(study, old, {"lr": 1e-3, "units": 64, "act": "relu", "drop": 0.2, "depth": 2})
    _added(study, new, {"lr": 1e-5, "units": 256, "act": "gelu", "drop": 0.25, "depth": 4})
    space = TUNERS[tuner]().infer_relative_search_space(study, study.trials[-1])
    assert space == {
        "lr": FloatDistribution(1e-5, 1e-2, log=True),
        "units": IntDistribution(16, 256, step=16),
    }


def _bottleneck(trial: optuna.Trial) -> float:
    units = trial.suggest_int("units", 16, 256)
    neck = trial.suggest_int("bottleneck", 4, units)
    return ((units - 200) / 100) ** 2 + ((neck - 20) / 50) ** 2


@pytest.mark.parametrize("tuner", ["meta", "diagnosis"])
def test_a_range_depending_on_another_value_is_steered(tuner: str) -> None:
    """With ``bottleneck`` drawn at random, the best of 20 trials was 0.27 (meta) and 0.17
    (diagnosis, which kept neither the best trial's value of it nor moved it)."""
    study = optuna.create_study(sampler=TUNERS[tuner]())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "the diagnosis tuner follows the advice")
        study.optimize(_bottleneck, n_trials=20)
    assert study.best_value < 0.05, [t.params for t in study.trials]


@pytest.mark.parametrize("tuner", TUNERS)
def test_a_range_depending_on_another_value_is_modelled_without_a_warning(tuner: str) -> None:
    """Left out of the modelled space, ``bottleneck`` was drawn at random for the whole study
    (neural warned so); a value proposed above the trial's ``units`` is drawn at random for
    that trial alone, and says nothing."""
    sampler = TUNERS[tuner]()
    study = optuna.create_study(sampler=sampler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(_bottleneck, n_trials=8)
    assert not [w for w in caught if "'bottleneck'" in str(w.message)]
    space = sampler.infer_relative_search_space(study, study.trials[-1])
    highest = max(t.params["units"] for t in study.trials)
    assert space["bottleneck"] == IntDistribution(4, highest)


@pytest.mark.parametrize("tuner", TUNERS)
def test_several_objectives_are_refused_before_a_trial_runs(tuner: str) -> None:
    """``neural`` and ``diagnosis`` ran the first trial at random (their space is unknown
    until a trial has run) and refused at the second."""
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=TUNERS[tuner]())
    with pytest.raises(InputError, match="one objective; this study has 2 \\(Optuna's TPE"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert study.trials[0].params == {}  # refused before the objective ran


def test_a_parameter_drawn_at_random_is_told_once() -> None:
    """A conditional parameter is never modelled; it was drawn at random without a word."""

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "sgd":
            return x + trial.suggest_float("momentum", 0, 1) + trial.suggest_float("nesterov", 0, 1)
        return x

    study = optuna.create_study(sampler=MetaSampler(seed=0))
    with pytest.warns(UserWarning, match="draws parameter '(momentum|nesterov)' of trial") as got:
        study.optimize(objective, n_trials=12)
    assert sum("at random" in str(w.message) for w in got) == 1
    plain = optuna.create_study(sampler=MetaSampler(seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 3), n_trials=4)


def _only_conditional(trial: optuna.Trial) -> float:
    """The one parameter is asked for in every second trial alone."""
    return trial.suggest_float("x", 0, 1) if trial.number % 2 else 0.5


def _step_changes(trial: optuna.Trial) -> float:
    """The one parameter's grid changes after the first trial."""
    return trial.suggest_float("x", 0, 1, step=0.1 if trial.number == 0 else 0.2)


def _ours(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in caught if "parameter 'x' of trial" in str(w.message)]


@pytest.mark.parametrize("objective", [_only_conditional, _step_changes])
@pytest.mark.parametrize("tuner", ["meta", "neural"])
def test_a_study_that_models_no_parameter_tells_so_once(
    tuner: str, objective: Callable[[optuna.Trial], float]
) -> None:
    """With no parameter modelled, every one was drawn at random without a word: the warning
    came only once some other parameter was modelled."""
    study = optuna.create_study(sampler=TUNERS[tuner]())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(objective, n_trials=6)
    ours = _ours(caught)
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert "at random" in str(ours[0].message)
    assert ours[0].filename == __file__  # the objective's suggest line


@pytest.mark.parametrize("tuner", ["meta", "neural"])
def test_nothing_is_told_before_a_trial_has_finished(tuner: str) -> None:
    """The first trials and trials after failed ones have nothing to be modelled from."""

    def failing(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        raise RuntimeError("diverged")

    study = optuna.create_study(sampler=TUNERS[tuner]())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = study.ask(), study.ask()  # parallel workers, none finished
        first.suggest_float("x", 0, 1), second.suggest_float("x", 0, 1)
        study.tell(first, state=TrialState.FAIL)
        study.tell(second, state=TrialState.FAIL)
        study.optimize(failing, n_trials=3, catch=(RuntimeError,))
    assert not _ours(caught), [str(w.message) for w in caught]


class _Interleaved:
    """A study whose trial list, read the first time, lets another thread's ``calculate`` run
    to its end first (as a thread switch there does)."""

    def __init__(self, study: optuna.Study, merged: MergedSpace) -> None:
        self.study_name = study.study_name
        self._study, self._merged, self._first = study, merged, True

    def get_trials(self, **kwargs: Any) -> list[FrozenTrial]:
        if self._first:
            self._first = False
            self._merged.calculate(self._study)  # the other thread
        return self._study.get_trials(**kwargs)


def test_the_merged_space_of_two_threads_keeps_every_trial() -> None:
    """The diagnosis tuner calls ``calculate`` without a lock: a thread that read the space
    before another had merged a new trial stored it last, and the new trial's range was lost
    for the rest of the study (its trials past the old range then left out of the data)."""
    study = optuna.create_study()
    _added(study, {"x": FloatDistribution(0, 1)}, {"x": 0.5})
    merged = MergedSpace(include_pruned=False)
    merged.calculate(study)
    _added(study, {"x": FloatDistribution(0, 2)}, {"x": 1.5})
    merged.calculate(_Interleaved(study, merged))  # type: ignore[arg-type]
    assert merged.calculate(study) == {"x": FloatDistribution(0, 2)}


def _grid(low: float, high: float) -> FloatDistribution:
    with warnings.catch_warnings():  # (Optuna shrinks a range whose decimals miss the step)
        warnings.simplefilter("ignore")
        return FloatDistribution(low, high, step=0.1)


@pytest.mark.parametrize(
    ("a", "b", "union"),
    [
        (_grid(0.1 + 0.2, 1.0), _grid(0.4, 1.2), (0.3, 1.2)),  # low 0.30000000000000004
        (_grid(0.7 - 0.4, 1.0), _grid(0.3, 1.0), (0.3, 1.0)),  # low 0.29999999999999993
    ],
)
def test_float_grids_a_rounding_apart_merge_onto_one_grid_that_holds_every_value(
    a: FloatDistribution, b: FloatDistribution, union: tuple[float, float]
) -> None:
    """Bounds a rounding apart (``0.1 + 0.2`` against ``0.3``) merged into a range whose
    decimals missed the step: Optuna warned, shrank it (a whole step at times), and a trial's
    value past the shrunk range was left out of the data."""
    study = optuna.create_study()
    for dist in (a, b):
        for value in (dist.low, dist.high):
            _added(study, {"x": dist}, {"x": value})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (Optuna's "the range is not divisible by `step`")
        space = MergedSpace(include_pruned=False).calculate(study)
    assert space == {"x": FloatDistribution(*union, step=0.1)}
    enc = SpaceEncoder(space)
    points = [encode_trial(enc, t) for t in study.trials]
    assert all(p is not None for p in points)  # every trial's value read (none left out)
    clean = enc.encode([{"x": round(t.params["x"], 9)} for t in study.trials])
    assert np.allclose(np.vstack(points), clean)  # at the grid's points
