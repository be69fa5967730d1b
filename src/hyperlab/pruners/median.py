"""The median rule that stands in for a curve predictor until it has enough data.

A trial whose best value so far is worse than the median of the complete trials' values at the
same epoch is stopped (Optuna's median rule, read on the trial's best value rather than its
last). A curve predictor needs several complete trials before its prediction and the reference
it is compared with mean anything; the median rule needs only a few curves at the same epoch.
"""

from __future__ import annotations

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from hyperlab.pruners.trials import values_at

#: How the reason of a stop made by the median rule standing in for a predictor begins.
STAND_IN = "median rule (the predictor waits for"


def median_stop(
    others: list[FrozenTrial], step: int, best_so_far: float, sign: float, startup: int
) -> tuple[float, int] | None:
    """``(median, n)`` when the median rule stops the trial, else ``None``.

    Args:
        others: The study's other trials.
        step: The trial's epoch.
        best_so_far: The trial's best (sign-adjusted, minimized) value up to ``step``.
        sign: The study's sign.
        startup: Complete trials with a value at ``step`` that the rule needs before it acts.

    Returns:
        The (sign-adjusted) median of the ``n`` complete trials' values at ``step``, when
        ``best_so_far`` is worse than it.
    """
    complete = [t for t in others if t.state == TrialState.COMPLETE]
    values = values_at(complete, step, sign)
    if len(values) < startup:
        return None
    median = float(np.median(values))
    if best_so_far <= median:
        return None
    return median, len(values)
