"""The pieces every report page is built of: the page itself (plotly.js embedded once),
tables, figures, numbers, value axes and the paragraph that says how a run was set up."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

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


def better(direction: str) -> str:
    """``higher`` for a maximized score, else ``lower``."""
    return "higher" if direction == "maximize" else "lower"


def setup_html(
    spec: dict[str, Any],
    what: tuple[str, str],
    direction: str,
    options: tuple[str, str],
    versions: tuple[str, str],
) -> str:
    """The paragraph that says how a run was set up, from its ``run.json`` (``spec``): what
    it tuned (``what``: ``("Task", name)`` or ``("Objective", label)``), its tuners, pruners,
    seeds, trials and budget, the options given (``options``: the options in words, ``""``
    for none, and how they changed at a resumption, ``""`` for never), which way is better
    (``direction``), and the versions it ran with (``versions``: likewise, those and how they
    changed)."""
    per = " per study" if spec.get("kind") == "compare" else ""
    given, given_span = options
    ran, ran_span = versions
    return (
        f"<p>{what[0]} <code>{html.escape(what[1])}</code>; "
        f"{_listed('tuner', spec['tuners'])}; {_listed('pruner', spec['pruners'])}; "
        f"{_listed('seed', spec['seeds'])}; {spec['trials']} trials{per}; "
        f"{_budget(spec.get('budget'), spec.get('task'))}. "
        f"Options: {html.escape(given or 'none given (every default)')}"
        f"{'; ' + html.escape(given_span) if given_span else ''}. "
        f"{better(direction).capitalize()} is better. "
        f"Versions: {html.escape(ran or 'unknown')}"
        f"{'; ' + html.escape(ran_span) if ran_span else ''}.</p>"
    )


def _listed(kind: str, names: Sequence[Any]) -> str:
    """``tuner tpe``, ``tuners random, tpe`` (escaped)."""
    plural = "s" if len(names) != 1 else ""
    return f"{kind}{plural} {html.escape(', '.join(str(n) for n in names))}"


def _budget(budget: int | None, task: str | None) -> str:
    if budget:
        return f"budget {budget} epochs"
    return "budget: the task's maximum" if task is not None else "steps set by the objective"


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
