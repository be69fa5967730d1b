"""An objective that reports its fold scores Optuna's way: its CV standard error is shown."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import optuna
import pytest
from optuna.terminator import report_cross_validation_scores

import hyperlab
from hyperlab.errors import ObjectiveContractError
from hyperlab.lab.results import CV_SCORES, cv_std_err


def folds_objective(trial: optuna.Trial) -> float:
    """Five fold scores around ``x``: their mean's standard error is 0.1 / sqrt(2)."""
    x = trial.suggest_float("x", 0.0, 1.0)
    scores = [x - 0.2, x - 0.1, x, x + 0.1, x + 0.2]
    report_cross_validation_scores(trial, scores)
    return x


SE = math.sqrt(0.025 / 5)  # the folds' sample variance 0.025 over 5 folds


def _trial(system_attrs: dict, user_attrs: dict | None = None) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        value=0.5, system_attrs=system_attrs, user_attrs=user_attrs or {}
    )


def test_an_objectives_fold_scores_give_its_standard_error() -> None:
    assert math.isclose(cv_std_err(_trial({CV_SCORES: [0.3, 0.4, 0.5, 0.6, 0.7]})), SE)
    assert math.isnan(cv_std_err(_trial({})))
    assert math.isnan(cv_std_err(_trial({CV_SCORES: [0.5]})))
    assert math.isnan(cv_std_err(_trial({CV_SCORES: [0.5, math.inf]})))
    # a task's own standard error wins over its fold scores
    task_trial = _trial({CV_SCORES: [0.3, 0.7]}, {"std_err": 0.01, "fold_values": [0.3, 0.7]})
    assert cv_std_err(task_trial) == 0.01


def test_the_summary_results_and_report_show_an_objectives_cv_error(tmp_path: Path) -> None:
    rows = hyperlab.compare(
        folds_objective, ["random"], direction="maximize", seeds=1, trials=3,
        runs_dir=tmp_path, name="folds", progress=False,
    )  # fmt: skip
    assert all(math.isclose(r["std_err"], SE) for r in rows)
    with open(tmp_path / "folds" / "results.csv", newline="") as f:
        assert all(math.isclose(float(r["std_err"]), SE) for r in csv.DictReader(f))
    _, summary = hyperlab.tune(
        folds_objective, "random", direction="maximize", trials=3, runs_dir=tmp_path,
        name="one", progress=False,
    )  # fmt: skip
    assert f"± {SE:.4g} (CV standard error) after 3 trials" in summary.lines()[0]
    assert "(CV standard error)" in (summary.run_dir / "report.html").read_text()


def own_folds_objective(trial: optuna.Trial) -> float:
    """As :func:`folds_objective`, its scores handed as a NumPy array through the lab's own,
    non-deprecated call."""
    import numpy as np

    x = trial.suggest_float("x", 0.0, 1.0)
    scores = np.array([x - 0.2, x - 0.1, x, x + 0.1, x + 0.2])
    hyperlab.report_fold_scores(trial, scores)
    return float(scores.mean())


def test_the_labs_own_call_gives_the_cv_error_without_a_deprecation(tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # (Optuna's call warns: deprecated)
        _, summary = hyperlab.tune(
            own_folds_objective, "random", direction="maximize", trials=3, runs_dir=tmp_path,
            name="own", progress=False,
        )  # fmt: skip
    assert f"± {SE:.4g} (CV standard error) after 3 trials" in summary.lines()[0]


def test_a_fixed_trial_keeps_no_fold_scores() -> None:
    trial = optuna.trial.FixedTrial({"x": 0.5})
    assert own_folds_objective(trial) == 0.5  # (an objective tried by hand)


@pytest.mark.parametrize(
    ("trial", "scores", "said"),
    [
        (None, [0.1], r"needs at least two fold scores, got 1 score"),
        (None, "0.1, 0.2", r"as a list of numbers, got str"),
        (None, [0.1, "0.2"], r"one number per fold, got '0.2' of type str as fold score 1"),
        (None, [[0.1, 0.2], [0.3, 0.4]], r"one number per fold, got \[0.1, 0.2\] of type list"),
        ("not a trial", [0.1, 0.2], r"needs the optuna.Trial the objective was given, got str"),
    ],
)
def test_report_fold_scores_refuses_what_is_not_fold_scores_by_name(
    trial: object, scores: object, said: str
) -> None:
    with pytest.raises(ObjectiveContractError, match=said):
        hyperlab.report_fold_scores(trial, scores)


def test_an_objective_that_reports_one_fold_stops_the_run_at_its_first_trial(
    tmp_path: Path,
) -> None:
    def one_fold(trial: optuna.Trial) -> float:
        hyperlab.report_fold_scores(trial, [trial.suggest_float("x", 0.0, 1.0)])
        return 0.0

    with pytest.raises(ObjectiveContractError, match=r"at least two fold scores"):
        hyperlab.tune(one_fold, "random", trials=3, runs_dir=tmp_path, name="x", progress=False)
