"""Render report records as one self-contained HTML page (plotly.js embedded once)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from hyperlab.report.records import CompareRecords, StudyRecords, TrialCurves

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;
margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.9rem}
.verdict{font-family:ui-monospace,monospace;font-size:.9rem}code{background:#f4f4f4;padding:0 .2rem}
"""

_COLORS = [
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


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """An HTML table of plain-data rows."""
    if not rows:
        return "<p class='note'>(no rows)</p>"
    columns = list(columns or rows[0].keys())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{fmt(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure_html(fig: Any) -> str:
    """A plotly figure as a ``<div>`` that uses the page's single plotly.js copy."""
    return str(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """The whole page: sections of ``(heading, html)`` with plotly.js embedded once."""
    from plotly.offline import get_plotlyjs

    body = "".join(
        f"<section><h2>{html.escape(h)}</h2>{content}</section>" for h, content in sections
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _curves_figure(items: Sequence[TrialCurves], title: str) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, item in enumerate(items):
        color = _COLORS[i % len(_COLORS)]
        for key, dash in (("train_loss", "dot"), ("val_loss", "solid")):
            ys = item.curves.get(key)
            if ys:
                fig.add_trace(
                    go.Scatter(
                        x=list(range(1, len(ys) + 1)),
                        y=ys,
                        mode="lines",
                        name=f"{item.label} {key}",
                        line={"color": color, "dash": dash},
                    )
                )
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title="loss", height=380)
    return fig


def _diagnosis_html(items: Sequence[TrialCurves]) -> str:
    parts = []
    for item in items:
        if not item.diagnosis:
            continue
        findings = item.diagnosis.get("findings", [])
        advice = item.diagnosis.get("advice", [])
        lines = "".join(
            f"<li><b>{html.escape(str(f.get('name')))}</b> ({fmt(f.get('confidence'), 2)}): "
            f"{html.escape(str(f.get('evidence', '')))}</li>"
            for f in findings
        )
        adv = ", ".join(
            f"{html.escape(str(a.get('knob')))} {html.escape(str(a.get('direction')))}"
            + (f" ×{fmt(a.get('factor'), 3)}" if a.get("direction") != "keep" else "")
            for a in advice
        )
        parts.append(
            f"<p><b>{html.escape(item.label)}</b>, trial {item.trial}:</p><ul>{lines}</ul>"
            + (f"<p class='note'>advice: {adv}</p>" if adv else "")
        )
    return "".join(parts) or "<p class='note'>No diagnosis available (curves too short).</p>"


def render_compare(rec: CompareRecords) -> str:
    """The comparison report."""
    import plotly.graph_objects as go

    sections: list[tuple[str, str]] = []
    spec = rec.spec
    setup = (
        f"<p>Task <code>{html.escape(str(rec.task))}</code>; tuners {', '.join(spec['tuners'])}; "
        f"pruners {', '.join(spec['pruners'])}; seeds {spec['seeds']}; {rec.trials} trials per "
        f"study; budget {spec.get('budget') or 'task maximum'} epochs. Lower is better. "
        f"Versions: {html.escape(str(spec.get('versions', {})))}.</p>"
    )
    if rec.optimum is not None:
        setup += (
            f"<p class='note'>Known optimum {fmt(rec.optimum, 6)}: regret = value − optimum.</p>"
        )
    sections.append(("Setup", setup))

    fig = go.Figure()
    for i, m in enumerate(rec.methods):
        color = _COLORS[i % len(_COLORS)]
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
    fig.update_layout(
        title="Best value so far (median across seeds, 95% bootstrap band)",
        xaxis_title="trial",
        yaxis_title="best value so far",
        height=420,
    )
    sections.append(("Best so far", figure_html(fig)))

    box = go.Figure()
    for i, m in enumerate(rec.methods):
        box.add_trace(
            go.Box(
                y=m.final_best,
                name=m.label,
                boxpoints="all",
                marker={"color": _COLORS[i % len(_COLORS)]},
            )
        )
    box.update_layout(title="Final best value per seed", yaxis_title="best value", height=380)
    sections.append(("Final values", figure_html(box)))

    rows = [
        {
            "method": m.label,
            "final best (mean)": m.final_mean,
            "± SE": m.final_se,
            "regret (mean)": (m.final_mean - rec.optimum) if rec.optimum is not None else None,
            "test score (mean)": m.test_mean,
            "test ± SE": m.test_se,
            "epochs used (mean)": m.epochs_mean,
            "mean rank": m.mean_rank,
            "pruned": m.n_pruned,
            "failed": m.n_failed,
        }
        for m in rec.methods
    ]
    verdicts = "".join(
        f"<li class='verdict'>{html.escape(c['sentence'])}</li>" for c in rec.comparisons
    )
    note = (
        "<p class='note'>A difference is called real only when it exceeds twice its standard "
        "error and the paired Wilcoxon signed-rank test over seeds gives p &lt; 0.05; with few "
        'seeds the test cannot get there, so small comparisons stay "within noise".</p>'
    )
    sections.append(
        (
            "Summary",
            table(rows)
            + f"<p>Paired against {html.escape(rec.reference)}:</p><ul>{verdicts}</ul>"
            + note,
        )
    )

    if rec.stopped:
        sections.append(
            (
                "Early stops",
                "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in rec.stopped) + "</ul>",
            )
        )
    if rec.best_curves:
        sections.append(
            (
                "Learning curves of the best trials",
                figure_html(
                    _curves_figure(rec.best_curves, "Best trial of each method (dotted: train)")
                ),
            )
        )
        sections.append(("Diagnosis of the best trials", _diagnosis_html(rec.best_curves)))
    if rec.pruned:
        sections.append(("Early-stopping diagnostics", _pruned_html(rec)))
    return page(f"hyperlab comparison: {rec.name}", sections)


def _pruned_html(rec: CompareRecords, show: int = 8) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, p in enumerate(rec.pruned[:show]):
        color = _COLORS[i % len(_COLORS)]
        xs = list(range(1, len(p.curve) + 1))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=p.curve,
                mode="lines+markers",
                name=f"{p.label} s{p.seed} t{p.trial}",
                line={"color": color},
            )
        )
        if p.predicted_mean is not None:
            final_x = rec.spec.get("budget") or max(len(p.curve), 1)
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
    fig.update_layout(
        title="Pruned trials: curve so far and predicted final value (90% band)",
        xaxis_title="epoch",
        yaxis_title="validation loss",
        height=400,
    )
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
        for p in rec.pruned[:50]
    ]
    return figure_html(fig) + table(rows)


def render_study(rec: StudyRecords, title: str | None = None) -> str:
    """The single-study report."""
    import plotly.graph_objects as go

    sections: list[tuple[str, str]] = []
    summary = ""
    if rec.best is not None:
        summary = (
            f"<p>Best trial {rec.best.trial}: value {fmt(rec.best.value, 6)}; "
            + ", ".join(f"{html.escape(k)}={fmt(v)}" for k, v in rec.best.params.items())
            + "</p>"
        )
    if rec.test_score is not None:
        summary += f"<p>Held-out test score of the best configuration: {fmt(rec.test_score, 6)}</p>"
    if rec.stopped:
        summary += f"<p>{html.escape(rec.stopped)}</p>"
    sections.append(("Summary", summary or "<p class='note'>No completed trial.</p>"))
    xs = [h["trial"] for h in rec.history]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=xs, y=[h["value"] for h in rec.history], mode="markers", name="trial value")
    )
    fig.add_trace(
        go.Scatter(
            x=xs, y=[h["best_so_far"] for h in rec.history], mode="lines", name="best so far"
        )
    )
    fig.update_layout(
        title="Optimization history", xaxis_title="trial", yaxis_title="value", height=380
    )
    sections.append(("Optimization history", figure_html(fig)))
    if rec.top and any(t.curves for t in rec.top):
        sections.append(
            (
                "Learning curves of the top trials",
                figure_html(_curves_figure(rec.top, "Top trials (dotted: train)")),
            )
        )
        sections.append(("Diagnosis of the best trials", _diagnosis_html(rec.top[:3])))
    if rec.importances:
        imp = go.Figure(
            go.Bar(
                x=list(rec.importances.values()), y=list(rec.importances.keys()), orientation="h"
            )
        )
        imp.update_layout(title="Parameter importances (Optuna, fANOVA)", height=320)
        sections.append(("Parameter importances", figure_html(imp)))
    params = sorted({k[len("param_") :] for h in rec.history for k in h if k.startswith("param_")})
    done = [h for h in rec.history if h["state"] == "COMPLETE" and math.isfinite(h["value"])]
    if params and len(done) >= 2:
        sections.append(("Parallel coordinates", figure_html(_parallel(done, params))))
    return page(title or f"hyperlab study: {rec.name}", sections)


def _parallel(rows: list[dict[str, Any]], params: list[str]) -> Any:
    import plotly.graph_objects as go

    dims = []
    for p in params:
        vals = [r.get(f"param_{p}") for r in rows]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            dims.append({"label": p, "values": vals})
        else:
            cats = sorted({str(v) for v in vals})
            dims.append(
                {
                    "label": p,
                    "values": [cats.index(str(v)) for v in vals],
                    "tickvals": list(range(len(cats))),
                    "ticktext": cats,
                }
            )
    values = [r["value"] for r in rows]
    dims.append({"label": "value", "values": values})
    fig = go.Figure(
        go.Parcoords(
            line={"color": values, "colorscale": "Viridis_r", "showscale": True}, dimensions=dims
        )
    )
    fig.update_layout(title="Parallel coordinates of completed trials", height=420)
    return fig
