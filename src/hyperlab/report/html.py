"""Render report records as one self-contained HTML page (plotly.js embedded once)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from hyperlab.direction import regret, sign
from hyperlab.report.comparison import CompareRecords
from hyperlab.report.failures import FailureGroup
from hyperlab.report.study import StudyRecords
from hyperlab.report.trials import PrunedTrial, TrialCurves

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;
margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
table{display:block;max-width:100%;overflow-x:auto}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child,.t{text-align:left}.long{min-width:14rem}
.note{color:#555;font-size:.9rem}
.verdict{font-family:ui-monospace,monospace;font-size:.9rem}code{background:#f4f4f4;padding:0 .2rem}
"""

#: One colour per trace of a figure (methods, trials, a population's members).
COLORS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def fmt(v: Any, digits: int = 4) -> str:
    """A number for a table (``—`` for missing values)."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.{digits}g}"
    return html.escape(str(v))


#: A text column whose longest cell has more characters than this gets room to be read
#: (class ``long``) instead of wrapping a word per line in a narrow table.
LONG_TEXT = 30


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, drop_empty: bool = False
) -> str:
    """An HTML table of plain-data rows: text columns left-aligned (class ``t``), numbers
    right-aligned so their digits line up; with ``drop_empty``, a column with no value in any
    row (all ``—``: a test score of a task without a test split) is left out."""
    if not rows:
        return "<p class='note'>(no rows)</p>"
    columns = list(columns or rows[0].keys())
    if drop_empty:
        columns = [c for c in columns if any(fmt(r.get(c)) != "—" for r in rows)]
    classes = {c: _column_class([r.get(c) for r in rows]) for c in columns}
    head = "".join(f"<th{classes[c]}>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td{classes[c]}>{fmt(r.get(c))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _column_class(values: Sequence[Any]) -> str:
    """`` class='t'`` for a column of text (`` class='t long'`` for long text), else ``""``."""
    texts = [v for v in values if isinstance(v, str)]
    if not texts:
        return ""
    return " class='t long'" if max(map(len, texts)) > LONG_TEXT else " class='t'"


def figure_html(fig: Any) -> str:
    """A plotly figure as a ``<div>`` that uses the page's single plotly.js copy; it follows
    the width of the page (a phone's, a resized window's)."""
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            config={"displaylogo": False, "responsive": True},
        )
    )


#: Below this width (CSS pixels) a figure's legend goes below the plot: at its right it would
#: take most of a phone's width and cut its entries off.
NARROW_PX = 700

#: Moves every figure's legend below its plot (and shrinks its title) on a narrow screen, and
#: back on a wide one.
_NARROW_JS = (
    """(function () {
  var narrow = false;
  var below = {"legend.orientation": "h", "legend.x": 0, "legend.xanchor": "left",
               "legend.y": -0.3, "legend.yanchor": "top", "title.font.size": 12};
  var right = {"legend.orientation": null, "legend.x": null, "legend.xanchor": null,
               "legend.y": null, "legend.yanchor": null, "title.font.size": null};
  function fit() {
    var now = window.innerWidth < """
    + str(NARROW_PX)
    + """;
    if (now === narrow) { return; }
    narrow = now;
    document.querySelectorAll(".plotly-graph-div").forEach(function (div) {
      if (div.data) { Plotly.relayout(div, now ? below : right); }
    });
  }
  window.addEventListener("load", fit);
  window.addEventListener("resize", fit);
})();"""
)


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """The whole page: sections of ``(heading, html)`` with plotly.js embedded once."""
    from plotly.offline import get_plotlyjs

    body = "".join(
        f"<section><h2>{html.escape(h)}</h2>{content}</section>" for h, content in sections
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}<script>{_NARROW_JS}</script></body></html>"
    )


#: What a report says where a user's objective left no curves to draw.
NO_CURVES = "the objective reported no intermediate values (trial.report)"


def better(direction: str) -> str:
    """``higher`` for a maximized score, else ``lower``."""
    return "higher" if direction == "maximize" else "lower"


#: The curves a figure draws per trial, and their dash: losses, or else the metric.
_LOSS_KEYS = (("train_loss", "dot"), ("val_loss", "solid"))
_METRIC_KEYS = (("train_metric", "dot"), ("val_metric", "solid"))


def _drawn(item: TrialCurves) -> tuple[tuple[str, str], ...]:
    """The curves drawn for ``item``: its losses, or its metric when it has no loss curve."""
    if any(item.curves.get(k) for k, _ in _LOSS_KEYS):
        return _LOSS_KEYS
    return _METRIC_KEYS


def _task_curves(items: Sequence[TrialCurves]) -> bool:
    return any(item.curves.get(k) for item in items for k, _ in _drawn(item))


def _loss_curves(items: Sequence[TrialCurves]) -> bool:
    """Whether a trial has loss curves: what the diagnosis reads."""
    return any(item.curves.get(k) for item in items for k, _ in _LOSS_KEYS)


def _drawable(items: Sequence[TrialCurves]) -> bool:
    """Whether some trial has a curve of two or more points: a trial of one epoch (a task
    without epochs) has single points, which draw no line and teach nothing."""
    return any(
        len(item.reported_values) >= 2
        or any(len(item.curves.get(k) or []) >= 2 for k, _ in _drawn(item))
        for item in items
    )


def _curves_sections(
    items: Sequence[TrialCurves], heading: str, title: str, diagnosed: Sequence[TrialCurves]
) -> list[tuple[str, str]]:
    """The learning curves' section and, where there are loss curves, the diagnosis of
    ``diagnosed``; none where every curve is a single point."""
    if not items or (any(item.has_curves for item in items) and not _drawable(items)):
        return []
    sections = [(heading, _curves_html(items, title))]
    if _loss_curves(items):
        sections.append(("Diagnosis of the best trials", _diagnosis_html(diagnosed)))
    return sections


def _curves_figure(items: Sequence[TrialCurves], title: str) -> Any:
    """Train (dotted) and validation curves per epoch, or the values a user's objective
    reported per step when there are no task curves; ``title`` says ``(dotted: train)``
    where a train curve is drawn."""
    import plotly.graph_objects as go

    fig = go.Figure()
    longest, dotted = 1, False
    for i, item in enumerate(items):
        color = COLORS[i % len(COLORS)]
        for key, dash in _drawn(item):
            ys = item.curves.get(key)
            if ys:
                longest, dotted = max(longest, len(ys)), dotted or dash == "dot"
                fig.add_trace(
                    go.Scatter(
                        x=list(range(1, len(ys) + 1)),
                        y=ys,
                        mode="lines+markers",
                        marker={"size": 4},
                        name=f"{item.title} {key}",
                        line={"color": color, "dash": dash},
                    )
                )
        if item.reported_values:
            longest = max(longest, *item.reported_steps)
            fig.add_trace(
                go.Scatter(
                    x=item.reported_steps,
                    y=item.reported_values,
                    mode="lines+markers",
                    name=item.title,
                    line={"color": color},
                )
            )
    if _task_curves(items):
        x, y = "epoch", ("loss" if _loss_curves(items) else "metric")
    else:
        x, y = "step", "reported value"
    fig.update_layout(
        title=title + (" (dotted: train)" if dotted else ""),
        xaxis={"title": x, **int_axis(longest)},
        yaxis_title=y,
        height=380,
    )
    return fig


def _curves_html(items: Sequence[TrialCurves], title: str) -> str:
    """The curves figure, or a note saying what is missing when there is nothing to draw."""
    if not any(item.has_curves for item in items):
        return f"<p class='note'>No learning curves: {html.escape(NO_CURVES)}.</p>"
    return figure_html(_curves_figure(items, title))


def _percent(value: Any) -> str:
    """A confidence as the CLI prints it (``71%``)."""
    return f"{float(value):.0%}" if isinstance(value, int | float) else "—"


def _diagnosis_html(items: Sequence[TrialCurves]) -> str:
    parts = []
    for item in items:
        if not item.diagnosis:
            continue
        findings = item.diagnosis.get("findings", [])
        advice = item.diagnosis.get("advice", [])
        lines = "".join(
            f"<li><b>{html.escape(str(f.get('name')))}</b> ({_percent(f.get('confidence'))}): "
            f"{html.escape(str(f.get('evidence', '')))}</li>"
            for f in findings
        )
        moves = [a for a in advice if a.get("direction") != "keep"]  # (as the CLI says it)
        adv = "; ".join(
            f"{html.escape(str(a.get('knob')))} {html.escape(str(a.get('direction')))} "
            f"×{fmt(a.get('factor'), 3)} ({html.escape(str(a.get('reason', '')))})"
            for a in moves
        )
        parts.append(
            f"<p><b>{html.escape(item.title)}</b>:</p><ul>{lines}</ul>"
            + f"<p class='note'>advice: {adv or 'keep every knob as it is'}</p>"
        )
    return "".join(parts) or (
        "<p class='note'>No diagnosis: it reads a training and a validation loss of at least "
        "3 epochs each, which these trials do not have.</p>"
    )


def _setup_html(rec: CompareRecords) -> str:
    spec = rec.spec
    what = "Task" if rec.task is not None else "Objective"
    setup = (
        f"<p>{what} <code>{html.escape(rec.objective)}</code>; tuners "
        f"{html.escape(', '.join(spec['tuners']))}; pruners "
        f"{html.escape(', '.join(spec['pruners']))}; seeds {html.escape(str(spec['seeds']))}; "
        f"{rec.trials} trials per study; {_budget(spec.get('budget'), rec.task)}. "
        f"{better(rec.direction).capitalize()} is better. "
        f"Versions: {html.escape(rec.versions)}.</p>"
    )
    if rec.optimum is not None:
        setup += (
            f"<p class='note'>Known optimum {fmt(rec.optimum, 6)}: regret = "
            f"{'value − optimum' if sign(rec.direction) > 0 else 'optimum − value'}.</p>"
        )
    return setup


def _budget(budget: int | None, task: str | None) -> str:
    if budget:
        return f"budget {budget} epochs"
    return "budget: the task's maximum" if task is not None else "steps set by the objective"


def _best_so_far_figure(rec: CompareRecords) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, m in enumerate(rec.methods):
        color = COLORS[i % len(COLORS)]
        fig.add_trace(
            go.Scatter(
                x=m.curve_x + m.curve_x[::-1],
                y=m.curve_high + m.curve_low[::-1],
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
                x=m.curve_x, y=m.curve_median, mode="lines", name=m.label, line={"color": color}
            )
        )
    best = "highest" if rec.direction == "maximize" else "lowest"
    bands = "; ".join(dict.fromkeys(m.band for m in rec.methods if m.band))
    plotted = [v for m in rec.methods for v in m.curve_low + m.curve_median + m.curve_high]
    fig.update_layout(
        title=f"Best value so far, the {best} (median across seeds"
        + (f"; band: {bands})" if bands else ")"),
        xaxis_title="trial",
        yaxis=value_axis(plotted, f"{best} value so far"),
        height=420,
    )
    return fig


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
            "mean rank": m.mean_rank,
            "pruned": m.n_pruned,
            "failed": m.n_failed,
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
        return table(rows, drop_empty=True)
    return (
        table(rows, drop_empty=True)
        + f"<p>Paired against {html.escape(rec.reference)}:</p><ul>{verdicts}</ul>"
        f"{note}"
    )


def render_compare(rec: CompareRecords) -> str:
    """The comparison report."""
    import plotly.graph_objects as go

    sections: list[tuple[str, str]] = [("Setup", _setup_html(rec))]
    sections.append(("Best so far", figure_html(_best_so_far_figure(rec))))
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
    sections += _curves_sections(
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
            heading = f"{HEADING}: {label}, seed {seed} (the seed whose best member ended best)"
            sections.append((heading, population_section(population)))
    return page(f"hyperlab comparison: {rec.name}", sections)


def failures_html(groups: Sequence[FailureGroup], show: int = 30) -> str:
    """The failed trials' reasons, one row per study and reason, with the first traceback."""
    rows = []
    for g in groups[:show]:
        where = f"{g.label}, seed {g.seed}: " if g.label else ""
        numbers = ", ".join(map(str, g.trials[:12])) + (" ..." if len(g.trials) > 12 else "")
        trace = (
            f"<details><summary>traceback of trial {g.trials[0]}</summary>"
            f"<pre>{html.escape(g.traceback)}</pre></details>"
            if g.traceback
            else ""
        )
        rows.append(
            f"<tr><td>{html.escape(where)}{len(g.trials)} (trial{'s' if len(g.trials) > 1 else ''}"
            f" {numbers})</td><td class='t long'><code>{html.escape(g.reason)}</code>{trace}</td></tr>"
        )
    more = (
        f"<p class='note'>{len(groups) - show} more reasons: see fail_reason in results.csv "
        "or the storage.</p>"
        if len(groups) > show
        else ""
    )
    return (
        "<table><thead><tr><th>failed trials</th><th class='t'>reason</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


#: Decades the plotted values must span (all positive) for a value axis to be logarithmic.
LOG_DECADES = 2.0


def value_axis(values: Sequence[float], title: str) -> dict[str, Any]:
    """A value axis titled ``title``: logarithmic where the finite values are all positive and
    span more than :data:`LOG_DECADES` decades (``branin``'s 0.4 to 171), where a linear axis
    flattens every good value onto the floor."""
    axis: dict[str, Any] = {"title": title}
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if finite and min(finite) > 0 and math.log10(max(finite) / min(finite)) > LOG_DECADES:
        axis.update(type="log", exponentformat="power", title=f"{title} (log)")
    return axis


def int_axis(largest: float) -> dict[str, Any]:
    """Axis settings that put ticks on whole numbers only (epochs, steps): one tick per unit
    on a short axis (plotly would tick halves), whole-number labels on any axis."""
    axis: dict[str, Any] = {"tickformat": "d"}
    if largest <= 12:
        axis.update(tick0=0, dtick=1)
    return axis


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


def _study_summary(rec: StudyRecords) -> str:
    summary = "<p>"
    if rec.objective:
        what = "Task" if rec.task is not None else "Objective"
        summary += f"{what} <code>{html.escape(rec.objective)}</code>. "
    summary += f"{better(rec.direction).capitalize()} is better.</p>"
    summary += f"<p>{_trials_sentence(rec)}</p>"
    if rec.best is not None:
        se = rec.best.std_err
        spread = " (no CV)" if se is None else f" ± {fmt(se)} (CV standard error)"
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
        xaxis_title="trial",
        yaxis=value_axis(
            plotted + [p.curve[-1] for p in stopped], f"value ({better(rec.direction)} is better)"
        ),
        height=380,
    )
    return fig


def _history_html(rec: StudyRecords) -> str:
    """The history figure and a note on the failed trials it cannot draw."""
    failed = rec.counts.get("failed", 0)
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
    sections += _curves_sections(
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
