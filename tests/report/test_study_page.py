"""A single study's page: what it says about its trials and which figures it draws."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from hyperlab.report.html import render_study
from hyperlab.report.records import study_report_records
from tests.report.test_any_objective import _figures, _sections


def _quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    y = trial.suggest_float("y", -2.0, 2.0)
    return (x - 0.5) ** 2 + 0.1 * y**2


def _study(trials: int, objective: Any = _quadratic) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=trials)
    return study


def test_importances_need_enough_completed_trials() -> None:
    """fANOVA on 5 points ranks noise: no chart, and a note that says why."""
    few = study_report_records(_study(5))
    assert few.importances == {}
    assert "this study has 5" in few.params_note
    sections = _sections(render_study(few))
    assert few.params_note in sections["Parameter importances"]
    assert not _figures(sections["Parameter importances"])


def test_importances_say_how_many_trials_they_rest_on() -> None:
    rec = study_report_records(_study(10))
    assert set(rec.importances) == {"x", "y"}
    assert "from 10 completed trials" in rec.params_note
    ((_, layout),) = _figures(_sections(render_study(rec))["Parameter importances"])
    assert layout["xaxis"]["title"]["text"].startswith("importance")


def _one_epoch_study(trials: int) -> optuna.Study:
    """A study of a task without epochs (as ``branin``): each trial's curve is one point."""
    study = optuna.create_study()
    for i in range(trials):
        value = 1.0 + i
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": float(i)},
                distributions={"x": optuna.distributions.FloatDistribution(0.0, 10.0)},
                value=value,
                user_attrs={"curves": {"val_loss": [value]}, "budget": 1},
            )
        )
    return study


def test_single_point_curves_get_no_blank_figure_and_no_empty_diagnosis() -> None:
    rec = study_report_records(_one_epoch_study(4))
    assert rec.top and all(t.has_curves for t in rec.top)
    sections = _sections(render_study(rec))
    assert "Learning curves of the top trials" not in sections
    assert "Diagnosis of the best trials" not in sections


def test_short_curves_are_drawn_with_markers() -> None:
    from hyperlab.report.curves_html import _curves_figure, curves_sections
    from hyperlab.report.records import TrialCurves

    item = TrialCurves("m", 0, 0.5, {}, {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})
    assert [h for h, _ in curves_sections([item], "curves", "t", [item])] == [
        "curves",
        "Diagnosis of the best trials",
    ]
    assert {t.mode for t in _curves_figure([item], "t").data} == {"lines+markers"}


def _mixed_study() -> optuna.Study:
    """3 completed trials, 2 pruned ones (with reported values) and 1 failed one."""
    study = optuna.create_study()
    dist = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for value in (0.5, 0.3, 0.4):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": value}, distributions=dist, value=value, user_attrs={"budget": 4}
            )
        )
    for last in (0.9, 0.8):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": last},
                distributions=dist,
                state=optuna.trial.TrialState.PRUNED,
                intermediate_values={1: 1.2, 2: last},
                user_attrs={"budget": 2},
            )
        )
    study.add_trial(
        optuna.trial.create_trial(
            params={"x": 0.1}, distributions=dist, state=optuna.trial.TrialState.FAIL
        )
    )
    return study


def test_summary_counts_trials_by_state_and_the_epochs_used() -> None:
    rec = study_report_records(_mixed_study())
    assert rec.counts == {"complete": 3, "pruned": 2, "failed": 1}
    assert rec.epochs == 3 * 4 + 2 * 2
    rec.task = "a-task"  # the epochs are told for a task
    summary = _sections(render_study(rec))["Summary"]
    assert "Trials: 3 complete, 2 pruned, 1 failed; 16 epochs used." in summary


def test_history_draws_pruned_trials_at_their_last_value_and_counts_failed_ones() -> None:
    history = _sections(render_study(study_report_records(_mixed_study())))["Optimization history"]
    ((traces, _),) = _figures(history)
    (pruned,) = [t for t in traces if t["name"].startswith("pruned")]
    assert pruned["x"] == [3, 4] and pruned["y"] == [0.9, 0.8]
    assert pruned["marker"]["symbol"] != traces[0].get("marker", {}).get("symbol")
    assert "1 failed trial is not drawn" in history


def _valued_study(values: list[float]) -> optuna.Study:
    study = optuna.create_study()
    dist = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for v in values:
        study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, value=v))
    return study


def test_history_gets_a_log_axis_where_values_span_more_than_two_decades() -> None:
    def y_axis(values: list[float]) -> dict[str, Any]:
        history = _sections(render_study(study_report_records(_valued_study(values))))
        ((_, layout),) = _figures(history["Optimization history"])
        axis: dict[str, Any] = layout["yaxis"]
        return axis

    assert y_axis([171.0, 12.0, 0.4]).get("type") == "log"  # branin's span
    assert "type" not in y_axis([0.5, 0.3, 0.4])
    assert "type" not in y_axis([171.0, -12.0, 0.4])  # not all positive


def test_figures_follow_the_page_width_on_any_screen() -> None:
    page = render_study(study_report_records(_study(3)))
    assert "name='viewport' content='width=device-width" in page
    assert page.count('"responsive": true') == page.count("Plotly.newPlot(") > 0


def test_text_columns_are_left_aligned_and_numbers_right_aligned() -> None:
    from hyperlab.report.page import _CSS, table

    reason = "stopped by the pruner at epoch 1: value 1.035"
    page = table([{"method": "random+asha", "trial": 3, "value": 0.5, "reason": reason}])
    assert "<th class='t'>method</th>" in page and "<td class='t'>random+asha</td>" in page
    assert f"<td class='t long'>{reason}</td>" in page
    assert "<td>3</td>" in page and "<td>0.5</td>" in page
    assert ".t{text-align:left}" in _CSS.replace("th:first-child,", "")


def test_curves_title_mentions_train_curves_only_where_drawn_and_epochs_are_whole() -> None:
    from hyperlab.report.curves_html import _curves_figure
    from hyperlab.report.records import TrialCurves

    val_only = TrialCurves("", 0, 0.5, {}, {"val_loss": [1.0, 0.7, 0.5]})
    both = TrialCurves("", 1, 0.4, {}, {"train_loss": [0.9, 0.5, 0.3], "val_loss": [1, 0.6, 0.4]})
    assert "dotted" not in _curves_figure([val_only], "Top trials").layout.title.text
    fig = _curves_figure([val_only, both], "Top trials")
    assert fig.layout.title.text == "Top trials (dotted: train)"
    assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tickformat == "d"


def test_the_held_out_score_says_how_it_was_measured() -> None:
    """It stood beside the validation value (0.0137 against 0.149) with no word of what it
    measured or why the two differ."""
    study = _study(4)
    study.set_user_attr("test_score", {"trial": study.best_trial.number, "value": 0.0137})
    summary = _sections(render_study(study_report_records(study)))["Summary"]
    assert "0.0137" in summary
    assert "the MLP tasks retrain the best configuration on the whole training split" in summary
    assert "one test score has no interval" in summary


def test_a_warning_about_a_trials_curves_is_shown_beside_its_diagnosis() -> None:
    """A task recording a regression's RMSE as its metrics made the report print one warning
    per diagnosed trial while it was built, none naming the trial, and the page showed the
    diagnosis that misreads the error as an accuracy without a word."""
    import warnings

    import numpy as np

    study = optuna.create_study()
    t = np.arange(20)
    for i in range(3):
        mse = {
            "train_loss": 0.03 + (0.6 + 0.05 * i) * np.exp(-t / 4),
            "val_loss": 0.06 + 0.5 * np.exp(-t / 4),
        }
        curves = {k: v.tolist() for k, v in mse.items()}
        curves |= {k.replace("loss", "metric"): np.sqrt(v).tolist() for k, v in mse.items()}
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": float(i)},
                distributions={"x": optuna.distributions.FloatDistribution(0.0, 10.0)},
                value=curves["val_loss"][-1],
                user_attrs={"curves": curves},
            )
        )
    with warnings.catch_warnings(record=True) as printed:
        warnings.simplefilter("always")
        rec = study_report_records(study)
    assert not [w for w in printed if "as errors do" in str(w.message)]
    assert all("as errors do" in t.diagnosis["warnings"][0] for t in rec.top if t.diagnosis)
    diagnosis = _sections(render_study(rec))["Diagnosis of the best trials"]
    assert diagnosis.count("warning: train_metric 0.") == 3


def test_a_tune_runs_page_says_how_the_run_was_set_up(tmp_path: Any) -> None:
    """The comparison report's setup paragraph, for one study: a tune run's page named its task
    and direction only, never the tuner, pruner, seed, trials or the options it was given."""
    import hyperlab

    with pytest.warns(hyperlab.StartupOnlyWarning):  # (6 trials: tpe's start-up design only)
        hyperlab.tune(
            "lcbench-3945", "tpe", trials=6, seed=4, pruner="median", runs_dir=tmp_path,
            name="t", tuner_options={"constant_liar": False}, progress=False,
        )  # fmt: skip
    summary = _sections((tmp_path / "t" / "report.html").read_text())["Summary"]
    assert (
        "Task <code>lcbench-3945</code>; tuner tpe; pruner median; seed 4; 6 trials; budget: the "
        "task's maximum. Options: tpe: constant_liar=False. Lower is better. Versions: python "
    ) in summary


def test_reported_scores_beside_task_curves_get_an_axis_of_their_own() -> None:
    """A tpe-hd trial whose segments keep no curves reported accuracies (0.4 -> 0.95); drawn
    beside a tpe trial's losses, they stood on the loss axis, a rising 'loss'."""
    from hyperlab.report.curves_html import _curves_figure
    from hyperlab.report.records import TrialCurves

    losses = TrialCurves("tpe", 0, 0.93, {}, {"train_loss": [1.8, 0.9], "val_loss": [0.8, 0.4]})
    scores = TrialCurves(
        "tpe-hd", 0, 0.95, {}, {}, reported_steps=[1, 2], reported_values=[0.4, 0.95]
    )
    fig = _curves_figure([losses, scores], "Best trial of each method")
    reported = [t for t in fig.data if t.name == "tpe-hd, trial 0 reported value"]
    assert len(reported) == 1 and reported[0].yaxis == "y2"
    assert all(t.yaxis in (None, "y") for t in fig.data if t is not reported[0])
    assert fig.layout.yaxis.title.text == "loss"
    assert fig.layout.yaxis2.title.text.startswith("reported value")
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.side == "right"
    # reported values alone keep the one axis, named for them
    alone = _curves_figure([scores], "Top trials")
    assert all(t.yaxis in (None, "y") for t in alone.data)
    assert alone.layout.yaxis.title.text == "reported value"
    assert "yaxis2" not in alone.layout.to_plotly_json()


def test_the_optimization_history_ticks_whole_trials() -> None:
    """A population of 4 drew its 4 trials on an axis ticked at 0.5, 1.5 and 2.5 too."""
    ((_, layout), *_) = _figures(
        _sections(render_study(study_report_records(_study(4))))["Optimization history"]
    )
    assert layout["xaxis"]["dtick"] == 1 and layout["xaxis"]["tickformat"] == "d"
