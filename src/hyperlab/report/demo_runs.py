"""The demo's statistics: each comparison run summarized (scores, medians with their intervals,
the focus against each other tuner, with its verdict) and the focus over every problem run, by
ranks (see :mod:`hyperlab.report.demo`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
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
from hyperlab.registry import TASKS
from hyperlab.report.demo_types import (
    BETTER,
    FEW,
    MIN_PAIRS,
    NOISE,
    WORSE,
    Overall,
    Pair,
    RunSummary,
    Spread,
)


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
