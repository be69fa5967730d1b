"""Which epochs of a run the diagnostician reads: missing points, divergence and long runs.

A loss that is NaN (or ``None``, a blank cell) at an epoch has no point there: loggers that
validate every few epochs leave the other epochs blank, and a single NaN between finite values
is a lost measurement, not a diverged run. A run diverged where a loss first became infinite, or
where a NaN run begins that lasts to the end and is either longer than every gap between the
loss's finite values (the logging interval) or follows a blow-up (the loss at
:data:`BLOW_UP` times its smallest earlier value). The points read are the epochs before the
divergence where both losses are finite; a run with more than :data:`MAX_POINTS` of them is read
at :data:`MAX_POINTS` evenly spaced ones (the features were fitted on runs of up to a few hundred
epochs, and a per-epoch rate on a 200,000-epoch run says nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The curves' optional epoch of each point (see :func:`hyperlab.diagnose.inputs.check_curves`):
#: a log with fractional epochs gives each point its own; without it point ``i`` is epoch ``i + 1``.
AT_EPOCH = "at_epoch"
#: The most points a run is read at; longer runs are read at this many evenly spaced epochs.
MAX_POINTS = 400
#: A positive loss this many times its smallest earlier value has blown up.
BLOW_UP = 100.0


@dataclass(frozen=True)
class Points:
    """The epochs read from one run.

    Attributes:
        index: 0-based epochs of the points read, increasing, shape ``(m,)``.
        onset: 0-based epoch at which the run diverged (the run's length when it did not).
    """

    index: np.ndarray
    onset: int


def points(train: np.ndarray, val: np.ndarray, max_points: int = MAX_POINTS) -> Points:
    """The points to read from a run's train and validation loss, shape ``(n,)`` each.

    Args:
        train: Train loss per epoch; NaN where it was not measured.
        val: Validation loss per epoch; NaN where it was not measured.
        max_points: The most points returned (evenly spaced over the usable ones).

    Returns:
        The epochs where both losses are finite before the divergence onset, and that onset.
    """
    onset = min(divergence_onset(train), divergence_onset(val))
    index = np.flatnonzero(np.isfinite(train[:onset]) & np.isfinite(val[:onset]))
    if len(index) > max_points:
        keep = np.unique(np.round(np.linspace(0, len(index) - 1, max_points)).astype(np.int64))
        index = index[keep]
    return Points(index, onset)


def divergence_onset(x: np.ndarray) -> int:
    """The 0-based epoch at which loss ``x`` diverged, ``len(x)`` when it did not.

    Args:
        x: One loss curve, shape ``(n,)``; NaN marks a missing point or a diverged run.

    Returns:
        Its first infinite value's epoch (or that of the NaN run just before it), or, for a NaN
        run to the end that is a divergence (see the module docstring), the first epoch of it
        at which the next point was due (the run's start after a blow-up).
    """
    n = len(x)
    infinite = np.flatnonzero(np.isinf(x))
    end = int(infinite[0]) if len(infinite) else n
    finite = np.flatnonzero(np.isfinite(x[:end]))
    if len(finite) == 0:
        return 0
    start = int(finite[-1]) + 1  # where the NaN run just before `end` begins
    if start == end or end < n:
        return start
    widest_gap = int((np.diff(finite) - 1).max()) if len(finite) > 1 else 0
    values = x[finite]
    blew_up = bool(values.min() > 0 and values[-1] >= BLOW_UP * values.min())
    if n - start > widest_gap:
        return start + widest_gap  # the first epoch where its next point was due
    return start if blew_up else n
