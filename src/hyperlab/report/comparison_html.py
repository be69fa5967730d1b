"""The comparison report's page (:mod:`hyperlab.report.comparison`'s records as HTML)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from hyperlab.direction import regret, sign
from hyperlab.report.comparison import CompareRecords
from hyperlab.report.curves_html import curves_sections
from hyperlab.report.failures_html import failures_html
from hyperlab.report.page import (
    COLORS,
    better,
    figure_html,
    fmt,
    int_axis,
    page,
    setup_html,
    table,
    value_axis,
)
from hyperlab.report.trials import PrunedTrial


def _setup_html(rec: CompareRecords) -> str:
    what = ("Task" if rec.task is not None else "Objective", rec.objective)
    options = (rec.options, rec.options_span)
    versions = (rec.versions, rec.versions_span)
    setup = setup_html(rec.spec, what, rec.direction, options, versions)
    if rec.optimum is not None:
        setup += (
            f"<p class='note'>Known optimum {fmt(rec.optimum, 6)}: regret = "
            f"{'value − optimum' if sign(rec.direction) > 0 else 'optimum − value'}.</p>"
        )
    return setup


def _best_so_far_figure(rec: CompareRecords, by_epochs: bool = False) -> Any:
    """The best value so far of each method against its trials, or (``by_epochs``) against
    the epochs its trials used: the reading at equal compute."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, m in enumerate(rec.methods):
        color = COLORS[i % len(COLORS)]
        x, med, low, high = (
            (m.epoch_x, m.epoch_median, m.epoch_low, m.epoch_high)
            if by_epochs
            else (m.curve_x, m.curve_median, m.curve_low, m.curve_high)
        )
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=high + low[::-1],
                fill="toself",
                line={"width": 0},
                fillcolor=color,
                opacity=0.18,
                showlegend=False,
                hoverinfo="skip",
                name=f"{m.label} band",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=med,
                mode="lines",
                name=m.label,
                line={"color": color, "shape": "hv" if by_epochs else "linear"},
            )
        )
    best = "highest" if rec.direction == "maximize" else "lowest"
    bands = "; ".join(dict.fromkeys(m.band for m in rec.methods if m.band))
    plotted = [v for m in rec.methods for v in m.curve_low + m.curve_median + m.curve_high]
    longest = max(
        (max(m.epoch_x if by_epochs else m.curve_x, default=1) for m in rec.methods), default=1
    )
    fig.update_layout(
        title=f"Best value so far, the {best} (median across seeds"
        + (f"; band: {bands})" if bands else ")"),
        xaxis={"title": "epochs used" if by_epochs else "trial", **int_axis(longest)},
        yaxis=value_axis(plotted, f"{best} value so far"),
        height=420,
    )
    return fig


#: How to read the figure against the epochs used.
EPOCHS_NOTE = (
    "<p class='note'>The methods used unequal epochs (pruned trials stop early, a "
    "multi-fidelity tuner trains at lower budgets, a study stopped at noise or for failed "
    "trials ran fewer trials): read them at the same number of epochs used, where each "
    "seed's best is that of its trials ended by then.</p>"
)

#: What the summary's seconds are.
SECONDS_NOTE = (
    "<p class='note'>Seconds: a study's trials from start to end, summed (the tuner's "
    "suggestions and the pruner's decisions included, with the training), on the machine and "
    "at the load of this run; compare them within a run.</p>"
)


def _summary_html(rec: CompareRecords) -> str:
    test = rec.test_metric
    rows = [
        {
            "method": m.label,
            "seeds": m.seeds_text(),
            "final best (mean)": m.final_mean,
            "± SE (seeds)": m.final_se,
            "regret (mean)": (
                regret(m.final_mean, rec.optimum, rec.direction)
                if rec.optimum is not None
                else None
            ),
            f"test {test} (mean)": m.test_mean,
            "test ± SE": m.test_se,
            "epochs used (mean)": m.epochs_mean,
            "seconds (mean)": m.seconds_mean,
            "mean rank": m.mean_rank,
            "pruned": m.n_pruned,
            "failed": m.n_failed,
            "failed in the tuner": m.n_tuner_failed or None,  # (the column only where there are)
            "failed in the pruner": m.n_pruner_failed or None,  # (the same)
            "tuner failed after the trial": m.n_tuner_after or None,  # (the same)
            "cut off and run again": m.n_cut_off or None,  # (the column only where there are)
        }
        for m in rec.methods
    ]
    verdicts = "".join(
        f"<li class='verdict'>{html.escape(c['sentence'])}</li>" for c in rec.comparisons
    )
    tested = any(math.isfinite(m.test_mean) for m in rec.methods)
    scored = f"Final best and test {html.escape(test)}" if tested else "Final best"
    note = (
        "<p class='note'>A difference is called real only when it exceeds twice its standard "
        "error and the paired Wilcoxon signed-rank test over seeds gives p &lt; 0.05; with few "
        'seeds the test cannot get there, so small comparisons stay "within noise". '
        f"{scored}: {better(rec.direction)} is better.</p>"
    )
    if not rec.comparisons:  # one method: nothing is paired against it
        return table(rows, drop_empty=True) + SECONDS_NOTE
    return (
        table(rows, drop_empty=True)
        + f"<p>Paired against {html.escape(rec.reference)}:</p><ul>{verdicts}</ul>"
        f"{note}{SECONDS_NOTE}"
    )


def render_compare(rec: CompareRecords) -> str:
    """The comparison report."""
    import plotly.graph_objects as go

    sections: list[tuple[str, str]] = [("Setup", _setup_html(rec))]
    sections.append(("Best so far", figure_html(_best_so_far_figure(rec))))
    if len({m.epochs_mean for m in rec.methods}) > 1:  # methods that spent unequal epochs
        at_epochs = figure_html(_best_so_far_figure(rec, by_epochs=True))
        sections.append(("Best so far against the epochs used", at_epochs + EPOCHS_NOTE))
    box = go.Figure()
    for i, m in enumerate(rec.methods):
        box.add_trace(
            go.Box(
                y=m.final_best,
                name=m.label,
                boxpoints="all",
                marker={"color": COLORS[i % len(COLORS)]},
            )
        )
    box.update_layout(
        title=f"Final best value per seed ({better(rec.direction)} is better)",
        yaxis_title="best value",
        height=380,
    )
    sections.append(("Final values", figure_html(box)))
    sections.append(("Summary", _summary_html(rec)))
    if rec.stopped:
        sections.append(
            (
                "Early stops and settings that could not act",
                "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in rec.stopped) + "</ul>",
            )
        )
    if rec.failures:
        sections.append(("Failed trials", failures_html(rec.failures)))
    sections += curves_sections(
        rec.best_curves,
        "Learning curves of the best trials",
        "Best trial of each method",
        rec.best_curves,
    )
    if rec.pruned:
        sections.append(("Early-stopping diagnostics", _pruned_html(rec)))
    if rec.populations:
        from hyperlab.report.population_html import HEADING, population_section

        for label, seed, population in rec.populations:
            heading = (
                f"{HEADING}: {label}, seed {seed} "
                f"(the seed whose best {population.unit} ended best)"
            )
            sections.append((heading, population_section(population)))
    return page(f"hyperlab comparison: {rec.name}", sections)


def shown_pruned(pruned: Sequence[PrunedTrial], show: int = 8) -> list[PrunedTrial]:
    """Up to ``show`` pruned trials for the figure, taken from each method in turn; within a
    method, those that carry a predicted final value first (they show what the pruner read)."""
    queues: dict[str, list[PrunedTrial]] = {}
    for p in pruned:
        queues.setdefault(p.label, []).append(p)
    for queue in queues.values():
        queue.sort(key=lambda p: p.predicted_mean is None)
    picked: list[PrunedTrial] = []
    while len(picked) < show and any(queues.values()):
        for queue in queues.values():
            if queue and len(picked) < show:
                picked.append(queue.pop(0))
    return sorted(picked, key=lambda p: list(queues).index(p.label))


def _pruned_figure(rec: CompareRecords, show: int) -> Any:
    """The curves of a few pruned trials (:func:`shown_pruned`) and their predicted final
    values with a 90% band, on whole-epoch ticks."""
    import plotly.graph_objects as go

    fig = go.Figure()
    steps = [1]
    for i, p in enumerate(shown_pruned(rec.pruned, show)):
        color = COLORS[i % len(COLORS)]
        fig.add_trace(
            go.Scatter(
                x=p.steps or list(range(1, len(p.curve) + 1)),
                y=p.curve,
                mode="lines+markers",
                name=f"{p.label} s{p.seed} t{p.trial}",
                line={"color": color},
            )
        )
        steps += p.steps or [len(p.curve)]
        if p.predicted_mean is not None:
            final_x = p.predicted_epoch or rec.spec.get("budget") or max(len(p.curve), 1)
            steps.append(final_x)
            std = p.predicted_std or 0.0
            fig.add_trace(
                go.Scatter(
                    x=[final_x],
                    y=[p.predicted_mean],
                    mode="markers",
                    showlegend=False,
                    error_y={"type": "data", "array": [1.645 * std]},
                    marker={"color": color, "symbol": "diamond"},
                )
            )
    task = rec.task is not None
    fig.update_layout(
        title="Pruned trials: curve so far and predicted final value (90% band)",
        xaxis={"title": "epoch" if task else "step", **int_axis(max(steps))},
        yaxis_title=(
            ("validation loss" if rec.direction == "minimize" else "validation score")
            if task
            else "reported value"
        ),
        height=400,
    )
    return fig


def _pruned_html(rec: CompareRecords, show: int = 8, rows_shown: int = 50) -> str:
    """The pruned trials' figure and table, each saying where it is cut."""
    rows = [
        {
            "method": p.label,
            "seed": p.seed,
            "trial": p.trial,
            "stopped at epoch": p.epoch,
            "predicted final": p.predicted_mean,
            "± std": p.predicted_std,
            "reason": p.reason,
        }
        for p in rec.pruned[:rows_shown]
    ]
    cut = (
        f"<p class='note'>The first {rows_shown} of {len(rec.pruned)} pruned trials; "
        "results.csv and the storage hold them all.</p>"
        if len(rec.pruned) > rows_shown
        else ""
    )
    shown = (
        f"<p class='note'>The figure draws {min(show, len(rec.pruned))} of the "
        f"{len(rec.pruned)} pruned trials, from each method in turn, those with a predicted "
        "final value first.</p>"
        if len(rec.pruned) > show
        else ""
    )
    return figure_html(_pruned_figure(rec, show)) + shown + table(rows, drop_empty=True) + cut
