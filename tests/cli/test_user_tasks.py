"""The user's own code as a task: ``--task module:attribute`` and ``--task file.py:attribute``."""

from __future__ import annotations

import functools
import json
import textwrap
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from hyperlab.cli import main
from hyperlab.lab.rundir import load_studies

OBJECTIVE = """
import optuna

def objective(trial):
    x = trial.suggest_float("x", -3.0, 3.0)
    for step in range(3):
        trial.report((x - 1.0) ** 2 + 1.0 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return (x - 1.0) ** 2
"""

#: A Task subclass without its ``_evaluate``: Python cannot make one.
UNFINISHED = """
from hyperlab.tasks import Task

class Unfinished(Task):
    def search_space(self, trial):
        return {"x": trial.suggest_float("x", 0.0, 1.0)}
"""

TASK = """
from hyperlab.tasks import Evaluation, Task

class Quad(Task):
    name = "quad"
    max_budget = 2

    def __init__(self, shift: float = 1.0):
        self.shift = shift

    def search_space(self, trial):
        return {"x": trial.suggest_float("x", -3.0, 3.0)}

    def _evaluate(self, config, budget, seed, on_epoch):
        curve = []
        for epoch in range(1, budget + 1):
            curve.append((config["x"] - self.shift) ** 2 + 1.0 / epoch)
            if on_epoch is not None:
                on_epoch(epoch, curve[-1], {"val_loss": list(curve)})
        return Evaluation(value=curve[-1], budget=budget, curves={"val_loss": curve})

def make(shift: float = 2.0):
    return Quad(shift)
"""


def _write(path: Path, code: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


def _finished(run: Path) -> list[object]:
    study = load_studies(run)[0][0]
    return [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_objective_module_tune_resume_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "ut_iris_obj.py", OBJECTIVE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # (restored afterwards)
    base = ["tune", "--task", "ut_iris_obj:objective", "--runs-dir", "runs", "--no-progress"]
    assert main([*base, "--trials", "3"]) == 0
    run = tmp_path / "runs" / "ut_iris_obj-objective-tpe"  # a valid default name
    assert json.loads((run / "run.json").read_text())["task"] == "ut_iris_obj:objective"
    trials = _finished(run)
    assert len(trials) == 3 and all(t.intermediate_values for t in trials)  # trial.report
    assert "best value" in capsys.readouterr().out
    assert main([*base, "--trials", "5"]) == 0  # resumed with more trials
    assert len(_finished(run)) == 5
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").exists()


def test_task_subclass_file_compare_two_seeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "code" / "quad_task.py", TASK)
    monkeypatch.chdir(tmp_path)
    argv = ["compare", "--task", "code/quad_task.py:Quad", "--tuners", "random", "--seeds", "2"]
    argv += ["--trials", "3", "--task-option", "shift=0.5", "--runs-dir", "runs"]
    assert main([*argv, "--no-progress"]) == 0
    run = tmp_path / "runs" / "quad_task-Quad-compare"
    spec = json.loads((run / "run.json").read_text())
    assert spec["task"] == f"{(tmp_path / 'code' / 'quad_task.py').as_posix()}:Quad"  # absolute
    results = pd.read_csv(run / "results.csv")
    assert len(results) == 6 and sorted(results["seed"].unique()) == [0, 1]
    monkeypatch.chdir(tmp_path / "code")  # the recorded path works from any folder
    assert main(["report", str(run)]) == 0


@pytest.mark.slow  # two spawned processes import hyperlab and torch
def test_factory_file_with_two_processes(tmp_path: Path) -> None:
    path = _write(tmp_path / "quad_factory.py", TASK)
    runs = tmp_path / "runs"
    argv = ["tune", "--task", f"{path}:make", "--tuner", "random", "--trials", "4"]
    assert main([*argv, "--jobs", "2", "--runs-dir", str(runs), "--no-progress"]) == 0
    trials = _finished(runs / "quad_factory-make-random")
    assert len(trials) == 4 and all(t.user_attrs["curves"]["val_loss"] for t in trials)


def test_objective_file_create_only_and_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "proj" / "obj_for_workers.py", OBJECTIVE)
    storage = f"journal:{tmp_path / 'shared.journal'}"
    monkeypatch.chdir(tmp_path / "proj")
    argv = ["tune", "--task", "obj_for_workers.py:objective", "--trials", "3", "--name", "w"]
    argv += ["--storage", storage, "--runs-dir", str(tmp_path / "runs"), "--create-only"]
    assert main(argv) == 0
    monkeypatch.chdir(tmp_path)  # a worker started elsewhere finds the file by its full path
    assert main(["worker", "--storage", storage, "--name", "w", "--no-wait"]) == 0
    assert "3/3 finished" in capsys.readouterr().out
    assert len(_finished(tmp_path / "runs" / "w")) == 3


@pytest.mark.parametrize(
    ("task", "says"),
    [
        ("missing_file.py:objective", "missing_file.py' does not exist"),
        ("no_such_module_ut:objective", "no module named 'no_such_module_ut'"),
        ("bad_code.py:objectiv", "has no attribute 'objectiv'"),
        ("raises_ut.py:objective", "raises_ut.py' raised ZeroDivisionError: division by zero"),
        ("bad_code.py:DATA", "bad_code.py:DATA' is a list"),
        ("bad_code.py:NotATask", "is the class NotATask, not a Task subclass"),
        ("bad_code.py:Unfinished", "class Unfinished does not write def _evaluate"),
        ("bad_code.py:make_nothing", "returned a NoneType, not a Task"),
        ("bad_code.py", "give FILE.py:NAME"),
        ("sub/missing_file.py", "give FILE.py:NAME"),
    ],
)
def test_bad_references_are_clean_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    task: str,
    says: str,
) -> None:
    _write(tmp_path / "raises_ut.py", "import math\nRATIO = 1 / 0\n")
    code = "DATA = [1, 2]\nclass NotATask:\n    pass\ndef make_nothing():\n    return None\n"
    code += UNFINISHED
    _write(tmp_path / "bad_code.py", code + OBJECTIVE)
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--task", task, "--trials", "2", "--runs-dir", "runs"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hyperlab tune: error:") and says in err
    assert "Traceback" not in err and "refused its options" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("run.json"))


def test_a_file_without_its_attribute_lists_what_it_defines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "sub" / "mine_ut.py", TASK + OBJECTIVE + "def _private():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--task", "sub/mine_ut.py", "--trials", "2", "--runs-dir", "runs"]) == 2
    err = capsys.readouterr().err
    assert "give FILE.py:NAME" in err and "e.g. sub/mine_ut.py:Quad" in err
    assert "defines: Quad, make, objective" in err
    assert "run name" not in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_the_hint_for_a_file_without_its_attribute_does_not_run_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran"
    script = TASK + f"\nopen({str(marker)!r}, 'w').write('trained')  # a script: no main guard\n"
    _write(tmp_path / "script_ut.py", script)
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--task", "script_ut.py", "--trials", "2", "--runs-dir", "runs"]) == 2
    assert "defines: Quad" in capsys.readouterr().err
    assert not marker.exists()


FLAKY = """
import os

def objective(trial):
    x = trial.suggest_float("x", -3.0, 3.0)
    if os.path.exists("BROKEN") and trial.number >= 2:
        raise RuntimeError("broken data file")
    return (x - 1.0) ** 2
"""


def _broken_flaky(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``flaky.py`` in ``folder`` (the working folder now), its data broken until BROKEN goes."""
    _write(folder / "flaky.py", FLAKY)
    monkeypatch.chdir(folder)
    (folder / "BROKEN").touch()


def test_a_run_stopped_by_failures_exits_1_and_a_resumed_run_forgets_the_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _broken_flaky(tmp_path, monkeypatch)
    base = ["--task", "flaky.py:objective", "--tuner", "random", "--trials", "4", "--no-progress"]
    assert main(["tune", *base, "--name", "fl"]) == 1  # 2 complete, then 10 failures
    out, err = capsys.readouterr()
    assert "stopped after 10 failed trials" in out
    assert "error: study 'fl:random:none:seed0' stopped after 10 failed trials" in err
    (tmp_path / "BROKEN").unlink()  # the user fixes the data and resumes
    assert main(["tune", *base, "--name", "fl"]) == 0
    out, err = capsys.readouterr()
    assert "after 4 trials" in out and "stopped after" not in out + err
    assert "10 trials failed" in out  # the study's earlier failures are still told
    assert main(["report", "runs/fl"]) == 0
    assert "stopped after" not in (tmp_path / "runs" / "fl" / "report.html").read_text()
    (tmp_path / "BROKEN").touch()
    compare = ["compare", *base, "--seeds", "2", "--name", "c"]
    compare[compare.index("--tuner")] = "--tuners"
    assert main(compare) == 1
    assert capsys.readouterr().err.count("stopped after 10 failed trials") == 2


def test_a_report_is_built_when_the_tasks_code_no_longer_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _write(tmp_path / "gone_task.py", TASK)
    monkeypatch.chdir(tmp_path)
    argv = ["compare", "--task", "gone_task.py:Quad", "--tuners", "random", "--seeds", "1"]
    assert main([*argv, "--trials", "2", "--runs-dir", "runs", "--no-progress"]) == 0
    code.unlink()  # moved or deleted since the run
    (tmp_path / "runs" / "gone_task-Quad-compare" / "report.html").unlink()
    assert main(["report", "runs/gone_task-Quad-compare"]) == 0
    assert (tmp_path / "runs" / "gone_task-Quad-compare" / "report.html").exists()


ONE_BAD_PROCESS = """
import os
from pathlib import Path

def objective(trial):
    x = trial.suggest_float("x", -3.0, 3.0)
    marker = Path(__file__).with_name("bad-pid")
    if not marker.exists():
        marker.write_text(str(os.getpid()))  # the first process to get here always fails
    if marker.read_text() == str(os.getpid()):
        raise RuntimeError("this process's data are broken")
    return (x - 1.0) ** 2
"""


@pytest.mark.slow  # two spawned processes, twice
def test_with_jobs_a_resume_forgets_the_stop_and_one_failing_process_does_not_fail_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _broken_flaky(tmp_path, monkeypatch)
    base = ["--task", "flaky.py:objective", "--tuner", "random", "--no-progress"]
    assert main(["tune", *base, "--trials", "4", "--name", "fl"]) == 1
    capsys.readouterr()
    (tmp_path / "BROKEN").unlink()
    assert main(["tune", *base, "--trials", "6", "--jobs", "2", "--name", "fl"]) == 0
    assert "stopped after" not in capsys.readouterr().out
    # one process fails every trial and stops after 10; the other goes on. Whether the study
    # reaches its 8 trials depends on timing (the other leaves when the failing one holds the
    # last trial), but the exit status must say which: 0 exactly when it did
    _write(tmp_path / "onebad.py", ONE_BAD_PROCESS)
    argv = ["tune", "--task", "onebad.py:objective", "--tuner", "random", "--no-progress"]
    code = main([*argv, "--trials", "8", "--jobs", "2", "--name", "ob"])
    study = load_studies(tmp_path / "runs" / "ob")[0][0]
    finished = len(study.get_trials(states=(TrialState.COMPLETE,)))
    assert (code == 0) == (finished == 8)
    assert bool(study.user_attrs.get("stopped_by_failures")) == (finished < 8)


@pytest.mark.parametrize(
    ("wrong", "right", "says"),
    [
        ("def _evaluate(self, config, budget, seed, on_epoch):",
         "def _evaluate(self, config, budget, seed):",
         "Quad._evaluate(self, config, budget, seed) cannot take the arguments the lab passes "
         "it; write it as def _evaluate(self, config, budget, seed, on_epoch)"),
        ("def search_space(self, trial):", "def search_space(self):",
         "Quad.search_space(self) cannot take the arguments the lab passes it; write it as "
         "def search_space(self, trial)"),
        ("def _evaluate(self, config, budget, seed, on_epoch):",
         "def evaluate(self, config, budget, seed, on_epoch):",
         "class Quad does not write def _evaluate(self, config, budget, seed, on_epoch); it "
         "writes evaluate, the lab's own method that checks what _evaluate returns: rename it"),
    ],
    ids=["evaluate-without-on_epoch", "space-without-trial", "public-evaluate"],
)  # fmt: skip
def test_a_task_method_written_with_the_wrong_signature_is_refused_by_name(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    wrong: str,
    right: str,
    says: str,
) -> None:
    assert wrong in TASK
    _write(tmp_path / "wrong_sig.py", TASK.replace(wrong, right))
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--task", "wrong_sig.py:Quad", "--trials", "2", "--runs-dir", "runs"]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("run.json"))


MIXIN_TASK = """
from hyperlab.tasks import Evaluation, Task

class Scoring:
    def evaluate(self, config, budget, seed, on_epoch):
        return Evaluation(value=config["x"] ** 2, budget=budget)

class Quad(Scoring, Task):
    name = "quad"

    def search_space(self, trial):
        return {"x": trial.suggest_float("x", -3.0, 3.0)}
"""


def test_a_public_evaluate_a_mixin_writes_is_named_as_one_the_class_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lab's own method, supplied by a mixin below Task, is told as the class's own."""
    _write(tmp_path / "mixin.py", MIXIN_TASK)
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--task", "mixin.py:Quad", "--trials", "2", "--runs-dir", "runs"]) == 2
    err = capsys.readouterr().err
    assert "class Quad does not write def _evaluate(self, config, budget, seed, on_epoch); it " \
        "writes evaluate, the lab's own method that checks what _evaluate returns: rename " \
        "it" in err  # fmt: skip
    assert "Traceback" not in err


def test_a_segment_method_written_with_the_wrong_signature_is_refused_by_name() -> None:
    from hyperlab.errors import InputError
    from tests.population.quadratic import Quadratic

    class Forgets(Quadratic):
        def _train_segment(self, config, state, epochs, seed):  # type: ignore[no-untyped-def, override]
            raise AssertionError("never called")

    Quadratic().check()  # (one that takes them passes)
    with pytest.raises(InputError, match=r"wrap_optimizer\) \(docs/your-model.md"):
        Forgets().check()


def test_an_import_that_fails_in_a_library_names_the_users_line_that_called_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = (
        "import numpy as np\n\n\ndef load():\n    return np.loadtxt('dat.csv')\n\n\nDATA = load()\n"
    )
    _write(tmp_path / "typo_data.py", code + TASK)
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "--task", "typo_data.py:Quad", "--trials", "2", "--runs-dir", "r"]) == 2
    err = capsys.readouterr().err
    assert "raised FileNotFoundError: dat.csv not found" in err
    assert "called from typo_data.py:5 in load)" in err and "Traceback" not in err


def _passing_a_logger(method: Any) -> Any:
    """A decorator that hands ``method`` one argument more than the lab passes."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, *args, logger=[], **kwargs)

    return wrapper


class _SpaceMixin:
    @classmethod
    def search_space(cls, trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", -1.0, 1.0)}


def test_task_methods_that_take_the_labs_arguments_in_other_forms_are_not_refused() -> None:
    from hyperlab.tasks import Evaluation, Task

    class Decorated(_SpaceMixin, Task):
        name = "decorated"
        max_budget = 2

        @_passing_a_logger
        def _evaluate(self, config, budget, seed, on_epoch, logger):  # type: ignore[no-untyped-def, override]
            return Evaluation(value=config["x"] ** 2, budget=budget)

        @staticmethod
        def test_score(config, *rest, seed=0, **options):  # type: ignore[no-untyped-def, override]
            return 0.0

    task = Decorated()
    task.check()  # (was refused: the signature functools.wraps copies has the logger too)
    assert task.evaluate({"x": 0.5}, 2, seed=0).value == 0.25
