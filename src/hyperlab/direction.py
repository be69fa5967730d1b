"""Which way a score is optimized: ``"minimize"`` or ``"maximize"``, read in one place.

Everything that decides "better" (the running best, regret, ranks, verdicts, the hyperlab
tuners' surrogates) goes through these helpers. A maximized score is handled as its negation:
:func:`sign` gives ``+1.0`` for ``"minimize"`` and ``-1.0`` for ``"maximize"``, so
``sign * value`` is always to be minimized.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hyperlab.errors import InputError, InputTypeError

#: The directions a score can be optimized in.
DIRECTIONS = ("minimize", "maximize")
#: The default: scores are losses.
MINIMIZE = "minimize"
MAXIMIZE = "maximize"


def check_direction(value: Any, what: str = "direction") -> str:
    """Return ``value`` if it is ``"minimize"`` or ``"maximize"``.

    Args:
        value: The direction to check.
        what: How the message names it (e.g. ``"direction of task 'branin'"``).

    Raises:
        InputTypeError: ``value`` is not a string.
        InputError: ``value`` is another string.
    """
    if not isinstance(value, str):
        raise InputTypeError(f"{what} must be 'minimize' or 'maximize', got {value!r}")
    if value not in DIRECTIONS:
        raise InputError(f"{what} must be 'minimize' or 'maximize', got {value!r}")
    return value


def name_of(direction: Any) -> str:
    """``"minimize"`` or ``"maximize"`` for a direction name or an Optuna ``StudyDirection``."""
    text = str(getattr(direction, "name", direction)).lower()
    return MAXIMIZE if text == MAXIMIZE else MINIMIZE


def sign(direction: Any) -> float:
    """``+1.0`` for minimize, ``-1.0`` for maximize (a name or an Optuna ``StudyDirection``)."""
    return -1.0 if name_of(direction) == MAXIMIZE else 1.0


def study_sign(study: Any) -> float:
    """:func:`sign` of an Optuna study's (single) direction."""
    return sign(study.direction)


def past_tense(direction: Any) -> str:
    """``"minimized"`` or ``"maximized"``."""
    return f"{name_of(direction)}d"


def is_better(a: float, b: float, direction: Any) -> bool:
    """Whether ``a`` is strictly better than ``b`` (a NaN is never better; anything finite beats
    a NaN)."""
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return sign(direction) * a < sign(direction) * b


def best_of(values: Iterable[float], direction: Any) -> float:
    """The best finite value of ``values`` (NaN when there is none)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    return max(finite) if name_of(direction) == MAXIMIZE else min(finite)


def regret(value: float, optimum: float | None, direction: Any) -> float:
    """How far ``value`` falls short of ``optimum`` (>= 0 for a true optimum; NaN without one)."""
    if optimum is None or math.isnan(value):
        return math.nan
    return sign(direction) * (value - optimum)


__all__ = [
    "DIRECTIONS",
    "MAXIMIZE",
    "MINIMIZE",
    "best_of",
    "check_direction",
    "is_better",
    "name_of",
    "past_tense",
    "regret",
    "sign",
    "study_sign",
]
