"""A task's search space as Optuna distributions: capture them, grids, the centre point."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hyperlab.errors import InputError, InputTypeError, SearchSpaceError, failure_reason
from hyperlab.optuna_logs import quiet_optuna
from hyperlab.space.refused import refused_range

#: Throwaway trials a search space is run on, at most, to see every branch of a conditional
#: one; it stops after :data:`SETTLED` trials in a row that showed nothing new.
CAPTURE_SAMPLES = 64
SETTLED = 12


def check_distributions(what: str, space: Any) -> dict[str, BaseDistribution] | None:
    """``space`` as a dict, when it is ``None`` or a mapping (a dict, a read-only view) of
    Optuna distributions by parameter name; anything else is refused, naming ``what`` (a
    sampler's setting, such as ``"search_space"``).

    Raises:
        InputTypeError: ``space`` is something else.
    """
    if space is None:
        return None
    if not isinstance(space, Mapping):
        raise InputTypeError(f"{what} must be a dict or None, got {space!r}")
    for name, dist in space.items():
        if not isinstance(name, str) or not isinstance(dist, BaseDistribution):
            raise InputTypeError(
                f"{what} must map parameter names to Optuna distributions (such as "
                f"optuna.distributions.FloatDistribution(0, 1)), got {name!r}: {dist!r}"
            )
    return dict(space)


def capture_distributions(
    space: Callable[[optuna.Trial], Any], samples: int = CAPTURE_SAMPLES, name: str = "task"
) -> dict[str, BaseDistribution]:
    """The distributions ``space`` suggests, over ``samples`` throwaway trials (random draws):
    the union of its branches when it is conditional (see :func:`capture_space`)."""
    return capture_space(space, samples, name)[0]


def capture_space(
    space: Callable[[optuna.Trial], Any],
    samples: int = CAPTURE_SAMPLES,
    name: str = "task",
    settled: int | None = None,
) -> tuple[dict[str, BaseDistribution], set[str]]:
    """Run ``space`` on throwaway trials (random draws, seed 0): at most ``samples``, and
    no more once ``settled`` (default :data:`SETTLED`) in a row showed no parameter not seen
    before nor lacked one.

    Returns:
        Every parameter it suggested with its (first seen) distribution, and the parameters
        it suggested in every trial (fewer when a parameter depends on another's value).

    Raises:
        InputError: ``space`` raised; the message names ``name``'s search space and the error.
    """
    seen: dict[str, BaseDistribution] = {}
    always: set[str] | None = None
    quiet = 0
    with quiet_optuna():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(samples):
            trial = study.ask()
            try:
                space(trial)
            except optuna.TrialPruned:
                raise
            except Exception as exc:
                refused = refused_range(exc)  # (a range Optuna refuses, named)
                why = failure_reason(exc) if refused is None else str(refused)
                error = InputError if refused is None else SearchSpaceError
                raise error(
                    f"the search space of {name} failed on a throwaway trial: {why}"
                ) from exc
            names = set(trial.distributions)
            changed = not names <= set(seen) or (always is not None and not always <= names)
            for key, dist in trial.distributions.items():
                seen.setdefault(key, dist)
            always = names if always is None else always & names
            study.tell(trial, 0.0)
            quiet = 0 if changed else quiet + 1
            if quiet >= (SETTLED if settled is None else settled):
                break  # no new parameter, nor one missing, for a while: every branch seen
    return seen, always or set()


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
    """The centre of each axis (geometric centre on log axes; first choice of categoricals),
    on the axis's step where it has one, so that the distribution could suggest it."""
    out: dict[str, Any] = {}
    for name, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            out[name] = d.choices[0]
        elif isinstance(d, IntDistribution | FloatDistribution):
            mid = math.sqrt(d.low * d.high) if d.log else (d.low + d.high) / 2
            step = d.step
            if step is not None and not (isinstance(d, IntDistribution) and step == 1):
                mid = d.low + round((mid - d.low) / step) * step
            out[name] = round(mid) if isinstance(d, IntDistribution) else float(mid)
        else:
            raise InputError(f"unsupported distribution {d!r} for {name!r}")
    return out
