"""A leaderboard's rows, from its indexed runs: regret per problem, tuner and checkpoint, mean
ranks, the tests against the reference (over ranks, and per problem over regrets; each page's
rank tests, and each problem's regret tests, one family under Holm's correction), and cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hyperlab.lab.leaderboard_runs import Key, PanelRun, Point, best_at, seeds_of, trials_within
from hyperlab.lab.stats import bootstrap_interval, mean_ranks, paired_comparison


def regret_rows(
    table: dict[Key, PanelRun],
    problems: list[str],
    tuners: list[str],
    points: list[int],
    optima: dict[str, float],
    unit: str = "trials",
) -> list[dict[str, Any]]:
    rows = []
    for problem in problems:
        seeds = seeds_of(table, problem)
        for tuner in tuners:
            for n in points:
                regrets = _finals(table, problem, tuner, seeds, optima[problem], (n, unit))
                finite = [v for v in regrets if math.isfinite(v)]
                ci = bootstrap_interval(finite)
                rows.append(
                    {
                        "problem": problem,
                        "tuner": tuner,
                        unit: n,
                        "mean": ci.mean,
                        "low": ci.low,
                        "high": ci.high,
                        "median": float(np.median(finite)) if finite else math.nan,
                        "n": len(finite),
                    }
                )
    return rows


def seed_ranks(
    table: dict[Key, PanelRun], problems: list[str], tuners: list[str], n: int, unit: str
) -> dict[tuple[str, int], dict[str, float]]:
    """``(problem, seed) -> {tuner: rank}`` at ``n`` (a missing value ranks last)."""
    out = {}
    for problem in problems:
        for seed in seeds_of(table, problem):
            # one pairing: its mean ranks are its ranks (NaN, a missing value, ranks last)
            values: dict[str, Sequence[float]] = {
                t: [best_at(table.get((problem, t, seed)), n, unit)] for t in tuners
            }
            out[(problem, seed)] = mean_ranks(values)
    return out


def rank_rows(
    ranks: dict[tuple[str, int], dict[str, float]], tuners: list[str]
) -> list[dict[str, Any]]:
    rows = []
    for tuner in tuners:
        ci = bootstrap_interval([r[tuner] for r in ranks.values()])
        rows.append({"tuner": tuner, "mean": ci.mean, "low": ci.low, "high": ci.high, "n": ci.n})
    return sorted(rows, key=lambda row: (row["mean"], row["tuner"]))


def rank_tests(
    ranks: dict[tuple[str, int], dict[str, float]], tuners: list[str], reference: str
) -> list[dict[str, Any]]:
    rows = []
    ref = [r[reference] for r in ranks.values()]
    for tuner in tuners:
        if tuner == reference:
            continue
        c = paired_comparison([r[tuner] for r in ranks.values()], ref, tuner, reference)
        rows.append({"tuner": tuner, "reference": reference, **_test_fields(c)})
    return rows


def problem_test_rows(
    table: dict[Key, PanelRun],
    problems: list[str],
    tuners: list[str],
    reference: str,
    optima: dict[str, float],
    n: Point,
) -> list[dict[str, Any]]:
    """Per problem, every tuner's regrets at ``n`` against the reference's over the seeds; each
    problem's tests are one family under Holm's correction (:func:`holm_tests`)."""
    rows = []
    for problem in problems:
        seeds = seeds_of(table, problem)
        ref = _finals(table, problem, reference, seeds, optima[problem], n)
        family = []
        for tuner in tuners:
            if tuner != reference:
                mine = _finals(table, problem, tuner, seeds, optima[problem], n)
                c = paired_comparison(mine, ref, tuner, reference)
                family.append({"problem": problem, "tuner": tuner, **_test_fields(c)})
        rows += holm_tests(family)
    return rows


def _finals(
    table: dict[Key, PanelRun],
    problem: str,
    tuner: str,
    seeds: list[int],
    optimum: float,
    n: Point,
) -> list[float]:
    """The regret of ``tuner`` on ``problem`` at checkpoint ``n`` (its value and unit) for each
    seed (NaN for a missing run or one that did not get that far)."""
    return [best_at(table.get((problem, tuner, s)), *n) - optimum for s in seeds]


def _test_fields(c: Any) -> dict[str, Any]:
    return {"n": c.n, "diff": c.diff, "p_value": c.p_value, "verdict": c.verdict}


def cost_rows(
    runs: Sequence[PanelRun], tuners: list[str], unit: str = "trials", last: int = 0
) -> list[dict[str, Any]]:
    rows = []
    for tuner in tuners:
        mine = [r for r in runs if r.tuner == tuner]
        timed = [r for r in mine if math.isfinite(r.suggest_time)]
        trials = sum(len(r.best) for r in timed)
        suggest = [r.suggest_time for r in timed]
        row = {
            "tuner": tuner,
            "runs": len(mine),
            "wall_time": _mean_wall(mine),
            "suggest_per_trial": sum(suggest) / trials if suggest and trials else math.nan,
        }
        rows.append(row if unit == "trials" else {**row, **_spending(mine, last)})
    return rows


def _mean_wall(runs: Sequence[PanelRun]) -> float:
    walls = [r.wall_time for r in runs if math.isfinite(r.wall_time)]
    return float(np.mean(walls)) if walls else math.nan


def _spending(runs: Sequence[PanelRun], last: int) -> dict[str, float]:
    """Mean cost of a run in all (``spent``) and mean trials within ``last`` (``entries``)."""
    if not runs:
        return {"spent": math.nan, "entries": math.nan}
    return {
        "spent": float(np.mean([float(r.cost[-1]) for r in runs if r.cost is not None])),
        "entries": float(np.mean([trials_within(r, last) for r in runs])),
    }


def problem_cost_rows(
    table: dict[Key, PanelRun], problems: list[str], tuners: list[str], unit: str, last: int
) -> list[dict[str, Any]]:
    """Per problem and tuner: runs, mean wall time, and in a cost unit ``spent``/``entries``."""
    rows = []
    for problem in problems:
        for tuner in tuners:
            mine = [r for (p, t, _), r in table.items() if (p, t) == (problem, tuner)]
            row = {"problem": problem, "tuner": tuner, "runs": len(mine)}
            row["wall_time"] = _mean_wall(mine)
            rows.append(row if unit == "trials" else {**row, **_spending(mine, last)})
    return rows


#: The verdicts that claim a difference.
CLAIMS = ("better", "worse")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values of one family of tests, in the given order: the k-th smallest
    of m becomes ``max over j <= k of min(1, (m - j + 1) p_(j))``. A NaN (no test) stays NaN
    and is not counted in m."""
    order = sorted(
        (i for i, p in enumerate(p_values) if math.isfinite(p)), key=p_values.__getitem__
    )
    out = [math.nan] * len(p_values)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - k) * float(p_values[i])))
        out[i] = running
    return out


def holm_tests(rows: Sequence[dict[str, Any]], level: float = 0.05) -> list[dict[str, Any]]:
    """A page's tests (one family) with Holm's adjusted p-value (``p_holm``); a better or
    worse stays only where that is below ``level``, else the verdict is ``within noise``."""
    adjusted = holm([r["p_value"] for r in rows])
    return [
        {
            **r,
            "p_holm": q,
            "verdict": r["verdict"] if r["verdict"] not in CLAIMS or q < level else "within noise",
        }
        for r, q in zip(rows, adjusted, strict=True)
    ]
