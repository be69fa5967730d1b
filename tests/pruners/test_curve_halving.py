"""CurveHalvingPruner: ASHA's rungs and keep-the-top-third rule, ranked by predicted finals."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest

from hyperlab.curves import CurvePredictor
from hyperlab.curves.base import CurveData
from hyperlab.errors import InputError
from hyperlab.pruners.curve_halving import CurveHalvingPruner
from hyperlab.registry import PRUNERS

from .test_curve import BUDGET, ReadsConfigs, add_branch, add_complete


class ByLast(CurvePredictor):
    """Predicts that a curve ends where it is now (ranks as ASHA does)."""

    def _fit(self, data: CurveData, distributions: Any) -> None:
        pass

    def _predict(self, curves: Any, configs: Any, budget: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([c[-1] for c in curves]), np.full(len(curves), 0.01)


class Reverser(ByLast):
    """Predicts that the curves now worst end best (the opposite of ASHA's ranking)."""

    def _predict(self, curves: Any, configs: Any, budget: int) -> tuple[np.ndarray, np.ndarray]:
        mean, std = super()._predict(curves, configs, budget)
        return -mean, std


def study_with(predictor: CurvePredictor, n_complete: int, **options: Any) -> optuna.Study:
    pruner = CurveHalvingPruner(predictor, max_budget=BUDGET, min_resource=1, **options)
    study = optuna.create_study(pruner=pruner)
    for i in range(n_complete):
        add_complete(study, 0.1 + 0.1 * i)
    return study


def pruned_at_first_rung(study: optuna.Study, value: float) -> bool:
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    trial.report(value, 1)
    return trial.should_prune()


def test_rungs_are_ashas() -> None:
    pruner = CurveHalvingPruner(ByLast(), max_budget=52)
    assert pruner.rungs == (1, 3, 9, 27)
    assert CurveHalvingPruner(ByLast(), max_budget=100, min_resource=2).rungs == (2, 6, 18, 54)


def test_before_the_predictor_acts_it_ranks_by_value_as_asha() -> None:
    study = study_with(Reverser(), n_complete=6, min_finished=10)
    assert pruned_at_first_rung(study, 5.0)  # worst value at epoch 1
    assert not pruned_at_first_rung(study, 0.0)  # best value at epoch 1


def test_it_ranks_by_the_predicted_final_value() -> None:
    # the same trial, worst at epoch 1: stopped when predicted to end worst, kept when
    # predicted to end best (ranking by value would stop it in both)
    assert pruned_at_first_rung(study_with(ByLast(), n_complete=6, min_finished=2), 5.0)
    study = study_with(Reverser(), n_complete=6, min_finished=2)
    assert not pruned_at_first_rung(study, 5.0)


def test_reason_is_recorded() -> None:
    study = study_with(ByLast(), n_complete=6, min_finished=2)
    assert pruned_at_first_rung(study, 5.0)
    reason = study.trials[-1].user_attrs["prune_reason"]
    assert "predicted final value" in reason and "ranks 7 of the 7" in reason
    # the prediction is recorded as the curve pruner does (a sampler may use it)
    attrs = study.trials[-1].user_attrs
    assert attrs["predicted_final_mean"] == 5.0 and attrs["predicted_final_std"] == 0.01
    assert isinstance(attrs["predicted_final_epoch"], int)
    # ranked by value (before the predictor acts): no prediction to record
    study = study_with(ByLast(), n_complete=6, min_finished=10)
    assert pruned_at_first_rung(study, 5.0)
    assert "predicted_final_mean" not in study.trials[-1].user_attrs


def test_only_rungs_are_checked() -> None:
    study = study_with(ByLast(), n_complete=6, min_finished=2)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    trial.report(5.0, 2)  # epoch 2 is not a rung (1, 3, 9)
    assert not trial.should_prune()


def test_a_trial_with_a_non_finite_blip_in_its_past_is_ranked_by_its_finite_values() -> None:
    study = study_with(ByLast(), n_complete=6, min_finished=2)
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.PRUNED,
            params={"x": 0.5},
            distributions={"x": optuna.distributions.FloatDistribution(0.0, 1.0)},
            intermediate_values={1: float("nan"), 2: 0.0, 3: 0.0},
        )
    )
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    for epoch, value in ((1, 5.0), (2, 5.0), (3, 5.0)):
        trial.report(value, epoch)
    assert trial.should_prune()  # ranked among the 8 curves (the blip reads 0.0), no traceback
    assert "of the 8 trials" in study.trials[-1].user_attrs["prune_reason"]


def test_a_non_finite_value_is_pruned_with_its_reason() -> None:
    study = study_with(ByLast(), n_complete=1)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    trial.report(float("nan"), 2)
    assert trial.should_prune()
    assert "non-finite" in study.trials[-1].user_attrs["prune_reason"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"reduction_factor": 1}, "reduction_factor must be an int >= 2, got 1"),
        ({"min_resource": 0}, "min_resource must be a positive int, got 0"),
        ({"min_resource": 1.5}, "min_resource must be a positive int, got 1.5"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        CurveHalvingPruner(ByLast(), max_budget=BUDGET, **options)


def test_unknown_option_is_refused_by_name() -> None:
    with pytest.raises(InputError, match="threshold"):
        PRUNERS.create("curve-halving", max_budget=BUDGET, threshold=0.1)


def test_a_blip_at_a_rung_is_ranked_by_the_value_before_it_not_as_nan() -> None:
    """A trial with a NaN blip at the rung was admitted to it but scored NaN, which never
    ranks ahead yet raised how many are kept: a trial to stop survived."""
    study = study_with(ByLast(), n_complete=0, min_finished=100)
    x = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for i in range(12):
        values = (
            {1: 0.5, 2: 0.5, 3: 0.1 * (i + 1)}
            if i < 6
            else {1: 0.01, 2: 0.01, 3: float("nan"), 4: 0.01}
        )
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.PRUNED, params={"x": 0.5}, distributions=x,
                intermediate_values=values,
            )
        )  # fmt: skip
    trial = study.ask(x)
    for epoch in (1, 2, 3):
        trial.report(0.35, epoch)
    assert trial.should_prune()  # ranks 10 of 13 (the blips read 0.01): the top 4 are kept
    assert "ranks 10 of the 13 trials" in study.trials[-1].user_attrs["prune_reason"]


class ConfigRanker(ReadsConfigs, ByLast):
    """Ranks as ASHA does, reading configurations as the neural predictor does."""


def test_a_predictor_that_reads_configurations_ranks_a_conditional_space() -> None:
    pruner = CurveHalvingPruner(ConfigRanker(), max_budget=BUDGET, min_resource=1, min_finished=2)
    study = optuna.create_study(pruner=pruner)
    for branch, x in (("sgd", 0.1), ("sgd", 0.2), ("sgd", 0.3)):
        add_branch(study, branch, x)
    add_branch(study, "adam", 0.9, n_epochs=1)  # the first trial of the other branch
    assert pruner.prune(study, study.trials[-1])
    reason = study.trials[-1].user_attrs["prune_reason"]
    assert reason.startswith("predicted final value")
