"""Reports fit any objective: a user's function as well as a built-in task (issue 19)."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

import hyperlab
from hyperlab.lab.rundir import load_studies
from hyperlab.report import compare_records, study_report_records, write_report
from tests.report.conftest import conditional_objective, reporting_objective


def _sections(page: str) -> dict[str, str]:
    """``heading -> content`` of every section of a report page."""
    found = re.findall(r"<section><h2>(.*?)</h2>(.*?)</section>", page, flags=re.S)
    return dict(found)


def _figures(content: str) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """``(traces, layout)`` of each plotly figure in a piece of a report."""
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', content):
        traces, end = decoder.raw_decode(content, m.end())
        layout, _ = decoder.raw_decode(content, content.index("{", end))
        out.append((traces, layout))
    return out


def _study_records(run: Path) -> Any:
    return study_report_records(load_studies(run)[0][0])


def _significant_digits(label: str) -> int:
    digits = re.sub(r"e.*$", "", label).replace("-", "").replace(".", "").lstrip("0")
    return len(digits)


def test_reports_name_a_user_objective(user_compare: Path, user_tune: Path) -> None:
    setup = _sections(write_report(user_compare).read_text())["Setup"]
    assert "None" not in setup
    assert "Objective <code>" in setup and ":conditional_objective</code>" in setup
    assert compare_records(user_compare).objective.endswith(":conditional_objective")
    summary = _sections(write_report(user_tune).read_text())["Summary"]
    assert ":conditional_objective</code>" in summary


def test_a_run_without_a_recorded_objective_says_your_objective(
    user_compare: Path, tmp_path: Path
) -> None:
    spec = json.loads((user_compare / "run.json").read_text())
    spec.pop("objective", None)  # as recorded by a hyperlab that kept no identity
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "run.json").write_text(json.dumps(spec))
    (copy / "study.db").write_bytes((user_compare / "study.db").read_bytes())
    setup = _sections(write_report(copy).read_text())["Setup"]
    assert "your objective" in setup and "None" not in setup


def test_no_empty_curves_figure_when_the_objective_reports_nothing(
    user_compare: Path, user_tune: Path
) -> None:
    for run, heading in (
        (user_compare, "Learning curves of the best trials"),
        (user_tune, "Learning curves of the top trials"),
    ):
        sections = _sections(write_report(run).read_text())
        assert heading in sections, run
        curves = sections[heading]
        assert not _figures(curves), run
        assert "the objective reported no intermediate values (trial.report)" in curves
        assert "Diagnosis of the best trials" not in sections
    assert all(not c.has_curves for c in compare_records(user_compare).best_curves)


def test_reported_values_are_drawn_at_their_steps(tmp_path: Path) -> None:
    hyperlab.compare(
        reporting_objective,
        ["random"],
        seeds=1,
        trials=3,
        runs_dir=tmp_path,
        name="r",
        progress=False,
    )
    curves = _sections(write_report(tmp_path / "r").read_text())[
        "Learning curves of the best trials"
    ]
    ((traces, layout),) = _figures(curves)
    assert [t["x"] for t in traces] == [[10, 20, 30]]
    assert layout["xaxis"]["title"]["text"] == "step"
    (best,) = compare_records(tmp_path / "r").best_curves
    assert best.reported_steps == [10, 20, 30] and len(best.reported_values) == 3


def test_diagnosis_heading_names_the_trial_once(no_cv_tune: Path) -> None:
    rec = _study_records(no_cv_tune)
    assert rec.top[0].diagnosis is not None
    diagnosis = _sections(write_report(no_cv_tune).read_text())["Diagnosis of the best trials"]
    assert not re.search(r"trial (\d+)\W+trial \1", re.sub(r"<[^>]+>", "", diagnosis))
    assert f"<b>trial {rec.top[0].trial}</b>:" in diagnosis
    assert rec.top[0].title == f"trial {rec.top[0].trial}"
    # said as the CLI says it: a percentage, the moves with their reasons, no "keep" knobs
    first = rec.top[0].diagnosis["findings"][0]
    assert f"({first['confidence']:.0%}):" in diagnosis
    assert " keep" not in diagnosis.split("advice:", 1)[1].replace("keep every knob", "")
    moves = [a for a in rec.top[0].diagnosis["advice"] if a["direction"] != "keep"]
    for move in moves:
        assert f"({html.escape(move['reason'])})" in diagnosis


def test_parallel_coordinates_keep_numeric_axes_numeric(user_tune: Path) -> None:
    sections = _sections(write_report(user_tune).read_text())
    ((traces, _),) = _figures(sections["Parallel coordinates"])
    dims = {d["label"]: d for d in traces[0]["dimensions"]}
    for dim in dims.values():
        assert None not in dim["values"] and "None" not in dim["ticktext"]
        assert all(isinstance(v, int | float) for v in dim["values"])
        assert dim["tickvals"] == sorted(dim["tickvals"])
        numbers = [t for t in dim["ticktext"] if re.fullmatch(r"[-\d.e+]+", t)]
        assert all(_significant_digits(t) <= 4 for t in numbers), dim["ticktext"]
    rec = _study_records(user_tune)
    axes = {a.label: a for a in rec.parallel}
    params = [t.params for t in load_studies(user_tune)[0][0].trials]
    for name in ("momentum", "depth"):  # present only with sgd: a gap below the numbers
        axis = axes[name]
        assert not axis.log and axis.absent_at is not None
        got = [v for v in axis.values if v is not None]
        want = [p[name] for p in params if name in p]
        assert got == pytest.approx(want)
        assert axis.absent_at < min(got) and None in axis.values
        assert dims[name]["ticktext"][0] == "absent"
    depth = dims["depth"]
    assert all(float(t).is_integer() for t in depth["ticktext"][1:])
    assert axes["lr"].log and {"0.001", "0.01"} <= set(dims["lr (log)"]["ticktext"])
    assert axes["lr"].values == pytest.approx([math.log10(p["lr"]) for p in params])
    assert axes["optimizer"].ticktext == ["adam", "sgd"] and axes["optimizer"].absent_at is None


def test_versions_are_plain_text(user_compare: Path) -> None:
    setup = _sections(write_report(user_compare).read_text())["Setup"]
    assert "{" not in setup and "&#x27;" not in setup
    assert re.search(r"Versions: python \d+\.\d+\.\d+, hyperlab [\w.]+, optuna [\w.]+", setup)
    assert compare_records(user_compare).versions.startswith("python ")


def test_test_score_names_its_metric_and_direction(no_cv_tune: Path) -> None:
    summary = _sections(write_report(no_cv_tune).read_text())["Summary"]
    assert "held-out test cross-entropy of the best configuration (lower is better)" in (
        summary.lower()
    )
    rec = _study_records(no_cv_tune)
    assert rec.test_metric == "cross-entropy" and rec.test_score is not None
    _, tune_summary = hyperlab.tune(
        "report-no-cv",
        "random",
        trials=5,
        runs_dir=no_cv_tune.parent,
        name="no-cv-tune",
        progress=False,
    )
    (line,) = [line for line in tune_summary.lines() if "held-out test" in line]
    assert line.endswith("(cross-entropy, lower is better)")


def test_no_cv_says_so(no_cv_tune: Path, builtin_tune: Path) -> None:
    summary = _sections(write_report(no_cv_tune).read_text())["Summary"]
    assert "(no CV)" in summary and "± 0 (CV" not in summary
    _, no_cv = hyperlab.tune(
        "report-no-cv",
        "random",
        trials=5,
        runs_dir=no_cv_tune.parent,
        name="no-cv-tune",
        progress=False,
    )
    assert "(no CV)" in no_cv.lines()[0] and "±" not in no_cv.lines()[0]
    _, user = hyperlab.tune(
        conditional_objective,
        "random",
        trials=12,
        runs_dir=no_cv_tune.parent,
        name="user-tune",
        progress=False,
    )
    assert "(no CV)" in user.lines()[0]
    with_cv = _sections(write_report(builtin_tune).read_text())["Summary"]
    assert re.search(r"± [\d.e-]+ \(CV standard error\)", with_cv)


def test_direction_words_and_figures_follow_the_run(tmp_path: Path, user_compare: Path) -> None:
    minimized = write_report(user_compare).read_text()
    assert "Lower is better" in minimized and "Higher is better" not in minimized
    hyperlab.compare(
        conditional_objective,
        ["random"],
        seeds=1,
        trials=4,
        runs_dir=tmp_path,
        name="max",
        progress=False,
        direction="maximize",
    )
    rec = compare_records(tmp_path / "max")
    assert rec.direction == "maximize"
    (study, *_), *_ = load_studies(tmp_path / "max")
    assert rec.best_curves[0].value == max(t.value for t in study.trials if t.value is not None)
    sections = _sections(write_report(tmp_path / "max").read_text())
    assert "Higher is better" in sections["Setup"] and "Lower is better" not in sections["Setup"]
    ((_, layout),) = _figures(sections["Best so far"])
    assert layout["yaxis"]["title"]["text"] == "highest value so far"


def test_maximized_study_report_ranks_the_highest_first(tmp_path: Path) -> None:
    hyperlab.tune(
        conditional_objective,
        "random",
        trials=6,
        runs_dir=tmp_path,
        name="max",
        progress=False,
        direction="maximize",
    )
    study = load_studies(tmp_path / "max")[0][0]
    rec = study_report_records(study)
    assert rec.direction == "maximize"
    assert rec.best is not None and rec.best.value == max(
        t.value for t in study.trials if t.value is not None
    )
    assert [t.value for t in rec.top] == sorted((t.value for t in rec.top), reverse=True)
    sections = _sections(write_report(tmp_path / "max").read_text())
    assert "Higher is better" in sections["Summary"]
    ((traces, _),) = _figures(sections["Parallel coordinates"])
    assert traces[0]["line"]["colorscale"][-1][1] == "#fde725"  # Viridis: the highest is yellow


def test_a_categorical_choice_none_has_its_own_place_apart_from_absent() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import create_trial

    from hyperlab.report.records import parallel_axes

    cat = CategoricalDistribution(["a", None])
    trials = [
        create_trial(params={"c": None}, distributions={"c": cat}, value=1.0),
        create_trial(params={"c": "a"}, distributions={"c": cat}, value=2.0),
        create_trial(
            params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)}, value=3.0
        ),  # no c: absent
    ]
    axis = next(a for a in parallel_axes(trials) if a.label == "c")
    assert axis.ticktext == ["a", "None"]
    assert axis.values == [1.0, 0.0, None] and axis.absent_at == -1.0


def test_the_note_on_missing_curves_names_what_a_task_gives_too() -> None:
    """A Task's run with no curves (a scikit-learn model scored once) was told that 'the
    objective reported no intermediate values (trial.report)'."""
    from hyperlab.report.curves_html import _curves_html
    from hyperlab.report.records import TrialCurves

    note = _curves_html([TrialCurves("", 0, 0.95, {}, {})], "Top trials")
    assert "trial.report" in note and "on_epoch" in note and "Evaluation.curves" in note
