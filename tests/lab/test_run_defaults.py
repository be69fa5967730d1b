"""A run resumed under another default of one of its tuners' (or pruners') options than it
started with says so, once, and names the option that continues as it started; a run resumed
under the same defaults, or recorded before run.json kept them, says nothing."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.errors import InputError
from hyperlab.lab import run_defaults
from hyperlab.lab.rundir import RunDir
from hyperlab.tuners import classic

ADVICE = (
    "tuner 'tpe' option constant_liar was False when this run started and is True now: pass "
    "--tuner-option constant_liar=false to continue as it started"
)


def _square(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", -1.0, 1.0) ** 2


def _tune(runs: Path, trials: int, **options: Any) -> list[str]:
    """Tune (or resume) run ``t`` with ``tpe`` to ``trials`` trials: the warnings it gave about
    the options it started with."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hyperlab.tune(
            _square,
            "tpe",
            trials=trials,
            runs_dir=runs,
            name="t",
            progress=False,
            tuner_options=options,
        )
    return [str(w.message) for w in caught if "when this run started" in str(w.message)]


def _tpe_default(monkeypatch: pytest.MonkeyPatch, value: bool) -> None:
    """Make ``tpe``'s default ``constant_liar`` ``value``, as another hyperlab has it."""
    monkeypatch.setitem(classic.tpe.__kwdefaults__, "constant_liar", value)


def _record(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "run.json").read_text())
    return data


def test_a_run_resumed_under_another_default_warns_once_and_names_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.json recorded only the options given: a run resumed after a default changed went on
    under the new one, its trials from two tuners, without a word."""
    _tpe_default(monkeypatch, False)
    assert _tune(tmp_path, 2) == []
    started = _record(tmp_path / "t")["effective_options"]
    assert started["tuner"]["tpe"]["constant_liar"] is False
    _tpe_default(monkeypatch, True)

    said = _tune(tmp_path, 3)
    assert len(said) == 1 and ADVICE in said[0] and "run 't'" in said[0]
    assert _record(tmp_path / "t")["effective_options"] == started  # as it started
    assert RunDir(tmp_path / "t").load_spec().trials == 3  # kept going

    # the advice resumes it as it started: no conflict with the options it recorded, no warning
    assert _tune(tmp_path, 4, constant_liar=False) == []
    assert RunDir(tmp_path / "t").load_spec().trials == 4


def test_a_run_resumed_under_the_same_defaults_says_nothing(tmp_path: Path) -> None:
    assert _tune(tmp_path, 2) == []
    assert _record(tmp_path / "t")["effective_options"]["tuner"]["tpe"] == {
        "constant_liar": True,
        "pruner_predictions": False,
    }
    assert _tune(tmp_path, 3) == []


def test_a_run_recorded_before_run_json_kept_them_resumes_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tpe_default(monkeypatch, False)
    assert _tune(tmp_path, 2) == []
    data = _record(tmp_path / "t")
    del data["effective_options"]
    (tmp_path / "t" / "run.json").write_text(json.dumps(data))
    _tpe_default(monkeypatch, True)
    assert _tune(tmp_path, 3) == []  # what it started with is unknown: nothing to say
    assert _record(tmp_path / "t")["effective_options"] == {}  # and not made up now


def test_a_pruner_option_and_several_changes_are_named_in_one_warning() -> None:
    found = run_defaults.changes(
        {"tuner": {"tpe": {"constant_liar": False}}, "pruner": {"median": {"n_warmup": 1}}},
        {"tuner": {"tpe": {"constant_liar": True}}, "pruner": {"median": {"n_warmup": 1.0}}},
    )
    assert found == [("tuner", "tpe", "constant_liar", False, True)]  # 1 is 1.0
    found = run_defaults.changes(
        {"pruner": {"median": {"n_warmup": 1, "gone": None}}},
        {"pruner": {"median": {"n_warmup": 2}}},
    )
    text = run_defaults.resume_warning("r", found)
    assert "pruner 'median' option n_warmup was 1 when this run started and is 2 now: pass " in text
    assert "--pruner-option n_warmup=1 to continue" in text


def test_damaged_effective_options_are_refused_by_name(tmp_path: Path) -> None:
    _tune(tmp_path, 2)
    data = _record(tmp_path / "t")
    data["effective_options"] = {"tuner": ["tpe"]}
    (tmp_path / "t" / "run.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="effective_options must be"):
        RunDir(tmp_path / "t").load_spec()
