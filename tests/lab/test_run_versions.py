"""A run resumed under other library versions than it ran with says so: once when it resumes,
in its run.json (the earlier sets, when they applied and the trials held then) and in its
report; a run resumed under the same versions, or recorded before run.json kept them, does not.
"""

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
from hyperlab.lab import run_folder
from hyperlab.lab.rundir import RunDir, versions
from hyperlab.report import compare_records
from hyperlab.report.comparison_html import render_compare
from hyperlab.report.study import study_report_records

INSTALLED = versions()["optuna"]


def _square(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", -1.0, 1.0) ** 2


def _tune(runs: Path, trials: int) -> list[str]:
    """Tune (or resume) run ``t`` to ``trials`` trials: the warnings it gave about versions."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hyperlab.tune(
            _square, "random", trials=trials, runs_dir=runs, name="t", progress=False
        )  # fmt: skip
    return [str(w.message) for w in caught if "resumes with" in str(w.message)]


def _fake_optuna(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Make the run record ``version`` as Optuna's, the other versions as installed."""
    real = run_folder.versions
    monkeypatch.setattr(
        run_folder, "versions", lambda packages=(): {**real(packages), "optuna": version}
    )


def _record(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "run.json").read_text())
    return data


def _edit_record(run: Path, **changes: Any) -> None:
    """Rewrite ``run.json`` as an older hyperlab or an older install left it (``None``:
    the key removed)."""
    data = _record(run)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    (run / "run.json").write_text(json.dumps(data))


def _tune_note(run: Path) -> str:
    """The notes of the run's (tune) report."""
    run_dir = RunDir(run)
    spec = run_dir.load_spec()
    study = optuna.load_study(study_name=spec.study_names()[0][0], storage=spec.storage)
    return study_report_records(study, spec=spec).stopped or ""


def test_a_run_resumed_under_another_optuna_warns_once_and_keeps_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each resumption overwrote the recorded versions: a run half made under an older Optuna
    read as made under the newer one throughout, in run.json and in its report."""
    _fake_optuna(monkeypatch, "4.2.0")
    assert _tune(tmp_path, 3) == []
    monkeypatch.undo()
    said = _tune(tmp_path, 5)
    assert said == [
        f"run 't' last ran with optuna 4.2.0 and resumes with optuna {INSTALLED}: its trials "
        "come from both (run.json keeps the earlier versions in 'earlier_versions', and the "
        "report says which trials ran with which)"
    ]
    record = _record(tmp_path / "t")
    assert record["versions"]["optuna"] == INSTALLED
    [earlier] = record["earlier_versions"]
    assert earlier["versions"] == {**record["versions"], "optuna": "4.2.0"}
    assert earlier["trials"] == 3 and earlier["until"] > record["created"]
    note = _tune_note(tmp_path / "t")
    span = (
        "the run spans several versions: optuna 4.2.0 until it was resumed on "
        f"{earlier['until'][:10]} "
    )
    assert span in note
    assert f"UTC (the run then held 3 trials), then optuna {INSTALLED}" in note
    assert html.escape(span) in (tmp_path / "t" / "report.html").read_text()
    # resumed again with the same versions: nothing more to say, the history stays
    assert _tune(tmp_path, 6) == []
    assert _record(tmp_path / "t")["earlier_versions"] == [earlier]


def test_a_comparison_report_says_its_run_spans_several_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison report's setup named the last resumption's versions only."""
    run = dict(runs_dir=tmp_path, name="c", seeds=2, progress=False)
    _fake_optuna(monkeypatch, "4.2.0")
    hyperlab.compare(_square, ["random"], trials=2, **run)  # type: ignore[arg-type]
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="last ran with optuna 4.2.0 and resumes with"):
        hyperlab.compare(_square, ["random"], trials=3, **run)  # type: ignore[arg-type]
    rec = compare_records(tmp_path / "c")
    assert rec.versions.startswith("python ") and f"optuna {INSTALLED}" in rec.versions
    assert rec.versions_span.startswith("the run spans several versions: optuna 4.2.0 until")
    assert f"(the run then held 4 trials), then optuna {INSTALLED}" in rec.versions_span
    assert f"; {html.escape(rec.versions_span)}.</p>" in render_compare(rec)


def test_a_run_resumed_under_the_same_versions_says_nothing(tmp_path: Path) -> None:
    assert _tune(tmp_path, 2) == []
    assert _tune(tmp_path, 3) == []
    assert _record(tmp_path / "t")["earlier_versions"] == []
    assert "versions" not in _tune_note(tmp_path / "t")


def test_a_run_recorded_before_earlier_versions_resumes_and_reports(
    tmp_path: Path,
) -> None:
    """A run.json an older hyperlab wrote (no earlier_versions) made under another Optuna."""
    assert _tune(tmp_path, 2) == []
    old = {**_record(tmp_path / "t")["versions"], "optuna": "3.6.1"}
    _edit_record(tmp_path / "t", earlier_versions=None, versions=old)
    assert _tune(tmp_path, 3) == [
        f"run 't' last ran with optuna 3.6.1 and resumes with optuna {INSTALLED}: its trials "
        "come from both (run.json keeps the earlier versions in 'earlier_versions', and the "
        "report says which trials ran with which)"
    ]
    [earlier] = _record(tmp_path / "t")["earlier_versions"]
    assert earlier["versions"] == old and earlier["trials"] == 2
    assert "the run spans several versions: optuna 3.6.1 until" in _tune_note(tmp_path / "t")


def test_a_package_only_one_record_names_is_no_change(tmp_path: Path) -> None:
    """A run.json that did not record SciPy (an older hyperlab recorded fewer packages) says
    nothing of the SciPy it ran with: resuming is no change of versions."""
    assert _tune(tmp_path, 2) == []
    old = {k: v for k, v in _record(tmp_path / "t")["versions"].items() if k != "scipy"}
    _edit_record(tmp_path / "t", earlier_versions=None, versions=old)
    assert _tune(tmp_path, 3) == []
    record = _record(tmp_path / "t")
    assert record["earlier_versions"] == [] and "scipy" in record["versions"]
    assert "versions" not in _tune_note(tmp_path / "t")


def test_a_damaged_history_is_refused_by_name(tmp_path: Path) -> None:
    assert _tune(tmp_path, 2) == []
    _edit_record(tmp_path / "t", earlier_versions=[{"versions": "4.2.0"}])
    with pytest.raises(InputError, match="earlier_versions must be a list of"):
        _tune(tmp_path, 3)
