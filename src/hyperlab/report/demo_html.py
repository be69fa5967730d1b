"""Render the demo's records (:mod:`hyperlab.report.demo`) as its front page.

The first screen is the answer in sentences (each number with its 95% interval) and the links
to the detailed reports; the tables and the rank figure below it hold the same numbers per
problem.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from hyperlab.report.demo_types import (
    BETTER,
    MIN_PAIRS,
    WORSE,
    DemoRecords,
    Overall,
    Pair,
    RunSummary,
    Spread,
)
from hyperlab.report.page import figure_html, fmt, page

#: The page's title: the question the demo answers.
TITLE = "hyperlab demo: does a network that has learned to tune beat the classic tuners?"

_HOW = (
    "Regret: how far the best value a study found lies from the problem's best known value "
    "(lower is better; 0 is the best known). Each number is followed by its 95% bootstrap "
    "interval over seeds in brackets: the median for a tuner's regret or best value, the mean "
    "for ranks (1 = best) and for differences (the focus minus the other tuner, on the same "
    "seeds). A verdict says better or worse only where the interval of the paired difference "
    "leaves out zero and the paired Wilcoxon signed-rank test gives p < 0.05 (with the "
    "difference beyond twice its standard error); otherwise it is within noise, and with fewer "
    f"than {MIN_PAIRS} seeds no verdict is given."
)


def _link(href: str, text: str) -> str:
    return f"<a href='{html.escape(href)}'>{html.escape(text)}</a>"


def _grid(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table whose cells are HTML already (escaped by the caller)."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _answer(rec: DemoRecords) -> str:
    items = "".join(
        f"<li>{'<b>' * (i == 0)}{html.escape(line)}{'</b>' * (i == 0)}</li>"
        for i, line in enumerate(rec.headline)
    )
    links = [_link(r.link, f"{r.task}") for r in rec.problems]
    parts = []
    if links:
        parts.append("the problems: " + ", ".join(links))
    if rec.live is not None:
        parts.append("the live run: " + _link(rec.live.link, rec.live.task))
    if rec.experiments_link is not None:
        parts.append("the experiments: " + _link(rec.experiments_link, "experiments page"))
    details = f"<p>Detailed reports of {'; '.join(parts)}.</p>" if parts else ""
    tuners = "".join(
        f"<li><code>{html.escape(name)}</code>: {html.escape(text)}</li>"
        for name, text in rec.tuners.items()
    )
    tuners = f"<p class='note'>The tuners:</p><ul class='note'>{tuners}</ul>" if tuners else ""
    return (
        f"<ul class='answer'>{items}</ul>{details}{tuners}<p class='note'>{html.escape(_HOW)}</p>"
    )


def _cell(spread: Spread, signed: bool = False) -> str:
    """A number, and its interval in small print on the line below (it breaks, if need be,
    only after its comma)."""
    value, interval = spread.text(signed=signed).split(" ", 1)
    halves = " ".join(
        f"<span style='white-space:nowrap'>{html.escape(part)}</span>"
        for part in interval.split(" ")
    )
    return f"{html.escape(value)}<br><span class='note' style='font-size:.8rem'>{halves}</span>"


def _pair_cell(p: Pair | None) -> str:
    """The difference and its interval, then the verdict (bold where there is one)."""
    if p is None:
        return "—"
    word = html.escape(p.verdict)
    if p.verdict in (BETTER, WORSE):
        word = f"<b>{word}</b>"
    return f"{_cell(p.difference, signed=True)}<br>{word}"


def _problems(rec: DemoRecords) -> str:
    runs = rec.problems
    tuners = runs[0].tuners
    others = [p.other for p in runs[0].pairs]
    head = ["problem", *(f"{t} {runs[0].measure}" for t in tuners)]
    head += [f"{rec.focus} − {o}" for o in others]
    rows = []
    for r in runs:
        cells = [_link(r.link, r.task)]
        cells += [_cell(r.spreads[t]) if t in r.spreads else "—" for t in tuners]
        by_other = {p.other: p for p in r.pairs}
        cells += [_pair_cell(by_other.get(o)) for o in others]
        rows.append(cells)
    return _grid(head, rows)


def _ranks_figure(focus: str, overall: Overall) -> Any:
    import plotly.graph_objects as go

    ranks = overall.ranks
    names = list(ranks)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[ranks[t].value for t in names],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [ranks[t].high - ranks[t].value for t in names],
                "arrayminus": [ranks[t].value - ranks[t].low for t in names],
            },
            marker={"color": ["#d62728" if t == focus else "#1f77b4" for t in names]},
        )
    )
    fig.update_layout(
        title=f"Mean rank over {overall.n} problem × seed runs (1 = best; 95% interval)",
        yaxis_title="mean rank",
        height=360,
    )
    return fig


def _run_table(run: RunSummary, focus: str) -> str:
    by_other = {p.other: p for p in run.pairs}
    rows = [
        [
            html.escape(t),
            _cell(run.spreads[t]),
            fmt(run.seconds.get(t), 3),
            _pair_cell(by_other.get(t)) if t != focus else "—",
        ]
        for t in run.tuners
    ]
    head = ["tuner", f"{run.measure} (median [95%])", "seconds per study", f"{focus} − tuner"]
    return _grid(head, rows)


def _cost(rec: DemoRecords) -> str:
    tuners = rec.problems[0].tuners
    rows = [
        [html.escape(r.task), *(fmt(r.seconds.get(t), 3) for t in tuners)] for r in rec.problems
    ]
    note = (
        "<p class='note'>Median seconds per study, from its first trial's start to its last "
        "trial's end: the tuner's suggestions, the evaluations (here lookups and cheap "
        "functions) and the writes to the study's storage.</p>"
    )
    return note + _grid(["problem", *tuners], rows)


def render_demo(rec: DemoRecords) -> str:
    """The demo's front page."""
    sections: list[tuple[str, str]] = [("The answer", _answer(rec))]
    if rec.problems:
        sections.append(("Regret per problem", _problems(rec)))
    if rec.overall is not None:
        sections.append(("Mean ranks", figure_html(_ranks_figure(rec.focus, rec.overall))))
    if rec.live is not None:
        live = rec.live
        sections.append(
            (
                f"Live run: {live.task}",
                f"<p>{_link(live.link, 'The live run report')} has its learning curves, "
                f"diagnoses and every trial.</p>" + _run_table(live, rec.focus),
            )
        )
    if rec.problems:
        sections.append(("Time per study", _cost(rec)))
    return page(TITLE, sections)
