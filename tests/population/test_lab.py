"""A population inside the lab: checked when the run is planned, refused where it cannot run,
given the test score of the model its best member trained (through its schedule), never
resumed from another setup's checkpoints, and resumed under other versions with a record of
what it had trained."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest

from hyperlab.cli import main
from hyperlab.errors import InputError, RunConflictError
from hyperlab.lab import make_plan, run_folder, run_progress, start_run
from hyperlab.lab.rundir import RunDir
from hyperlab.population import checkpoint_file
from hyperlab.report.study import study_report_records
from tests.modules import load_file
from tests.population.quadratic import Quadratic, SimulatedCrash

QUADRATIC = f"{Path(__file__).with_name('quadratic.py')}:Quadratic"


def _plan(tuner: str = "pbt", **kw: object):  # type: ignore[no-untyped-def]
    settings: dict[str, object] = {
        "name": "pop",
        "tuners": [tuner],
        "pruners": ["none"],
        "seeds": [0],
        "trials": 4,
    }
    settings.update(kw)
    return make_plan("tune", QUADRATIC, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("tuner", ["pbt", "pb2"])
def test_what_a_population_cannot_do_is_refused_when_planned(tuner: str) -> None:
    with pytest.raises(InputError, match="pruner 'none'"):
        _plan(tuner, pruners=["median"])
    with pytest.raises(InputError, match="stop_at_noise"):
        _plan(tuner, stop_at_noise=True)
    with pytest.raises(InputError, match="trials >= 2"):
        _plan(tuner, trials=1)
    with pytest.raises(InputError, match="interval must be less than the budget"):
        _plan(tuner, budget=2, tuner_options={"interval": 2})


def test_a_population_is_scored_on_the_test_split_through_its_best_members_schedule(
    tmp_path: Path,
) -> None:
    import hyperlab
    from hyperlab.population import member_test_score
    from hyperlab.registry import TASKS

    study, summary = hyperlab.tune(
        "wine-mlp", "pbt", trials=4, seed=1, budget=6, runs_dir=tmp_path, name="pop",
        tuner_options={"interval": 2}, progress=False, report=False,
    )  # fmt: skip
    best = study.best_trial
    record = study.user_attrs["test_score"]
    assert record["trial"] == best.number and summary.test_score == record["value"]
    task = TASKS.create("wine-mlp")
    assert member_test_score(study, task, best) == record["value"]  # the same model, retrained
    schedule = best.user_attrs["schedule"]
    seed = next(t.user_attrs["seed"] for t in study.trials
                if t.user_attrs["member"] == schedule[0]["member"])  # fmt: skip
    by_hand = task.schedule_test_score(
        [(task.search_space(optuna.trial.FixedTrial(e["config"])), e["end"] - e["start"])
         for e in schedule], seed,
    )  # fmt: skip
    assert by_hand == record["value"]


def test_a_run_with_population_checkpoints_keeps_its_setup(tmp_path: Path) -> None:
    start_run(_plan(), tmp_path)
    checkpoints = tmp_path / "pop" / "population" / "pop_pbt_none_seed0"
    checkpoints.mkdir(parents=True)
    (checkpoints / "population.pkl").write_bytes(b"generation 1")
    with pytest.raises(RunConflictError):
        start_run(_plan(task_options={"lr_high": 0.2}), tmp_path)


def _tune_population(runs: Path) -> None:
    import hyperlab

    hyperlab.tune(
        Quadratic, "pbt", trials=4, budget=6, tuner_options={"interval": 2}, runs_dir=runs,
        name="p", progress=False, report=False,
    )  # fmt: skip


@pytest.mark.parametrize("recorded", [True, False])
def test_a_population_resumed_under_other_versions_records_what_it_had_trained(
    recorded: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A population writes its trials only when it ends: one resumed under another Optuna was
    recorded (and reported) as having held 0 trials, whatever it had trained."""
    real = run_folder.versions
    monkeypatch.setattr(
        run_folder, "versions", lambda packages=(): {**real(packages), "optuna": "4.2.0"}
    )
    # the process dies in the second generation: the checkpoint holds the first, 4 x 2 epochs
    monkeypatch.setattr(Quadratic.__init__, "__defaults__", (0.1, 6, 0.0))
    with pytest.raises(SimulatedCrash):
        _tune_population(tmp_path)
    monkeypatch.undo()
    folder = tmp_path / "p" / "population" / "p_pbt_none_seed0"
    if not recorded:  # a checkpoint written before hyperlab kept a record of its progress
        (folder / checkpoint_file.PROGRESS).unlink()
    with pytest.warns(UserWarning, match="last ran with optuna 4.2.0 and resumes with"):
        _tune_population(tmp_path)
    data = json.loads((tmp_path / "p" / "run.json").read_text())
    [earlier] = data["earlier_versions"]
    assert earlier["trials"] == 0
    assert earlier["member_epochs"] == (8 if recorded else None)
    spec = RunDir(tmp_path / "p").load_spec()
    study = optuna.load_study(study_name=spec.study_names()[0][0], storage=spec.storage)
    assert len(study.trials) == 4
    trained = "8" if recorded else "an unknown number of"
    assert (
        f"(the run then held 0 trials, and {trained} member-epochs trained by populations not "
        "yet ended), then optuna"
    ) in (study_report_records(study, spec=spec).stopped or "")


def test_the_lab_reads_the_files_a_population_writes() -> None:
    assert run_progress.CHECKPOINT == checkpoint_file.FILE
    assert run_progress.PROGRESS == checkpoint_file.PROGRESS


def test_workers_and_dask_are_refused_for_a_population(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["tune", "--task", QUADRATIC, "--tuner", "pbt", "--trials", "4", "--create-only",
         "--runs-dir", str(tmp_path), "--no-progress"]
    )  # fmt: skip
    assert code == 2
    assert "without --create-only and --dask" in capsys.readouterr().err
    assert not (tmp_path / "quadratic-Quadratic-pbt").exists()


def test_without_the_population_tuner_a_member_gets_no_test_score(tmp_path: Path) -> None:
    """Retraining a member's starting configuration would score a model it never trained."""
    import hyperlab
    from hyperlab.lab.held_out import record_test_score
    from hyperlab.registry import TASKS

    study, _ = hyperlab.tune(
        "wine-mlp", "pbt", trials=2, seed=0, budget=4, runs_dir=tmp_path, name="pop",
        progress=False, report=False,
    )  # fmt: skip
    recorded = study.user_attrs["test_score"]
    study.set_user_attr("test_score", {})
    job = _plan().jobs()[0]
    record_test_score(study, TASKS.create("wine-mlp"), job)  # no member_score: nothing
    assert study.user_attrs["test_score"] == {}
    record_test_score(study, TASKS.create("wine-mlp"), job, lambda s, t, trial: 0.5)
    assert study.user_attrs["test_score"] == recorded | {"value": 0.5}


def test_a_task_class_is_run_by_its_importable_name(tmp_path: Path) -> None:
    import json

    import hyperlab
    from tests.population.quadratic import Quadratic

    kw: dict[str, Any] = {"trials": 4, "budget": 6, "runs_dir": tmp_path, "progress": False}
    study, summary = hyperlab.tune(Quadratic, "pbt", report=False, **kw)
    spec = json.loads((summary.run_dir / "run.json").read_text())
    assert spec["task"] == "tests.population.quadratic:Quadratic" and len(study.trials) == 4

    class Local(Quadratic):
        pass

    with pytest.raises(InputError, match=r"Task class .*Local is defined in .* a function"):
        hyperlab.tune(Local, "pbt", name="local", **kw)
    with pytest.raises(InputError, match="not registered: pass its class"):
        hyperlab.tune(Local(), "pbt", name="local", **kw)


def test_jobs_beyond_the_populations_are_warned_about() -> None:
    from hyperlab.lab.execute import _warn_idle_jobs

    with pytest.warns(UserWarning, match="with 1 study, --jobs 2 adds processes that only wait"):
        _warn_idle_jobs(_plan("pbt", jobs=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_idle_jobs(_plan("pbt", jobs=2, seeds=[0, 1]))  # one process per population
        _warn_idle_jobs(_plan("pbt", jobs=1))


def test_pruner_tuner_is_no_pruning_to_a_population() -> None:
    assert _plan("pbt", pruners=["tuner"]).spec.pruners == ["tuner"]


def test_a_task_class_loaded_from_a_file_path_is_recorded_by_its_file(tmp_path: Path) -> None:
    import json
    import os
    import shutil

    import hyperlab

    source = tmp_path / "quad_copy.py"
    shutil.copy(Path(__file__).parent / "quadratic.py", source)
    module = load_file(source, "not_importable_by_this_name")
    _study, summary = hyperlab.tune(
        module.Quadratic, "pbt", trials=4, budget=6, runs_dir=tmp_path / "runs", progress=False,
        report=False,
    )  # fmt: skip
    task = json.loads((summary.run_dir / "run.json").read_text())["task"]
    assert task == f"{os.path.realpath(source)}:Quadratic"


def test_a_task_class_of_a_bytecode_only_module_is_referenced_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import py_compile

    from hyperlab.lab.target import _class_reference

    source = tmp_path / "pyc_only_task.py"
    source.write_text("from tests.population.quadratic import Quadratic\n\nclass T(Quadratic):\n"
                      "    pass\n")  # fmt: skip
    py_compile.compile(str(source), cfile=str(tmp_path / "pyc_only_task.pyc"))
    source.unlink()
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("pyc_only_task")
    try:
        assert _class_reference(module.T) == "pyc_only_task:T"
    finally:
        sys.modules.pop("pyc_only_task", None)
