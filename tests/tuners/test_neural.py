from __future__ import annotations

import math
import pickle
import warnings
from typing import Any

import numpy as np
import optuna
import pytest

from hyperlab.errors import InputError, InputTypeError
from hyperlab.registry import TASKS, TUNERS
from hyperlab.surrogates import SURROGATES, BayesianLastLayer
from hyperlab.testing.tuners import conditional_objective
from hyperlab.tuners.neural import NeuralSampler
from hyperlab.tuners.neural.design import startup_size

_FAST: dict[str, Any] = {"surrogate_options": {"steps": 80, "warm_steps": 20}, "n_candidates": 300}


class _Spy(BayesianLastLayer):
    """Records the training data of every fit."""

    calls: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []

    def fit(self, X: Any, y: Any, noise: Any = None) -> _Spy:
        _Spy.calls.append((np.array(X), np.array(y), None if noise is None else np.array(noise)))
        super().fit(X, y, noise)
        return self


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> type[_Spy]:
    monkeypatch.setitem(SURROGATES, "spy", _Spy)
    _Spy.calls = []
    return _Spy


def _branin(trial: optuna.Trial) -> float:
    task = TASKS.create("branin")
    return task.evaluate(task.search_space(trial)).value


@pytest.mark.slow
def test_beats_random_search_on_branin() -> None:
    task = TASKS.create("branin")
    space = task.distributions()
    regrets: dict[str, list[float]] = {"neural": [], "random": []}
    for name in regrets:
        for seed in range(3):
            study = optuna.create_study(sampler=TUNERS.create(name, seed=seed, space=space))
            study.optimize(_branin, n_trials=20)
            regrets[name].append(study.best_value - task.optimum)
    # Median regret after 20 trials: the surrogate must be clearly better than chance.
    assert np.median(regrets["neural"]) < 0.5 * np.median(regrets["random"]), regrets


def test_initial_design_is_sobol_and_then_the_model_decides(spy: type[_Spy]) -> None:
    space = TASKS.create("branin").distributions()
    sampler = NeuralSampler(
        surrogate="spy", search_space=space, seed=0, n_startup=5, random_fraction=0.0, **_FAST
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(_branin, n_trials=8)
    assert len(spy.calls) == 3  # trials 5, 6, 7
    assert [len(c[0]) for c in spy.calls] == [5, 6, 7]
    first = np.array([[t.params["x0"], t.params["x1"]] for t in study.trials[:4]])
    # A scrambled Sobol design spreads its first 4 points over all four quadrants.
    quadrants = {(x0 > 2.5, x1 > 7.5) for x0, x1 in first}
    assert len(quadrants) == 4


def test_default_startup_size_follows_the_dimension() -> None:
    Space = dict[str, optuna.distributions.BaseDistribution]
    space1: Space = {"x": optuna.distributions.FloatDistribution(0, 1)}
    space12: Space = {f"x{i}": optuna.distributions.FloatDistribution(0, 1) for i in range(12)}
    assert startup_size(1, None, False) == 5
    assert startup_size(12, None, False) == 20
    assert startup_size(12, None, True) == 3
    assert startup_size(12, 7, False) == 7 and startup_size(12, 7, True) == 3
    assert NeuralSampler(search_space=space1).startup_trials == 5
    assert NeuralSampler(search_space=space12).startup_trials == 20
    assert NeuralSampler().startup_trials is None  # the space is not known yet


def test_std_err_is_used_as_per_point_noise(spy: type[_Spy]) -> None:
    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("std_err", 0.1 * (trial.number + 1))
        return _branin(trial)

    sampler = NeuralSampler(surrogate="spy", seed=0, n_startup=4, **_FAST)
    optuna.create_study(sampler=sampler).optimize(objective, n_trials=5)
    noise = spy.calls[-1][2]
    assert noise is not None
    np.testing.assert_allclose(noise, [0.1, 0.2, 0.3, 0.4])


def test_running_trials_are_never_proposed_twice() -> None:
    # 9 configurations in all: asking 9 trials without telling must give 9 different ones.
    def space(trial: optuna.Trial) -> tuple[str, int]:
        return trial.suggest_categorical("a", ["x", "y", "z"]), trial.suggest_int("b", 0, 2)

    sampler = NeuralSampler(seed=0, n_startup=2, random_fraction=0.0, **_FAST)
    study = optuna.create_study(sampler=sampler)
    for _ in range(3):
        t = study.ask()
        a, b = space(t)
        # a fixed score per configuration (hash() of a str changes with PYTHONHASHSEED)
        study.tell(t, float((3 * "xyz".index(a) + b) % 7))
    pending = []
    for _ in range(6):
        t = study.ask()
        pending.append(space(t))
    done = [
        (t.params["a"], t.params["b"]) for t in study.trials if t.params and t.state.is_finished()
    ]
    assert len(set(pending) | set(done)) == 9, (pending, done)


@pytest.mark.parametrize("running", ["best", "mean"])
def test_liars_spread_parallel_suggestions(running: str, spy: type[_Spy]) -> None:
    sampler = NeuralSampler(
        surrogate="spy", seed=0, n_startup=4, random_fraction=0.0, running=running, **_FAST
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(_branin, n_trials=4)
    a, b = study.ask(), study.ask()
    xa = (a.suggest_float("x0", -5, 10), a.suggest_float("x1", 0, 15))
    xb = (b.suggest_float("x0", -5, 10), b.suggest_float("x1", 0, 15))
    assert np.hypot(xa[0] - xb[0], xa[1] - xb[1]) > 1e-3
    # The second fit saw the first (still running) trial as a fake observation.
    assert len(spy.calls[-1][0]) == 5


def test_conditional_parameters_warn_once() -> None:
    sampler = NeuralSampler(seed=0, n_startup=2, **_FAST)
    study = optuna.create_study(sampler=sampler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(conditional_objective, n_trials=8)
    ours = [w for w in caught if "independently" in str(w.message)]
    assert len(ours) == 1
    assert ours[0].filename == conditional_objective.__code__.co_filename  # its suggest line
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_a_conditional_space_given_in_advance_keeps_every_trial(spy: type[_Spy]) -> None:
    """The lab hands a task's space of every branch to the tuner; a trial lacks the other
    branch's parameter, and must still be trained on (that parameter drawn at random)."""
    from hyperlab.testing.tuners import CONDITIONAL_SPACE

    sampler = NeuralSampler(
        surrogate="spy",
        search_space=CONDITIONAL_SPACE,
        seed=0,
        n_startup=4,
        random_fraction=0.0,
        **_FAST,
    )
    study = optuna.create_study(sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the conditional parameters are drawn at random
        study.optimize(conditional_objective, n_trials=7)
    assert [len(c[0]) for c in spy.calls] == [4, 5, 6]


def test_transfer_from_another_study(spy: type[_Spy]) -> None:
    storage = optuna.storages.InMemoryStorage()
    old = optuna.create_study(
        storage=storage, study_name="old", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    old.optimize(_branin, n_trials=12)
    sampler = NeuralSampler(surrogate="spy", seed=0, transfer_studies=["old"], **_FAST)
    new = optuna.create_study(storage=storage, study_name="new", sampler=sampler)
    new.optimize(_branin, n_trials=5)
    assert len(new.trials) == 5
    X, _y, _ = spy.calls[-1]
    assert X.shape == (12 + 4, 2 + 1)  # old trials + 4 new ones, 2 inputs + study indicator
    assert X[:, -1].sum() == 12  # the indicator marks the old study's trials
    bad = NeuralSampler(seed=0, transfer_studies=["missing"], n_startup=1, **_FAST)
    study = optuna.create_study(storage=storage, study_name="bad", sampler=bad)
    study.optimize(_branin, n_trials=1)
    with pytest.raises(InputError, match=r"'missing' is not in this storage .*: old, "):
        study.optimize(_branin, n_trials=1)


@pytest.mark.parametrize(
    ("past", "match"),
    [
        ({"x0": (-5, 10), "y": (0, 15)}, "none of its 3 finished trials has x1"),
        (
            {"x0": (20, 30), "x1": (20, 30)},
            "every one of its 3 finished trials has a value outside",
        ),
    ],
)
def test_a_transfer_study_of_another_space_is_refused_by_name(
    past: dict[str, tuple[float, float]], match: str
) -> None:
    """A past study none of whose trials fits this study's space would add nothing to the
    context: named, instead of silently left out."""
    storage = optuna.storages.InMemoryStorage()
    old = optuna.create_study(storage=storage, study_name="old")
    old.optimize(lambda t: sum(t.suggest_float(n, *r) for n, r in past.items()), n_trials=3)
    sampler = NeuralSampler(seed=0, transfer_studies=["old"], n_startup=1, **_FAST)
    study = optuna.create_study(storage=storage, study_name="new", sampler=sampler)
    study.optimize(_branin, n_trials=1)
    with pytest.raises(InputError, match=f"transfer study 'old' .*\\(x0, x1\\): {match}"):
        study.optimize(_branin, n_trials=1, catch=())


def _four_epochs(trial: optuna.Trial, predict: bool = False) -> float:
    """Branin reported over 4 epochs; odd trials are pruned at epoch 2, and with ``predict``
    every other pruned one carries a curve pruner's prediction (in study units, maximized)."""
    value = _branin(trial)
    for epoch in range(1, 5):
        trial.report(value + (4 - epoch), epoch)
        if trial.number % 2 == 1 and epoch == 2:
            if predict and trial.number % 4 == 1:
                trial.set_user_attr("predicted_final_mean", -value)
                trial.set_user_attr("predicted_final_std", 0.25)
            raise optuna.TrialPruned()
    return value


def test_multi_fidelity_uses_pruned_trials_with_their_budget(spy: type[_Spy]) -> None:
    objective = _four_epochs
    sampler = NeuralSampler(
        surrogate="spy", seed=0, n_startup=3, multi_fidelity=True, max_budget=4, **_FAST
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=8)
    X, _, _ = spy.calls[-1]
    budgets = sorted(set(np.round(X[:, -1], 3)))
    assert budgets == [0.5, 1.0]
    # Without the option pruned trials are ignored.
    plain = NeuralSampler(surrogate="spy", seed=0, n_startup=3, **_FAST)
    spy.calls = []
    optuna.create_study(sampler=plain).optimize(objective, n_trials=8)
    assert spy.calls[-1][0].shape[1] == 2


def test_pruner_predictions_enter_as_noisy_full_budget_observations(spy: type[_Spy]) -> None:
    def objective(trial: optuna.Trial) -> float:
        return _four_epochs(trial, predict=True)

    sampler = NeuralSampler(
        surrogate="spy", seed=0, n_startup=3, pruner_predictions=True, max_budget=4,
        pruned_last_value=False, **_FAST,
    )  # fmt: skip
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: -objective(t), n_trials=10)
    X, y, noise = spy.calls[-1]
    assert X.shape[1] == 2  # no budget column: the predictions stand for full-budget values
    complete = [t for t in study.trials[:-1] if t.state == optuna.trial.TrialState.COMPLETE]
    predicted = [t for t in study.trials[:-1] if "predicted_final_mean" in t.user_attrs]
    assert predicted and len(y) == len(complete) + len(predicted)
    assert noise is not None and sorted(set(np.round(noise, 6))) == [0.0, 0.25]
    # the predicted mean enters with the study's sign, as a complete trial's value does
    values = {round(-t.value, 6) for t in complete} | {
        round(-t.user_attrs["predicted_final_mean"], 6) for t in predicted
    }
    assert set(np.round(y, 6)) == values
    # switched off, the pruned trials are left out again (the default is on)
    assert NeuralSampler().pruner_predictions is True
    spy.calls = []
    off = NeuralSampler(
        surrogate="spy", seed=0, n_startup=3, pruner_predictions=False, pruned_last_value=False,
        **_FAST,
    )  # fmt: skip
    optuna.create_study(direction="maximize", sampler=off).optimize(
        lambda t: -objective(t), n_trials=10
    )
    assert len(spy.calls[-1][1]) == len(complete)
    with pytest.raises(InputTypeError, match="pruner_predictions"):
        NeuralSampler(pruner_predictions="yes")  # type: ignore[arg-type]


def test_budget_fallback_models_the_largest_step_enough_trials_reached(
    spy: type[_Spy],
) -> None:
    """Like ASHA: only trial 0 finishes, the rest stop at epoch 2 without a prediction."""

    def objective(trial: optuna.Trial) -> float:
        value = _branin(trial)
        for epoch in range(1, 5):
            trial.report(value + (4 - epoch), epoch)
            if trial.number > 0 and epoch == 2:
                raise optuna.TrialPruned()
        return value

    sampler = NeuralSampler(surrogate="spy", seed=0, n_startup=3, budget_fallback=True, **_FAST)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=6)
    assert spy.calls, "the surrogate was never fitted: the sampler stayed in its Sobol design"
    X, y, _ = spy.calls[-1]
    at_two = [t.intermediate_values[2] for t in study.trials[:-1]]
    assert X.shape == (len(at_two), 2)
    assert sorted(np.round(y, 6)) == sorted(np.round(at_two, 6))
    # off (the default), and pruned trials left out: 1 finished trial < 3, Sobol points only
    spy.calls = []
    off = NeuralSampler(surrogate="spy", seed=0, n_startup=3, pruned_last_value=False, **_FAST)
    optuna.create_study(sampler=off).optimize(objective, n_trials=6)
    assert spy.calls == []
    # the defaults: the pruned trials enter at their last value, so the model fits
    optuna.create_study(
        sampler=NeuralSampler(surrogate="spy", seed=0, n_startup=3, **_FAST)
    ).optimize(objective, n_trials=6)
    assert spy.calls
    with pytest.raises(InputTypeError, match="budget_fallback"):
        NeuralSampler(budget_fallback=1)  # type: ignore[arg-type]


def test_maximization_and_pickling_mid_run() -> None:
    sampler = NeuralSampler(seed=1, n_startup=4, **_FAST)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: -_branin(t), n_trials=6)
    clone = pickle.loads(pickle.dumps(study.sampler))
    assert isinstance(clone, NeuralSampler) and clone._model is not None
    study.sampler = clone
    study.optimize(lambda t: -_branin(t), n_trials=2)
    assert len(study.trials) == 8 and study.best_value > -50


def test_bad_settings_raise() -> None:  # several objectives: test_meta_spaces.py
    for kwargs in (
        {"surrogate": "gp"},
        {"acquisition": "pi"},
        {"running": "sometimes"},
        {"random_fraction": 2.0},
        {"n_startup": 0},
        # no random exploration, so the second trial is sure to fit the surrogate
        {"n_startup": 1, "random_fraction": 0.0, "surrogate_options": {"width": 0}},
        {"surrogate_options": {"colour": "red"}},
    ):
        with pytest.raises(InputError):  # when built (its own settings) or at the first fit
            sampler = NeuralSampler(**kwargs)  # type: ignore[arg-type]
            optuna.create_study(sampler=sampler).optimize(_branin, n_trials=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"seed": "a"}, InputTypeError, "seed must be an integer >= 0 or None, got 'a'"),
        ({"seed": -1}, InputError, "seed must be an integer >= 0 or None, got -1"),
        ({"target_transform": "bogus"}, InputError, "target_transform must be one of"),
        ({"search_space": {"x": 1}}, InputTypeError, "got 'x': 1"),
        # a bool read as 1 (every suggestion random); NaN and inf passed as positive
        ({"random_fraction": True}, InputTypeError, "random_fraction must be a number, got True"),
        ({"max_budget": math.nan}, InputError, "max_budget must be a positive finite number"),
        ({"max_budget": math.inf}, InputError, "max_budget must be a positive finite number"),
        # a TypeError or ValueError from the acquisition at the first model-based trial
        ({"acquisition_options": {"bogus": 1}}, InputError, "'ei' acquisition does not take"),
        ({"acquisition_options": {"xi": "a"}}, InputTypeError, "xi must be a number, got 'a'"),
        ({"acquisition_options": {"xi": -0.1}}, InputError, "xi must be a finite number >= 0"),
        ({"acquisition": "ucb", "acquisition_options": {"kappa": math.nan}}, InputError, "kappa"),
        ({"acquisition": "ts", "acquisition_options": {"seed": -1}}, InputError, "seed must be"),
    ],
)
def test_settings_a_trial_reads_late_are_refused_when_the_sampler_is_built(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        NeuralSampler(**kwargs)


@pytest.mark.parametrize("acquisition", ["ucb", "ts"])
@pytest.mark.parametrize("surrogate", ["bll", "ensemble"])
def test_every_surrogate_and_acquisition_runs(surrogate: str, acquisition: str) -> None:
    sampler = NeuralSampler(
        surrogate=surrogate, acquisition=acquisition, seed=0, n_startup=3, **_FAST
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(_branin, n_trials=5)
    assert len(study.trials) == 5 and np.isfinite(study.best_value)


def test_registered_factories() -> None:
    task = TASKS.create("branin")
    s = TUNERS.create("neural-ensemble", seed=3, space=task.distributions(), task=task)
    assert isinstance(s, NeuralSampler)
    # the full budget is the largest seen in the study, not the task maximum (runs may use less)
    assert s.surrogate == "ensemble" and s.seed == 3 and s.max_budget is None
    assert TUNERS.create("neural", acquisition="ucb").acquisition == "ucb"


@pytest.mark.slow
def test_compare_cli_end_to_end(tmp_path: Any) -> None:
    import csv

    from hyperlab.cli import main

    code = main(
        [
            "compare",
            "--task", "branin",
            "--tuners", "random,neural",
            "--seeds", "2",
            "--trials", "12",
            "--runs-dir", str(tmp_path),
            "--name", "e2e",
            "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    run_dir = tmp_path / "e2e"
    with open(run_dir / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows
    tuners = {r.get("tuner") for r in rows}
    assert {"random", "neural"} <= tuners, tuners
    assert (run_dir / "report.html").exists()


def test_power_transform_runs() -> None:
    sampler = NeuralSampler(seed=0, n_startup=4, target_transform="power", **_FAST)
    study = optuna.create_study(sampler=sampler)
    study.optimize(_branin, n_trials=7)
    assert len(study.trials) == 7 and np.isfinite(study.best_value)


def test_perturbed_points_stay_in_the_space_and_duplicates_are_found() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from hyperlab.space import SpaceEncoder
    from hyperlab.tuners.neural.proposal import is_duplicate, perturb

    enc = SpaceEncoder(
        {
            "a": CategoricalDistribution(["x", "y", "z"]),
            "b": IntDistribution(0, 4, step=2),
            "c": FloatDistribution(1e-3, 1.0, log=True),
        }
    )
    rng = np.random.default_rng(0)
    X = enc.random(50, rng)
    moved = perturb(enc, X, rng, 0.5)
    assert moved.shape == X.shape and np.all((moved >= 0) & (moved <= 1))
    np.testing.assert_allclose(enc.snap(moved), moved)  # on the grid: one-hot, integer steps
    assert not np.allclose(moved, X)
    assert is_duplicate(X[:3], X).all()
    assert not is_duplicate(X[:3] + 0.5, X).any()
    assert not is_duplicate(X[:3], np.zeros((0, enc.dim))).any()


def test_pruned_last_value_enters_pruned_trials_at_their_last_value(spy: type[_Spy]) -> None:
    sampler = NeuralSampler(surrogate="spy", seed=0, n_startup=3, pruned_last_value=True, **_FAST)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: -_four_epochs(t), n_trials=10)
    X, y, _ = spy.calls[-1]
    assert X.shape[1] == 2  # at full budget: no budget column
    finished = study.trials[:-1]
    pruned = [t for t in finished if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and len(y) == len(finished)
    # y is minimized: the study's sign (-1, maximize) times the last reported value (epoch 2)
    assert {round(-t.intermediate_values[2], 6) for t in pruned} <= set(np.round(y, 6))
    with pytest.raises(InputTypeError, match="pruned_last_value"):
        NeuralSampler(pruned_last_value="yes")  # type: ignore[arg-type]


def test_a_pruned_trial_is_never_proposed_again() -> None:
    """Without ``pruned_last_value`` a pruned trial (no prediction) gives no observation, yet
    its point is taken: the sampler never proposes it again."""
    from hyperlab.tuners.neural.observations import TrialMemory, TrialReader

    study = optuna.create_study()
    study.optimize(lambda t: _four_epochs(t), n_trials=6)
    sampler = NeuralSampler(seed=0, n_startup=3, **_FAST)
    enc = sampler._memory.encoder_for(study.trials[0].distributions)
    trial = study.ask()
    obs, running, unread = TrialMemory().observations(
        study, study._storage.get_trial(trial._trial_id), enc, TrialReader(True, False, None)
    )
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(unread) == len(pruned) == 3 and not running and len(obs) == 3
