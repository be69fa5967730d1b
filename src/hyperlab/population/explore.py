"""Explore: new hyperparameters for members that have just copied a better member.

An :class:`Explorer` gets the copied hyperparameters of every exploiting member of a step
and returns new values for the explored ones (the task's ``mutable_params``), always inside
their distributions. :class:`Perturb` is PBT's random perturbation; the GP bandit of PB2 is
:class:`hyperlab.population.bandit.GPBandit`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hyperlab.space.encoding import SpaceEncoder

#: Factors of PBT's perturbation of a log-scaled value (Jaderberg et al. 2017).
LOG_FACTORS = (0.8, 1.25)
#: A linear value moves by this share of its range (at least one step of an int or grid).
LINEAR_SHARE = 0.1


@dataclass(frozen=True)
class Context:
    """What an explorer may read about the population at an exploit.

    Attributes:
        space: The whole search space (name -> distribution).
        names: The explored parameters.
        log: Every finished segment so far: ``member``, ``start``, ``end``, ``config`` and
            ``improvement`` (how much the score improved over the segment, positive is better;
            ``None`` for a segment that began from a fresh model).
        epoch: The epoch the exploiting members continue from.
        budget: Epochs per member.
    """

    space: dict[str, BaseDistribution]
    names: tuple[str, ...]
    log: list[dict[str, Any]]
    epoch: int
    budget: int


class Explorer(ABC):
    """Chooses new values of the explored parameters for the members that exploited."""

    @abstractmethod
    def explore(
        self, copied: list[dict[str, Any]], context: Context, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        """New hyperparameters for each exploiting member.

        Args:
            copied: The hyperparameters each member copied from its donor.
            context: The population so far.
            rng: The population's random generator.

        Returns:
            One dict per member: ``copied`` with new values of ``context.names``.
        """


class Perturb(Explorer):
    """PBT's explore: each explored value is perturbed, or resampled with a probability.

    A log-scaled float or int is multiplied by 0.8 or 1.25, a linear one moves up or down by a
    tenth of its range (an int or a stepped float by at least one step), a categorical moves
    to a neighbouring choice; every result is clipped into the distribution and put on its
    grid.

    Args:
        resample_probability: Chance that a value is drawn afresh from its distribution.
    """

    def __init__(self, resample_probability: float = 0.25) -> None:
        self.resample_probability = resample_probability

    def explore(
        self, copied: list[dict[str, Any]], context: Context, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        out = []
        for params in copied:
            new = dict(params)
            for name in context.names:
                dist = context.space[name]
                if rng.random() < self.resample_probability:
                    new[name] = sample(dist, rng)
                else:
                    new[name] = perturb(params[name], dist, rng)
            out.append(new)
        return out


def sample(dist: BaseDistribution, rng: np.random.Generator) -> Any:
    """One value drawn from ``dist`` (log-uniform on a log axis)."""
    encoder = SpaceEncoder({"x": dist})
    return encoder.decode(encoder.random(1, rng))[0]["x"]


def perturb(value: Any, dist: BaseDistribution, rng: np.random.Generator) -> Any:
    """``value`` moved up or down (at random) to a nearby admissible value of ``dist``."""
    up = bool(rng.random() < 0.5)
    if isinstance(dist, CategoricalDistribution):
        i = dist.choices.index(value)
        last = len(dist.choices) - 1
        j = min(i + 1, last) if (up and i < last) or i == 0 else i - 1
        return dist.choices[j]
    if isinstance(dist, FloatDistribution | IntDistribution):
        return _perturb_number(float(value), dist, up)
    raise TypeError(f"cannot perturb a value of {dist!r}")


def _perturb_number(value: float, dist: FloatDistribution | IntDistribution, up: bool) -> Any:
    low, high = float(dist.low), float(dist.high)
    is_int = isinstance(dist, IntDistribution)
    step = float(dist.step) if (is_int or dist.step is not None) else None  # type: ignore[arg-type]
    sign = 1.0 if up else -1.0
    if dist.log:
        new = value * (LOG_FACTORS[1] if up else LOG_FACTORS[0])
    else:
        new = value + sign * LINEAR_SHARE * (high - low)
    if step is not None:
        new = low + round((new - low) / step) * step
        if new == value and low < high:  # a move smaller than one step: one step
            new = value + sign * step
    new = min(max(new, low), high)
    if is_int:
        return round(new)
    return float(new) if math.isfinite(new) else value
