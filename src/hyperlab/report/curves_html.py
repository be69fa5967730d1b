"""The learning curves of a report's best trials, and the diagnosis of their losses, as HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from hyperlab.report.page import COLORS, figure_html, fmt, int_axis
from hyperlab.report.trials import TrialCurves

#: What a report says where the trials left no curves to draw (an objective's or a task's).
NO_CURVES = (
    "the objective reported no intermediate values (trial.report), or the task neither "
    "reported its score per epoch (on_epoch) nor returned curves (Evaluation.curves)"
)


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


def curves_sections(
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
    where a train curve is drawn. A trial with reported values alone beside trials with task
    curves (a tuner whose trials keep no curves, beside one whose do) is drawn on a second
    axis of its own: its scores are no loss, and read on the loss axis an accuracy that rises
    looks like a loss that does."""
    import plotly.graph_objects as go

    fig = go.Figure()
    task = _task_curves(items)
    longest, dotted, beside = 1, False, False
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
            longest, beside = max(longest, *item.reported_steps), beside or task
            fig.add_trace(_reported_trace(item, color, task))
    if task:
        x, y = "epoch", ("loss" if _loss_curves(items) else "metric")
    else:
        x, y = "step", "reported value"
    fig.update_layout(
        title=title + (" (dotted: train)" if dotted else ""),
        xaxis={"title": x, **int_axis(longest)},
        yaxis_title=y,
        height=380,
    )
    if beside:
        fig.update_layout(
            yaxis2={"title": REPORTED_AXIS, "overlaying": "y", "side": "right"},
            legend={"x": 1.1, "xanchor": "left"},  # clear of the second axis
        )
    return fig


#: The second axis of a figure that draws a trial's reported scores beside task curves.
REPORTED_AXIS = "reported value (score, dashed)"


def _reported_trace(item: TrialCurves, color: str, beside: bool) -> Any:
    """The values ``item`` reported per step; ``beside`` task curves, dashed on the second
    axis (:data:`REPORTED_AXIS`) and named as reported values."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=item.reported_steps,
        y=item.reported_values,
        mode="lines+markers",
        name=f"{item.title} reported value" if beside else item.title,
        line={"color": color, "dash": "dash" if beside else "solid"},
        yaxis="y2" if beside else "y",
    )


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
        told = "".join(
            f"<p class='note'>warning: {html.escape(str(w))}</p>"
            for w in item.diagnosis.get("warnings", [])
        )
        parts.append(
            f"<p><b>{html.escape(item.title)}</b>:</p><ul>{lines}</ul>"
            + f"<p class='note'>advice: {adv or 'keep every knob as it is'}</p>"
            + told
        )
    return "".join(parts) or (
        "<p class='note'>No diagnosis: it reads a training and a validation loss of at least "
        "3 epochs each, which these trials do not have.</p>"
    )
