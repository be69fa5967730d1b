"""The failed trials' reasons (:mod:`hyperlab.report.failures`) as an HTML table."""

from __future__ import annotations

import html
from collections.abc import Sequence

from hyperlab.report.failures import FailureGroup


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
