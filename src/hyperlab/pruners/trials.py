"""What the curve pruners read from a study's trials: curves, values at an epoch, final values.

The curve pruners read a trial's steps as its epochs ``1, 2, 3, ...``. Every value returned
here is multiplied by ``sign`` (``-1`` for a maximized study, :func:`hyperlab.direction.
study_sign`), so that the pruners' rules and their predictors always minimize.
"""

from __future__ import annotations

import math

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState


def trial_curve(trial: FrozenTrial) -> np.ndarray:
    """The trial's reported values in step order: array of shape ``(n_steps,)``. A
    non-finite value with a finite one after it (a blip: a metric undefined at one epoch)
    reads as the finite value before it (after it, at the start); non-finite values to the end
    (a diverged run) stay."""
    steps = sorted(trial.intermediate_values)
    curve = np.array([trial.intermediate_values[s] for s in steps], dtype=np.float64)
    finite = np.isfinite(curve)
    if finite.all() or not finite.any():
        return curve
    last = int(np.flatnonzero(finite)[-1])
    for i in np.flatnonzero(~finite[:last]):
        before = np.flatnonzero(finite[:i])
        curve[i] = curve[before[-1]] if len(before) else curve[np.flatnonzero(finite)[0]]
    return curve


def value_at(trial: FrozenTrial, step: int) -> float:
    """The trial's value at ``step`` as :func:`trial_curve` reads it (a blip filled)."""
    return float(trial_curve(trial)[sorted(trial.intermediate_values).index(step)])


def learned_budget(trials: list[FrozenTrial]) -> int | None:
    """The largest step a complete trial reported; ``None`` before one has."""
    steps = [
        t.last_step for t in trials if t.state == TrialState.COMPLETE and t.last_step is not None
    ]
    return max(steps, default=None)


def reports_epochs(trial: FrozenTrial) -> bool:
    """Whether the trial's steps so far are 1, 2, ..., n (the pruners read steps as epochs)."""
    steps = sorted(trial.intermediate_values)
    return steps == list(range(1, len(steps) + 1))


def not_epochs(trials: list[FrozenTrial]) -> FrozenTrial | None:
    """A complete trial whose steps are not 1, 2, ..., n (the pruners read steps as epochs)."""
    for t in trials:
        if t.state == TrialState.COMPLETE and not reports_epochs(t):
            return t
    return None


def complete_with_steps(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The complete trials that reported at least one step."""
    return [t for t in trials if t.state == TrialState.COMPLETE and t.last_step is not None]


def first_steps(trial: FrozenTrial) -> str:
    """The trial's first four steps, for a message (``"1, 3, 5, 7, ..."``)."""
    steps = sorted(trial.intermediate_values)
    return ", ".join(map(str, steps[:4])) + (", ..." if len(steps) > 4 else "")


def shared_space(trials: list[FrozenTrial]) -> dict[str, BaseDistribution]:
    """The parameters that every one of ``trials`` holds, each with one distribution across
    them, by name: a conditional parameter (on some branches only) and one whose range
    depends on another's value are left out, so every trial's configuration encodes."""
    if not trials:
        return {}
    space = dict(trials[0].distributions)
    for t in trials[1:]:
        space = {name: d for name, d in space.items() if t.distributions.get(name) == d}
    return space


def values_at(trials: list[FrozenTrial], step: int, sign: float) -> list[float]:
    """Sign-adjusted finite values that ``trials`` reported at ``step``."""
    return [
        sign * t.intermediate_values[step]
        for t in trials
        if step in t.intermediate_values and math.isfinite(t.intermediate_values[step])
    ]


def final_values(trials: list[FrozenTrial], sign: float, budget: int) -> np.ndarray:
    """Sign-adjusted final values of the complete trials that reached ``budget``: shape
    ``(n,)``; the value at step ``budget`` when a trial went on past it."""
    out = []
    for t in trials:
        if t.state != TrialState.COMPLETE or t.value is None:
            continue
        last = t.last_step
        if last is not None and last < budget:
            continue
        value = t.intermediate_values.get(budget, t.value)
        if math.isfinite(value):
            out.append(sign * value)
    return np.array(out, dtype=np.float64)
