"""The oracle pruner: it stops exactly the trials whose true final value does not beat the
reference, records that value as its prediction, and reads final values from the task the lab
hands it (refused where there is none)."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import hyperlab
from hyperlab.errors import InputError, InputTypeError
from hyperlab.lab.outcomes import paired_regret, study_outcomes
from hyperlab.pruners.oracle import OraclePruner, oracle
from hyperlab.registry import PRUNERS, TASKS
from hyperlab.testing import pruners as suite


def run(pruner: OraclePruner, direction: str = "minimize", trials: int = 20) -> optuna.Study:
    sign = -1.0 if direction == "maximize" else 1.0
    study = optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner, direction=direction
    )
    study.optimize(suite.synthetic_objective(sign=sign), n_trials=trials)
    return study


def final(study: optuna.Study, t: optuna.trial.FrozenTrial) -> float:
    return suite.synthetic_final(study, t)


def test_it_stops_exactly_the_trials_that_would_not_beat_the_best() -> None:
    study = run(OraclePruner(suite.synthetic_final, min_epochs=2))
    best = float("inf")
    for t in study.trials:
        value = final(study, t)
        if t.number >= 1:  # from the second trial on there is a best to beat
            assert (t.state == TrialState.PRUNED) == (value >= best), t.number
        if t.state == TrialState.COMPLETE:
            assert t.value == pytest.approx(value)
            best = min(best, value)
    stopped = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert stopped and all(t.last_step == 2 for t in stopped)
    t = stopped[0]
    assert t.user_attrs["predicted_final_mean"] == pytest.approx(final(study, t))
    assert t.user_attrs["predicted_final_std"] == 0.0
    assert t.user_attrs["prune_reason"].startswith("oracle: final value")


def test_k_keeps_the_trials_that_beat_the_kth_best_and_maximize_mirrors() -> None:
    strict = run(OraclePruner(suite.synthetic_final, min_epochs=2))
    lenient = run(OraclePruner(suite.synthetic_final, min_epochs=2, k=3))
    completed = [sum(t.state == TrialState.COMPLETE for t in s.trials) for s in (strict, lenient)]
    assert completed[1] > completed[0]
    assert [t.state for t in lenient.trials[:3]] == [TrialState.COMPLETE] * 3  # k to beat first
    mirrored = run(OraclePruner(suite.synthetic_final, min_epochs=2, k=3), direction="maximize")
    assert [t.state for t in mirrored.trials] == [t.state for t in lenient.trials]


def test_noise_makes_it_a_calibrated_predictor_that_stops_fewer_trials() -> None:
    exact = run(OraclePruner(suite.synthetic_final, min_epochs=2, seed=0))
    noisy = run(OraclePruner(suite.synthetic_final, min_epochs=2, noise=0.2, seed=0))
    again = run(OraclePruner(suite.synthetic_final, min_epochs=2, noise=0.2, seed=0))
    pruned = [sum(t.state == TrialState.PRUNED for t in s.trials) for s in (exact, noisy)]
    assert pruned[1] < pruned[0]
    assert [t.state for t in noisy.trials] == [t.state for t in again.trials]
    stopped = next(t for t in noisy.trials if t.state == TrialState.PRUNED)
    assert stopped.user_attrs["predicted_final_std"] == 0.2
    assert stopped.user_attrs["predicted_final_mean"] != pytest.approx(final(noisy, stopped))


def test_bad_settings_are_refused_by_name() -> None:
    with pytest.raises(InputTypeError, match="final_value"):
        OraclePruner(1.0, min_epochs=2)  # type: ignore[arg-type]
    for bad in (
        {"min_epochs": 0},
        {"min_epochs": 2, "k": 0},
        {"min_epochs": 2, "noise": -1},
        {"min_epochs": 2, "noise": math.inf},  # an infinite margin: it stopped nothing
    ):
        with pytest.raises(InputError):
            OraclePruner(suite.synthetic_final, **bad)  # type: ignore[arg-type]
    task = TASKS.create("digits-mlp-bank")
    with pytest.raises(InputError, match="at most the budget"):
        oracle(task=task, min_epochs=task.max_budget + 1)
    with pytest.raises(InputTypeError, match="Task"):
        oracle(task="digits-mlp-bank")  # type: ignore[arg-type]
    assert oracle(task=task).startup_trials == 1
    assert oracle(task=task).min_epochs == 3  # curve's first decision on a 30-epoch budget


def test_on_a_user_objective_it_is_refused_by_name(tmp_path: Path) -> None:
    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("x", 0.0, 1.0)

    with pytest.raises(InputError, match="reads final values from the task"):
        hyperlab.tune(objective, "random", pruner="oracle", trials=5, runs_dir=tmp_path)
    with pytest.raises(InputError, match="set by the lab"):
        hyperlab.compare(
            "digits-mlp-bank",
            ["random"],
            pruners=["oracle"],
            pruner_options={"task": "digits-mlp-bank"},
            runs_dir=tmp_path,
        )
    assert "oracle" in PRUNERS


@pytest.mark.slow
def test_through_compare_it_keeps_no_pruning_s_regret_at_a_fraction_of_the_epochs(
    tmp_path: Path,
) -> None:
    records = hyperlab.compare(
        "digits-mlp-bank",
        ["random"],
        pruners=["none", "oracle"],
        seeds=[0],
        trials=12,
        runs_dir=tmp_path,
        storage=f"journal:{tmp_path / 'oracle.journal'}",
        progress=False,
        report=False,
    )
    outcomes = study_outcomes(records)
    same = paired_regret(outcomes, {"pruner": "oracle"}, {"pruner": "none"}, match=("seed",))
    assert same.n == 1 and same.mean == 0.0
    epochs = {o.labels["pruner"]: o.epochs for o in outcomes}
    assert epochs["oracle"] < epochs["none"] / 2
