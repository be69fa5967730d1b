"""A run resumed under another default of one of its tuners' (or pruners') options than it
started with says so, once, and names the option that continues as it started; one that goes on
under the new default records the change (and its report says it), so a later resumption under
that default says nothing; a run resumed under the same defaults, or recorded before run.json
kept them, says nothing."""

from __future__ import annotations

import html
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
from hyperlab.report import compare_records
from hyperlab.report.comparison_html import render_compare
from hyperlab.report.study import study_report_records
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
    return [str(w.message) for w in caught if "when this run " in str(w.message)]


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
    assert "run.json records the change in 'default_changes'" in said[0]
    assert RunDir(tmp_path / "t").load_spec().trials == 3  # kept going

    # the advice resumes it as it started: no conflict with the options it recorded, no warning
    assert _tune(tmp_path, 4, constant_liar=False) == []
    assert RunDir(tmp_path / "t").load_spec().trials == 4


def test_a_run_that_went_on_under_the_new_default_is_not_warned_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.json kept only the options the run started with: a run resumed under the new default
    without the option (so taking the new default) was warned again at every resumption."""
    _tpe_default(monkeypatch, False)
    _tune(tmp_path, 2)
    created = _record(tmp_path / "t")["created"]
    _tpe_default(monkeypatch, True)
    assert len(_tune(tmp_path, 3)) == 1
    record = _record(tmp_path / "t")
    assert record["effective_options"]["tuner"]["tpe"]["constant_liar"] is True  # goes on so
    [change] = record["default_changes"]
    assert change == {
        "kind": "tuner",
        "name": "tpe",
        "option": "constant_liar",
        "was": False,
        "now": True,
        "from": change["from"],
        "trials": 2,
    }
    assert change["from"] > created

    assert _tune(tmp_path, 4) == []  # the same default again: nothing more to say
    assert _record(tmp_path / "t")["default_changes"] == [change]

    # a further change warns again, from what the run last ran with
    _tpe_default(monkeypatch, False)
    [said] = _tune(tmp_path, 5)
    assert (
        "option constant_liar was True when this run last ran and is False now: pass "
        "--tuner-option constant_liar=true to continue as it ran"
    ) in said
    later = _record(tmp_path / "t")["default_changes"]
    assert later[0] == change and later[1]["was"] is True and later[1]["now"] is False
    assert later[1]["trials"] == 4
    # the advice, taken later, is no conflict: it goes back to what it ran with, and says so
    assert _tune(tmp_path, 6, constant_liar=True) == []
    last = _record(tmp_path / "t")["default_changes"][-1]
    assert (last["was"], last["now"], last["trials"]) == (False, True, 5)


def test_the_advice_taken_after_a_resumption_cut_short_leaves_no_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resumption under the new default that ran nothing (stopped on reading the warning)
    records the change; the option it advised, given next, is accepted and undoes it."""
    _tpe_default(monkeypatch, False)
    _tune(tmp_path, 2)
    _tpe_default(monkeypatch, True)
    assert len(_tune(tmp_path, 2)) == 1  # nothing more to run: cut short
    assert len(_record(tmp_path / "t")["default_changes"]) == 1
    assert _tune(tmp_path, 3, constant_liar=False) == []
    record = _record(tmp_path / "t")
    assert record["default_changes"] == []  # the two changes cancel out
    assert record["effective_options"]["tuner"]["tpe"]["constant_liar"] is False
    assert RunDir(tmp_path / "t").load_spec().trials == 3


def test_the_reports_say_which_option_changed_and_from_when(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reports named the versions a run spans but not an option's default that changed."""
    _tpe_default(monkeypatch, False)
    _tune(tmp_path, 2)
    _tpe_default(monkeypatch, True)
    _tune(tmp_path, 3)
    [change] = _record(tmp_path / "t")["default_changes"]
    line = (
        "options changed during the run: tuner tpe constant_liar False until it was resumed "
        f"on {change['from'][:10]} "
    )
    spec = RunDir(tmp_path / "t").load_spec()
    study = optuna.load_study(study_name=spec.study_names()[0][0], storage=spec.storage)
    note = study_report_records(study, spec=spec).stopped or ""
    assert line in note and "UTC (the run then held 2 trials), then True" in note
    assert html.escape(line) in (tmp_path / "t" / "report.html").read_text()

    run = dict(runs_dir=tmp_path, name="c", seeds=[0], progress=False)
    _tpe_default(monkeypatch, False)
    hyperlab.compare(_square, ["tpe"], trials=2, **run)  # type: ignore[arg-type]
    _tpe_default(monkeypatch, True)
    with pytest.warns(UserWarning, match="when this run started"):
        hyperlab.compare(_square, ["tpe"], trials=3, **run)  # type: ignore[arg-type]
    rec = compare_records(tmp_path / "c")
    assert rec.options_span.startswith(line[:60])
    assert rec.options_span.endswith("(the run then held 2 trials), then True")
    assert f"; {html.escape(rec.options_span)}. " in render_compare(rec)


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
    data["effective_options"] = {}
    data["default_changes"] = [{"kind": "tuner", "name": "tpe", "option": "constant_liar"}]
    (tmp_path / "t" / "run.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="default_changes must be a list of"):
        RunDir(tmp_path / "t").load_spec()
