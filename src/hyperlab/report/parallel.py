"""Report records of a parallel-coordinates plot: one axis per parameter, then the score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial

from hyperlab.report.trials import trial_value


@dataclass
class ParallelAxis:
    """One axis of the parallel-coordinates plot.

    Attributes:
        label: The parameter's name (``value`` for the score).
        values: Each trial's position on the axis: the number (its log10 on a ``log`` axis),
            a categorical choice's index, or ``None`` where the trial lacks the parameter.
        tickvals: Tick positions, ascending.
        ticktext: Their labels (numbers to 4 significant digits).
        log: Whether positions are log10 of the values.
        absent_at: Where trials lacking the parameter are drawn (below every tick; ``None``
            when every trial has it).
    """

    label: str
    values: list[float | None]
    tickvals: list[float]
    ticktext: list[str]
    log: bool = False
    absent_at: float | None = None


def parallel_axes(trials: Sequence[FrozenTrial]) -> list[ParallelAxis]:
    """The axes of a parallel-coordinates plot of completed ``trials``: one per parameter (by
    name; numbers on numeric axes, log10 on log-scale ones), then the score (``value``)."""
    names = sorted({name for t in trials for name in t.params})
    axes = [_param_axis(name, trials) for name in names]
    axes.append(_numeric_axis("value", [trial_value(t) for t in trials], log=False))
    return axes


#: A parameter a trial did not suggest (``None`` may be a categorical's choice).
_ABSENT = object()


def _param_axis(name: str, trials: Sequence[FrozenTrial]) -> ParallelAxis:
    dists = [t.distributions[name] for t in trials if name in t.distributions]
    if any(isinstance(d, CategoricalDistribution) for d in dists):
        given = [t.params[name] if name in t.params else _ABSENT for t in trials]
        return _categorical_axis(name, dists, given)
    values = [t.params.get(name) if name in t.params else None for t in trials]
    log = any(getattr(d, "log", False) for d in dists)
    integer = all(isinstance(d, IntDistribution) for d in dists)
    numbers = [None if v is None else float(v) for v in values]
    return _numeric_axis(name, numbers, log=log, integer=integer)


def _categorical_axis(name: str, dists: list[Any], values: list[Any]) -> ParallelAxis:
    choices: list[Any] = []
    for d in dists:
        for c in getattr(d, "choices", ()):
            if c not in choices:
                choices.append(c)
    for v in values:  # a value outside every recorded distribution still gets a place
        if v is not _ABSENT and v not in choices:
            choices.append(v)
    positions: list[float | None] = [
        None if v is _ABSENT else float(choices.index(v)) for v in values
    ]
    return ParallelAxis(
        label=name,
        values=positions,
        tickvals=[float(i) for i in range(len(choices))],
        ticktext=[_number(c) if isinstance(c, float) else str(c) for c in choices],
        absent_at=-1.0 if any(v is _ABSENT for v in values) else None,
    )


def _numeric_axis(
    name: str, values: list[float | None], log: bool, integer: bool = False
) -> ParallelAxis:
    present = [v for v in values if v is not None]
    log = log and bool(present) and all(v > 0 for v in present)
    pos: list[float | None] = [None if v is None else (math.log10(v) if log else v) for v in values]
    known = [p for p in pos if p is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    ticks = _int_ticks(lo, hi) if integer and not log else _ticks(lo, hi, log)
    if integer and log:  # whole numbers at their places on the log axis
        ticks = sorted({math.log10(max(1, round(10**t))) for t in ticks})
    return ParallelAxis(
        label=name,
        values=pos,
        tickvals=ticks,
        ticktext=[_number(10**t if log else t) for t in ticks],
        log=log,
        absent_at=(lo - (0.2 * (hi - lo) if hi > lo else 1.0)) if None in pos else None,
    )


#: At most about this many decades get a tick on a log axis (a wider one gets every k-th).
MAX_DECADE_TICKS = 12


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    """Tick positions from ``lo`` to ``hi``: on a log axis that spans two or more whole decades,
    those and both ends (unless next to a decade), else five evenly spaced (one when
    ``lo == hi``)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    if log and math.floor(hi) - math.ceil(lo) >= 1:
        step = max(1, math.ceil((math.floor(hi) - math.ceil(lo)) / MAX_DECADE_TICKS))
        decades = [float(d) for d in range(math.ceil(lo), math.floor(hi) + 1, step)]
        ends = [e for e in (lo, hi) if min(abs(e - d) for d in decades) > 0.25 * step]
        return sorted(decades + ends)
    return [float(t) for t in np.linspace(lo, hi, 5)]


def _int_ticks(lo: float, hi: float) -> list[float]:
    """Whole-number ticks from ``lo`` to ``hi``: each one on a short axis, else five rounded."""
    if hi - lo <= 10:
        return [float(i) for i in range(round(lo), round(hi) + 1)]
    return sorted({float(round(t)) for t in _ticks(lo, hi, log=False)})


def _number(v: float) -> str:
    """A number to 4 significant digits."""
    return f"{v:.4g}"
