"""A run too short for a tuner to leave its start-up design says so."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import hyperlab
from hyperlab import StartupOnlyWarning


@pytest.mark.parametrize(("tuner", "trials"), [("tpe", 5), ("gp", 10), ("ga", 6), ("neural", 4)])
def test_a_tuner_that_never_leaves_its_start_up_design_is_named(
    tmp_path: Path, tuner: str, trials: int
) -> None:
    with pytest.warns(StartupOnlyWarning, match=f"tuner '{tuner}'.*trials={trials}"):
        hyperlab.tune(
            "branin", tuner, trials=trials, runs_dir=tmp_path, progress=False, report=False
        )


@pytest.mark.parametrize("tuner", ["random", "qmc", "tpe"])
def test_no_warning_when_the_model_gets_to_choose(tmp_path: Path, tuner: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", StartupOnlyWarning)
        hyperlab.tune("branin", tuner, trials=11, runs_dir=tmp_path, progress=False, report=False)


def test_the_command_line_prints_it_in_one_line(tmp_path: Path) -> None:
    code = "import sys; from hyperlab.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = ["tune", "--task", "branin", "--tuner", "tpe", "--trials", "3", "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv, "--runs-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "hyperlab: warning: tuner 'tpe' draws its first 10 trials" in done.stderr
    assert "StartupOnlyWarning" not in done.stderr  # one line, no file or class


def test_the_report_repeats_it_beside_the_results_it_concerns(tmp_path: Path) -> None:
    """The console warned, but the report showed TPE level with random search and said nothing
    of why: a reader concluded TPE was no better."""
    from hyperlab.lab.rundir import RunDir
    from hyperlab.report import compare_records

    def compare(trials: int) -> None:
        run = {"seeds": 1, "runs_dir": tmp_path, "name": "c", "progress": False}
        hyperlab.compare("branin", ["random", "tpe"], trials=trials, **run)

    with pytest.warns(StartupOnlyWarning):
        compare(3)
    said = RunDir(tmp_path / "c").load_spec().warnings
    assert len(said) == 1 and said[0].startswith("tuner 'tpe' draws its first 10 trials")
    assert f"warned at the start: {said[0]}" in compare_records(tmp_path / "c").stopped
    page = (tmp_path / "c" / "report.html").read_text()
    assert "warned at the start: tuner &#x27;tpe&#x27; draws its first 10" in page
    with warnings.catch_warnings():  # a resume with enough trials drops it
        warnings.simplefilter("error", StartupOnlyWarning)
        compare(11)
    assert RunDir(tmp_path / "c").load_spec().warnings == []


def test_what_the_callers_filters_silence_is_neither_shown_nor_kept(tmp_path: Path) -> None:
    """Every warning of the checks went into run.json, the ones the caller silenced and other
    libraries' too (Optuna's "experimental" notice of the qmc tuner)."""
    from hyperlab.lab.rundir import RunDir

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=StartupOnlyWarning, module=__name__)
        hyperlab.tune("branin", "tpe", trials=3, runs_dir=tmp_path, name="a", progress=False)
        hyperlab.tune("branin", "qmc", trials=3, runs_dir=tmp_path, name="b", progress=False)
    assert not [w for w in shown if issubclass(w.category, StartupOnlyWarning)]
    assert RunDir(tmp_path / "a").load_spec().warnings == []
    assert RunDir(tmp_path / "b").load_spec().warnings == []


def test_an_error_filter_still_raises_it(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", StartupOnlyWarning)
        with pytest.raises(StartupOnlyWarning):
            hyperlab.tune("branin", "tpe", trials=3, runs_dir=tmp_path, progress=False)
    assert not (tmp_path / "branin-tpe").exists()


def test_a_run_refused_at_its_checks_warns_of_nothing_else(tmp_path: Path) -> None:
    """The start-up warning was printed before the error that refused the run it was about."""
    from hyperlab.errors import InputError

    with warnings.catch_warnings():
        warnings.simplefilter("error", StartupOnlyWarning)
        with pytest.raises(InputError, match="stops no trial before 5 trials"):
            hyperlab.tune("branin", "tpe", trials=3, pruner="median", runs_dir=tmp_path)


def test_pruner_predictions_without_a_pruner_that_records_them_is_refused(tmp_path: Path) -> None:
    from hyperlab.errors import InputError

    with pytest.raises(InputError, match="pruner_predictions=True needs a pruner"):
        hyperlab.tune(
            "digits-mlp",
            "tpe",
            trials=12,
            pruner="median",
            runs_dir=tmp_path,
            tuner_options={"pruner_predictions": True},
            progress=False,
        )
    assert not (tmp_path / "digits-mlp-tpe" / "run.json").exists()


def _user_objective(trial: Any) -> float:
    return (trial.suggest_float("x", -1.0, 1.0) - 0.2) ** 2


@pytest.mark.parametrize(("tuner", "trials"), [("tpe", 4), ("gp", 4), ("ga", 4)])
def test_the_warning_holds_for_a_user_objective(tmp_path: Path, tuner: str, trials: int) -> None:
    with pytest.warns(StartupOnlyWarning, match=f"tuner '{tuner}'"):
        hyperlab.tune(
            _user_objective, tuner, trials=trials, runs_dir=tmp_path, progress=False, report=False
        )


def test_a_tuner_that_sizes_its_design_from_an_objectives_space_is_noted_after(
    tmp_path: Path,
) -> None:
    """``neural`` sizes its start-up design from the search space, which an objective shows
    only at its first trial: a run too short to leave it went unwarned (the peers beside it,
    of fixed start-ups, were warned), and its Sobol design read as its model's results."""
    _, summary = hyperlab.tune(
        _user_objective, "neural", trials=3, runs_dir=tmp_path, progress=False, report=False
    )
    assert summary.stopped is not None
    assert "tuner 'neural' drew every trial from its start-up design" in summary.stopped
    assert "(5 trials here)" in summary.stopped and "trials=3" in summary.stopped


def test_nothing_is_noted_once_the_model_chose(tmp_path: Path) -> None:
    _, summary = hyperlab.tune(
        _user_objective, "neural", trials=6, runs_dir=tmp_path, progress=False, report=False
    )
    assert not summary.stopped
