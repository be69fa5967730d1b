"""When :class:`~hyperlab.pruners.curve.LearningCurvePruner` checks a trial.

A trial is checked from a first step (``min_epochs``) up to, not including, the final step:
every ``interval`` steps, or, with a positive ``growth``, only at the steps ``first * (1 +
growth)**j`` (rounded up). The geometric schedule spends a costly predictor's time where a
decision saves the most epochs: early, when most of a trial's epochs are still ahead.
"""

from __future__ import annotations

import math


def default_min_epochs(max_budget: int) -> int:
    """Ten per cent of the budget, at least two epochs, but below ``max_budget`` (so that one
    epoch is left to check) where the budget allows: 1 for budgets of 1 and 2."""
    return max(1, min(max_budget - 1, max(2, math.ceil(max_budget / 10))))


def is_check_step(step: int, first: int, interval: int = 1, growth: float = 0.0) -> bool:
    """Whether ``step`` is on the schedule that starts at step ``first``.

    Args:
        step: The trial's last step.
        first: The schedule's first step.
        interval: Steps between checks when ``growth`` is 0.
        growth: When positive, check at ``first * (1 + growth)**j`` (rounded up, at least one
            step apart) instead.
    """
    if step < first:
        return False
    if growth <= 0.0:
        return (step - first) % interval == 0
    check = float(first)
    while math.ceil(check) < step:
        check = max(check * (1.0 + growth), math.ceil(check) + 1.0)
    return math.ceil(check) == step
