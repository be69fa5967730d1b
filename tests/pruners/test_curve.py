"""LearningCurvePruner: when it prunes, when it must not, and under several workers."""

from __future__ import annotations

import math
import multiprocessing
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hyperlab.curves import CurvePredictor, ParametricCurvePredictor
from hyperlab.curves.base import CurveData
from hyperlab.errors import InputError, InputTypeError, TrialFailure
from hyperlab.pruners.curve import LearningCurvePruner
from hyperlab.registry import PRUNERS
from hyperlab.space import SpaceEncoder

BUDGET = 20


class Pessimist(CurvePredictor):
    """Predicts a hopeless final value for every curve (so only the guards keep a trial)."""

    def _fit(self, data: CurveData, distributions: Any) -> None:
        pass

    def _predict(self, curves: Any, configs: Any, budget: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(len(curves), 1e9), np.full(len(curves), 1e-3)


def curve_of(x: float, noise_seed: int | None = None) -> np.ndarray:
    """A power-law loss curve whose asymptote is ``x``."""
    t = np.arange(1, BUDGET + 1)
    y = x + 1.0 * t**-0.6
    if noise_seed is not None:
        y = y + np.random.default_rng(noise_seed).normal(0, 0.005, BUDGET)
    return y


def add_complete(study: optuna.Study, x: float) -> None:
    curve = curve_of(x)
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.COMPLETE,
            value=float(curve[-1]),
            params={"x": x},
            distributions={"x": FloatDistribution(0.0, 1.0)},
            intermediate_values={i + 1: float(v) for i, v in enumerate(curve)},
        )
    )


def objective(trial: optuna.Trial) -> float:
    """Lab-style objective: report each epoch, fail on a non-finite value, obey the pruner."""
    x = trial.suggest_float("x", 0.0, 1.0)
    curve = curve_of(x, noise_seed=trial.number)
    for epoch, value in enumerate(curve, start=1):
        if not math.isfinite(value):
            trial.set_user_attr("fail_reason", f"non-finite value {value} at epoch {epoch}")
            raise TrialFailure(f"non-finite value {value} at epoch {epoch}")
        trial.report(float(value), epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return float(curve[-1])


def ask_and_report(study: optuna.Study, values: list[float]) -> optuna.trial.FrozenTrial:
    trial = study.ask({"x": FloatDistribution(0.0, 1.0)})
    for epoch, value in enumerate(values, start=1):
        trial.report(value, epoch)
    return study._storage.get_trial(trial._trial_id)


def test_never_prunes_before_min_epochs() -> None:
    pruner = LearningCurvePruner(Pessimist(), max_budget=BUDGET, min_epochs=6, min_finished=1)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)
    study.optimize(objective, n_trials=25)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert pruned, "the pessimist should prune something"
    assert all(t.last_step is not None and t.last_step >= 6 for t in pruned)
    # before min_epochs the pruner answers False even for a hopeless prediction
    assert not pruner.prune(study, ask_and_report(study, [9.0] * 5))


def test_never_prunes_the_current_best() -> None:
    pruner = LearningCurvePruner(Pessimist(), max_budget=BUDGET, min_epochs=3, min_finished=1)
    study = optuna.create_study(pruner=pruner)
    for x in (0.3, 0.4, 0.5):
        add_complete(study, x)
    best_now = list(curve_of(0.1)[:8])  # better than every trial at epoch 8
    assert not pruner.prune(study, ask_and_report(study, best_now))
    worse = list(curve_of(0.45)[:8])  # not the best at epoch 8
    assert pruner.prune(study, ask_and_report(study, worse))


def test_prunes_an_obviously_bad_curve_with_a_reason() -> None:
    pruner = PRUNERS.create("curve-parametric", max_budget=BUDGET, seed=0)
    study = optuna.create_study(pruner=pruner)
    for x in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35):
        add_complete(study, x)
    good = ask_and_report(study, list(curve_of(0.05)[:4]))
    assert not pruner.prune(study, good)
    bad = ask_and_report(study, list(curve_of(2.0)[:4]))
    assert pruner.prune(study, bad)
    attrs = study._storage.get_trial(bad._trial_id).user_attrs
    assert "P(better)" in attrs["prune_reason"] and "0.2657" in attrs["prune_reason"]
    assert attrs["predicted_final_mean"] > 1.5 and attrs["predicted_final_std"] > 0
    assert attrs["predicted_final_epoch"] == BUDGET  # where the report draws the prediction


def test_median_rule_until_the_predictor_has_data() -> None:
    pruner = LearningCurvePruner(
        ParametricCurvePredictor(), max_budget=BUDGET, min_epochs=2, min_finished=5
    )
    study = optuna.create_study(pruner=pruner)
    for x in (0.1, 0.2, 0.3):
        add_complete(study, x)
    bad = ask_and_report(study, list(curve_of(0.9)[:3]))
    assert pruner.prune(study, bad)
    reason = study._storage.get_trial(bad._trial_id).user_attrs["prune_reason"]
    assert reason.startswith("median rule") and "epoch 3" in reason


def test_nan_value_fails_the_trial_and_the_study_goes_on() -> None:
    pruner = PRUNERS.create("curve-parametric", max_budget=BUDGET, seed=0)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1), pruner=pruner)

    def sometimes_nan(trial: optuna.Trial) -> float:
        if trial.number == 2:
            trial.report(float("nan"), 1)
            assert trial.should_prune()  # the pruner stops a NaN curve, it does not crash
            trial.set_user_attr("fail_reason", "validation loss is NaN at epoch 1")
            raise TrialFailure("validation loss is NaN at epoch 1")
        return objective(trial)

    study.optimize(sometimes_nan, n_trials=8, catch=(TrialFailure,))
    states = [t.state for t in study.trials]
    assert len(states) == 8 and states[2] == TrialState.FAIL
    assert "NaN" in study.trials[2].user_attrs["fail_reason"]
    assert "non-finite" in study.trials[2].user_attrs["prune_reason"]
    assert states.count(TrialState.COMPLETE) >= 5


def test_pickles_and_checks_its_settings() -> None:
    pruner = PRUNERS.create("curve-parametric", max_budget=BUDGET, seed=0, threshold=0.1)
    assert isinstance(pruner, LearningCurvePruner) and pruner.threshold == 0.1
    clone = pickle.loads(pickle.dumps(pruner))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), pruner=clone)
    study.optimize(objective, n_trials=12)
    assert clone.predictor.max_budget_ == BUDGET
    with pytest.raises(InputError, match="colour"):
        PRUNERS.create("curve-parametric", max_budget=BUDGET, colour="red")
    with pytest.raises(InputError, match="threshold"):
        LearningCurvePruner(ParametricCurvePredictor(), max_budget=BUDGET, threshold=1.5)
    with pytest.raises(InputTypeError, match="threshold must be a number, got 'abc'"):
        PRUNERS.create("curve-parametric", max_budget=BUDGET, threshold="abc")
    with pytest.raises(InputTypeError, match="check_growth must be a number, got None"):
        PRUNERS.create("curve-parametric", max_budget=BUDGET, check_growth=None)
    with pytest.raises(InputTypeError):
        LearningCurvePruner("parametric", max_budget=BUDGET)  # type: ignore[arg-type]


def _worker(path: str, seed: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    pruner = PRUNERS.create("curve-parametric", max_budget=BUDGET, seed=seed, min_finished=3)
    study = optuna.load_study(
        study_name="shared",
        storage=storage,
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=pruner,
    )
    study.optimize(objective, n_trials=15)


@pytest.mark.slow
def test_two_processes_share_a_journal_storage(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.log")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    optuna.create_study(study_name="shared", storage=storage)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(path, seed)) for seed in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials()
    assert len(trials) == 30
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned and all("prune_reason" in t.user_attrs for t in pruned)
    assert all(t.last_step is not None and t.last_step >= 2 for t in pruned)


def eight_finished(
    predictor: CurvePredictor | None = None, **options: Any
) -> tuple[LearningCurvePruner, optuna.Study]:
    """A pruner (acting from epoch 3) on a study of eight complete power-law curves with
    asymptotes 0.1 and 0.3 ... 0.9."""
    pruner = LearningCurvePruner(
        predictor or Pessimist(), max_budget=BUDGET, min_epochs=3, min_finished=1, **options
    )
    study = optuna.create_study(pruner=pruner)
    for x in (0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        add_complete(study, x)
    return pruner, study


def test_protect_keeps_the_top_fraction_at_its_epoch() -> None:
    def pruner_with(protect: float) -> tuple[LearningCurvePruner, optuna.Study]:
        return eight_finished(protect=protect)

    second = list(curve_of(0.2)[:8])  # second of nine at epoch 8
    pruner, study = pruner_with(0.0)
    assert pruner.prune(study, ask_and_report(study, second))
    pruner, study = pruner_with(0.25)
    assert not pruner.prune(study, ask_and_report(study, second))
    last = list(curve_of(0.95)[:8])  # last of nine: not protected
    assert pruner.prune(study, ask_and_report(study, last))
    with pytest.raises(InputError, match="protect"):
        LearningCurvePruner(Pessimist(), max_budget=BUDGET, protect=1.0)
    with pytest.raises(InputTypeError, match="protect"):
        LearningCurvePruner(Pessimist(), max_budget=BUDGET, protect="top")  # type: ignore[arg-type]


class Gloomy(CurvePredictor):
    """Predicts that every curve ends 0.5 above its last value, give or take 0.01."""

    def _fit(self, data: CurveData, distributions: Any) -> None:
        pass

    def _predict(self, curves: Any, configs: Any, budget: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([c[-1] + 0.5 for c in curves]), np.full(len(curves), 0.01)


def test_audit_stops_pruning_when_its_predictions_for_finished_trials_were_too_gloomy() -> None:
    def run(audit: bool) -> bool:
        pruner, study = eight_finished(Gloomy(), audit=audit)
        # late bloomers: second at epochs 6 and 8, then down to 0.05 (best of all)
        bloomer = curve_of(0.2)
        bloomer[8:] = np.linspace(bloomer[7], 0.05, BUDGET - 8)
        # 40 of them run on whatever the pruner says at epoch 6, beating its prediction there
        # by ~99 stds; a new one at epoch 8 needs ~94 to beat the best
        for _ in range(40):
            trial = study.ask({"x": FloatDistribution(0.0, 1.0)})
            for epoch, value in enumerate(bloomer[:6], start=1):
                trial.report(float(value), epoch)
            pruner.prune(study, study._storage.get_trial(trial._trial_id))
            for epoch, value in enumerate(bloomer[6:], start=7):
                trial.report(float(value), epoch)
            study.tell(trial, float(bloomer[-1]))
        return pruner.prune(study, ask_and_report(study, list(bloomer[:8])))

    assert run(audit=False)
    assert not run(audit=True)
    with pytest.raises(InputTypeError, match="audit"):
        LearningCurvePruner(Gloomy(), max_budget=BUDGET, audit="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["curve", "curve-parametric", "curve-halving"])
def test_predictor_options_none_means_none_and_other_values_are_refused(name: str) -> None:
    PRUNERS.create(name, max_budget=BUDGET, seed=0, predictor_options=None)
    with pytest.raises(InputTypeError, match="predictor_options must be a dict or None, got 'x'"):
        PRUNERS.create(name, max_budget=BUDGET, seed=0, predictor_options="x")


@pytest.mark.parametrize(
    ("growth", "error", "message"),
    [
        ("x", InputTypeError, "refit_growth must be a number, got 'x'"),
        (None, InputTypeError, "refit_growth must be a number, got None"),
        (math.inf, InputError, "refit_growth must be a finite number >= 0, got inf"),
    ],
)
@pytest.mark.parametrize("pruner", ["LearningCurvePruner", "CurveHalvingPruner"])
def test_a_refit_growth_that_is_no_finite_number_is_refused(
    pruner: str, growth: Any, error: type[Exception], message: str
) -> None:
    import hyperlab.pruners

    with pytest.raises(error, match=message):
        getattr(hyperlab.pruners, pruner)(ParametricCurvePredictor(), refit_growth=growth)


@pytest.mark.parametrize("budget", [-5, 0, "x", 2.0])
def test_the_tuner_rule_pruner_refuses_a_budget_that_is_no_epoch_count(budget: Any) -> None:
    from hyperlab.pruners.tuner_rule import TunerRulePruner

    with pytest.raises(InputError, match=f"max_budget must be an int >= 1 or None, got {budget!r}"):
        TunerRulePruner(max_budget=budget)
    assert TunerRulePruner(max_budget=3).max_budget == 3


class ReadsConfigs(CurvePredictor):
    """A test predictor's mix-in: it reads configurations as the neural predictor does,
    encoded with the distributions of its fit, so one that lacks a parameter of the fit is an
    error (the predictions are the base class's)."""

    uses_config = True

    def _fit(self, data: CurveData, distributions: Any) -> None:
        self.encoder = SpaceEncoder(distributions or {})
        self.encoder.encode(data.configs or [])

    def _predict(self, curves: Any, configs: Any, budget: int) -> tuple[np.ndarray, np.ndarray]:
        self.encoder.encode(configs)
        return super()._predict(curves, configs, budget)  # type: ignore[safe-super]


class ConfigReader(ReadsConfigs, Pessimist):
    """Predicts as :class:`Pessimist`, reading configurations as the neural predictor does."""


BRANCHES = {
    "sgd": {"momentum": FloatDistribution(0.0, 1.0)},
    "adam": {"width": IntDistribution(8, 256, log=True)},
}


def add_branch(study: optuna.Study, branch: str, x: float, n_epochs: int = BUDGET) -> None:
    """A trial of a conditional space: ``opt`` picks the branch whose own parameter it has."""
    curve = curve_of(x)[:n_epochs]
    distributions = {"opt": CategoricalDistribution(list(BRANCHES)), **BRANCHES[branch]}
    params = {"opt": branch, **{name: d.low for name, d in BRANCHES[branch].items()}}
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.COMPLETE if n_epochs == BUDGET else TrialState.RUNNING,
            value=float(curve[-1]) if n_epochs == BUDGET else None,
            params=params,
            distributions=distributions,
            intermediate_values={i + 1: float(v) for i, v in enumerate(curve)},
        )
    )


def test_a_predictor_that_reads_configurations_serves_a_conditional_space() -> None:
    # the neural predictor (``curve``) failed every trial once it was fitted: a trial of one
    # branch lacks the parameter of the other
    pruner = LearningCurvePruner(ConfigReader(), max_budget=BUDGET, min_epochs=3, min_finished=2)
    study = optuna.create_study(pruner=pruner)
    for branch, x in (("sgd", 0.1), ("sgd", 0.2), ("sgd", 0.3)):
        add_branch(study, branch, x)
    add_branch(study, "adam", 0.9, n_epochs=5)  # the first trial of the other branch
    assert pruner.prune(study, study.trials[-1])
    add_branch(study, "sgd", 0.9, n_epochs=5)
    assert pruner.prune(study, study.trials[-1])
