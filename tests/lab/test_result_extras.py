"""A task's own extras (``Evaluation.extra``, ``Segment.extra``) as ``results.csv`` columns:
the trial stores their names (``EXTRAS_ATTR``), so the lab's and the tuners' attributes are
not taken for them; one-value extras only, after the existing columns, sorted, none under the
name of another column."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest

from hyperlab.lab.objective import TaskObjective
from hyperlab.lab.results import COLUMNS, study_records, write_results_csv
from hyperlab.registry import TUNERS
from hyperlab.tasks.base import EXTRAS_ATTR, Evaluation, Segment
from tests.population.conftest import run_population
from tests.population.quadratic import Quadratic
from tests.population.test_selftuning import OwnLinear
from tests.tuners.one_epoch_tasks import Screened

#: Extras whose names are taken by other columns, a list, a dict and ``None`` (no column).
_ODD = {"value": "mine", "task": "t", "param_lr": 1.5, "hist": [1, 2], "d": {"a": 1}, "n": None}


class Scored(Quadratic):
    """An evaluation with the extras of an MLP task, and the odd ones on the first
    trial only."""

    name = "quadratic-scored"

    def _evaluate(self, config: dict[str, Any], budget: int, seed: int, on_epoch: Any) -> Any:
        ev = super()._evaluate(config, budget, seed, on_epoch)
        extra: dict[str, Any] = {"val_accuracy_se": 0.01, "val_accuracy": 0.5, "ok": True}
        return replace(ev, extra={**extra, **(_ODD if self.segments == 1 else {})})


class Segmented(Quadratic):
    """Segments that keep their epoch and the model's last score (and a tuner's name)."""

    name = "quadratic-segmented"

    def _train_segment(self, *args: Any, **kwargs: Any) -> Segment:
        segment = super()._train_segment(*args, **kwargs)
        extra = {"last_score": segment.values[-1], "epoch_seen": segment.epoch}
        return replace(segment, extra={**extra, "schedule": "mine"})


def _written(records: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, str]]:
    """The rows of ``records`` written as ``results.csv``, after a first row of blanks under
    its header's names, in order."""
    path = tmp_path / "results.csv"
    write_results_csv(records, path)
    with path.open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        assert reader.fieldnames is not None
        rows.insert(0, dict.fromkeys(reader.fieldnames, ""))
    return rows


def test_a_tasks_extras_are_columns_after_the_others(tmp_path: Path) -> None:
    """The MLP tasks' ``val_accuracy`` was stored with each trial and written nowhere."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(TaskObjective(Scored(), budget=2), n_trials=3)
    records = study_records(study)
    rows = _written(records, tmp_path)
    header = list(rows[0])
    params = ["param_lr", "param_momentum", "param_steps", "param_start"]
    extras = ["extra_param_lr", "extra_task", "extra_value", "ok", "val_accuracy"]
    assert header == [*COLUMNS, *params, *extras, "val_accuracy_se"]
    first, later = rows[1], rows[2:]
    assert (first["extra_value"], first["extra_task"], first["extra_param_lr"]) == (
        "mine",
        "t",
        "1.5",
    )
    assert first["value"] == repr(study.trials[0].value)  # (the lab's value kept)
    assert all(r["extra_value"] == r["extra_task"] == "" for r in later)  # (an empty cell)
    assert all(r["val_accuracy"] == "0.5" and r["ok"] == "True" for r in rows[1:])
    assert study.trials[0].system_attrs[EXTRAS_ATTR] == [
        "val_accuracy_se",
        "val_accuracy",
        "ok",
        *_ODD,
    ]


def test_a_trial_without_recorded_extras_has_no_extra_columns(tmp_path: Path) -> None:
    """A user's own attributes (and a trial stored before the names were recorded) are not
    taken for a task's extras."""
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(value=1.0, user_attrs={"val_accuracy": 0.5}))
    assert list(_written(study_records(study), tmp_path)[0]) == list(COLUMNS)


def _segment_extras(study: optuna.Study) -> None:
    """The segments' extras are columns, the tuner's ``schedule`` (also a segment's) is not."""
    records = study_records(study)
    assert records and all(r["epoch_seen"] == 2 and math.isfinite(r["last_score"]) for r in records)
    assert not any("schedule" in r or "extra_schedule" in r for r in records)
    for t in study.trials:
        assert t.system_attrs[EXTRAS_ATTR] == ["last_score", "epoch_seen"]


@pytest.mark.parametrize("tuner", ["pbt", "pb2"])
def test_a_members_segment_extras_are_columns(tuner: str, tmp_path: Path) -> None:
    _segment_extras(run_population(tuner, Segmented(), tmp_path, interval=1, budget=2))


class LinearSegmented(OwnLinear):
    """A model whose rate a ``tpe-hd`` trial learns, with :class:`Segmented`'s extras."""

    name = "linear-segmented"

    def _train_segment(self, *args: Any) -> Segment:
        segment = super()._train_segment(*args)
        extra = {"last_score": segment.values[-1], "epoch_seen": segment.epoch}
        return replace(segment, extra={**extra, "schedule": "mine"})


def test_a_tpe_hd_trials_segment_extras_are_columns() -> None:
    task = LinearSegmented()
    sampler = TUNERS.create("tpe-hd", seed=0, space=task.distributions(), task=task)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(TaskObjective(task, 0, 2, sampler.evaluate_trial), n_trials=2)
    _segment_extras(study)


class ScreenedScored(Screened):
    """A task that evaluates from scratch only, with an extra of its own."""

    name = "screened-scored"

    def _evaluate(self, *args: Any) -> Evaluation:
        ev = super()._evaluate(*args)
        return replace(ev, extra={"val_accuracy": 0.5, "budget_note": "one"})


def test_a_one_epoch_trials_extras_are_columns(tmp_path: Path) -> None:
    """Its screening trials (pruned, written by the tuner) and full trials (added whole)."""
    task = ScreenedScored()
    tuner = TUNERS.create("one-epoch", seed=0, space=task.distributions(), task=task, k=2)
    study = optuna.create_study(sampler=tuner)
    tuner.run_trials(study, task, trials=4, budget=3, seed=0, workdir=tmp_path)
    records = study_records(study)
    assert len(records) == 6
    assert all(r["val_accuracy"] == 0.5 and r["budget_note"] == "one" for r in records)
