"""A sampler wrapped by PredictionFeedback sees a curve pruner's stopped trials as complete."""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hyperlab.errors import InputTypeError
from hyperlab.registry import TUNERS
from hyperlab.tuners.feedback import PredictionFeedback, predicted_as_complete


def _objective(trial: optuna.Trial) -> float:
    """x**2 over 3 epochs; odd trials stop at epoch 1, every other one with a prediction."""
    x = trial.suggest_float("x", -2.0, 2.0)
    for epoch in (1, 2, 3):
        trial.report(x * x + (3 - epoch), epoch)
        if trial.number % 2 == 1 and epoch == 1:
            if trial.number % 4 == 1:
                trial.set_user_attr("predicted_final_mean", x * x + 0.5)
                trial.set_user_attr("predicted_final_std", 0.1)
            raise optuna.TrialPruned()
    return x * x


class _Spy(optuna.samplers.RandomSampler):
    """Records, at each relative sampling, the complete trials it is shown."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.seen: list[list[tuple[int, float]]] = []

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
        done = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
        self.seen.append([(t.number, t.value) for t in done])
        assert len(study.get_trials(states=(TrialState.COMPLETE,))) == len(done)
        return {}


def test_predicted_trials_are_shown_complete_at_their_prediction() -> None:
    spy = _Spy()
    study = optuna.create_study(sampler=PredictionFeedback(spy))
    study.optimize(_objective, n_trials=9)
    shown = dict(spy.seen[-1])  # what the sampler saw before the last trial
    finished = study.trials[:-1]
    predicted = [t for t in finished if "predicted_final_mean" in t.user_attrs]
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    assert predicted and sorted(shown) == sorted(t.number for t in complete + predicted)
    for t in predicted:
        assert shown[t.number] == pytest.approx(t.user_attrs["predicted_final_mean"])
        assert study.trials[t.number].state == TrialState.PRUNED  # the study is not changed
    # a pruned trial without a prediction is still pruned for the sampler
    bare = [t for t in finished if t.state == TrialState.PRUNED and t not in predicted]
    assert bare and not set(shown) & {t.number for t in bare}


def test_predicted_as_complete_leaves_other_trials_alone() -> None:
    study = optuna.create_study()
    study.optimize(_objective, n_trials=4)
    done, pruned_with, _, pruned_without = study.trials
    assert predicted_as_complete(done) is done
    assert predicted_as_complete(pruned_without) is pruned_without
    shown = predicted_as_complete(pruned_with)
    assert shown.state == TrialState.COMPLETE and pruned_with.state == TrialState.PRUNED
    pruned_with.user_attrs["predicted_final_mean"] = math.nan
    assert predicted_as_complete(pruned_with) is pruned_with


def test_tpe_tuner_option() -> None:
    plain = TUNERS.create("tpe", seed=0)
    assert isinstance(plain, optuna.samplers.TPESampler)
    fed = TUNERS.create("tpe", seed=0, pruner_predictions=True)
    assert isinstance(fed, PredictionFeedback)
    study = optuna.create_study(sampler=fed)
    study.optimize(_objective, n_trials=14)  # past TPE's 10 startup trials
    assert len(study.trials) == 14 and study.best_value < 4.0
    with pytest.raises(InputTypeError, match="pruner_predictions"):
        TUNERS.create("tpe", seed=0, pruner_predictions="yes")
    with pytest.raises(InputTypeError, match="sampler"):
        PredictionFeedback("tpe")  # type: ignore[arg-type]
