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
  bootstrap interval;
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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    """

    problem: str
    tuner: str
    seed: int
    best: Sequence[float]
    wall_time: float = math.nan
    suggest_time: float = math.nan
    optimum: float | None = None


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

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


def leaderboard(
    runs: Sequence[PanelRun],
    checkpoints: Sequence[int] = CHECKPOINTS,
    reference_group: Sequence[str] = (),
) -> Leaderboard:
    """The leaderboard of ``runs`` (see the module doc).

    Args:
        runs: One run per (problem, tuner, seed); every tuner should have run every problem
            with the same seeds (a missing run ranks last).
        checkpoints: Trial counts to read the regret at (those no run reached are left out; the
            longest run's length is added).
        reference_group: Tuners whose best-ranked one every tuner is tested against (empty:
            the best-ranked tuner of the whole panel).

    Raises:
        InputError: No runs, a run with no trials, a checkpoint that is not a positive integer,
            or two runs of the same problem, tuner and seed.
    """
    table = _index(runs)
    tuners = sorted({r.tuner for r in runs})
    problems = sorted({r.problem for r in runs})
    longest = max(len(r.best) for r in runs)
    points = sorted({_checkpoint(c) for c in checkpoints if _checkpoint(c) <= longest} | {longest})
    optima = _optima(runs)
    board = Leaderboard(tuners, problems, points, None)
    board.regret = _regret_rows(table, problems, tuners, points, optima)
    ranks = _ranks(table, problems, tuners, points[-1])
    board.ranks = _rank_rows(ranks, tuners)
    group = [t for t in tuners if t in set(reference_group)] or tuners
    by_rank = {row["tuner"]: row["mean"] for row in board.ranks}
    board.reference = min(group, key=lambda t: (by_rank[t], t))
    board.tests = _rank_tests(ranks, tuners, board.reference)
    board.problem_tests = _problem_tests(
        table, problems, tuners, board.reference, optima, points[-1]
    )
    board.cost = _cost_rows(runs, tuners)
    return board


Key = tuple[str, str, int]


def _index(runs: Sequence[PanelRun]) -> dict[Key, PanelRun]:
    if not runs:
        raise InputError("a leaderboard needs at least one run, got none")
    table: dict[Key, PanelRun] = {}
    for r in runs:
        key = (r.problem, r.tuner, r.seed)
        if key in table:
            raise InputError(f"two runs of {r.tuner!r} on {r.problem!r} with seed {r.seed}")
        if len(r.best) == 0:
            raise InputError(f"the run of {r.tuner!r} on {r.problem!r} (seed {r.seed}) is empty")
        table[key] = r
    return table


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


def _at(run: PanelRun | None, trials: int) -> float:
    """The best loss after ``trials`` trials (NaN when the run is missing or shorter)."""
    if run is None or len(run.best) < trials:
        return math.nan
    value = float(run.best[trials - 1])
    return value if math.isfinite(value) else math.nan


def _seeds(table: dict[Key, PanelRun], problem: str) -> list[int]:
    return sorted({seed for (p, _, seed) in table if p == problem})


def _regret_rows(
    table: dict[Key, PanelRun],
    problems: list[str],
    tuners: list[str],
    points: list[int],
    optima: dict[str, float],
) -> list[dict[str, Any]]:
    rows = []
    for problem in problems:
        seeds = _seeds(table, problem)
        for tuner in tuners:
            for n in points:
                regrets = [_at(table.get((problem, tuner, s)), n) - optima[problem] for s in seeds]
                finite = [v for v in regrets if math.isfinite(v)]
                ci = bootstrap_interval(finite)
                rows.append(
                    {
                        "problem": problem,
                        "tuner": tuner,
                        "trials": n,
                        "mean": ci.mean,
                        "low": ci.low,
                        "high": ci.high,
                        "median": float(np.median(finite)) if finite else math.nan,
                        "n": len(finite),
                    }
                )
    return rows


def _ranks(
    table: dict[Key, PanelRun], problems: list[str], tuners: list[str], n: int
) -> dict[tuple[str, int], dict[str, float]]:
    """``(problem, seed) -> {tuner: rank}`` at ``n`` trials (a missing value ranks last)."""
    out = {}
    for problem in problems:
        for seed in _seeds(table, problem):
            # one pairing: its mean ranks are its ranks (NaN, a missing value, ranks last)
            values: dict[str, Sequence[float]] = {
                t: [_at(table.get((problem, t, seed)), n)] for t in tuners
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
    n: int,
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
    n: int,
) -> list[float]:
    """The regret of ``tuner`` on ``problem`` after ``n`` trials for each seed (NaN for a
    missing run or one shorter than ``n``): the point the ranks are read at."""
    return [_at(table.get((problem, tuner, s)), n) - optimum for s in seeds]


def _test_fields(c: Any) -> dict[str, Any]:
    return {"n": c.n, "diff": c.diff, "p_value": c.p_value, "verdict": c.verdict}


def _cost_rows(runs: Sequence[PanelRun], tuners: list[str]) -> list[dict[str, Any]]:
    rows = []
    for tuner in tuners:
        mine = [r for r in runs if r.tuner == tuner]
        timed = [r for r in mine if math.isfinite(r.suggest_time)]
        trials = sum(len(r.best) for r in timed)
        suggest = [r.suggest_time for r in timed]
        walls = [r.wall_time for r in mine if math.isfinite(r.wall_time)]
        rows.append(
            {
                "tuner": tuner,
                "runs": len(mine),
                "wall_time": float(np.mean(walls)) if walls else math.nan,
                "suggest_per_trial": sum(suggest) / trials if suggest and trials else math.nan,
            }
        )
    return rows
