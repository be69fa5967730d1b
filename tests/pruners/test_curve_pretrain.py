"""The ``curve`` pruner pretrained on other LCBench tasks' curves (``pretrain=[...]``).

The registry hands the factories the tasks named by ``pretrain`` (a list, or one
comma-separated string); :func:`pretrain_data` reads Task objects."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from hyperlab.errors import InputError, InputTypeError, UnknownNameError
from hyperlab.pruners.curve import LearningCurvePruner
from hyperlab.pruners.pretrain import pretrain_data
from hyperlab.registry import PRUNERS, TASKS

SMALL = {"n_members": 2, "width": 16, "steps": 60, "warm_steps": 20, "max_pairs": 200}


def tasks(*names: str) -> list[Any]:
    return [TASKS.create(name) for name in names]


def test_pretrain_data_reads_other_tasks_curves() -> None:
    curves, configs, budgets, space = pretrain_data(
        tasks("lcbench-126026", "lcbench-167104"), 3, seed=1
    )
    assert len(curves) == len(configs) == len(budgets) == 6
    assert all(len(c) == 52 for c in curves) and budgets == [52] * 6
    assert sorted(space) == sorted(configs[0])
    again, _, _, _ = pretrain_data(tasks("lcbench-126026", "lcbench-167104"), 3, seed=1)
    assert all((a == b).all() for a, b in zip(curves, again))


def test_pretrained_pruner_acts_from_the_first_complete_trial() -> None:
    pruner = PRUNERS.create(
        "curve",
        max_budget=52,
        seed=0,
        pretrain=["lcbench-126026"],
        pretrain_curves=12,
        predictor_options=SMALL,
    )
    assert isinstance(pruner, LearningCurvePruner) and pruner.min_finished == 1
    assert pruner.predictor.n_prior_pairs_ > 0  # type: ignore[attr-defined]
    assert pruner.protect == 0.2  # a prior from other tasks keeps the top fifth running
    task = TASKS.create("lcbench-3945")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)

    def objective(trial: optuna.Trial) -> float:
        config = task.search_space(trial)
        curve = task.curve(config).curves["val_loss"]
        for epoch, value in enumerate(curve, start=1):
            trial.report(float(value), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(curve[-1])

    study.optimize(objective, n_trials=6)
    reasons = [t.user_attrs.get("prune_reason", "") for t in study.trials]
    assert not any(r.startswith("median rule") for r in reasons)


def test_bad_pretraining_input_is_named() -> None:
    with pytest.raises(InputError, match=r"'digits-mlp-bank' has parameters .* one search space"):
        pretrain_data(tasks("lcbench-126026", "digits-mlp-bank"), 2)
    with pytest.raises(InputError, match="'branin' is not a replay task"):
        pretrain_data(tasks("branin"), 2)
    with pytest.raises(InputError, match="pretrain_curves"):
        pretrain_data(tasks("lcbench-126026"), 0)
    with pytest.raises(InputError, match="one or more"):
        pretrain_data([], 2)
    for names in ("lcbench-126026", ["lcbench-126026"]):  # names are the registry's to resolve
        with pytest.raises(InputTypeError, match="lcbench-126026"):
            pretrain_data(names, 2)  # type: ignore[arg-type]
    # through the registry, which resolves the names
    with pytest.raises((InputError, InputTypeError), match="one or more"):
        PRUNERS.create("curve", max_budget=52, pretrain=[])
    with pytest.raises(UnknownNameError, match="nope"):
        PRUNERS.create("curve", max_budget=52, pretrain=["nope"])
    with pytest.raises(InputError, match="'branin' is not a replay task"):
        PRUNERS.create("curve-halving", max_budget=52, pretrain="lcbench-126026, branin")


def test_pretraining_is_cached_per_process_and_each_pruner_gets_its_own_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np

    import hyperlab.pruners.pretrain as pretrain_module

    calls = []
    real = pretrain_module.pretrain_data

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pretrain_module, "pretrain_data", counting)
    monkeypatch.setattr(pretrain_module, "_PRETRAINED", {})
    make = dict(
        max_budget=52, seed=3, pretrain="lcbench-126026", pretrain_curves=8, predictor_options=SMALL
    )
    first = PRUNERS.create("curve", **make)
    second = PRUNERS.create("curve", **make)
    assert len(calls) == 1
    # the cache is keyed by the tasks' names: new Task objects of the same task share it
    PRUNERS.create("curve-halving", **{**make, "pretrain": [" lcbench-126026"]})
    assert len(calls) == 1
    assert first.predictor is not second.predictor
    task = TASKS.create("lcbench-3945")
    config = {"batch_size": 64, "learning_rate": 0.01, "momentum": 0.9, "weight_decay": 0.001}
    config.update(num_layers=2, max_units=256, max_dropout=0.1)
    prefix = np.asarray(task.curve(config).curves["val_loss"][:8])
    a = first.predictor.predict_final(prefix, config, 52)
    b = second.predictor.predict_final(prefix, config, 52)
    assert a == b
    other_study = PRUNERS.create("curve", **{**make, "seed": 4})
    assert len(calls) == 1  # the study's seed seeds its refits, not the shared pretraining
    assert other_study.predictor.seed == 4 and first.predictor.seed == 3
    PRUNERS.create("curve", **{**make, "pretrain_seed": 1})
    assert len(calls) == 2  # another pretraining seed pretrains anew
    with pytest.raises(InputTypeError, match="pretraining seed"):
        PRUNERS.create("curve", **{**make, "pretrain_seed": "one"})


def test_the_predictors_max_pairs_caps_the_prior_pairs() -> None:
    make = dict(max_budget=52, seed=0, pretrain="lcbench-126026", pretrain_curves=20)
    # SMALL caps the pairs at 200, the prior's as well as the study's own
    default = PRUNERS.create("curve", **make, predictor_options=SMALL)
    halving = PRUNERS.create("curve-halving", **make, predictor_options=SMALL)
    assert default.predictor.n_prior_pairs_ == 200  # type: ignore[attr-defined]
    assert halving.predictor.n_prior_pairs_ == 200  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="takes no pretraining options"):
        PRUNERS.create("curve-parametric", max_budget=52, pretrain_curves=100)


def test_the_top_fifth_guard_comes_with_pretraining_only_and_can_be_changed() -> None:
    make = dict(max_budget=52, seed=0, predictor_options=SMALL)
    prior = dict(pretrain="lcbench-126026", pretrain_curves=12)
    plain = PRUNERS.create("curve", **make)
    guarded = PRUNERS.create("curve", **make, **prior)
    off = PRUNERS.create("curve", **make, **prior, protect=0.0)
    other = PRUNERS.create("curve", **make, **prior, protect=0.1)
    assert isinstance(plain, LearningCurvePruner) and plain.protect == 0.0
    assert isinstance(guarded, LearningCurvePruner) and guarded.protect == 0.2
    assert isinstance(off, LearningCurvePruner) and off.protect == 0.0
    assert isinstance(other, LearningCurvePruner) and other.protect == 0.1


def test_pretraining_studies_do_not_log_to_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = optuna.create_study

    def spy(*args: Any, **kwargs: Any) -> optuna.Study:
        seen.append(optuna.logging.get_verbosity())
        return real(*args, **kwargs)

    monkeypatch.setattr(optuna, "create_study", spy)
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        pretrain_data(tasks("lcbench-126026", "lcbench-167104"), 2, seed=0)
        after = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # a quieter caller stays quiet
        pretrain_data(tasks("lcbench-126026"), 2, seed=0)
    finally:
        optuna.logging.set_verbosity(before)
    # no "a new study created" line per task, and the caller's setting comes back
    assert seen == [optuna.logging.WARNING] * 2 + [optuna.logging.ERROR]
    assert after == optuna.logging.INFO
