"""The public names are where users look for them, and the help reads as plain text."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import hyperlab
from hyperlab.cli import build_parser


def test_public_names_importable_and_listed() -> None:
    from hyperlab import compare, diagnose, tune
    from hyperlab.pruners import CurveHalvingPruner, LearningCurvePruner
    from hyperlab.tuners import DiagnosisSampler, NeuralSampler

    assert callable(tune) and callable(compare) and callable(diagnose)
    assert {"tune", "compare", "diagnose", "Task", "Evaluation"} <= set(dir(hyperlab))
    assert "annotations" not in dir(hyperlab) and "Any" not in dir(hyperlab)
    for cls in (NeuralSampler, DiagnosisSampler, LearningCurvePruner, CurveHalvingPruner):
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
