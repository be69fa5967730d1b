"""What a trial's standard error is over: a cross-validation's folds, or a table's seeds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.errors import InputError
from hyperlab.lab import runner
from hyperlab.lab.results import SPREAD_ATTR, std_err_text
from hyperlab.registry import TASKS


def test_a_table_task_names_its_standard_error_over_seeds(tmp_path: Path) -> None:
    """A table's std_err is over its seeds, independent trainings: the summary and the report
    said "CV standard error" of it."""
    assert TASKS.create("nb201-cifar10").spread_over == "seeds"
    assert TASKS.create("wine-mlp").spread_over == "folds"
    study, summary = hyperlab.tune(
        "nb201-cifar10", "random", trials=3, runs_dir=tmp_path, name="t", progress=False
    )
    assert study.user_attrs[SPREAD_ATTR] == "seeds" and summary.spread_over == "seeds"
    assert "(standard error over seeds) after 3 trials" in summary.lines()[0]
    assert "CV" not in summary.lines()[0]
    page = (summary.run_dir / "report.html").read_text()
    assert "(standard error over seeds);" in page and "CV standard error" not in page


@pytest.mark.parametrize(
    ("se", "over", "text"),
    [
        (0.012345, "folds", " ± 0.01235 (CV standard error)"),
        (math.nan, "folds", " (no CV)"),
        (0.012345, "seeds", " ± 0.01235 (standard error over seeds)"),
        (None, "seeds", " (one seed)"),
    ],
)
def test_the_standard_error_is_named_by_what_it_is_over(se: Any, over: str, text: str) -> None:
    assert std_err_text(se, over) == text


def _study(over: str | None) -> optuna.Study:
    """Eight trials; the best (value 0) with scores 0, 1, 2, 3: over folds, Optuna's
    cross-validation error is 0.854; over seeds, the standard error of the mean is 0.645."""
    study = optuna.create_study()
    if over is not None:
        study.set_user_attr(SPREAD_ATTR, over)
    x = optuna.distributions.FloatDistribution(0.0, 1.0)
    for i in range(8):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": i / 8},
                distributions={"x": x},
                value=float(i),
                system_attrs={runner.CV_SCORES: [0.0 + i, 1.0 + i, 2.0 + i, 3.0 + i]},
            )
        )
    return study


def test_stop_at_noise_reads_seeds_without_the_correction_for_overlapping_folds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nadeau and Bengio's correction widens the noise for folds whose training sets overlap;
    a table's seeds are independent trainings, whose noise is the plain standard error: a
    remaining improvement of 0.75 is within the folds' noise but beyond the seeds'."""
    from optuna.terminator import RegretBoundEvaluator

    regret = {"value": 0.75}
    monkeypatch.setattr(RegretBoundEvaluator, "evaluate", lambda *a, **k: regret["value"])
    assert runner.seed_error(_study("seeds").trials, "minimize") == pytest.approx(
        math.sqrt(5 / 3 / 4)
    )
    assert runner._noise_stop(_study("seeds")) is None
    for over in ("folds", None):  # a study that recorded none: folds
        folds = runner._noise_stop(_study(over))
        assert folds is not None and "cross-validation error 0.8539" in folds
    regret["value"] = 0.5
    seeds = runner._noise_stop(_study("seeds"))
    assert seeds is not None and "0.5 < standard error over seeds 0.6455" in seeds
    assert "Nadeau" not in seeds and "no correction for overlapping folds" in seeds


def test_a_task_whose_spread_is_neither_folds_nor_seeds_is_refused_by_name() -> None:
    task = TASKS.create("branin")
    task.spread_over = "bootstraps"
    with pytest.raises(InputError, match="spread_over of task 'branin' must be 'folds' or 'se"):
        task.check()


def test_a_table_study_run_before_the_attribute_reads_its_tasks_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A study of a table task that recorded no spread (run before it was) was read as over
    folds: the report said "CV standard error". Its task's class says seeds, read from the
    registered name without building the task (the table package is never asked)."""
    from hyperlab.lab.results import spread_over
    from hyperlab.lab.runspec import RunSpec
    from hyperlab.report.study import study_report_records
    from hyperlab.tasks import tables

    def untouched() -> None:
        raise AssertionError("the table package was asked")

    monkeypatch.setattr(tables, "_package", untouched)
    old = _study(None)
    assert spread_over(old) == "folds" and spread_over(old, "nb201-cifar10") == "seeds"
    assert spread_over(old, "hpobench-credit_g") == spread_over(old, "hpolib-x") == "seeds"
    assert spread_over(old, "wine-mlp") == spread_over(old, "no_such.py:Task") == "folds"
    assert spread_over(_study("folds"), "nb201-cifar10") == "folds"  # what the run recorded
    spec = RunSpec("tune", "nb201-cifar10", ["random"], ["none"], [0], 8, "sqlite://")
    assert study_report_records(old, spec=spec).spread_over == "seeds"
    assert study_report_records(old).spread_over == "folds"
