"""A finished trial as a point of an encoded search space, as the neural and meta tuners read it.

A trial encodes in a space when it holds every parameter of the space, each inside that
space's range or choices: a space merged over the ranges of several trials
(:mod:`hyperlab.tuners.merged_space`), or a transfer study's space, may differ from the
distribution the trial was asked with.
"""

from __future__ import annotations

import numpy as np
from optuna.trial import FrozenTrial

from hyperlab.errors import InputError, InputTypeError
from hyperlab.space import SpaceEncoder


def encode_trial(enc: SpaceEncoder, t: FrozenTrial) -> np.ndarray | None:
    """The encoded parameters of ``t``, or None when it lacks one or holds one out of range."""
    params = t.params
    for name, dist in enc.distributions.items():
        if name not in params:
            return None
        own = t.distributions.get(name)
        if own is not None and own != dist:
            try:
                if not dist._contains(dist.to_internal_repr(params[name])):
                    return None
            except (ValueError, TypeError):
                return None
    try:
        return enc.encode([params])[0]
    except (InputError, InputTypeError):
        return None
