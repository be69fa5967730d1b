"""The single-study report's page (:mod:`hyperlab.report.study`'s records as HTML)."""

from __future__ import annotations

import html
from typing import Any

from hyperlab.lab.results import std_err_text
from hyperlab.lab.summary import PRUNER_FAILED, TUNER_FAILED
from hyperlab.report.curves_html import curves_sections
from hyperlab.report.failures_html import failures_html
from hyperlab.report.page import better, figure_html, fmt, int_axis, page, setup_html, value_axis
from hyperlab.report.study import StudyRecords


def _study_summary(rec: StudyRecords) -> str:
    summary = _setup(rec)
    summary += f"<p>{_trials_sentence(rec)}</p>"
    if rec.best is not None:
        spread = std_err_text(rec.best.std_err, rec.spread_over)
        summary += (
            f"<p>Best trial {rec.best.trial}: value {fmt(rec.best.value, 6)}{spread}; "
            + ("its model's hyperparameters at the end: " if rec.best.params_at_end else "")
            + ", ".join(f"{html.escape(k)}={fmt(v)}" for k, v in rec.best.params.items())
            + (
                "; learned while it trained: "
                + ", ".join(f"{html.escape(k)}={fmt(v)}" for k, v in rec.best.learned.items())
                if rec.best.learned
                else ""
            )
            + "</p>"
        )
    if rec.test_score is not None:
        how = " through the best member's schedule" if rec.population is not None else ""
        summary += (
            f"<p>Held-out test {html.escape(rec.test_metric)} of the best configuration "
            f"({better(rec.direction)} is better): {fmt(rec.test_score, 6)}</p>"
            "<p class='note'>Measured once, by the task, on its test split, which no trial "
            f"saw (the MLP tasks retrain the best configuration{how} on the whole training "
            "split; a replayed benchmark reads its recorded test value). It need not match "
            "the validation value above, and one test score has no interval (compare runs "
            "give one over seeds).</p>"
        )
    if rec.stopped:
        summary += f"<p>{html.escape(rec.stopped)}</p>"
    if rec.best is None:
        summary += "<p class='note'>No completed trial.</p>"
    return summary


def _setup(rec: StudyRecords) -> str:
    """How the run was set up (the comparison report's paragraph: its tuner, pruner, seed,
    trials, budget, options and versions; how options and versions changed at a resumption
    is among the notes, ``rec.stopped``), or, for a study of no known run, which way is
    better."""
    if rec.spec is None:
        return f"<p>{better(rec.direction).capitalize()} is better.</p>"
    what = ("Task" if rec.task is not None else "Objective", rec.objective)
    return setup_html(rec.spec, what, rec.direction, (rec.options, ""), (rec.versions, ""))


def _trials_sentence(rec: StudyRecords) -> str:
    """``Trials: 12 complete, 5 pruned, 1 failed; 87 epochs used.`` (epochs for a task)."""
    counts = ", ".join(f"{n} {state}" for state, n in rec.counts.items())
    used = f"; {rec.epochs} epochs used" if rec.task is not None else ""
    return f"Trials: {counts}{used}."


def _history_figure(rec: StudyRecords) -> Any:
    """Each completed trial's value, each pruned one's last reported value (its own marker)
    and the best value so far, against the trial's number."""
    import plotly.graph_objects as go

    xs = [h["trial"] for h in rec.history]
    best = "highest" if rec.direction == "maximize" else "lowest"
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=xs, y=[h["value"] for h in rec.history], mode="markers", name="trial value")
    )
    stopped = [p for p in rec.pruned if p.curve]
    if stopped:
        fig.add_trace(
            go.Scatter(
                x=[p.trial for p in stopped],
                y=[p.curve[-1] for p in stopped],
                mode="markers",
                marker={"symbol": "x", "color": "#7f7f7f", "size": 7},
                name="pruned (last reported value)",
                text=[f"stopped at epoch {p.epoch}" for p in stopped],
            )
        )
    fig.add_trace(
        go.Scatter(
            x=xs, y=[h["best_so_far"] for h in rec.history], mode="lines", name=f"{best} so far"
        )
    )
    plotted = [v for h in rec.history for v in (h["value"], h["best_so_far"])]
    fig.update_layout(
        title="Optimization history",
        xaxis={"title": "trial", **int_axis(max(xs + [p.trial for p in stopped], default=1))},
        yaxis=value_axis(
            plotted + [p.curve[-1] for p in stopped], f"value ({better(rec.direction)} is better)"
        ),
        height=380,
    )
    return fig


def _history_html(rec: StudyRecords) -> str:
    """The history figure and a note on the failed trials it cannot draw."""
    failed = sum(rec.counts.get(k, 0) for k in ("failed", TUNER_FAILED, PRUNER_FAILED))
    note = (
        f"<p class='note'>{failed} failed trial{'s are' if failed > 1 else ' is'} not drawn "
        "(no value).</p>"
        if failed
        else ""
    )
    return figure_html(_history_figure(rec)) + note


def render_study(rec: StudyRecords, title: str | None = None) -> str:
    """The single-study report."""
    sections: list[tuple[str, str]] = [("Summary", _study_summary(rec))]
    sections.append(("Optimization history", _history_html(rec)))
    if rec.failures:
        sections.append(("Failed trials", failures_html(rec.failures)))
    if rec.population is not None:
        from hyperlab.report.population_html import HEADING, population_section

        sections.append((HEADING, population_section(rec.population)))
    sections += curves_sections(
        rec.top, "Learning curves of the top trials", "Top trials", rec.top[:3]
    )
    if rec.importances or rec.params_note:
        sections.append(("Parameter importances", _importances_html(rec)))
    if len(rec.parallel) >= 2 and len(rec.parallel[-1].values) >= 2:
        sections.append(("Parallel coordinates", figure_html(_parallel(rec))))
    return page(title or f"hyperlab study: {rec.name}", sections)


def _importances_html(rec: StudyRecords) -> str:
    """The importances' bar chart (when there are importances) and the note on them."""
    note = f"<p class='note'>{html.escape(rec.params_note)}</p>" if rec.params_note else ""
    if not rec.importances:
        return note
    import plotly.graph_objects as go

    imp = go.Figure(
        go.Bar(x=list(rec.importances.values()), y=list(rec.importances.keys()), orientation="h")
    )
    imp.update_layout(
        title="Parameter importances (Optuna, fANOVA)",
        xaxis_title="importance (share of the score's variance)",
        height=320,
    )
    return note + figure_html(imp)


def _parallel(rec: StudyRecords) -> Any:
    """Parallel coordinates of the completed trials; a trial that lacks a parameter crosses
    that axis at an ``absent`` tick below its values."""
    import plotly.graph_objects as go

    dims = []
    for axis in rec.parallel:
        ticks, text = list(axis.tickvals), list(axis.ticktext)
        if axis.absent_at is not None:
            ticks, text = [axis.absent_at, *ticks], ["absent", *text]
        dims.append(
            {
                "label": f"{axis.label} (log)" if axis.log else axis.label,
                "values": [axis.absent_at if v is None else v for v in axis.values],
                "tickvals": ticks,
                "ticktext": text,
            }
        )
    values = rec.parallel[-1].values
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": values,
                "colorscale": "Viridis_r" if rec.direction == "minimize" else "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": f"value ({better(rec.direction)} is better)"}},
            },
            dimensions=dims,
        )
    )
    fig.update_layout(title="Parallel coordinates of completed trials", height=420)
    return fig
