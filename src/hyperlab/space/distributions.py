"""A task's search space as Optuna distributions: capture them, grids, the centre point."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hyperlab.errors import InputError
from hyperlab.optuna_logs import quiet_optuna


def capture_distributions(space: Callable[[optuna.Trial], Any]) -> dict[str, BaseDistribution]:
    """Run ``space`` once on a throwaway trial and return the distributions it suggested."""
    with quiet_optuna():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        trial = study.ask()
        space(trial)
    return dict(trial.distributions)


def grid_values(dist: BaseDistribution, points: int) -> list[Any]:
    """``points`` evenly spaced values of ``dist`` (on its log axis when it is log-scaled)."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution | FloatDistribution):
        low, high = float(dist.low), float(dist.high)
        if dist.log:
            vals = np.exp(np.linspace(math.log(low), math.log(high), points))
        else:
            vals = np.linspace(low, high, points)
        vals = np.clip(vals, low, high)  # exp(log(high)) can round just above high
        vals[0], vals[-1] = low, high
        if isinstance(dist, IntDistribution):
            step = dist.step
            ints = sorted({int(dist.low + step * round((v - dist.low) / step)) for v in vals})
            return [min(max(i, dist.low), dist.high) for i in ints]
        if dist.step is not None:
            return sorted(
                {float(dist.low + dist.step * round((v - low) / dist.step)) for v in vals}
            )
        return [float(v) for v in vals]
    raise InputError(f"cannot build a grid over distribution {dist!r}")


def grid_space(
    distributions: dict[str, BaseDistribution], max_points: int = 3
) -> dict[str, list[Any]]:
    """A grid over ``distributions`` with at most ``max_points`` values per numeric axis."""
    return {name: grid_values(d, max_points) for name, d in distributions.items()}


def centre(distributions: dict[str, BaseDistribution]) -> dict[str, Any]:
    """The centre of each axis (geometric centre on log axes; first choice of categoricals)."""
    out: dict[str, Any] = {}
    for name, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            out[name] = d.choices[0]
        elif isinstance(d, IntDistribution | FloatDistribution):
            mid = math.sqrt(d.low * d.high) if d.log else (d.low + d.high) / 2
            out[name] = round(mid) if isinstance(d, IntDistribution) else float(mid)
        else:
            raise InputError(f"unsupported distribution {d!r} for {name!r}")
    return out
