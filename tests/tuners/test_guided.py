from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hyperlab.errors import FAILURE_ATTR, HyperlabError
from hyperlab.registry import TUNERS
from hyperlab.tuners.guided import DiagnosisSampler

SPACE = {
    "lr": FloatDistribution(1e-5, 1.0, log=True),
    "weight_decay": FloatDistribution(1e-6, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "n_layers": IntDistribution(1, 4),
    "optimizer": CategoricalDistribution(["adam", "sgd"]),
}


def _curves(lr: float, n: int = 30) -> dict[str, list[float]]:
    """Toy physics: lr > 0.05 diverges, lr < 3e-3 crawls, else a clean fit."""
    t = np.arange(n)
    if lr > 0.05:
        tr = [2.3, 4.0, 50.0] + [math.nan] * (n - 3)
        return {"train_loss": tr, "val_loss": tr}
    if lr < 3e-3:
        tr = 2.3 - lr * 10 * t
        return {"train_loss": tr.tolist(), "val_loss": (tr + 0.02).tolist()}
    tr = 2.0 * np.exp(-t / 4) + 0.05
    return {"train_loss": tr.tolist(), "val_loss": (tr + 0.08).tolist()}


def _objective(trial: optuna.Trial) -> float:
    params = {name: trial._suggest(name, d) for name, d in SPACE.items()}
    curves = _curves(params["lr"])
    trial.set_user_attr("curves", curves)
    return curves["val_loss"][-1]  # NaN -> the trial fails, with its curves kept


def _run(sampler: optuna.samplers.BaseSampler, n: int) -> optuna.Study:
    study = optuna.create_study(sampler=sampler)
    study.optimize(_objective, n_trials=n, catch=(Exception,))
    return study


def test_moves_lr_down_after_divergence() -> None:
    study = _run(DiagnosisSampler(seed=0, space=SPACE, start={"lr": 0.3}), 2)
    t0, t1 = study.trials
    assert t0.params["lr"] == pytest.approx(0.3)
    assert t0.state == optuna.trial.TrialState.FAIL
    assert t1.params["lr"] < 0.3 * 0.5


def test_moves_lr_up_after_slow_run() -> None:
    study = _run(DiagnosisSampler(seed=0, space=SPACE, start={"lr": 1e-4}), 2)
    t0, t1 = study.trials
    assert t1.params["lr"] > 1e-4 * 2
    # categorical knobs keep the starting value
    assert t0.params["optimizer"] == t1.params["optimizer"]


def test_step_shrinks_when_advice_flips_and_reaches_good_region() -> None:
    study = _run(DiagnosisSampler(seed=1, space=SPACE, start={"lr": 0.5}), 12)
    lrs = [t.params["lr"] for t in study.trials]
    assert any(3e-3 <= lr <= 0.05 for lr in lrs)  # found the region where training works
    assert study.best_value < 0.2


def test_deterministic_per_seed_and_within_bounds() -> None:
    a = [t.params for t in _run(DiagnosisSampler(seed=3, space=SPACE), 8).trials]
    b = [t.params for t in _run(DiagnosisSampler(seed=3, space=SPACE), 8).trials]
    assert a == b
    for params in a:
        for name, dist in SPACE.items():
            assert dist._contains(dist.to_internal_repr(params[name]))
    assert len({tuple(sorted(p.items())) for p in a}) == len(a)  # never repeats a config


def test_survives_failed_and_pruned_trials_and_pickles() -> None:
    sampler = DiagnosisSampler(seed=0, space=SPACE)
    study = optuna.create_study(sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        for name, d in SPACE.items():
            if name != "lr":
                trial._suggest(name, d)
        if trial.number == 0:
            raise RuntimeError("crashed, no curves")
        if trial.number == 1:
            trial.set_user_attr("curves", {k: v[:2] for k, v in _curves(lr).items()})
            raise optuna.TrialPruned()
        if trial.number == 2:
            trial.set_user_attr("curves", {k: v[:10] for k, v in _curves(lr).items()})
            raise optuna.TrialPruned()
        return _curves(lr)["val_loss"][-1]

    study.optimize(objective, n_trials=5, catch=(RuntimeError,))
    assert len(study.trials) == 5
    # a crash without curves is read as divergence: the learning rate goes down
    assert study.trials[1].params["lr"] < study.trials[0].params["lr"]
    clone = pickle.loads(pickle.dumps(sampler))
    assert isinstance(clone, DiagnosisSampler) and clone.seed == 0


def test_registered_factory_starts_from_task_default() -> None:
    from hyperlab.tasks.mlp import SklearnMLPTask

    task = SklearnMLPTask("wine")
    sampler = TUNERS.create("diagnosis", seed=0, task=task, space=task.distributions())
    study = optuna.create_study(sampler=sampler)
    trial = study.ask()
    config = task.search_space(trial)
    assert config == task.default_config()
    no_task = TUNERS.create("diagnosis", seed=0, space=SPACE)
    study = optuna.create_study(sampler=no_task)
    trial = study.ask()
    assert trial._suggest("lr", SPACE["lr"]) == pytest.approx(math.sqrt(1e-5))


def test_not_converged_with_fixed_budget_raises_lr() -> None:
    def objective(trial: optuna.Trial) -> float:
        for name, d in SPACE.items():
            trial._suggest(name, d)
        t = np.arange(6)
        tr = 2.0 * np.exp(-t / 2) + 0.02  # still falling fast at the end: not converged
        trial.set_user_attr("curves", {"train_loss": tr.tolist(), "val_loss": (tr + 0.04).tolist()})
        return float(tr[-1])

    study = optuna.create_study(sampler=DiagnosisSampler(seed=0, space=SPACE, start={"lr": 1e-2}))
    study.optimize(objective, n_trials=2)
    assert study.trials[1].params["lr"] == pytest.approx(2e-2)


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"min_step": None}, "min_step must be a number in (0, 1], got None"),
        ({"min_step": 0}, "min_step must be a number in (0, 1], got 0"),
        ({"use_model": None}, "use_model must be True or False, got None"),
        ({"start": "lr"}, "start must be a dict of parameter values, got 'lr'"),
    ],
)
def test_bad_settings_are_refused_when_built(setting: dict[str, Any], named: str) -> None:
    with pytest.raises(HyperlabError) as info:
        TUNERS.create("diagnosis", seed=0, space=SPACE, **setting)
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("setting", "named"),
    [  # numpy refused the seeds at the first trial, naming no setting; the spaces failed there
        ({"seed": "a"}, "seed must be an integer >= 0 or None, got 'a'"),
        ({"seed": -1}, "seed must be an integer >= 0 or None, got -1"),
        ({"space": [1]}, "space must be a dict or None, got [1]"),
        ({"space": {"lr": 0.1}}, "space must map parameter names to Optuna distributions"),
    ],
)
def test_a_bad_seed_or_space_is_refused_by_name_when_built(
    setting: dict[str, Any], named: str
) -> None:
    with pytest.raises(HyperlabError) as info:
        DiagnosisSampler(**{"seed": 0, **setting})
    assert named in str(info.value)


def test_an_objective_without_curves_is_told_once_that_there_is_nothing_to_read() -> None:
    study = optuna.create_study(sampler=DiagnosisSampler(seed=0))
    with pytest.warns(
        UserWarning,
        match="trial 0 has no train and validation loss curves.*perturbs the best trial at random",
    ) as caught:
        study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0) ** 2, n_trials=6)
    assert len([w for w in caught if "diagnosis tuner" in str(w.message)]) == 1


def test_curves_it_cannot_read_are_told_once() -> None:
    study = optuna.create_study(sampler=DiagnosisSampler(seed=0))

    def negative_loss(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr(
            "curves", {"train_loss": [-1.0, -1.2, -1.3], "val_loss": [-1.0, -1.1, -1.2]}
        )
        return 1.0

    with pytest.warns(UserWarning, match=r"cannot be read \(train_loss is negative"):
        study.optimize(negative_loss, n_trials=3)


def _crashes_above(lr_max: float) -> Any:
    """An objective that raises (no curves) above ``lr_max`` and scores the distance to 3e-3."""

    def objective(trial: optuna.Trial) -> float:
        lr = trial._suggest("lr", SPACE["lr"])
        for name, d in SPACE.items():
            if name != "lr":
                trial._suggest(name, d)
        if lr > lr_max:
            raise RuntimeError("diverged, no curves")
        return abs(math.log10(lr) + 2.5)

    return objective


def test_a_start_that_crashes_has_its_learning_rate_lowered_until_it_runs() -> None:
    """The learning rate went down once, then the next trials perturbed the crashing start
    again (it stayed the configuration to move while no trial had scored): 10 of 10 failed."""
    sampler = DiagnosisSampler(seed=0, space=SPACE, start={"lr": 1.0})
    study = optuna.create_study(sampler=sampler)
    with pytest.warns(UserWarning, match="no train and validation loss curves"):
        study.optimize(_crashes_above(0.05), n_trials=10, catch=(RuntimeError,))
    lrs = [t.params["lr"] for t in study.trials]
    assert lrs[:4] == pytest.approx([1.0, 0.3, 0.09, 0.027])  # x0.3 per crash, from the last
    assert [t.state for t in study.trials].count(optuna.trial.TrialState.FAIL) == 3


def _fails_beyond_two(trial: optuna.Trial) -> float:
    x, y = trial.suggest_float("x", -5, 5), trial.suggest_float("y", -5, 5)
    if x > 2:
        raise RuntimeError("fails here")
    return (x - 1) ** 2 + (y - 1) ** 2


@pytest.mark.parametrize(
    "space",
    [{"x": FloatDistribution(-5, 5), "y": FloatDistribution(-5, 5)}, None],
    ids=["space given", "space read from the trials"],
)
def test_a_start_in_a_failing_region_is_left(space: dict | None) -> None:
    """Given a space, the failing start was perturbed by ever smaller steps (the step shrinks
    with each trial since the best, and the start stayed the best while nothing scored);
    without one, every trial took the start's value again (the space is empty until a trial
    completes): 10 of 10 failed either way."""
    study = optuna.create_study(sampler=DiagnosisSampler(seed=0, space=space, start={"x": 4.0}))
    with pytest.warns(UserWarning, match="no train and validation loss curves"):
        study.optimize(_fails_beyond_two, n_trials=10, catch=(RuntimeError,))
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) <= 3, [t.params for t in study.trials]


def _pruned_first(trial: optuna.Trial) -> float:
    """The first 3 trials are pruned after reporting 5 epochs (no failure, no curves to read)."""
    params = {name: trial._suggest(name, d) for name, d in SPACE.items()}
    for epoch in range(5):
        trial.report(2.0 / (epoch + 1) + abs(math.log10(params["lr"]) + 2.5), epoch)
    if trial.number < 3:
        raise optuna.TrialPruned()
    return abs(math.log10(params["lr"]) + 2.5)


def test_trials_pruned_after_reporting_are_not_failures_to_leave() -> None:
    """A study whose first trials were pruned after reporting (by a pruner: no failure) had
    each next trial drawn at random, as if every trial so far had failed; as before failed
    trials were read apart, each is the start with one knob moved."""
    start = DiagnosisSampler(space=SPACE)._start_config(SPACE)
    study = optuna.create_study(sampler=DiagnosisSampler(seed=0, space=SPACE))
    study.optimize(_pruned_first, n_trials=4)
    assert [t.state for t in study.trials][:3] == [optuna.trial.TrialState.PRUNED] * 3
    assert study.trials[0].params == start
    for t in study.trials[1:]:
        moved = [k for k in SPACE if t.params[k] != start[k]]
        assert len(moved) == 1, (t.number, t.params)


def test_after_a_failure_a_trial_pruned_after_reporting_is_the_one_moved() -> None:
    """While nothing has scored and a trial has failed, the latest trial is moved, a pruned
    one too (not the crashing start it was lowered from)."""
    sampler = DiagnosisSampler(seed=0, space=SPACE, start={"lr": 1.0})
    study = optuna.create_study(sampler=sampler)
    crashed = {**sampler._start_config(SPACE), "lr": 1.0}
    pruned = {**crashed, "lr": 0.3}
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.FAIL, params=crashed, distributions=SPACE
        )
    )
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.PRUNED,
            params=pruned,
            distributions=SPACE,
            intermediate_values={0: 2.0, 1: 1.5},
        )
    )
    study.optimize(_pruned_first, n_trials=1)
    moved = [k for k in SPACE if study.trials[-1].params[k] != pruned[k]]
    assert len(moved) == 1, study.trials[-1].params


def test_a_trial_failed_for_a_reason_not_its_configuration_s_is_no_divergence() -> None:
    """A trial cut off (its worker lost, its parameters queued again) or failed by its pruner
    or tuner, without curves, was read as a diverged run: the learning rate lowered for a
    configuration that had done nothing wrong."""
    sampler = DiagnosisSampler(seed=0, space=SPACE)
    config = sampler._start_config(SPACE)

    def failed(kind: str) -> optuna.trial.FrozenTrial:
        return optuna.trial.create_trial(
            state=optuna.trial.TrialState.FAIL,
            params=config,
            distributions=SPACE,
            user_attrs={FAILURE_ATTR: kind},
        )

    assert [(a.knob, a.direction) for a in sampler._diagnose(failed("task"))] == [("lr", "down")]
    for kind in ("cut off", "pruner", "tuner"):
        assert sampler._diagnose(failed(kind)) == []


def test_a_warning_about_the_curves_is_told_once_for_the_study() -> None:
    """A task that records a regression's RMSE as its metrics warned "as errors do" for every
    trial the tuner read (each trial's numbers differ, so Python's once-per-text filter let
    each through): the first trial's warning names it, and the others are not repeated."""

    def regression(trial: optuna.Trial) -> float:
        lr = trial._suggest("lr", SPACE["lr"])
        t = np.arange(20)
        mse = {
            "train_loss": 0.03 + (0.7 + 0.05 * math.log10(lr)) * np.exp(-t / 4),
            "val_loss": 0.06 + 0.5 * np.exp(-t / 4),
        }
        curves = {k: v.tolist() for k, v in mse.items()}
        curves |= {k.replace("loss", "metric"): np.sqrt(v).tolist() for k, v in mse.items()}
        trial.set_user_attr("curves", curves)
        return curves["val_loss"][-1]

    study = optuna.create_study(sampler=DiagnosisSampler(seed=0, space={"lr": SPACE["lr"]}))
    with pytest.warns(UserWarning) as caught:
        study.optimize(regression, n_trials=8)
    told = [str(w.message) for w in caught if "as errors do" in str(w.message)]
    assert len(told) == 1 and told[0].startswith("trial 0's curves: train_metric 0.")
    assert "tells this once" in told[0]


def test_a_start_outside_a_given_space_is_refused_when_built() -> None:
    with pytest.raises(HyperlabError) as info:
        DiagnosisSampler(seed=0, space=SPACE, start={"lr": 1e-3, "units": 64})
    assert "start names 'units', not in the search space" in str(info.value)
    assert "'dropout', 'lr', 'n_layers', 'optimizer', 'weight_decay'" in str(info.value)


def test_a_task_default_outside_a_narrower_space_is_left_out() -> None:
    from hyperlab.tasks.mlp import SklearnMLPTask

    lr = {"lr": FloatDistribution(1e-4, 1.0, log=True)}
    sampler = TUNERS.create("diagnosis", seed=0, task=SklearnMLPTask("wine"), space=lr)
    assert sampler.start == {"lr": 1e-3}


def test_a_start_unknown_or_out_of_range_is_warned_of_once() -> None:
    """Without a space, the first trial read each value alone (the bad ones drawn at random, a
    choice that is none no longer raising); the trials that read the space told the unknown
    name once, and each bad value once, naming its range."""
    start = {"lr": 5.0, "optimizer": "rmsprop", "units": 64, "dropout": 0.1}
    sampler = DiagnosisSampler(seed=0, start=start)
    with pytest.warns(UserWarning) as caught:
        study = _run(sampler, 4)
    told = [str(w.message) for w in caught if "start" in str(w.message)]
    assert len(study.trials) == 4 and study.trials[0].params["dropout"] == 0.1
    assert told == [
        "the diagnosis tuner's start 'lr': value 5.0 is outside its range [1e-05, 1.0]: drawn "
        "at random",
        "the diagnosis tuner's start 'optimizer': value 'rmsprop' is not one of its choices "
        "['adam', 'sgd']: drawn at random",
        "the diagnosis tuner's start names 'units', no parameter of the search space (its "
        "parameters: 'dropout', 'lr', 'n_layers', 'optimizer', 'weight_decay'): left out",
    ]
    given = DiagnosisSampler(seed=0, space=SPACE, start={"lr": 5.0})
    with pytest.warns(UserWarning, match=r"start 'lr': value 5.0 is outside its range \[1e-05, "):
        _run(given, 2)


def test_a_start_value_given_as_text_or_none_runs() -> None:
    """A number written as text (YAML 1.1 reads ``1e-3`` so) started there, as Optuna reads it;
    a value that is no number was warned of, naming it, and the trials ran."""
    study = _run(DiagnosisSampler(seed=0, space=SPACE, start={"lr": "1e-3"}), 2)
    assert study.trials[0].params["lr"] == 1e-3
    with pytest.warns(UserWarning, match=r"start 'lr': value None is not a number"):
        study = _run(DiagnosisSampler(seed=0, space=SPACE, start={"lr": None}), 2)
    assert len(study.trials) == 2
    with pytest.warns(UserWarning, match=r"start 'lr': value 'fast' is not a number"):
        _run(DiagnosisSampler(seed=0, start={"lr": "fast"}), 2)
