"""The demo's front page as plain data: the verdict words, a number with its interval, the focus
against another tuner, a run's summary, the focus over every problem run, and the whole page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: The verdict words, in the order the page lists them.
BETTER, WORSE, NOISE, FEW = "better", "worse", "within noise", "too few seeds"
#: The fewest pairs a verdict needs: below 6, the two-sided signed-rank test cannot reach
#: p < 0.05 (its smallest exact p-value is 2 / 2**n).
MIN_PAIRS = 6


@dataclass(frozen=True)
class Spread:
    """A number and its 95% interval.

    Attributes:
        value: The number (a median or a mean).
        low: Lower end of the interval.
        high: Upper end of the interval.
    """

    value: float
    low: float
    high: float

    def text(self, digits: int = 3, signed: bool = False) -> str:
        """``0.0123 [0.0081, 0.02]``: the number, then its interval (``signed``: ``+0.01
        [-0.002, +0.02]``; ``[n/a]`` without an interval, as from one difference)."""
        value = _num(self.value, digits, signed)
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{value} [n/a]"
        low, high = _num(self.low, digits, signed), _num(self.high, digits, signed)
        return f"{value} [{low}, {high}]"


@dataclass
class Pair:
    """The focus tuner against one other tuner.

    Attributes:
        other: The other tuner.
        difference: Mean of focus minus other over paired runs, and its 95% interval.
        n: Number of pairs.
        verdict: ``better``, ``worse``, ``within noise`` or ``too few seeds`` (for the focus).
        p_value: The two-sided Wilcoxon signed-rank p-value of the pairs (NaN: undefined).
    """

    other: str
    difference: Spread
    n: int
    verdict: str
    p_value: float = math.nan

    def text(self, digits: int = 3) -> str:
        """``+0.012 [+0.004, +0.02]``: the signed difference and its interval."""
        return self.difference.text(digits, signed=True)


@dataclass
class RunSummary:
    """One comparison run as the front page shows it.

    Attributes:
        name: The run's name.
        task: The task it tuned.
        link: Its report, relative to the front page.
        measure: ``regret`` (the task knows its optimum) or ``best value``.
        direction: Which way the measure is better (``minimize`` for a regret).
        seeds: The seeds every tuner ran.
        trials: Trials per study.
        tuners: The tuners, in the run's order.
        scores: ``tuner -> {seed: final score}``.
        spreads: ``tuner ->`` median score over seeds and its interval.
        seconds: ``tuner ->`` median seconds a study took.
        pairs: The focus against each other tuner.
    """

    name: str
    task: str
    link: str
    measure: str
    direction: str
    seeds: list[int]
    trials: int
    tuners: list[str]
    scores: dict[str, dict[int, float]]
    spreads: dict[str, Spread]
    seconds: dict[str, float]
    pairs: list[Pair] = field(default_factory=list)


@dataclass
class Overall:
    """The focus over every problem run, by ranks.

    Attributes:
        problems: How many problem runs.
        n: How many (problem, seed) rankings.
        ranks: ``tuner ->`` mean rank (1 = best) and its interval.
        pairs: The focus's rank difference to each other tuner (negative: ranked better).
        tally: ``other tuner -> {verdict: number of problems}`` from the per-problem pairs.
    """

    problems: int
    n: int
    ranks: dict[str, Spread]
    pairs: list[Pair]
    tally: dict[str, dict[str, int]]


@dataclass
class DemoRecords:
    """Everything the demo's front page shows.

    Attributes:
        focus: The tuner the page is about.
        problems: The problem runs.
        overall: The focus over all of them (``None`` without problem runs).
        live: The live run (``None``: not run).
        experiments: Names of the experiments run (empty: none).
        experiments_link: Their page, relative to the front page.
        headline: The first screen's plain sentences.
        tuners: ``name -> description`` of each tuner compared (as ``hyperlab list`` says).
    """

    focus: str
    problems: list[RunSummary]
    overall: Overall | None
    live: RunSummary | None = None
    experiments: list[str] = field(default_factory=list)
    experiments_link: str | None = None
    headline: list[str] = field(default_factory=list)
    tuners: dict[str, str] = field(default_factory=dict)


def _num(v: float, digits: int = 3, signed: bool = False) -> str:
    if not math.isfinite(v):
        return "n/a"
    return f"{v:+.{digits}g}" if signed else f"{v:.{digits}g}"
