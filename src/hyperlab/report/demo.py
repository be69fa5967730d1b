"""The demo's front page as plain data: one tuner (the focus) against each of the others, over
several comparison runs on cheap problems with a known optimum and one live run.

Each run is a :func:`hyperlab.compare` run folder. In a run, each tuner's study of each seed
ends at a final **score**: the regret of its best trial (how far it is from the problem's best
known value; lower is better) where the task knows its optimum, else the best value itself, read
in the run's direction. Then:

- per run and tuner: the median score over seeds and a 95% bootstrap interval of that median
  (:func:`hyperlab.lab.stats.bootstrap_band`), and the median seconds a study took;
- per run, the focus against each other tuner: the mean of the paired differences (focus minus
  other, same seeds) and its 95% bootstrap interval (:func:`hyperlab.lab.stats.paired_interval`).
  The verdict is ``better`` or ``worse`` only where that interval leaves out zero and
  :func:`hyperlab.lab.stats.paired_comparison` agrees (twice the standard error, Wilcoxon
  p < 0.05), else ``within noise``; with fewer than :data:`MIN_PAIRS` seeds, ``too few seeds``
  (a percentile bootstrap over 2 to 5 values is too narrow to trust);
- over the problem runs: in every (problem, seed) the tuners are ranked by score (1 = best,
  :func:`hyperlab.lab.stats.mean_ranks`); each tuner's mean rank gets a bootstrap interval and
  the focus's rank difference to each other tuner a paired one, with the same verdict rule.
  Ranks put problems of different scales on one footing.

:func:`headline` turns the records into the plain sentences of the page's first screen;
:mod:`hyperlab.report.demo_html` renders the page.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna

from hyperlab.direction import MINIMIZE
from hyperlab.errors import HyperlabError, InputError
from hyperlab.lab.results import study_records
from hyperlab.lab.run_folder import RunDir
from hyperlab.lab.rundir import load_studies
from hyperlab.lab.stats import (
    Interval,
    bootstrap_band,
    bootstrap_interval,
    mean_ranks,
    paired_comparison,
    paired_interval,
)
from hyperlab.registry import TASKS, TUNERS

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


def verdict(interval: Interval, test: str) -> str:
    """The focus's verdict from the interval of its paired differences (focus minus other) and
    the verdict of :func:`hyperlab.lab.stats.paired_comparison` on the same pairs.

    ``better`` or ``worse`` only where both say so: the interval leaves out zero and the
    difference passes twice its standard error and the signed-rank test. Fewer than
    :data:`MIN_PAIRS` pairs cannot pass that test: ``too few seeds``.
    """
    if interval.n < MIN_PAIRS or not math.isfinite(interval.mean):
        return FEW
    if interval.contains_zero() or test not in (BETTER, WORSE):
        return NOISE
    return test


def pair(focus: Sequence[float], other: Sequence[float], name: str, direction: str) -> Pair:
    """The focus against ``name`` over paired values, read in ``direction`` (see
    :func:`verdict`)."""
    iv = paired_interval(focus, other)
    test = paired_comparison(focus, other, direction=direction)
    spread = Spread(iv.mean, iv.low, iv.high)
    return Pair(name, spread, iv.n, verdict(iv, test.verdict), test.p_value)


def _by_seed(focus: dict[int, float], other: dict[int, float], name: str, direction: str) -> Pair:
    seeds = sorted(set(focus) & set(other))
    return pair([focus[s] for s in seeds], [other[s] for s in seeds], name, direction)


def _median(values: Sequence[float]) -> Spread:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return Spread(math.nan, math.nan, math.nan)
    if len(finite) == 1:  # one seed: no spread to resample ([n/a], not [x, x])
        return Spread(finite[0], math.nan, math.nan)
    med, low, high = bootstrap_band(np.asarray(finite, dtype=float)[:, None])
    return Spread(float(med[0]), float(low[0]), float(high[0]))


def _seconds(study: optuna.Study) -> float:
    """Seconds from the study's first trial start to its last trial's end (suggestions too)."""
    trials = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    if not starts or not ends:
        return math.nan
    return (max(ends) - min(starts)).total_seconds()


def _optimum(task: str | None, options: dict[str, object]) -> float | None:
    if task is None:
        return None
    try:
        return TASKS.create(task, **options).optimum
    except (HyperlabError, ImportError, TypeError, ValueError):
        return None  # a page never fails for want of the task: its best values are shown


def run_summary(run_dir: str | Path, focus: str, base: str | Path | None = None) -> RunSummary:
    """The :class:`RunSummary` of one comparison run (see the module doc).

    Args:
        run_dir: The run's folder (holds ``run.json``).
        focus: The tuner compared with every other one (no pairs when the run lacks it).
            A run with several pruners is read on its first pruner's studies.
        base: The folder of the page that links to the run's report (default: ``run_dir``'s
            parent).

    Raises:
        InputError: The run is not a comparison.
    """
    run_dir = Path(run_dir)
    spec = RunDir(run_dir).load_spec()
    if spec.kind != "compare":
        raise InputError(f"run {str(run_dir)!r} is a {spec.kind} run, not a comparison")
    optimum = _optimum(spec.task, dict(spec.task_options))
    scores: dict[str, dict[int, float]] = {t: {} for t in spec.tuners}
    times: dict[str, list[float]] = {t: [] for t in spec.tuners}
    for study, tuner, pruner, seed in load_studies(run_dir):
        if pruner != spec.pruners[0]:
            continue  # one study per tuner and seed: the first pruner's
        recs = study_records(study, tuner, pruner, seed, optimum)
        key = "regret" if optimum is not None else "best_so_far"
        scores[tuner][seed] = float(recs[-1][key]) if recs else math.nan
        times[tuner].append(_seconds(study))
    direction = MINIMIZE if optimum is not None else spec.direction
    summary = RunSummary(
        name=spec.name,
        task=str(spec.task or spec.objective or spec.name),
        link=os.path.relpath(run_dir / "report.html", base or run_dir.parent),
        measure="regret" if optimum is not None else "best value",
        direction=direction,
        seeds=list(spec.seeds),
        trials=spec.trials,
        tuners=list(spec.tuners),
        scores=scores,
        spreads={t: _median(list(v.values())) for t, v in scores.items()},
        seconds={t: _median(v).value for t, v in times.items()},
    )
    if focus in scores:
        summary.pairs = [
            _by_seed(scores[focus], scores[t], t, direction) for t in spec.tuners if t != focus
        ]
    return summary


def overall(runs: Sequence[RunSummary], focus: str) -> Overall | None:
    """The focus over ``runs`` by ranks (``None`` when no run has the focus and another tuner)."""
    runs = [r for r in runs if focus in r.tuners and len(r.tuners) > 1]
    if not runs:
        return None
    tuners = [t for t in runs[0].tuners if all(t in r.tuners for r in runs)]
    rows: dict[str, list[float]] = {t: [] for t in tuners}
    for run in runs:
        for seed in sorted(set.intersection(*(set(run.scores[t]) for t in tuners))):
            ranks = mean_ranks({t: [run.scores[t][seed]] for t in tuners}, run.direction)
            for t in tuners:
                rows[t].append(ranks[t])
    spreads = {}
    for t, ranks_of in rows.items():
        iv = bootstrap_interval(ranks_of)
        spreads[t] = Spread(iv.mean, iv.low, iv.high)
    pairs = [pair(rows[focus], rows[t], t, MINIMIZE) for t in tuners if t != focus]
    tally = {p.other: {v: 0 for v in (BETTER, WORSE, NOISE, FEW)} for p in pairs}
    for run in runs:
        for p in run.pairs:
            if p.other in tally:
                tally[p.other][p.verdict] += 1
    return Overall(len(runs), len(rows[focus]), spreads, pairs, tally)


def _and(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _sizes(runs: Sequence[RunSummary]) -> str:
    """``8 seeds × 20 trials`` (the sizes of every run, when they differ)."""
    sizes = sorted({(len(r.seeds), r.trials) for r in runs})
    return " or ".join(f"{s} seed{'s' * (s != 1)} × {t} trials" for s, t in sizes)


def _lede(rec: DemoRecords, ov: Overall) -> str:
    words = {
        BETTER: "better than",
        WORSE: "worse than",
        NOISE: "within noise of",
        FEW: f"not judged (fewer than {MIN_PAIRS} pairs) against",
    }
    groups = {v: [p.other for p in ov.pairs if p.verdict == v] for v in words}
    parts = [f"{words[v]} {_and(names)}" for v, names in groups.items() if names]
    # 'ranked' goes with a ranking only: 'meta was not judged ... against random', not
    # 'meta ranked not judged ...'
    verb = "ranked" if any(groups[v] for v in (BETTER, WORSE, NOISE)) else "was"
    return (
        f"Over {ov.problems} problem{'s' * (ov.problems != 1)} with a known optimum "
        f"({_sizes(rec.problems)} each), {rec.focus} {verb} {'; '.join(parts)} (mean rank "
        f"among {len(ov.ranks)} tuners over {ov.n} problem × seed runs; 95% intervals below)."
    )


def _against(rec: DemoRecords, ov: Overall, p: Pair) -> str:
    t = ov.tally[p.other]
    few = f", too few seeds on {t[FEW]}" if t[FEW] else ""
    ranks = ov.ranks
    return (
        f"Against {p.other}: lower regret on {t[BETTER]} of {ov.problems} "
        f"problem{'s' * (ov.problems != 1)}, higher on "
        f"{t[WORSE]}, within noise on {t[NOISE]}{few}; mean rank {ranks[rec.focus].text(3)} "
        f"against {ranks[p.other].text(3)}, difference {p.text(2)}: {p.verdict}."
    )


def _live(rec: DemoRecords, live: RunSummary) -> str:
    better = "higher" if live.direction == "maximize" else "lower"
    first = (
        f"Live run on {live.task} ({_sizes([live])}; {live.measure}, {better} is better): "
        f"{rec.focus} {live.spreads[rec.focus].text()}"
        if rec.focus in live.spreads
        else f"Live run on {live.task} ({_sizes([live])}): {rec.focus} did not run"
    )
    rest = [
        f"against {p.other} {live.spreads[p.other].text()}: difference {p.text()}, {p.verdict}"
        for p in live.pairs
    ]
    return "; ".join([first, *rest]) + "."


def headline(rec: DemoRecords) -> list[str]:
    """The first screen's plain sentences: the verdict over the problems, one sentence per
    other tuner, the live run and the experiments; every number with its 95% interval."""
    lines = []
    if rec.overall is not None:
        lines.append(_lede(rec, rec.overall))
        lines += [_against(rec, rec.overall, p) for p in rec.overall.pairs]
    if rec.live is not None:
        lines.append(_live(rec, rec.live))
    if rec.experiments:
        lines.append(
            f"Hypergradient experiments (quick versions; their numbers are not conclusive): "
            f"{_and(rec.experiments)}, each on the experiments page."
        )
    return lines


def demo_records(
    problems: Sequence[str | Path],
    live: str | Path | None = None,
    *,
    focus: str = "meta",
    experiments: Sequence[str] = (),
    experiments_page: str | Path | None = None,
    base: str | Path | None = None,
) -> DemoRecords:
    """The records of the demo's front page.

    Args:
        problems: Comparison run folders on problems with a known optimum.
        live: The live comparison run's folder (``None``: not run).
        focus: The tuner the page compares with every other one.
        experiments: Names of the experiments run.
        experiments_page: Their page.
        base: The front page's folder (links are relative to it; default: the first run's
            parent).

    Raises:
        InputError: Neither problem runs nor a live run, or a run that is not a comparison.
    """
    folders = [Path(p) for p in problems] + ([Path(live)] if live is not None else [])
    if not folders:
        raise InputError("the demo page needs at least one comparison run")
    base = Path(base) if base is not None else folders[0].parent
    runs = [run_summary(p, focus, base) for p in problems]
    rec = DemoRecords(
        focus=focus,
        problems=runs,
        overall=overall(runs, focus),
        live=run_summary(live, focus, base) if live is not None else None,
        experiments=list(experiments),
        experiments_link=(
            os.path.relpath(experiments_page, base) if experiments_page is not None else None
        ),
    )
    rec.headline = headline(rec)
    known = {e.name: e.description for e in TUNERS.entries()}
    names = dict.fromkeys(t for r in [*runs, rec.live] if r is not None for t in r.tuners)
    rec.tuners = {t: known[t] for t in names if t in known}
    return rec


def write_demo_report(rec: DemoRecords, folder: str | Path) -> Path:
    """Write the front page of ``rec`` (see :func:`demo_records`; its links are relative to
    ``folder``) to ``folder/report.html`` and return its path."""
    from hyperlab.report.demo_html import render_demo

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "report.html"
    out.write_text(render_demo(rec), encoding="utf-8")
    return out
