"""The public names are where users look for them, and the help reads as plain text."""

from __future__ import annotations

import argparse
from collections import OrderedDict
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.cli import build_parser
from hyperlab.errors import InputError, InputTypeError, UnknownNameError


def test_public_names_importable_and_listed() -> None:
    from hyperlab import compare, diagnose, tune
    from hyperlab.pruners import CurveHalvingPruner, LearningCurvePruner
    from hyperlab.tuners import DiagnosisSampler, MetaSampler, NeuralSampler

    assert callable(tune) and callable(compare) and callable(diagnose)
    assert {"tune", "compare", "diagnose", "Task", "Evaluation"} <= set(dir(hyperlab))
    assert "annotations" not in dir(hyperlab) and "Any" not in dir(hyperlab)
    samplers = (MetaSampler, NeuralSampler, DiagnosisSampler)
    for cls in (*samplers, LearningCurvePruner, CurveHalvingPruner):
        assert cls.__module__.startswith("hyperlab.")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_flag_has_plain_help() -> None:
    for name, parser in _subparsers().items():
        text = parser.format_help()
        assert "``" not in text and ":func:" not in text, name
        for action in parser._actions:
            assert action.help, f"hyperlab {name} {action.option_strings or action.dest}"


def test_defaults_are_stated() -> None:
    help_text = _subparsers()["compare"].format_help()
    assert "default random,tpe" in help_text and "default none" in help_text


def test_python_tune_writes_the_report(tmp_path: Path) -> None:
    hyperlab.tune("branin", "random", trials=2, runs_dir=tmp_path, name="r", progress=False)
    assert (tmp_path / "r" / "report.html").stat().st_size > 1000


def test_test_tasks_stay_out_of_the_users_registry(capsys: pytest.CaptureFixture[str]) -> None:
    from hyperlab.cli import main
    from hyperlab.registry import TASKS
    from hyperlab.testing.tasks import SLEEP_BRANIN

    assert main(["list"]) == 0
    assert "sleep-branin" not in capsys.readouterr().out
    with pytest.raises(Exception) as info:
        TASKS.create("no-such-task")
    assert "sleep-branin" not in str(info.value)
    assert TASKS.create(SLEEP_BRANIN, seconds=0).seconds == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: hyperlab.tune(None, runs_dir=d), "task must be a registered name, a Task"),
        (lambda d: hyperlab.tune("branin", stop_at_noise="no", runs_dir=d), "stop_at_noise"),
        (lambda d: hyperlab.tune("branin", progress=None, runs_dir=d), "progress must be True"),
        (lambda d: hyperlab.tune("branin", report="yes", runs_dir=d), "report must be True"),
        (lambda d: hyperlab.tune("branin", runs_dir=None), "runs_dir must be a folder path"),
        (lambda d: hyperlab.tune("branin", command="hyperlab tune", runs_dir=d), "command"),
        (lambda d: hyperlab.tune("branin", command=["a", 1], runs_dir=d), "got 1 in it"),
        (lambda d: hyperlab.compare("branin", None, runs_dir=d), "got None"),
        (lambda d: hyperlab.compare("branin", 3, runs_dir=d), "got 3"),
        (lambda d: hyperlab.compare("branin", [["tpe"]], runs_dir=d), r"got \['tpe'\] in"),
        (lambda d: hyperlab.compare("branin", pruners=None, runs_dir=d), "pruners must be"),
        (lambda d: hyperlab.compare("branin", seeds=2.0, runs_dir=d), "got 2.0"),
        (lambda d: hyperlab.compare("branin", seeds=None, runs_dir=d), "got None"),
        (lambda d: hyperlab.compare("branin", seeds=True, runs_dir=d), "got True"),
        (lambda d: hyperlab.compare("branin", seeds="12", runs_dir=d), "got '12'"),
        (
            lambda d: hyperlab.compare("branin", {"tpe", "random"}, runs_dir=d),
            "tuners must be in an order",
        ),
        (
            lambda d: hyperlab.compare("branin", pruners=frozenset({"none"}), runs_dir=d),
            "pruners must be in an order",
        ),
        (
            lambda d: hyperlab.compare("branin", seeds={3, 1}, runs_dir=d),
            "seeds must be in an order",
        ),
        (  # (it read "not a OrderedDict")
            lambda d: hyperlab.compare("branin", OrderedDict(tpe=1), runs_dir=d),
            r"tuners must be in an order \(a list or tuple\), not an OrderedDict",
        ),
        (lambda d: hyperlab.tune("branin", storage=3, runs_dir=d), "storage must be a URL"),
    ],
)
def test_bad_arguments_are_refused_by_name_before_anything_is_stored(
    tmp_path: Path, call: Any, message: str
) -> None:
    with pytest.raises(InputTypeError, match=message):
        call(tmp_path)
    assert not any(tmp_path.rglob("run.json"))


def test_a_tuner_that_is_not_a_name_is_refused_as_such(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="tuner name must be a string, got None"):
        hyperlab.tune("branin", None, runs_dir=tmp_path)  # type: ignore[arg-type]
    assert not any(tmp_path.rglob("run.json"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tuner": optuna.samplers.TPESampler()}, r"tuner name .*TPESampler: .*random, .*tpe"),
        ({"pruner": optuna.pruners.MedianPruner()}, r"pruner name .*MedianPruner: .*median"),
    ],
)
def test_a_sampler_or_pruner_object_is_refused_as_a_type_error(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputTypeError, match=message) as info:
        hyperlab.tune("branin", trials=2, runs_dir=tmp_path, progress=False, **options)
    assert isinstance(info.value, UnknownNameError)  # what catches an unknown name catches it
    assert not any(tmp_path.rglob("run.json"))


def test_an_overwrite_that_is_not_a_bool_deletes_nothing(tmp_path: Path) -> None:
    kw: dict[str, Any] = {"runs_dir": tmp_path, "name": "r", "progress": False}
    hyperlab.tune("branin", "random", trials=2, report=False, **kw)
    with pytest.raises(InputTypeError, match="overwrite must be True or False, got 'no'"):
        hyperlab.tune("branin", "random", trials=3, overwrite="no", **kw)  # type: ignore[arg-type]
    assert (tmp_path / "r" / "run.json").exists()


def test_the_keys_of_a_dict_keep_their_order_and_are_taken(tmp_path: Path) -> None:
    rows = hyperlab.compare(
        "branin", {"random": 1, "qmc": 2}.keys(), seeds=1, trials=2, runs_dir=tmp_path,
        progress=False, report=False,
    )  # fmt: skip
    assert list(dict.fromkeys(r["tuner"] for r in rows)) == ["random", "qmc"]


def test_stop_at_noise_says_when_the_task_gives_it_no_noise_to_read(tmp_path: Path) -> None:
    # branin has no cross-validation folds: every trial runs, and the summary says why
    _, summary = hyperlab.tune(
        "branin", "random", trials=9, stop_at_noise=True, runs_dir=tmp_path, progress=False
    )
    assert summary.n_trials == 9
    assert summary.stopped is not None and "stop at noise did not apply" in summary.stopped
    assert "stop at noise did not apply" in (summary.run_dir / "report.html").read_text()
    # a task with folds is not told so
    _, cv = hyperlab.tune(
        "wine-mlp",
        "random",
        trials=2,
        budget=1,
        stop_at_noise=True,
        runs_dir=tmp_path,
        name="cv",
        progress=False,
        report=False,
    )
    assert cv.stopped is None


def _no_reports(trial: Any) -> float:
    return trial.suggest_float("x", -1.0, 1.0) ** 2


def test_a_pruner_that_never_sees_an_intermediate_value_is_named_in_the_summary(
    tmp_path: Path,
) -> None:
    _, summary = hyperlab.tune(
        _no_reports, "random", pruner="median", trials=6, runs_dir=tmp_path, progress=False
    )
    assert summary.stopped is not None and "pruner 'median' could not act" in summary.stopped


def test_pretraining_curves_of_another_search_space_are_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    with pytest.raises(InputError, match="differ from the pretraining curves'"):
        hyperlab.tune(
            "wine-mlp", "random", pruner="curve", trials=8, runs_dir=tmp_path,
            pruner_options={"pretrain": "lcbench-126026"}, progress=False,
        )  # fmt: skip
    assert not list(tmp_path.rglob("study.db"))


def test_numpy_seeds_count_and_list_are_taken(tmp_path: Path) -> None:
    import numpy as np

    kw: dict[str, Any] = {"trials": 1, "runs_dir": tmp_path, "progress": False, "report": False}
    records = hyperlab.compare("branin", ["random"], seeds=np.int64(2), name="a", **kw)
    assert sorted({r["seed"] for r in records}) == [0, 1]
    records = hyperlab.compare("branin", ["random"], seeds=np.array([3, 5]), name="b", **kw)
    assert sorted({r["seed"] for r in records}) == [3, 5]
