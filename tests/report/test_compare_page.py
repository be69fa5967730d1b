"""A comparison's page: how it labels, picks and summarizes the methods' trials."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.report import compare_records


def _reporting(trial: optuna.Trial) -> float:
    """A user's objective that reports 4 steps and has no test split."""
    x = trial.suggest_float("x", -1.0, 1.0)
    value = 0.0
    for step in range(1, 5):
        value = x**2 + 1.0 / step
        trial.report(value, step)
    return value


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """random and qmc, 2 seeds of 3 trials each."""
    root = tmp_path_factory.mktemp("compare-page")
    hyperlab.compare(
        _reporting, ["random", "qmc"], seeds=2, trials=3, runs_dir=root, name="c", progress=False
    )
    return root / "c"


def test_best_curves_name_the_seed_of_their_study(two_seeds: Path) -> None:
    rec = compare_records(two_seeds)
    studies = {(s.study_name.split(":")[1], seed): s for s, _, _, seed in _studies(two_seeds)}
    for curves in rec.best_curves:
        assert curves.seed in (0, 1)
        assert curves.title == f"{curves.label}, seed {curves.seed}, trial {curves.trial}"
        study = studies[(curves.label, curves.seed)]
        assert study.best_trial.number == curves.trial
        assert study.best_value == pytest.approx(curves.value)
        other = studies[(curves.label, 1 - curves.seed)]
        assert curves.value <= other.best_value


def _studies(run: Path) -> list[tuple[optuna.Study, str, str, int]]:
    from hyperlab.lab.rundir import load_studies

    return load_studies(run)
