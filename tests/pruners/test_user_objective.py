"""Pruners on a user's objective, whose number of steps the lab does not know: each one prunes
(it learns the budget from the finished trials), or a setting that would leave it nothing to do
is refused by name."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

import hyperlab
from hyperlab.curves import ParametricCurvePredictor
from hyperlab.errors import InputError, NoCompletedTrialError
from hyperlab.lab.rundir import load_studies
from hyperlab.pruners.curve import LearningCurvePruner
from hyperlab.pruners.curve_halving import CurveHalvingPruner
from hyperlab.registry import PRUNERS

EPOCHS = 20


def objective(trial: optuna.Trial, sign: float = 1.0) -> float:
    """Twenty epochs of a falling curve that ends at ``x`` (plus a small decaying term); times
    ``sign``."""
    x = trial.suggest_float("x", 0.0, 1.0)
    value = 0.0
    for epoch in range(1, EPOCHS + 1):
        value = sign * (x + 1.0 / epoch)
        trial.report(value, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def accuracy(trial: optuna.Trial) -> float:
    """The mirror image, to maximize: a rising curve that ends at ``-x``."""
    return objective(trial, sign=-1.0)


def pruned(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state == TrialState.PRUNED]


@pytest.mark.slow
# the oracle reads final values from a task: on an objective it is refused (test_oracle.py);
# 'tuner' asks the tuner, and random has no rule (tests/tuners/peers/test_fidelity.py)
@pytest.mark.parametrize(
    "name", [n for n in PRUNERS.names() if n not in ("none", "oracle", "tuner")]
)
def test_every_pruner_prunes_a_user_objective(name: str, tmp_path: Path) -> None:
    study, _ = hyperlab.tune(
        objective, "random", pruner=name, trials=25, seed=0, runs_dir=tmp_path, progress=False
    )
    assert pruned(study), f"{name} pruned none of the 25 trials of a 20-epoch objective"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["curve", "curve-parametric", "curve-halving"])
def test_a_maximized_user_objective_loses_its_worst_trials(name: str, tmp_path: Path) -> None:
    study, _ = hyperlab.tune(
        accuracy,
        "random",
        pruner=name,
        trials=16,
        seed=0,
        runs_dir=tmp_path,
        progress=False,
        direction="maximize",
    )
    stopped = pruned(study)
    kept = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert stopped and kept
    # the final value falls with x: the pruned trials are the ones with the larger x
    mean_x = [sum(t.params["x"] for t in ts) / len(ts) for ts in (stopped, kept)]
    assert mean_x[0] > mean_x[1], mean_x
    assert study.best_trial.params["x"] == min(t.params["x"] for t in study.trials)


def test_a_pruner_that_would_prune_nothing_is_refused_by_name(tmp_path: Path) -> None:
    run = dict(runs_dir=tmp_path, progress=False, seed=0)
    with pytest.raises(InputError, match="min_epochs=20 leaves no epoch"):
        hyperlab.tune(
            objective, "random", pruner="curve", budget=20, pruner_options={"min_epochs": 20}, **run
        )
    with pytest.raises(InputError, match="min_resource=25 leaves no rung"):
        options = {"min_resource": 25}
        hyperlab.tune(
            objective, "random", pruner="curve-halving", budget=20, pruner_options=options, **run
        )
    with pytest.raises(InputError, match="pruner 'median' stops no trial before 5 trials"):
        hyperlab.tune(objective, "random", pruner="median", trials=5, **run)
    assert not list(tmp_path.iterdir())  # refused before any run folder was made


def test_the_learned_budget_follows_the_longest_complete_trial() -> None:
    pruner = PRUNERS.create("curve-parametric", max_budget=None, seed=0)
    study = optuna.create_study(pruner=pruner)
    assert pruner.budget(study.trials) is None  # nothing has completed: no pruning yet
    for steps in (5, 20):
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.COMPLETE,
                value=1.0,
                params={"x": 0.5},
                distributions={"x": FloatDistribution(0.0, 1.0)},
                intermediate_values={i: 1.0 + 1.0 / i for i in range(1, steps + 1)},
            )
        )
        assert pruner.budget(study.trials) == steps
    running = study.ask({"x": FloatDistribution(0.0, 1.0)})
    for epoch in range(1, 31):
        running.report(1.0, epoch)
    assert pruner.budget(study.trials) == 20  # a running trial does not set it


def test_a_learned_budget_that_leaves_nothing_to_check_is_a_warning() -> None:
    pruner = LearningCurvePruner(ParametricCurvePredictor(), min_epochs=30)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.warns(UserWarning, match="min_epochs=30 is not below 20"):
        study.optimize(objective, n_trials=3)
    assert not pruned(study)


def test_steps_that_are_not_epochs_are_named() -> None:
    """The curve pruners read steps as epochs 1..n: an objective reporting every 100 iterations
    is told so, instead of being extrapolated 100 times too far in silence."""
    from hyperlab.registry import PRUNERS

    pruner = PRUNERS.create("curve", max_budget=None, seed=0)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        for i in range(1, 6):
            trial.report(x + 1 / i, step=100 * i)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x

    with pytest.warns(UserWarning, match="reported steps 100, 200, 300, 400"):
        study.optimize(objective, n_trials=3)


@pytest.mark.parametrize("name", ["curve-parametric", "curve-halving"])
def test_steps_from_zero_under_a_given_budget_are_named(name: str) -> None:
    """With ``max_budget=20`` and steps 0..19 no trial reaches step 20, so the predictor never
    had a final value to compare with (only the median rule stood in), and nothing said so."""
    pruner = PRUNERS.create(name, max_budget=EPOCHS, seed=0)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))

    def from_zero(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        for step in range(EPOCHS):
            trial.report(x + 1 / (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x + 1 / EPOCHS

    with pytest.warns(UserWarning, match="reported steps 0, 1, 2, 3"):
        study.optimize(from_zero, n_trials=8)


def nan_blip(trial: optuna.Trial) -> float:
    """The falling curve with a non-finite value at epoch 2 only (a metric undefined there)."""
    x = trial.suggest_float("x", 0.0, 1.0)
    value = 0.0
    for epoch in range(1, EPOCHS + 1):
        value = x + 1.0 / epoch
        trial.report(float("nan") if epoch == 2 else value, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def stays_nan(trial: optuna.Trial) -> float:
    trial.suggest_float("x", 0.0, 1.0)
    for epoch in range(1, EPOCHS + 1):
        trial.report(1.0 if epoch == 1 else float("nan"), epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return 1.0


@pytest.mark.parametrize("name", ["curve", "curve-parametric", "curve-halving"])
def test_one_non_finite_value_is_a_blip_and_a_run_that_stays_non_finite_is_stopped(
    name: str, tmp_path: Path
) -> None:
    """A NaN at epoch 2 of every trial stopped every trial (median and asha read it as a blip)."""
    study, _ = hyperlab.tune(
        nan_blip,
        "random",
        pruner=name,
        trials=8,
        seed=0,
        runs_dir=tmp_path,
        name="b",
        progress=False,
    )
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert complete and all(
        "non-finite" not in t.user_attrs.get("prune_reason", "") for t in study.trials
    )
    with pytest.raises(NoCompletedTrialError):  # every trial stopped
        hyperlab.tune(
            stays_nan, "random", pruner=name, trials=5, seed=0, runs_dir=tmp_path, name="s",
            progress=False,
        )  # fmt: skip
    study = load_studies(tmp_path / "s")[0][0]
    reasons = [t.user_attrs.get("prune_reason", "") for t in pruned(study)]
    assert len(reasons) == 5
    assert all("non-finite intermediate value nan at epoch 3" in r for r in reasons)


def every_fifth(trial: optuna.Trial) -> float:
    """The falling curve reported at steps 5, 10, ..., 50 (every fifth iteration)."""
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(5, 51, 5):
        trial.report(x + 5.0 / step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x + 0.1


def test_steps_that_miss_every_rung_of_a_given_budget_are_named() -> None:
    """With ``max_budget=50`` the rungs are epochs 1, 3, 9 and 27: steps 5, 10, ... hit none, so
    the pruner never read the study, stopped no trial and said nothing."""
    pruner = CurveHalvingPruner(ParametricCurvePredictor(), max_budget=50)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.warns(UserWarning, match="reported steps 5, 10, 15, 20") as record:
        study.optimize(every_fifth, n_trials=6)
    assert record[0].filename == __file__  # at the objective's should_prune line


@pytest.mark.parametrize("make", [LearningCurvePruner, CurveHalvingPruner])
def test_a_given_budget_that_no_trial_reaches_is_named(make: type) -> None:
    """With ``max_budget=40`` and trials of 20 epochs no trial has a final value at epoch 40,
    so the predictor never acted (the stops were the rule standing in for it), in silence."""
    pruner = make(ParametricCurvePredictor(), max_budget=2 * EPOCHS)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.warns(UserWarning, match="none of the 5 complete trials reached max_budget=40"):
        study.optimize(objective, n_trials=30)
    assert not any("predicted" in t.user_attrs.get("prune_reason", "") for t in study.trials)


@pytest.mark.parametrize("make", [LearningCurvePruner, CurveHalvingPruner])
def test_steps_past_a_given_budget_are_named(make: type) -> None:
    """With ``max_budget=10`` and trials of 20 epochs, the pruner reads epoch 10 as the final
    one and never checks a trial after it, in silence."""
    pruner = make(ParametricCurvePredictor(), max_budget=EPOCHS // 2)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.warns(UserWarning, match="reported steps up to 20, past max_budget=10"):
        study.optimize(objective, n_trials=4)


@pytest.mark.parametrize("make", [LearningCurvePruner, CurveHalvingPruner])
def test_trials_that_end_at_a_given_budget_warn_nothing(make: type) -> None:
    pruner = make(ParametricCurvePredictor(), max_budget=EPOCHS)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study.optimize(objective, n_trials=12)
    assert pruned(study)
