"""A leaderboard over a tuner panel, a problem set and several seeds: the statistics only.

The input is plain data, one :class:`PanelRun` per (problem, tuner, seed): the best loss so far
after each trial (lower is better; a maximized problem's values negated), the run's wall time
and the time its tuner spent suggesting. :func:`leaderboard` turns the runs into one
:class:`Leaderboard` of plain rows:

- **regret** per problem, tuner and checkpoint (after 10, 20, 50, 100 trials by default): the
  best loss minus the problem's optimum (its known one, else the best any run of any tuner
  found), as the mean over seeds with a 95% bootstrap interval
  (:func:`hyperlab.lab.stats.bootstrap_interval`) and the median;
- **mean rank** of each tuner at the last checkpoint, ranked among the panel within each
  problem and seed (1 = best, ties share), averaged over every problem and seed with a 95%
  bootstrap interval; the same at every checkpoint in ``rank_curve`` (a run shorter than a
  checkpoint ranks last there);
- **tests** against the reference: the best-ranked tuner of a reference group (the peers, say)
  is the reference; every other tuner's ranks are compared with its ranks over the same
  (problem, seed) pairs by :func:`hyperlab.lab.stats.paired_comparison` (mean difference,
  Wilcoxon signed-rank p-value, verdict), and per problem its regrets at the last checkpoint
  likewise (a seed where either run is shorter than that leaves the pair out);
- **cost** per tuner: mean wall time of a run and mean seconds per suggestion (the suggesting
  time of the runs that recorded one over those runs' trials).

The longest run's last trial is always a checkpoint (ranks and tests are read there);
checkpoints no run reached are left out, and a run shorter than a checkpoint does not count
at it. Running the tuners is :mod:`hyperlab.lab.panel`'s part (through the registry); this
module never imports a tuner.

**Another axis than trials.** Multi-fidelity tuners and pruners spend different compute per
trial, so they are compared at equal cost instead: each run then carries its cumulative cost
after each trial (``PanelRun.cost``, e.g. epochs) and ``leaderboard(..., unit="epochs")``
reads every checkpoint in that unit: a run's value at ``c`` is its best loss over the trials
it had finished within ``c`` (the run cut there), and a run that spent less than ``c`` in all
does not count at it. Checkpoints are then exactly the given ones some run reached (none is
added: runs of one budget overshoot it by different amounts); ranks and tests are read at
the last. The cost rows add each tuner's mean cost of a run (``spent``) and trials within
the last checkpoint (``entries``), and :attr:`Leaderboard.problem_cost` gives both and the
wall time per problem too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hyperlab.errors import InputError
from hyperlab.lab.stats import bootstrap_interval, mean_ranks, paired_comparison

#: The trial counts the regret is read at.
CHECKPOINTS: tuple[int, ...] = (10, 20, 50, 100)


@dataclass(frozen=True)
class PanelRun:
    """One tuner on one problem with one seed.

    Attributes:
        problem: The problem's name.
        tuner: The tuner's name.
        seed: The seed.
        best: ``(n_trials,)`` best loss so far after each trial (``inf`` before any finite one).
        wall_time: Seconds the run took.
        suggest_time: Seconds its tuner spent choosing configurations.
        optimum: The problem's known optimal loss, when there is one.
        cost: ``(n_trials,)`` cumulative cost (e.g. epochs) after each trial, non-decreasing,
            for a leaderboard read in that unit (``None``: the axis is trials).
    """

    problem: str
    tuner: str
    seed: int
    best: Sequence[float]
    wall_time: float = math.nan
    suggest_time: float = math.nan
    optimum: float | None = None
    cost: Sequence[float] | None = None


@dataclass
class Leaderboard:
    """The leaderboard's rows (see the module doc); :meth:`to_dict` gives plain data."""

    tuners: list[str]
    problems: list[str]
    checkpoints: list[int]
    reference: str | None
    regret: list[dict[str, Any]] = field(default_factory=list)
    ranks: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    problem_tests: list[dict[str, Any]] = field(default_factory=list)
    cost: list[dict[str, Any]] = field(default_factory=list)
    unit: str = "trials"
    problem_cost: list[dict[str, Any]] = field(default_factory=list)
    rank_curve: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


def leaderboard(
    runs: Sequence[PanelRun],
    checkpoints: Sequence[int] = CHECKPOINTS,
    reference_group: Sequence[str] = (),
    unit: str = "trials",
) -> Leaderboard:
    """The leaderboard of ``runs`` (see the module doc).

    Args:
        runs: One run per (problem, tuner, seed); every tuner should have run every problem
            with the same seeds (a missing run ranks last).
        checkpoints: Trial counts to read the regret at (those no run reached are left out; the
            longest run's length is added).
        reference_group: Tuners whose best-ranked one every tuner is tested against (empty:
            the best-ranked tuner of the whole panel).
        unit: What the checkpoints count: ``"trials"``, or the name of the cost every run
            carries (``PanelRun.cost``, e.g. ``"epochs"``); the regret rows key their
            checkpoint by it.

    Raises:
        InputError: No runs, a run with no trials, a checkpoint that is not a positive integer,
            two runs of the same problem, tuner and seed, a unit other than ``"trials"`` with
            a run that carries no cost (or a cost that is not one non-decreasing value per
            trial), or no run that reached any checkpoint of that unit.
    """
    table = _index(runs, unit)
    tuners = sorted({r.tuner for r in runs})
    problems = sorted({r.problem for r in runs})
    points = _points(runs, checkpoints, unit)
    optima = _optima(runs)
    board = Leaderboard(tuners, problems, points, None, unit=unit)
    board.regret = _regret_rows(table, problems, tuners, points, optima, unit)
    by_point = {p: _ranks(table, problems, tuners, p, unit) for p in points}
    board.rank_curve = [{**row, unit: p} for p in points for row in _rank_rows(by_point[p], tuners)]
    ranks = by_point[points[-1]]
    board.ranks = _rank_rows(ranks, tuners)
    group = [t for t in tuners if t in set(reference_group)] or tuners
    by_rank = {row["tuner"]: row["mean"] for row in board.ranks}
    board.reference = min(group, key=lambda t: (by_rank[t], t))
    board.tests = _rank_tests(ranks, tuners, board.reference)
    board.problem_tests = _problem_tests(
        table, problems, tuners, board.reference, optima, (points[-1], unit)
    )
    board.cost = _cost_rows(runs, tuners, unit, points[-1])
    board.problem_cost = _problem_cost_rows(table, problems, tuners, unit, points[-1])
    return board


Key = tuple[str, str, int]
#: A checkpoint and its unit: ``(100, "trials")``, ``(1040, "epochs")``.
Point = tuple[int, str]


def _points(runs: Sequence[PanelRun], checkpoints: Sequence[int], unit: str) -> list[int]:
    """The checkpoints read: those some run reached, and in trials the longest run's end."""
    wanted = {_checkpoint(c) for c in checkpoints}
    if unit == "trials":
        longest = max(len(r.best) for r in runs)
        return sorted({c for c in wanted if c <= longest} | {longest})
    reach = max(_reach(r, unit) for r in runs)
    points = sorted(c for c in wanted if c <= reach)
    if not points:
        raise InputError(
            f"no run reached any checkpoint {sorted(wanted)} in {unit}: the most any run spent "
            f"is {reach}"
        )
    return points


def _reach(run: PanelRun, unit: str) -> float:
    """How far ``run`` went: its trials, or its cost in all."""
    return len(run.best) if unit == "trials" or run.cost is None else float(run.cost[-1])


def _index(runs: Sequence[PanelRun], unit: str = "trials") -> dict[Key, PanelRun]:
    if not runs:
        raise InputError("a leaderboard needs at least one run, got none")
    table: dict[Key, PanelRun] = {}
    for r in runs:
        key = (r.problem, r.tuner, r.seed)
        if key in table:
            raise InputError(f"two runs of {r.tuner!r} on {r.problem!r} with seed {r.seed}")
        if len(r.best) == 0:
            raise InputError(f"the run of {r.tuner!r} on {r.problem!r} (seed {r.seed}) is empty")
        if unit != "trials":
            _check_cost(r, unit)
        table[key] = r
    return table


def _check_cost(r: PanelRun, unit: str) -> None:
    cost = None if r.cost is None else np.asarray(r.cost, dtype=float)
    if cost is None or cost.shape != (len(r.best),) or np.any(np.diff(cost) < 0):
        raise InputError(
            f"a leaderboard in {unit} needs each run's cumulative {unit} after each trial (one "
            f"non-decreasing value per trial); the run of {r.tuner!r} on {r.problem!r} (seed "
            f"{r.seed}) has {r.cost!r} for {len(r.best)} trials"
        )


def _checkpoint(c: Any) -> int:
    if isinstance(c, bool) or not isinstance(c, int) or c < 1:
        raise InputError(f"checkpoints must be positive integers, got {c!r}")
    return c


def _optima(runs: Sequence[PanelRun]) -> dict[str, float]:
    """Each problem's optimum: the known one, else the best loss any run found."""
    known = {r.problem: float(r.optimum) for r in runs if r.optimum is not None}
    found: dict[str, float] = {}
    for r in runs:
        last = float(r.best[-1])
        if math.isfinite(last):
            found[r.problem] = min(found.get(r.problem, math.inf), last)
    return {p: known.get(p, found.get(p, math.nan)) for p in {r.problem for r in runs}}


def _at(run: PanelRun | None, point: int, unit: str = "trials") -> float:
    """The best loss at ``point``: after that many trials, or over the trials finished within
    that cost (NaN when the run is missing or did not get that far)."""
    if run is None or _reach(run, unit) < point:
        return math.nan
    last = point - 1 if unit == "trials" else _within(run, point) - 1
    if last < 0:
        return math.nan
    value = float(run.best[last])
    return value if math.isfinite(value) else math.nan


def _within(run: PanelRun, point: float) -> int:
    """How many of a run's trials had finished within cost ``point``."""
    return int(np.searchsorted(np.asarray(run.cost, dtype=float), point, side="right"))


def _seeds(table: dict[Key, PanelRun], problem: str) -> list[int]:
    return sorted({seed for (p, _, seed) in table if p == problem})


def _regret_rows(
    table: dict[Key, PanelRun],
    problems: list[str],
    tuners: list[str],
    points: list[int],
    optima: dict[str, float],
    unit: str = "trials",
) -> list[dict[str, Any]]:
    rows = []
    for problem in problems:
        seeds = _seeds(table, problem)
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


def _ranks(
    table: dict[Key, PanelRun], problems: list[str], tuners: list[str], n: int, unit: str
) -> dict[tuple[str, int], dict[str, float]]:
    """``(problem, seed) -> {tuner: rank}`` at ``n`` (a missing value ranks last)."""
    out = {}
    for problem in problems:
        for seed in _seeds(table, problem):
            # one pairing: its mean ranks are its ranks (NaN, a missing value, ranks last)
            values: dict[str, Sequence[float]] = {
                t: [_at(table.get((problem, t, seed)), n, unit)] for t in tuners
            }
            out[(problem, seed)] = mean_ranks(values)
    return out


def _rank_rows(
    ranks: dict[tuple[str, int], dict[str, float]], tuners: list[str]
) -> list[dict[str, Any]]:
    rows = []
    for tuner in tuners:
        ci = bootstrap_interval([r[tuner] for r in ranks.values()])
        rows.append({"tuner": tuner, "mean": ci.mean, "low": ci.low, "high": ci.high, "n": ci.n})
    return sorted(rows, key=lambda row: (row["mean"], row["tuner"]))


def _rank_tests(
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


def _problem_tests(
    table: dict[Key, PanelRun],
    problems: list[str],
    tuners: list[str],
    reference: str,
    optima: dict[str, float],
    n: Point,
) -> list[dict[str, Any]]:
    rows = []
    for problem in problems:
        seeds = _seeds(table, problem)
        ref = _finals(table, problem, reference, seeds, optima[problem], n)
        for tuner in tuners:
            if tuner != reference:
                mine = _finals(table, problem, tuner, seeds, optima[problem], n)
                c = paired_comparison(mine, ref, tuner, reference)
                rows.append({"problem": problem, "tuner": tuner, **_test_fields(c)})
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
    return [_at(table.get((problem, tuner, s)), *n) - optimum for s in seeds]


def _test_fields(c: Any) -> dict[str, Any]:
    return {"n": c.n, "diff": c.diff, "p_value": c.p_value, "verdict": c.verdict}


def _cost_rows(
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
        "entries": float(np.mean([_within(r, last) for r in runs])),
    }


def _problem_cost_rows(
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


def markdown(board: Mapping[str, Any]) -> str:
    """A Markdown table of a leaderboard's plain data (:meth:`Leaderboard.to_dict`, as a
    result file keeps it): one row per tuner in rank order with its mean rank and interval, its
    mean ranks at the earlier checkpoints (when the data has them), its test against the
    reference, the problems where its mean regret at the last checkpoint is the lowest, and its
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
        + f"vs `{board['reference']}` (Wilcoxon p) | lowest regret on | {extra} |",
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


def _test_text(test: Mapping[str, Any]) -> str:
    """``better (0.031)``: the verdict and its p-value, where there is one."""
    p = test["p_value"]
    return f"{test['verdict']} ({p:.2g})" if math.isfinite(p) else str(test["verdict"])


def _bracket(low: float, high: float) -> str:
    """``[1.20, 2.40]``, or ``[n/a]`` where there is no interval (one pairing: nothing to
    resample)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "[n/a]"
    return f"[{low:.2f}, {high:.2f}]"
