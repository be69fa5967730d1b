"""A finished trial as a point of an encoded search space, as the neural and meta tuners read it.

A trial encodes in a space when it holds every parameter of the space, each inside that
space's range or choices: a space merged over the ranges of several trials
(:mod:`hyperlab.tuners.merged_space`), or a transfer study's space, may differ from the
distribution the trial was asked with. A value on a float grid that misses a bound of the
space's range by a rounding (the merged space snaps its bounds onto the grid) is read at that
bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.trial import FrozenTrial

from hyperlab.errors import InputError, InputTypeError
from hyperlab.space import SpaceEncoder
from hyperlab.tuners.merged_space import within_rounding


def encode_trial(enc: SpaceEncoder, t: FrozenTrial) -> np.ndarray | None:
    """The encoded parameters of ``t``, or None when it lacks one or holds one out of range."""
    params = dict(t.params)
    for name, dist in enc.distributions.items():
        if name not in params:
            return None
        own = t.distributions.get(name)
        if own is not None and own != dist:
            try:
                params[name] = _held(dist, params[name])
            except (ValueError, TypeError):
                return None
    try:
        return enc.encode([params])[0]
    except (InputError, InputTypeError):
        return None


def _held(dist: BaseDistribution, value: Any) -> Any:
    """``value`` as ``dist`` holds it: a value on a float grid that misses a bound by a rounding
    moved onto that bound.

    Raises:
        ValueError: ``dist`` does not hold ``value``.
    """
    if dist._contains(dist.to_internal_repr(value)):
        return value
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        for bound in (dist.low, dist.high):
            if within_rounding(float(value), bound, dist.step):
                return bound
    raise ValueError(f"{value!r} is outside {dist!r}")
