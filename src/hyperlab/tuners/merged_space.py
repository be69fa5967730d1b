"""The search space the meta and neural tuners model when none is given: read from the trials.

The parameters every finished trial has (as Optuna's intersection search space), but a
numeric parameter whose range differs between trials keeps the union of their ranges where
Optuna's intersection leaves it out: a range that depends on another parameter's value
(``suggest_int("bottleneck", 4, units)``), or trials added from an earlier study
(``study.add_trial``) whose range was narrower or wider. Left out, such a parameter would be
drawn at random for the rest of the study. A value the union proposes outside the range the
trial asks for is drawn at random for that trial (Optuna's rule for a relative sample).

A parameter whose trials disagree otherwise is left out, as in Optuna: other choices of a
categorical, an int in one trial and a float in another, a log axis and a linear one, or
another grid (``step``, or a grid shifted against the other).

Float grids whose bounds differ by a rounding (``0.1 + 0.2`` against ``0.3``) are one grid,
and their union is snapped onto it: the shortest decimal within a rounding of the lowest bound
(:func:`within_rounding`), and the grid point as many whole steps above it as the union spans.
Optuna takes that range as it is (it shrinks a float range whose decimals are no whole number
of steps, a whole step at times, with a warning), and a trial's value that misses a bound of it
by a rounding is read at that bound (:func:`hyperlab.tuners.trial_points.encode_trial`).
"""

from __future__ import annotations

import decimal
import math

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.study import Study
from optuna.trial import TrialState


class MergedSpace:
    """The merged search space of each study (see the module docstring), updated as trials
    finish.

    Each call reads what the last one kept and keeps its own result whole, the trials it
    merged with the space they give, so that threads sharing it (Optuna's ``n_jobs``; the
    diagnosis tuner takes no lock) never keep a space without a trial marked as merged.

    Args:
        include_pruned: Pruned trials count as finished (else only complete ones).
    """

    def __init__(self, include_pruned: bool) -> None:
        self._states = (TrialState.COMPLETE, TrialState.PRUNED)[: 2 if include_pruned else 1]
        self._kept: dict[str, tuple[frozenset[int], dict[str, BaseDistribution] | None]] = {}

    def calculate(self, study: Study) -> dict[str, BaseDistribution]:
        """The parameters of every finished trial of ``study``, over their merged ranges."""
        name = study.study_name
        scanned, space = self._kept.get(name, (frozenset(), None))
        new = set()
        for t in study.get_trials(deepcopy=False, states=self._states):
            if t.number in scanned or t.number in new:
                continue
            new.add(t.number)
            if space is None:
                space = dict(t.distributions)
                continue
            space = {
                p: both
                for p, dist in space.items()
                if (both := merge(dist, t.distributions.get(p))) is not None
            }
        if new:
            self._kept[name] = (scanned | new, space)  # one assignment: never half of it
        return dict(sorted((space or {}).items()))

    def has_read(self, study: Study) -> bool:
        """Whether :meth:`calculate` has read a finished trial of ``study`` (before one has,
        its space is empty for want of trials, not because the trials disagree)."""
        return bool(self._kept.get(study.study_name, (frozenset(), None))[0])


def merge(a: BaseDistribution, b: BaseDistribution | None) -> BaseDistribution | None:
    """One distribution over the ranges of ``a`` and ``b``, or None when they disagree
    otherwise (see the module docstring) or ``b`` is missing."""
    if b is None or a == b:
        return None if b is None else a
    if isinstance(a, CategoricalDistribution) or type(a) is not type(b):
        return None
    assert isinstance(a, IntDistribution | FloatDistribution)
    assert isinstance(b, IntDistribution | FloatDistribution)
    if a.log != b.log or a.step != b.step:
        return None
    if a.step is not None and not _on_one_grid(a.low, b.low, a.step):
        return None
    low, high = min(a.low, b.low), max(a.high, b.high)
    if isinstance(a, IntDistribution):
        return IntDistribution(int(low), int(high), log=a.log, step=int(a.step))
    if a.step is not None:
        low, high = _snapped(low, high, a.step)
    return FloatDistribution(low, high, log=a.log, step=a.step)


#: How far (in steps) two float bounds may lie apart and still be one point of a grid.
ROUNDING = 1e-9


def within_rounding(a: float, b: float, step: float) -> bool:
    """Whether ``a`` and ``b`` are one point of a float grid of ``step``: :data:`ROUNDING`
    steps apart at most, or a few units in their last place (a step small for its values)."""
    return abs(a - b) <= max(ROUNDING * step, 8 * math.ulp(max(abs(a), abs(b))))


def _on_one_grid(low_a: float, low_b: float, step: float) -> bool:
    """Whether grids of ``step`` starting at ``low_a`` and ``low_b`` share their points."""
    cells = (low_a - low_b) / step
    return math.isclose(cells, round(cells), abs_tol=ROUNDING)


def _snapped(low: float, high: float, step: float) -> tuple[float, float]:
    """``low`` and ``high`` moved by a rounding at most onto a grid of ``step`` whose decimals
    span whole steps, as Optuna reads a float range (see the module docstring); unmoved when
    no such grid is found (a ``step`` that is itself a rounding off a short decimal)."""
    cells = round((high - low) / step)
    with decimal.localcontext() as context:  # (keywords here need Python 3.11)
        context.prec = 60
        exact, d_step = decimal.Decimal(repr(low)), decimal.Decimal(repr(step))
        for places in range(min(0, -exact.adjusted()), 18 - exact.adjusted()):  # shortest first
            d_low = exact.quantize(decimal.Decimal(1).scaleb(-places))
            new_low, new_high = float(d_low), float(d_low + cells * d_step)
            if not (within_rounding(new_low, low, step) and within_rounding(new_high, high, step)):
                continue
            span = decimal.Decimal(repr(new_high)) - decimal.Decimal(repr(new_low))
            if span % d_step == 0:
                return new_low, new_high
    return low, high
