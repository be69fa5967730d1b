"""The held-out test score: the task's own code, run once the trials are stored, cannot take
the run's results down with it."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

from hyperlab.cli import main

TASK = """
from hyperlab.tasks import Evaluation, Task


class Scored(Task):
    name = "scored"
    max_budget = 2
    direction = "maximize"

    def search_space(self, trial):
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    def _evaluate(self, config, budget, seed, on_epoch):
        return Evaluation(value=config["x"], budget=budget)


class Good(Scored):
    def test_score(self, config, budget=None, seed=0):
        return config["x"] / 2


class Raises(Scored):
    def test_score(self, config, budget=None, seed=0):
        raise RuntimeError("no test split here")


class Text(Scored):
    def test_score(self, config, budget=None, seed=0):
        return "0.75"


class NotFinite(Scored):
    def test_score(self, config, budget=None, seed=0):
        return float("nan")


class Exits(Scored):
    def test_score(self, config, budget=None, seed=0):
        import sys

        sys.exit(2)
"""


def _tune(tmp_path: Path, cls: str) -> list[str]:
    path = tmp_path / "scored.py"
    path.write_text(TASK)
    return [
        "tune", "--task", f"{path}:{cls}", "--tuner", "random", "--trials", "3",
        "--runs-dir", str(tmp_path / "runs"), "--name", cls, "--no-progress",
    ]  # fmt: skip


def _study(tmp_path: Path, cls: str) -> optuna.Study:
    return optuna.load_study(
        study_name=f"{cls}:random:none:seed0", storage=f"sqlite:///{tmp_path}/runs/{cls}/study.db"
    )


def test_a_good_test_score_is_recorded(tmp_path: Path) -> None:
    assert main(_tune(tmp_path, "Good")) == 0
    study = _study(tmp_path, "Good")
    assert study.user_attrs["test_score"]["value"] == pytest.approx(study.best_value / 2)


@pytest.mark.parametrize(
    ("cls", "reason"),
    [
        ("Raises", "RuntimeError: no test split here (at scored.py:"),
        ("Text", "returned '0.75' of type str, not a number"),
        ("NotFinite", "test_score of task 'scored' returned nan"),
        ("Exits", "the task's test_score called sys.exit(2)"),  # (the process ended, no report)
    ],
)
def test_a_test_score_that_fails_is_told_and_the_run_keeps_its_results(
    tmp_path: Path, cls: str, reason: str
) -> None:
    """An error raised there ended the run with a traceback and no report; text was read as a
    number, and NaN was recorded as the score."""
    told = f"no held-out test score for trial .* of task 'scored': .*{re.escape(reason)}"
    with pytest.warns(UserWarning, match=told):
        assert main(_tune(tmp_path, cls)) == 0
    assert (tmp_path / "runs" / cls / "report.html").exists()
    study = _study(tmp_path, cls)
    assert len(study.trials) == 3 and "test_score" not in study.user_attrs
