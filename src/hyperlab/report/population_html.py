"""Render a population's records: each mutable hyperparameter against epochs, the lineage tree.

The study and comparison pages (:mod:`hyperlab.report.study_html`,
:mod:`hyperlab.report.comparison_html`) call :func:`population_section` for a study whose
records hold a population.
"""

from __future__ import annotations

import html
from typing import Any

from hyperlab.report.page import COLORS, figure_html, fmt, int_axis
from hyperlab.report.population import Branch, PopulationRecords, ScheduledParam

#: The heading of the population's section of a study report.
HEADING = "Learned schedule"

#: Dashes that tell apart members whose colours repeat (more members than colours).
_DASHES = ("solid", "dash", "dot", "dashdot")


def population_section(rec: PopulationRecords) -> str:
    """The section's HTML: the sentence, one figure per mutable hyperparameter, the tree (left
    out where no member copied another or restarted: self-tuning trials of ``tpe-hd``, which
    are named trials, their schedule without the columns of who trained and copied)."""
    figures = "".join(figure_html(schedule_figure(rec, p)) for p in rec.params)
    best = rec.best_member
    alone = rec.unit != "member"
    rows = "".join(
        f"<tr><td>{s.start}–{s.end}</td>"
        + ("" if alone else f"<td>{s.trained_by}</td>")
        + ("" if alone else f"<td>{'—' if s.copied_from is None else s.copied_from}</td>")
        + "<td class='t long'>"
        + html.escape(
            ", ".join(
                [f"{k}={fmt(v)}" for k, v in s.config.items()]
                + [f"{k} learned by the end: {fmt(v)}" for k, v in s.learned.items()]
            )
        )
        + "</td></tr>"
        for s in best.segments
    )
    who = "" if alone else "<th>trained by</th><th>copied from</th>"
    schedule = (
        f"<p>Schedule of the best {rec.unit} ({best.member}, final value "
        f"{fmt(best.value, 6)}):</p><table><thead><tr><th>epochs</th>{who}"
        f"<th class='t'>hyperparameters</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    notes = "".join(f"<p class='note'>{html.escape(n[:1].upper() + n[1:])}</p>" for n in rec.notes)
    if all(b.parent is None and not b.restarted for b in rec.branches):
        return f"<p>{html.escape(rec.sentence)}</p>{notes}{figures}{schedule}"  # no copy: no tree
    return (
        f"<p>{html.escape(rec.sentence)}</p>{notes}{figures}{schedule}"
        "<h3>Lineage</h3><p class='note'>Each member starts at the top level, as does a restart; a copy "
        "starts a branch under the member it copied, at that epoch. <b>Bold</b>: the branch a member "
        f"ends on.</p>{lineage_html(rec.branches)}"
    )


def schedule_figure(rec: PopulationRecords, param: ScheduledParam) -> Any:
    """``param`` against epochs: a step line per member (the path of the model it ends with)
    in the member's own colour (and dash, past ten members), named on hover, the best member
    drawn thick and last (on top), a log axis for a log-scaled parameter."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for m in sorted(rec.members, key=lambda m: m.member == rec.best):
        values = m.values_of(param.name)
        if not m.segments or all(v is None for v in values):
            continue
        best = m.member == rec.best
        name = f"{rec.unit} {m.member}" + (" (best)" if best else "")
        fig.add_trace(
            go.Scatter(
                x=[s.start for s in m.segments] + [m.segments[-1].end],
                y=values + values[-1:],
                mode="lines",
                line={
                    "shape": "hv",
                    "color": COLORS[m.member % len(COLORS)],
                    "dash": _DASHES[m.member // len(COLORS) % len(_DASHES)],
                    "width": 4 if best else 1.5,
                },
                name=name,
                hovertemplate=f"{name}<br>epoch %{{x}}: %{{y}}<extra></extra>",
            )
        )
    axis: dict[str, Any] = {"title": param.name + (" (log)" if param.log else "")}
    if param.log:
        axis["type"] = "log"
    if param.choices:
        axis.update(categoryorder="array", categoryarray=[str(c) for c in param.choices])
    else:  # 1e-4, not plotly's SI "100µ", on a rate or a weight decay
        axis["exponentformat"] = "power"
    fig.update_layout(
        title=f"{param.name} against epochs (step per segment)",
        xaxis={"title": "epoch", **int_axis(rec.budget)},
        yaxis=axis,
        height=340,
    )
    return fig


def lineage_html(branches: list[Branch]) -> str:
    """The lineage tree as nested HTML lists."""
    children: dict[int | None, list[int]] = {}
    for i, b in enumerate(branches):
        children.setdefault(b.parent, []).append(i)

    def items(parent: int | None) -> str:
        out = []
        for i in children.get(parent, []):
            b = branches[i]
            if b.restarted:
                text = (
                    f"member {b.member} restarted from a fresh model at epoch {b.start} "
                    "(a failed segment with no member to copy)"
                )
            elif b.copied_from is None:
                text = f"member {b.member}"
            else:
                text = f"member {b.member} copied member {b.copied_from} at epoch {b.start}"
            text = html.escape(text)
            if b.final:
                text = f"<b>{text}</b>"
            out.append(f"<li>{text}{items(i)}</li>")
        return f"<ul>{''.join(out)}</ul>" if out else ""

    return items(None)
