"""Report records are plain data: test them as data, not pixels."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

import hyperlab
from hyperlab.errors import InputError
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


def test_results_std_err_is_blank_where_a_trial_had_no_cv() -> None:
    """results.csv's ``std_err`` is the CV standard error the summary and report show: a task
    scored once (a synthetic function, a replayed curve) or a user's objective has none, not a
    standard error of 0 (which would claim a value without noise)."""
    from hyperlab.lab.results import study_records

    study = optuna.create_study()
    for attrs in (
        {"std_err": 0.01, "fold_values": [0.5, 0.52]},  # cross-validated
        {"std_err": 0.0, "fold_values": [0.5]},  # scored once
        {"std_err": 0.0},  # a replayed curve: no folds recorded
        {},  # a user's objective
    ):
        study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs=attrs))
    errors = [r["std_err"] for r in study_records(study)]
    assert errors[0] == 0.01 and all(math.isnan(e) for e in errors[1:])


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
    from hyperlab.report.parallel import MAX_DECADE_TICKS, _int_ticks, _ticks

    assert len(_ticks(0.0, 1e10, log=False)) == 5
    assert len(_int_ticks(0.0, 1e10)) == 5
    wide = _ticks(-300.0, 300.0, log=True)
    assert 2 <= len(wide) <= MAX_DECADE_TICKS + 3 and wide[0] == -300.0 and wide[-1] == 300.0
    assert _ticks(-3.0, 1.0, log=True) == [-3.0, -2.0, -1.0, 0.0, 1.0]
    assert _ticks(0.0, math.inf, log=False) == []


def test_surplus_trials_are_not_counted_as_failures(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    from hyperlab.lab.rundir import load_studies
    from hyperlab.lab.trial_kinds import SURPLUS_REASON

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


def _broken_in_seed_1(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    if trial.study.study_name.endswith(":seed1"):
        raise RuntimeError("this seed's setup is broken")
    return x * x


def test_a_seed_without_a_finished_trial_is_counted_and_named(tmp_path: Path) -> None:
    """The mean covers the seeds with a result: the table says how many, the notes say which."""
    hyperlab.compare(
        _broken_in_seed_1, ["random"], seeds=3, trials=2, runs_dir=tmp_path, name="s",
        progress=False,
    )  # fmt: skip
    rec = compare_records(tmp_path / "s")
    (method,) = rec.methods
    assert method.seeds_text() == "2 of 3" and method.seeds_with_result == 2
    assert any("no completed trial in seed(s) [1]" in line for line in rec.stopped)
    assert math.isfinite(method.final_mean)


def test_one_seed_has_no_standard_error() -> None:
    from hyperlab.lab.stats import mean_se

    mean, se = mean_se([0.5])
    assert mean == 0.5 and math.isnan(se)


def test_curves_of_a_metric_alone_are_drawn(tmp_path: Path) -> None:
    """A task whose curves hold only ``val_metric`` (a documented key) gets a figure of it,
    not an empty one, and no diagnosis (which reads losses)."""
    import json

    from hyperlab.report.curves_html import _curves_figure, _loss_curves, _task_curves
    from hyperlab.report.records import TrialCurves

    item = TrialCurves(
        label="m", trial=0, value=0.8, params={}, curves={"val_metric": [0.5, 0.7, 0.8]}
    )
    fig = _curves_figure([item], "x")
    assert len(fig.data) == 1 and list(fig.data[0].y) == [0.5, 0.7, 0.8]
    assert json.loads(fig.to_json())["layout"]["yaxis"]["title"]["text"] == "metric"
    assert _task_curves([item]) and not _loss_curves([item])


def test_unfinished_and_never_started_studies_are_named(tmp_path: Path) -> None:
    """A run cut off (here: its run.json asks for more than ran) names each short study and
    each study it never started, even beside notes on settings that could not act."""
    import json

    hyperlab.compare(
        "branin", ["random"], seeds=2, trials=2, runs_dir=tmp_path, name="u", progress=False,
        stop_at_noise=True,
    )  # fmt: skip
    spec_path = tmp_path / "u" / "run.json"
    spec = json.loads(spec_path.read_text())
    spec.update(trials=4, seeds=[0, 1, 2])
    spec_path.write_text(json.dumps(spec))
    stopped = compare_records(tmp_path / "u").stopped
    assert any("stop at noise did not apply" in line for line in stopped)
    assert "random seed 0: unfinished, 2 of 4 trials" in "\n".join(stopped)
    assert "random seed 2: not started" in "\n".join(stopped)


def test_failures_of_one_type_raised_at_one_place_are_one_row() -> None:
    """One cause whose message carries a value made one row per value (16 rows for one bug)."""
    from optuna.trial import TrialState, create_trial

    from hyperlab.report.records import failure_groups

    def failed(number: int, reason: str) -> optuna.trial.FrozenTrial:
        trial = create_trial(state=TrialState.FAIL, user_attrs={"fail_reason": reason})
        trial.number = number
        return trial

    trials = [
        failed(0, "ValueError: diverged at lr=0.31 (at fit.py:40 in train)"),
        failed(1, "ValueError: diverged at lr=0.52 (at fit.py:40 in train)"),
        failed(2, "ValueError: diverged at lr=0.52 (at fit.py:40 in train)"),
        failed(3, "ValueError: diverged at lr=0.9 (at fit.py:41 in train)"),  # another place
        failed(4, "its worker process was killed (signal 9); not re-queued (retried 3 times)"),
        failed(5, "ValueError: no place"),
        failed(6, "ValueError: another message, no place"),
    ]
    groups = failure_groups(trials)
    assert [g.trials for g in groups] == [[0, 1, 2], [3], [4], [5], [6]]
    assert groups[0].reason == (
        "ValueError: diverged at lr=0.31 (at fit.py:40 in train) (and 1 other message of this kind)"
    )
    assert groups[1].reason == "ValueError: diverged at lr=0.9 (at fit.py:41 in train)"


def _qmc_a_bit_better_in_each_seed(trial: optuna.Trial) -> float:
    """10 x the seed, less 5 under qmc: qmc ranks first in every seed, random in none."""
    name = trial.study.study_name
    x = trial.suggest_float("x", 0.0, 1.0)
    return 10.0 * int(name.rsplit("seed", 1)[1]) - 5.0 * (":qmc:" in name) + x


def test_mean_ranks_pair_the_methods_by_seed(tmp_path: Path) -> None:
    """A study that never started (an interrupted run, workers that took the studies out of
    order) made the ranks pair one method's seed 0 with another's seed 1."""
    from hyperlab.lab.rundir import RunDir
    from hyperlab.lab.stats import mean_ranks

    hyperlab.compare(
        _qmc_a_bit_better_in_each_seed, ["random", "qmc"], seeds=3, trials=2, runs_dir=tmp_path,
        name="r", progress=False, report=False,
    )  # fmt: skip
    storage = RunDir(tmp_path / "r").load_spec().storage
    optuna.delete_study(study_name="r:qmc:none:seed0", storage=storage)
    random, qmc = compare_records(tmp_path / "r").methods
    assert qmc.seeds == [1, 2] and (qmc.mean_rank, random.mean_rank) == (1.0, 2.0)
    with pytest.raises(InputError, match="as many values"):
        mean_ranks({"a": [1.0, 2.0], "b": [1.0]})


def test_a_test_score_recorded_for_a_trial_no_longer_best_is_not_told_as_the_bests(
    tmp_path: Path,
) -> None:
    """A run resumed and cut off before it scored its new best keeps the old best's test score:
    the summary left it out, but the report and the comparison's test column told it as the
    best configuration's."""
    from hyperlab.lab import summarize
    from hyperlab.lab.rundir import load_studies

    hyperlab.compare(
        "report-no-cv", ["random"], seeds=2, trials=4, runs_dir=tmp_path, name="t", progress=False
    )
    study = load_studies(tmp_path / "t")[0][0]
    old = next(t for t in study.trials if t.number != study.best_trial.number)
    study.set_user_attr("test_score", {"trial": old.number, "value": 9.0, "metric": "loss"})
    assert summarize(study).test_score is None
    assert study_report_records(study).test_score is None
    (method,) = compare_records(tmp_path / "t").methods
    assert math.isnan(method.test_scores[0]) and math.isfinite(method.test_scores[1])
