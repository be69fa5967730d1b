"""Guards of :class:`~hyperlab.pruners.curve.LearningCurvePruner`: trials it never stops.

A curve predictor can be confidently wrong, most of all about the trials that matter: the
eventual winner is often mediocre early, and a predictor pretrained on other tasks has not seen
this task's curves. So before a prediction decides, the pruner keeps

- the best trial at its epoch, and one whose value already beats every complete trial's final
  value (:class:`Standing`, :func:`beats_every_final`),
- with ``protect``, every trial ranked in that top fraction at its epoch
  (:meth:`Standing.protected`),

and, with ``audit``, lets its own record overrule a stop (:class:`PredictionAudit`). Values are
sign-adjusted (minimized) as in :mod:`hyperlab.pruners.trials`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from hyperlab.pruners.trials import values_at


@dataclass(frozen=True)
class Standing:
    """A trial's place among all trials' values at its epoch.

    Attributes:
        better: Other trials with a better (lower) value at the epoch.
        n: Trials with a finite value at the epoch, this one included.
    """

    better: int
    n: int

    @classmethod
    def at(cls, value: float, others: list[FrozenTrial], step: int, sign: float) -> Standing:
        """The standing of a trial whose (sign-adjusted) value at ``step`` is ``value``."""
        at_step = values_at(others, step, sign)
        return cls(better=sum(v < value for v in at_step), n=len(at_step) + 1)

    @property
    def leads(self) -> bool:
        """No other trial is better at the epoch (or none has a value there)."""
        return self.better == 0

    @property
    def fraction(self) -> float:
        """The rank as a fraction: trials better than this one over all trials at the epoch."""
        return self.better / self.n

    def protected(self, protect: float) -> bool:
        """Whether the trial ranks in the top ``protect`` fraction at its epoch."""
        return self.better < protect * self.n


def beats_every_final(value: float, finals: np.ndarray) -> bool:
    """Whether ``value`` is already no worse than every complete trial's final value."""
    return bool(finals.size and value <= finals.min())


class PredictionAudit:
    """The pruner's record of its own predictions, which can overrule a stop.

    It keeps the predictions made for trials that went on to finish and, for a new stop, the
    share of those made at a similar rank (within a factor of two of the trial's rank fraction
    at its epoch; at least :attr:`MIN_RECORD` of them) whose trial ended below its prediction by
    more stds than this trial needs to beat the reference. The pruner stops a trial only when
    that share is also below its threshold. This corrects, from the study's own outcomes, a
    predictor that is too sure about the contenders: a lower tail right over all curves but too
    narrow for the best ones. The record holds only finished trials, so it learns nothing from
    the trials it stopped.
    """

    #: Predictions at a similar rank needed before the record is read.
    MIN_RECORD = 20

    def __init__(self) -> None:
        # trial number -> (mean, std, rank fraction) of each prediction made for it
        self.made: dict[int, list[tuple[float, float, float]]] = {}

    def remember(self, number: int, prediction: tuple[float, float], rank: float) -> None:
        """Keep the prediction ``(mean, std)`` made for trial ``number`` at rank ``rank``."""
        self.made.setdefault(number, []).append((*prediction, rank))

    def share_beaten(
        self,
        others: list[FrozenTrial],
        sign: float,
        prediction: tuple[float, float],
        reference: float,
        rank: float,
        budget: int,
    ) -> float:
        """The share of earlier predictions at a rank like ``rank`` (finished trials only) that
        their trial's final value beat by more stds than ``reference`` beats this trial's
        predicted mean; 0 with fewer than :attr:`MIN_RECORD` of them.

        Args:
            others: The study's other trials.
            sign: The study's sign (values are minimized).
            prediction: This trial's predicted final ``(mean, std)``.
            reference: The final value this trial must beat.
            rank: This trial's rank fraction at its epoch.
            budget: The final step.
        """
        mean, std = prediction
        finals = {
            t.number: sign * t.intermediate_values.get(budget, t.value)
            for t in others
            if t.number in self.made
            and t.state == TrialState.COMPLETE
            and t.value is not None
            and (t.last_step or 0) >= budget
        }
        z = [
            (final - m) / s
            for number, final in finals.items()
            for m, s, r in self.made[number]
            if rank / 2 <= r <= max(2 * rank, 0.02) and s > 0 and math.isfinite(final)
        ]
        if len(z) < self.MIN_RECORD:
            return 0.0
        return float(np.mean(np.array(z) < (reference - mean) / max(std, 1e-300)))
