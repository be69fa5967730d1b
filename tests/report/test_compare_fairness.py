"""What a comparison against peers tells about its own fairness: the options each tuner ran
with, the peers' library versions, the seconds each method spent, a study that stopped short
of its trials, and the best so far at equal epochs."""

from __future__ import annotations

import contextlib
import csv
import json
import math
from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.cli.compare import print_summary
from hyperlab.errors import NoCompletedTrialError
from hyperlab.report import compare_records
from hyperlab.report.comparison_html import render_compare
from hyperlab.report.methods import MethodSummary, _on_epochs
from hyperlab.report.records import CompareRecords


def _objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", -1.0, 1.0) ** 2 + trial.suggest_int("n", 1, 64, log=True)


@pytest.fixture(scope="module")
def with_peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """random and hyperopt-tpe (its start-up shortened), 2 seeds of 3 trials."""
    root = tmp_path_factory.mktemp("compare-peer")
    hyperlab.compare(
        _objective, ["random", "hyperopt-tpe"], seeds=2, trials=3, runs_dir=root, name="c",
        tuner_options={"n_startup_jobs": 2}, progress=False,
    )  # fmt: skip
    return root / "c"


def test_the_run_records_the_version_of_the_peer_library_it_ran(with_peer: Path) -> None:
    """run.json recorded hyperlab's own dependencies only: a comparison against Hyperopt's
    TPE did not say which Hyperopt it ran."""
    from importlib.metadata import version

    recorded = json.loads((with_peer / "run.json").read_text())["versions"]
    assert recorded["hyperopt"] == version("hyperopt")
    assert f"hyperopt {version('hyperopt')}" in compare_records(with_peer).versions


def test_the_report_names_the_options_each_tuner_took(with_peer: Path) -> None:
    """The report's setup named the tuners, never the options they ran with: a peer run with
    a shortened start-up read as one at its defaults."""
    rec = compare_records(with_peer)
    assert rec.options == "hyperopt-tpe: n_startup_jobs=2"  # random takes none of them
    assert "Options: hyperopt-tpe: n_startup_jobs=2." in render_compare(rec)


def test_each_method_shows_the_seconds_its_trials_took(
    with_peer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither the summary nor the report gave any time: a tuner's own cost (a model refitted
    at every suggestion) could not be compared."""
    rows = list(csv.DictReader((with_peer / "results.csv").open()))
    seconds = [float(r["seconds"]) for r in rows]
    assert all(s >= 0 for s in seconds) and len(seconds) == 12
    rec = compare_records(with_peer)
    for m in rec.methods:
        mine = [float(r["seconds"]) for r in rows if r["tuner"] == m.label]
        assert m.seconds_mean == pytest.approx(sum(mine) / 2)
    assert "seconds (mean)" in render_compare(rec)
    print_summary(with_peer)
    assert "seconds" in capsys.readouterr().out.splitlines()[0]


def _first_trial_only(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    if trial.number > 0:
        raise ValueError("broken after the first trial")
    return x * x


def test_a_study_stopped_short_says_how_many_trials_it_finished(tmp_path: Path) -> None:
    """A study stopped for failures was ranked beside full ones, its note silent on the
    trials it had: its best over 1 trial read as one over all of them."""
    with contextlib.suppress(NoCompletedTrialError):
        hyperlab.compare(
            _first_trial_only, ["random"], seeds=1, trials=3, runs_dir=tmp_path, name="c",
            progress=False,
        )  # fmt: skip
    (note,) = [s for s in compare_records(tmp_path / "c").stopped if "failed trials" in s]
    assert note.endswith(
        "(1 of 3 trials finished: its best is over fewer trials than a full study's)"
    )


def test_the_best_so_far_is_read_at_every_epoch_count() -> None:
    # one seed's trials ended at 1, 2 and 11 epochs used, the other's at 9 and 18
    grid, curves = _on_epochs([[(1, math.nan), (2, 0.5), (11, 0.4)], [(9, 0.7), (18, 0.3)]])
    assert grid == [1, 2, 9, 11, 18]
    assert curves[0][1:] == [0.5, 0.5, 0.4, 0.4] and math.isnan(curves[0][0])
    assert curves[1][2:] == [0.7, 0.7, 0.3] and all(map(math.isnan, curves[1][:2]))


def _method(label: str, epochs: float) -> MethodSummary:
    return MethodSummary(
        label=label, tuner=label, pruner="tuner", seeds=[0], final_best=[0.1], final_mean=0.1,
        final_se=math.nan, test_scores=[math.nan], test_mean=math.nan, test_se=math.nan,
        epochs=[int(epochs)], epochs_mean=epochs, curve_x=[1, 2], curve_median=[0.2, 0.1],
        curve_low=[0.2, 0.1], curve_high=[0.2, 0.1], epoch_x=[3, int(epochs)],
        epoch_median=[0.2, 0.1], epoch_low=[0.2, 0.1], epoch_high=[0.2, 0.1],
    )  # fmt: skip


def _records(*methods: MethodSummary) -> CompareRecords:
    return CompareRecords(
        name="c", task="a-task", optimum=None, trials=2, methods=list(methods), comparisons=[],
        reference="", pruned=[], best_curves=[], stopped=[],
        spec={"tuners": [m.label for m in methods], "pruners": ["tuner"], "seeds": [0], "trials": 2},
    )  # fmt: skip


def test_methods_that_spent_unequal_epochs_are_drawn_against_the_epochs_too() -> None:
    """docs/peers.md sent readers of a multi-fidelity comparison to "the report's epoch
    axis", and the report drew the best so far against trials only."""
    heading = "Best so far against the epochs used"
    assert heading in render_compare(_records(_method("syne-asha", 12), _method("random", 18)))
    assert heading not in render_compare(_records(_method("tpe", 18), _method("random", 18)))
