"""Report records are plain data: test them as data, not pixels."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.report import compare_records, study_report_records, write_report


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    hyperlab.compare(
        "toy-curves",
        ["random", "tpe"],
        seeds=3,
        trials=12,
        pruners=["none", "median"],
        runs_dir=root,
        name="toy",
        progress=False,
    )
    return root / "toy"


def test_compare_records_shape(run_dir: Path) -> None:
    rec = compare_records(run_dir)
    labels = {m.label for m in rec.methods}
    assert labels == {"random+none", "random+median", "tpe+none", "tpe+median"}
    for m in rec.methods:
        assert len(m.final_best) == 3 and m.seeds == [0, 1, 2]
        assert len(m.curve_median) == 12
        assert all(
            lo <= med + 1e-12 and med <= hi + 1e-12
            for lo, med, hi in zip(m.curve_low, m.curve_median, m.curve_high)
        )
        # best-so-far medians never increase
        assert all(b <= a + 1e-12 for a, b in zip(m.curve_median, m.curve_median[1:]))
        assert m.final_mean == pytest.approx(sum(m.final_best) / 3)
        assert 1 <= m.mean_rank <= 4
    assert rec.reference == "random+none"
    assert len(rec.comparisons) == 3
    assert all("within noise" in c["sentence"] or "is " in c["sentence"] for c in rec.comparisons)


def test_pruned_trials_are_explained_and_save_epochs(run_dir: Path) -> None:
    rec = compare_records(run_dir)
    by = {m.label: m for m in rec.methods}
    assert by["random+median"].n_pruned > 0
    assert by["random+median"].epochs_mean < by["random+none"].epochs_mean
    assert by["random+none"].epochs_mean == 12 * 9
    pruned = [p for p in rec.pruned if p.label == "random+median"]
    assert pruned and all(p.reason and len(p.curve) == p.epoch < 9 for p in pruned)


def test_best_curves_and_study_records(run_dir: Path) -> None:
    rec = compare_records(run_dir)
    assert {c.label for c in rec.best_curves} == {m.label for m in rec.methods}
    for c in rec.best_curves:
        assert len(c.curves["val_loss"]) == 9
    study = optuna.load_study(
        study_name="toy:tpe:none:seed0", storage=f"sqlite:///{(run_dir / 'study.db').resolve()}"
    )
    srec = study_report_records(study)
    assert len(srec.history) == 12
    assert srec.best is not None and srec.best.value == pytest.approx(study.best_value)
    assert [t.value for t in srec.top] == sorted(t.value for t in srec.top)
    assert set(srec.importances) <= {"x"}


def test_report_html_has_every_section(run_dir: Path) -> None:
    html = write_report(run_dir).read_text()
    for section in (
        "Setup",
        "Best so far",
        "Final values",
        "Summary",
        "Learning curves of the best trials",
        "Diagnosis of the best trials",
        "Early-stopping diagnostics",
        "within noise",
    ):
        assert section in html, section
    assert not math.isnan(0.0)


def test_axis_ticks_stay_few_on_any_range() -> None:
    """A parameter or score spanning ten billion units (or 600 decades) gets a handful of
    ticks, not one per unit (which once exhausted the memory of a report build)."""
    from hyperlab.report.records import MAX_DECADE_TICKS, _int_ticks, _ticks

    assert len(_ticks(0.0, 1e10, log=False)) == 5
    assert len(_int_ticks(0.0, 1e10)) == 5
    wide = _ticks(-300.0, 300.0, log=True)
    assert 2 <= len(wide) <= MAX_DECADE_TICKS + 3 and wide[0] == -300.0 and wide[-1] == 300.0
    assert _ticks(-3.0, 1.0, log=True) == [-3.0, -2.0, -1.0, 0.0, 1.0]
    assert _ticks(0.0, math.inf, log=False) == []


def test_surplus_trials_are_not_counted_as_failures(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    from hyperlab.lab.rundir import load_studies
    from hyperlab.lab.runner import SURPLUS_REASON

    hyperlab.compare(
        "branin", ["random"], seeds=1, trials=2, runs_dir=tmp_path, name="b", progress=False
    )
    study = load_studies(tmp_path / "b")[0][0]
    for reason in (SURPLUS_REASON, "the task raised"):
        trial = study.ask()
        trial.set_user_attr("fail_reason", reason)
        study.tell(trial, state=TrialState.FAIL)
    (method,) = compare_records(tmp_path / "b").methods
    assert method.n_failed == 1
