"""Whether the values a study's trials report run against the study's direction.

A trial's reports (``trial.report``, a task's ``on_epoch``) improve as its model trains: a loss
falls, an accuracy rises. When most trials' reports instead end clearly worse than they began,
in the study's direction, the run optimizes the wrong way: an accuracy minimized because
``--direction maximize`` was left out, or a loss reported while an accuracy is returned and
maximized. Nothing fails then, but every result is wrong: the tuner chases the worst score, or
the pruners (which read the reports in the study's direction) stop the trials that look best
and keep the worst. :func:`against_direction` says so from the trials' curves.

A curve counts when it has :data:`MIN_REPORTS` finite reports or more and moved clearly: its
last report differs from its first by more than twice its median epoch-to-epoch change (a flat,
noisy curve, as a model near its best gives, says nothing either way). The note needs
:data:`MIN_CURVES` such curves, at least :data:`SHARE` of them worse at their end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from hyperlab.direction import MAXIMIZE, name_of, sign

#: Finite reports a curve needs to count (with three, a steady curve never moves "clearly").
MIN_REPORTS = 4
#: Curves that moved clearly, needed before anything is said.
MIN_CURVES = 4
#: The share of those curves that must end worse than they began.
SHARE = 0.8


def _move(trial: FrozenTrial) -> float | None:
    """Last report minus first when the curve moved clearly, else ``None``."""
    steps = sorted(trial.intermediate_values)
    values = np.array([trial.intermediate_values[s] for s in steps], dtype=float)
    values = values[np.isfinite(values)]
    if values.size < MIN_REPORTS:
        return None
    move = float(values[-1] - values[0])
    typical = float(np.median(np.abs(np.diff(values))))
    return move if abs(move) > 2 * typical else None


def _returns_last_report(trials: Sequence[FrozenTrial]) -> bool:
    """Whether most complete trials returned their last report (the score is what they report)."""
    pairs = [
        (t.value, t.intermediate_values[max(t.intermediate_values)])
        for t in trials
        if t.state == TrialState.COMPLETE and t.value is not None and t.intermediate_values
    ]
    same = sum(math.isclose(v, r, rel_tol=1e-9, abs_tol=1e-12) for v, r in pairs)
    return bool(pairs) and same >= SHARE * len(pairs)


@dataclass(frozen=True)
class Trend:
    """Trials whose reports got worse as they trained, in the study's direction.

    Attributes:
        worse: Curves that ended clearly worse than they began.
        curves: Curves that moved clearly.
        direction: The study's direction (``"minimize"`` or ``"maximize"``).
        returns_last_report: Whether the complete trials return their last report.
    """

    worse: int
    curves: int
    direction: str
    returns_last_report: bool

    def advice(self) -> str:
        """What was seen, without counts, and what to change (one line)."""
        maximizing = self.direction == MAXIMIZE
        better, other = ("higher", "lower") if maximizing else ("lower", "higher")
        fix = "minimize" if maximizing else "maximize"
        seen = (
            "the trials' reported values get worse as they train, read as this run reads them "
            f"({self.direction}: {better} is better)"
        )
        if self.returns_last_report:
            return (
                f"{seen}: if {other} is better for this score, the run optimizes it the wrong "
                f"way; run it again with --direction {fix} (direction={fix!r} in Python; a Task "
                f"says it in its class: direction = {fix!r})"
            )
        return (
            f"{seen}, and the trials return another value than their last report: report the "
            "score the trial returns (not a loss beside a returned accuracy, say); the pruners, "
            "the tuners that learn from pruned trials and the report's curves read the reports "
            "in the run's direction"
        )

    def note(self) -> str:
        """The study's note: the counts, then :meth:`advice`."""
        return f"in {self.worse} of the {self.curves} trials whose reports moved clearly, {self.advice()}"


def against_direction(trials: Sequence[FrozenTrial], direction: Any) -> Trend | None:
    """The trials' reports when most of them got worse as they trained, in ``direction``.

    Args:
        trials: The study's trials (complete and pruned ones are read).
        direction: The study's direction (a name or an Optuna ``StudyDirection``).

    Returns:
        The :class:`Trend`, or ``None`` when the reports say nothing against the direction.
    """
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    moves = [m for m in map(_move, finished) if m is not None]
    worse = sum(sign(direction) * m > 0 for m in moves)
    if len(moves) < MIN_CURVES or worse < SHARE * len(moves):
        return None
    return Trend(worse, len(moves), name_of(direction), _returns_last_report(finished))


__all__ = ["MIN_CURVES", "MIN_REPORTS", "SHARE", "Trend", "against_direction"]
