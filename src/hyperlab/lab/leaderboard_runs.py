"""A leaderboard's input: one :class:`PanelRun` per (problem, tuner, seed), checked, and read
at a checkpoint (after a number of trials, or within a cost such as epochs), with each
problem's optimum (the known one, else the best any run found).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hyperlab.errors import InputError

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


Key = tuple[str, str, int]
#: A checkpoint and its unit: ``(100, "trials")``, ``(1040, "epochs")``.
Point = tuple[int, str]


def checkpoints_read(runs: Sequence[PanelRun], checkpoints: Sequence[int], unit: str) -> list[int]:
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


def index_runs(runs: Sequence[PanelRun], unit: str = "trials") -> dict[Key, PanelRun]:
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


def problem_optima(runs: Sequence[PanelRun]) -> dict[str, float]:
    """Each problem's optimum: the known one, else the best loss any run found."""
    known = {r.problem: float(r.optimum) for r in runs if r.optimum is not None}
    found: dict[str, float] = {}
    for r in runs:
        last = float(r.best[-1])
        if math.isfinite(last):
            found[r.problem] = min(found.get(r.problem, math.inf), last)
    return {p: known.get(p, found.get(p, math.nan)) for p in {r.problem for r in runs}}


def best_at(run: PanelRun | None, point: int, unit: str = "trials") -> float:
    """The best loss at ``point``: after that many trials, or over the trials finished within
    that cost (NaN when the run is missing or did not get that far)."""
    if run is None or _reach(run, unit) < point:
        return math.nan
    last = point - 1 if unit == "trials" else trials_within(run, point) - 1
    if last < 0:
        return math.nan
    value = float(run.best[last])
    return value if math.isfinite(value) else math.nan


def trials_within(run: PanelRun, point: float) -> int:
    """How many of a run's trials had finished within cost ``point``."""
    return int(np.searchsorted(np.asarray(run.cost, dtype=float), point, side="right"))


def seeds_of(table: dict[Key, PanelRun], problem: str) -> list[int]:
    return sorted({seed for (p, _, seed) in table if p == problem})
