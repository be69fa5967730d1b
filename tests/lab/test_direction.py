"""A run optimizes its value the way it is told (or its task declares), and says which way."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest

import hyperlab
from hyperlab.cli import main
from hyperlab.errors import InputError, RunConflictError
from hyperlab.lab.rundir import RunDir
from hyperlab.lab.runner import StudyJob, build_study
from hyperlab.lab.stats import mean_ranks, paired_comparison
from hyperlab.registry import TASKS, Entry
from hyperlab.report import compare_records
from hyperlab.report.records import study_report_records
from hyperlab.tasks.base import EpochCallback, Evaluation, Task


def accuracy(trial: optuna.Trial) -> float:
    """An accuracy-like objective: 1.0 at x = 0.3, 0.51 at the far end (higher is better)."""
    x = trial.suggest_float("x", 0.0, 1.0)
    return 1.0 - (x - 0.3) ** 2


class AccuracyTask(Task):
    """A task whose score is an accuracy: it declares that it is maximized."""

    name = "accuracy-1d"
    metric = "accuracy"
    direction = "maximize"
    optimum = 1.0

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        return Evaluation(value=1.0 - (config["x"] - 0.3) ** 2, budget=budget)


@pytest.fixture
def accuracy_task(monkeypatch: pytest.MonkeyPatch) -> str:
    entry = Entry(AccuracyTask.name, AccuracyTask, "test task: an accuracy, maximized")
    monkeypatch.setitem(TASKS._entries, AccuracyTask.name, entry)
    return AccuracyTask.name


def _tune(tmp_path: Path, task: Any, **kw: Any) -> tuple[optuna.Study, Any]:
    kw.setdefault("trials", 12)
    return hyperlab.tune(task, "tpe", runs_dir=tmp_path, progress=False, name="run", **kw)


def test_tune_maximizes_an_accuracy_objective(tmp_path: Path) -> None:
    study, summary = _tune(tmp_path, accuracy, direction="maximize")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    values = [t.value for t in study.trials if t.value is not None]
    assert summary.best_value == max(values) > 0.98  # minimizing would drive it towards 0.51
    assert summary.lines()[0].startswith("best value (maximized): ")
    assert RunDir(tmp_path / "run").load_spec().to_dict()["direction"] == "maximize"


def test_plain_objective_is_minimized_and_the_summary_says_so(tmp_path: Path) -> None:
    study, summary = _tune(tmp_path, accuracy, trials=6)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert summary.best_value == min(t.value for t in study.trials if t.value is not None)
    assert summary.lines()[0].startswith("best value (minimized): ")


def test_a_task_is_optimized_its_own_way(tmp_path: Path, accuracy_task: str) -> None:
    study, summary = _tune(tmp_path, accuracy_task, trials=8)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert summary.direction == "maximize" and summary.best_value > 0.95


def test_a_direction_against_the_task_is_refused(
    tmp_path: Path, accuracy_task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match=r"'minimize' contradicts task 'accuracy-1d'.*maximized"):
        _tune(tmp_path, accuracy_task, direction="minimize")
    with pytest.raises(InputError, match=r"'maximize' contradicts task 'branin'.*minimized"):
        _tune(tmp_path, "branin", direction="maximize")
    # a maximized task that kept the default metric name is not said to maximize a "loss"
    monkeypatch.setattr(AccuracyTask, "metric", "loss")
    with pytest.raises(InputError, match="whose score is to be maximized"):
        _tune(tmp_path, accuracy_task, direction="minimize")
    with pytest.raises(InputError, match="'upwards'"):
        _tune(tmp_path, accuracy, direction="upwards")
    assert not (tmp_path / "run").exists()


def test_a_resumed_run_keeps_its_direction(tmp_path: Path) -> None:
    _tune(tmp_path, accuracy, trials=3, direction="maximize")
    with pytest.raises(RunConflictError, match="direction: 'maximize' -> 'minimize'") as info:
        _tune(tmp_path, accuracy, trials=4)
    assert "give --direction maximize to resume it" in str(info.value)  # (it was left out)
    study, _ = _tune(tmp_path, accuracy, trials=4, direction="maximize")
    assert len(study.trials) == 4


def test_a_run_recorded_without_direction_was_minimized(tmp_path: Path) -> None:
    _tune(tmp_path, accuracy, trials=2)
    spec_file = tmp_path / "run" / "run.json"
    data = json.loads(spec_file.read_text())
    del data["direction"]  # as written before runs recorded it
    spec_file.write_text(json.dumps(data))
    assert RunDir(tmp_path / "run").load_spec().direction == "minimize"
    study, _ = _tune(tmp_path, accuracy, trials=3)
    assert len(study.trials) == 3
    with pytest.raises(RunConflictError, match="direction"):
        _tune(tmp_path, accuracy, trials=4, direction="maximize")


def test_a_stored_study_keeps_its_direction(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    job = StudyJob("s", url, None, "random", "none", 0, 2)
    build_study(job, None)
    job.direction = "maximize"
    with pytest.raises(RunConflictError, match="'s' was created to minimize"):
        build_study(job, None)


def test_results_csv_under_maximize(tmp_path: Path, accuracy_task: str) -> None:
    hyperlab.compare(
        accuracy_task, ["random", "tpe"], seeds=2, trials=6, runs_dir=tmp_path, name="cmp",
        progress=False, report=False,
    )  # fmt: skip
    table = pd.read_csv(tmp_path / "cmp" / "results.csv")
    assert set(table["direction"]) == {"maximize"}
    for _key, rows in table.groupby(["tuner", "seed"]):
        values, best = rows["value"].tolist(), rows["best_so_far"].tolist()
        assert best == [max(values[: i + 1]) for i in range(len(values))]
        assert rows["regret"].tolist() == pytest.approx([1.0 - b for b in best])
        assert (rows["regret"] >= 0).all()


def test_report_records_rank_by_direction(tmp_path: Path, accuracy_task: str) -> None:
    hyperlab.compare(
        accuracy_task, ["random", "qmc"], seeds=3, trials=5, runs_dir=tmp_path, name="cmp",
        progress=False, report=False,
    )  # fmt: skip
    rec = compare_records(tmp_path / "cmp")
    assert rec.spec["direction"] == "maximize"
    finals = {m.label: m.final_best for m in rec.methods}
    for m in rec.methods:
        other = next(o for o in rec.methods if o is not m)
        wins = [
            1.0 if a > b else 2.0 if a < b else 1.5 for a, b in zip(m.final_best, other.final_best)
        ]
        assert m.mean_rank == pytest.approx(sum(wins) / len(wins)), finals
    best = {c.label: c.value for c in rec.best_curves}
    assert best == {label: max(values) for label, values in finals.items()}
    study = optuna.load_study(
        study_name="cmp:random:none:seed0", storage=RunDir(tmp_path / "cmp").load_spec().storage
    )
    assert study_report_records(study).best.value == study.best_value  # type: ignore[union-attr]


def test_stats_read_the_direction() -> None:
    high, low = [0.9, 0.91, 0.92, 0.93, 0.94, 0.95], [0.5, 0.52, 0.49, 0.51, 0.5, 0.48]
    assert paired_comparison(high, low, "a", "b", direction="maximize").verdict == "better"
    assert paired_comparison(high, low, "a", "b").verdict == "worse"
    assert mean_ranks({"a": high, "b": low}, direction="maximize") == {"a": 1.0, "b": 2.0}
    assert mean_ranks({"a": high, "b": [math.nan] * 6}, direction="maximize")["b"] == 2.0


def test_cli_refuses_a_direction_against_the_task(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--task", "branin", "--runs-dir", str(tmp_path), "--no-progress", "--trials", "2"]
    code = main(["tune", *args, "--direction", "maximize"])
    err = capsys.readouterr().err
    assert code == 2 and "contradicts task 'branin'" in err and "Traceback" not in err
    code = main(["compare", *args, "--tuners", "random", "--direction", "maximize"])
    assert code == 2 and "contradicts task 'branin'" in capsys.readouterr().err


def test_cli_direction_maximize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], accuracy_task: str
) -> None:
    base = ["tune", "--runs-dir", str(tmp_path), "--no-progress", "--trials", "6"]
    assert main([*base, "--task", accuracy_task, "--direction", "maximize"]) == 0
    assert "best value (maximized): " in capsys.readouterr().out
    objective = tmp_path / "objective.py"
    objective.write_text(
        "def accuracy(trial):\n    return 1.0 - (trial.suggest_float('x', 0.0, 1.0) - 0.3) ** 2\n"
    )
    reference = f"{objective}:accuracy"
    assert main([*base, "--task", reference, "--direction", "maximize", "--name", "u"]) == 0
    out = capsys.readouterr().out
    assert "best value (maximized): " in out
    best = float(out.split("best value (maximized): ")[1].split()[0])
    assert best > 0.95


def test_a_refused_direction_warns_of_nothing_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    """A compare whose direction contradicted its task warned first that tpe's 2 trials never
    leave its start-up design, and only then refused the run."""
    args = ["--task", "branin", "--runs-dir", str(tmp_path), "--no-progress", "--trials", "2"]
    code = main(["compare", *args, "--tuners", "tpe", "--direction", "maximize"])
    err = capsys.readouterr().err
    assert code == 2 and "contradicts task 'branin'" in err
    assert "warning" not in err and not [str(w.message) for w in recwarn]


class UnsaidDirection(Task):
    """A task of one's own whose score is an R², but whose class forgot to set its direction."""

    name = "r2-1d"
    metric = "r2"

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    def _evaluate(
        self, config: dict[str, Any], budget: int, seed: int, on_epoch: EpochCallback | None
    ) -> Evaluation:
        return Evaluation(value=1.0 - (config["x"] - 0.3) ** 2, budget=budget)


def test_a_direction_refused_for_a_task_that_never_set_one_says_how_to_set_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = f"{Path(__file__)}:UnsaidDirection"
    code = main(["tune", "--task", task, "--direction", "maximize", "--trials", "2",
                 "--runs-dir", str(tmp_path), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "class UnsaidDirection does not set direction" in err
    assert "set direction = 'maximize' in the class" in err
    assert "leave direction out" not in err  # (that would minimize the R²)
    with pytest.raises(InputError, match="leave direction out") as refused:
        _tune(tmp_path, "branin", direction="maximize")  # a built-in task's is its own
    assert "does not set direction" not in str(refused.value)


class _Maximized:
    """A mixin that sets the direction of the tasks built on it."""

    direction = "maximize"


class MixedInDirection(_Maximized, UnsaidDirection):
    """A task whose direction comes from a mixin, not from a Task subclass."""


def test_a_direction_set_by_a_mixin_is_not_called_task_s_default() -> None:
    from hyperlab.lab.plan import resolve_direction

    assert resolve_direction(None, "r2-1d", MixedInDirection()) == "maximize"
    with pytest.raises(InputError, match="leave direction out") as refused:
        resolve_direction("minimize", "r2-1d", MixedInDirection())
    assert "does not set direction" not in str(refused.value)


class UnsaidLoss(UnsaidDirection):
    """A task of one's own that keeps Task's default direction for a lower-is-better score."""

    name = "ce-1d"
    metric = "cross-entropy"


def test_a_task_that_never_set_a_direction_for_its_accuracy_like_metric_warns(
    tmp_path: Path,
) -> None:
    """A scikit-learn task scoring an AUC whose class forgot direction = 'maximize' was
    minimized with no word: it reports no score per epoch for the trend watch to read."""
    from hyperlab.errors import SetupWarning

    task = f"{Path(__file__)}:UnsaidDirection"
    with pytest.warns(
        SetupWarning, match=r"its class UnsaidDirection does not set direction"
    ) as said:
        study, _ = _tune(tmp_path / "r2", task, trials=2)
    assert "metric 'r2' reads as higher-is-better" in str(said[0].message)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    spec = RunDir(tmp_path / "r2" / "run").load_spec()
    assert any("does not set direction" in w for w in spec.warnings)
    quiet = [
        (task, {"direction": "minimize"}),  # said so
        (f"{Path(__file__)}:UnsaidLoss", {}),  # lower is better
        (f"{Path(__file__)}:MixedInDirection", {}),  # set by a mixin
        (f"{Path(__file__)}:AccuracyTask", {}),  # set by its class
    ]
    for i, (quiet_task, kw) in enumerate(quiet):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _tune(tmp_path / f"q{i}", quiet_task, trials=2, **kw)
        assert not [w for w in caught if "does not set direction" in str(w.message)], quiet_task
