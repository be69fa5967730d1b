"""A comparison's page: how it labels, picks and summarizes the methods' trials."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import optuna
import pytest

import hyperlab
from hyperlab.report import compare_records
from hyperlab.report.comparison_html import _pruned_html
from hyperlab.report.records import CompareRecords, PrunedTrial
from tests.report.test_any_objective import _figures


def _reporting(trial: optuna.Trial) -> float:
    """A user's objective that reports 4 steps and has no test split."""
    x = trial.suggest_float("x", -1.0, 1.0)
    value = 0.0
    for step in range(1, 5):
        value = x**2 + 1.0 / step
        trial.report(value, step)
    return value


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """random and qmc, 2 seeds of 3 trials each."""
    root = tmp_path_factory.mktemp("compare-page")
    hyperlab.compare(
        _reporting, ["random", "qmc"], seeds=2, trials=3, runs_dir=root, name="c", progress=False
    )
    return root / "c"


def test_best_curves_name_the_seed_of_their_study(two_seeds: Path) -> None:
    rec = compare_records(two_seeds)
    studies = {(s.study_name.split(":")[1], seed): s for s, _, _, seed in _studies(two_seeds)}
    for curves in rec.best_curves:
        assert curves.seed in (0, 1)
        assert curves.title == f"{curves.label}, seed {curves.seed}, trial {curves.trial}"
        study = studies[(curves.label, curves.seed)]
        assert study.best_trial.number == curves.trial
        assert study.best_value == pytest.approx(curves.value)
        other = studies[(curves.label, 1 - curves.seed)]
        assert curves.value <= other.best_value


def _studies(run: Path) -> list[tuple[optuna.Study, str, str, int]]:
    from hyperlab.lab.rundir import load_studies

    return load_studies(run)


def _pruned(label: str, trial: int, predicted: float | None = None) -> PrunedTrial:
    return PrunedTrial(label, 0, trial, 2, [1.0, 0.9], "stopped", predicted, 0.1, [1, 2], 6)


def _records(pruned: list[PrunedTrial], methods: list[Any] | None = None) -> CompareRecords:
    return CompareRecords(
        name="c", task="a-task", optimum=None, trials=len(pruned), methods=methods or [],
        comparisons=[],
        reference="", pruned=pruned, best_curves=[], stopped=[], spec={"budget": 6},
    )  # fmt: skip


def test_pruned_figure_takes_trials_of_every_method_with_predictions_first() -> None:
    from hyperlab.report.html import shown_pruned

    first = [_pruned("a", i) for i in range(10)]
    second = [_pruned("b", 0), _pruned("b", 1), _pruned("b", 2, predicted=0.5)]
    shown = shown_pruned(first + second, show=4)
    assert [(p.label, p.trial) for p in shown] == [("a", 0), ("a", 1), ("b", 2), ("b", 0)]
    assert len(shown_pruned(first + second, show=8)) == 8


def test_pruned_section_has_whole_epoch_ticks_and_says_where_its_table_is_cut() -> None:
    section = _pruned_html(_records([_pruned("a", i) for i in range(60)]))
    ((_, layout),) = _figures(section)
    assert layout["xaxis"]["dtick"] == 1 and layout["xaxis"]["tickformat"] == "d"
    assert "The first 50 of 60 pruned trials" in section
    assert section.count("<tr>") == 1 + 50
    assert "The first 50" not in _pruned_html(_records([_pruned("a", i) for i in range(5)]))


def test_best_so_far_band_of_few_seeds_is_their_range_and_says_so(two_seeds: Path) -> None:
    from hyperlab.report.comparison_html import _best_so_far_figure

    rec = compare_records(two_seeds)
    for m in rec.methods:
        assert m.band == "range of 2 seeds"
        assert m.curve_low == [min(a, b) for a, b in zip(*_best_so_far_curves(two_seeds, m))]
        assert m.curve_high == [max(a, b) for a, b in zip(*_best_so_far_curves(two_seeds, m))]
    title = _best_so_far_figure(rec).layout.title.text
    assert "band: range of 2 seeds" in title and "bootstrap" not in title


def test_best_so_far_ticks_whole_trials_and_epochs(two_seeds: Path) -> None:
    """Three trials were ticked at 1.5 and 2.5 as well: halves of a trial."""
    from hyperlab.report.comparison_html import _best_so_far_figure

    rec = compare_records(two_seeds)
    for by_epochs in (False, True):
        axis = _best_so_far_figure(rec, by_epochs=by_epochs).layout.xaxis
        assert axis.dtick == 1 and axis.tickformat == "d"


def _best_so_far_curves(run: Path, method: Any) -> list[list[float]]:
    """Each seed's best value so far after each finished trial (minimized)."""
    out = []
    for study, tuner, _, _ in sorted(_studies(run), key=lambda s: s[3]):
        if tuner == method.tuner:
            values = [t.value for t in study.trials if t.value is not None]
            out.append([min(values[: i + 1]) for i in range(len(values))])
    return out


def test_bootstrap_band_is_named_so_from_five_seeds() -> None:
    from hyperlab.report.records import band_text

    assert band_text(5) == "95% bootstrap band of the median of 5 seeds"
    assert band_text(4) == "range of 4 seeds" and band_text(1) == "one seed, no band"


def test_best_so_far_gets_a_log_axis_where_values_span_more_than_two_decades() -> None:
    from hyperlab.report.comparison_html import _best_so_far_figure
    from hyperlab.report.records import MethodSummary

    def y_type(curve: list[float]) -> Any:
        m = MethodSummary(
            label="random", tuner="random", pruner="none", seeds=[0], final_best=[curve[-1]],
            final_mean=curve[-1], final_se=math.nan, test_scores=[], test_mean=math.nan,
            test_se=math.nan, epochs=[3], epochs_mean=3.0, curve_x=[1, 2, 3],
            curve_median=curve, curve_low=curve, curve_high=curve,
        )  # fmt: skip
        return _best_so_far_figure(_records([], [m])).layout.yaxis.type

    assert y_type([171.0, 12.0, 0.4]) == "log"
    assert y_type([1.0, 0.8, 0.5]) in (None, "-", "linear")


def test_summary_leaves_out_columns_empty_in_every_row(two_seeds: Path) -> None:
    """A user's objective has no test split and no known optimum: no test or regret column."""
    from hyperlab.report.comparison_html import _summary_html

    summary = _summary_html(compare_records(two_seeds))
    head = re.search(r"<thead>(.*?)</thead>", summary, flags=re.S)
    assert head is not None
    columns = re.findall(r"<th[^>]*>(.*?)</th>", head.group(1))
    assert "method" in columns and "final best (mean)" in columns and "failed" in columns
    assert not [c for c in columns if c.startswith(("test", "regret"))]
    assert "Final best: lower is better" in summary and "and test" not in summary  # no test


def test_summary_of_one_method_pairs_nothing(tmp_path: Path) -> None:
    """One tuner has nothing to be paired against: no empty 'Paired against random:' line."""
    from hyperlab.report.comparison_html import _summary_html

    hyperlab.compare(
        _reporting,
        ["random"],
        seeds=2,
        trials=2,
        runs_dir=tmp_path,
        name="one",
        progress=False,
        report=False,
    )
    summary = _summary_html(compare_records(tmp_path / "one"))
    assert "Paired against" not in summary and "<td" in summary


def test_the_note_on_unequal_epochs_names_studies_that_stopped_early() -> None:
    """Studies stopped at noise, with no pruner and no multi-fidelity tuner, got a note that
    gave only those two as the reasons the methods' epochs differ."""
    from hyperlab.report.comparison_html import EPOCHS_NOTE

    assert "stopped at noise or for failed trials" in EPOCHS_NOTE
