"""A leaderboard's plain data as a Markdown table (as the benchmarks' result pages show it)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def markdown(board: Mapping[str, Any]) -> str:
    """A Markdown table of a leaderboard's plain data (:meth:`Leaderboard.to_dict`, as a
    result file keeps it): one row per tuner in rank order with its mean rank and interval, its
    mean ranks at the earlier checkpoints (when the data has them), its test against the
    reference (the verdict and the p-value it reads: Holm-adjusted where the data has it), the
    problems where its mean regret at the last checkpoint is the lowest, and its
    cost (seconds per suggestion; trials within the last checkpoint when
    the unit is not trials)."""
    unit = board.get("unit", "trials")
    last = board["checkpoints"][-1]
    finals = [r for r in board["regret"] if r[unit] == last]
    wins: dict[str, list[str]] = {t: [] for t in board["tuners"]}
    for problem in board["problems"]:
        cells = [r for r in finals if r["problem"] == problem and r["mean"] == r["mean"]]
        if cells:
            wins[min(cells, key=lambda r: r["mean"])["tuner"]].append(problem)
    tests = {r["tuner"]: r for r in board["tests"]}
    cost = {r["tuner"]: r for r in board["cost"]}
    fidelity = unit != "trials"
    extra = "trials in the cut" if fidelity else "s per suggestion"
    earlier = list(board["checkpoints"][:-1])
    curve = {(r["tuner"], r[unit]): r["mean"] for r in board.get("rank_curve", [])}
    lines = [
        f"| tuner | mean rank at {last} {unit.replace('_', ' ')} [95%] | "
        + (f"at {' / '.join(map(str, earlier))} | " if earlier and curve else "")
        + f"vs `{board['reference']}` ({_p_name(board['tests'])}) | lowest regret on | {extra} |",
        "|---|---|" + ("---|" if earlier and curve else "") + "---|---|---|",
    ]
    for row in board["ranks"]:
        t = tests.get(row["tuner"])
        verdict = _test_text(t) if t else "reference"
        c = cost[row["tuner"]]
        spend = f"{c['entries']:.0f}" if fidelity else f"{c['suggest_per_trial']:.3f}"
        won = ", ".join(f"`{p}`" for p in wins[row["tuner"]]) or "-"
        path = " / ".join(f"{curve[row['tuner'], c]:.2f}" for c in earlier)
        lines.append(
            f"| `{row['tuner']}` | {row['mean']:.2f} {_bracket(row['low'], row['high'])} | "
            + (f"{path} | " if earlier and curve else "")
            + f"{verdict} | {won} | {spend} |"
        )
    return "\n".join(lines)


def _p_name(tests: Sequence[Mapping[str, Any]]) -> str:
    """What the verdict column's p-values are."""
    return "Holm-adjusted Wilcoxon p" if any("p_holm" in t for t in tests) else "Wilcoxon p"


def _test_text(test: Mapping[str, Any]) -> str:
    """``better (0.031)``: the verdict and the p-value it reads (Holm's adjusted one where the
    test has it), where there is one."""
    p = test.get("p_holm", test["p_value"])
    return f"{test['verdict']} ({p:.2g})" if math.isfinite(p) else str(test["verdict"])


def _bracket(low: float, high: float) -> str:
    """``[1.20, 2.40]``, or ``[n/a]`` where there is no interval (one pairing: nothing to
    resample)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "[n/a]"
    return f"[{low:.2f}, {high:.2f}]"
