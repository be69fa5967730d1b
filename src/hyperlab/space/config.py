"""Check a configuration against the search space that made it.

A configuration handed to a task (``Task.evaluate``, ``Task.train_segment``) must hold values
its search space could have suggested: each parameter of the branch its values choose, of the
right type and inside that parameter's range. The space function itself is run on a trial
that answers each ``suggest_*`` with the configuration's value after checking it, so a
conditional space is checked branch by branch and a range that depends on another
parameter's value is checked with that value.
"""

from __future__ import annotations

import math
import numbers
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

from hyperlab.errors import HyperlabError, InputError, InputTypeError


def describe(dist: BaseDistribution) -> str:
    """A short description of a distribution, e.g. ``float in [0.0, 1.0] (log)``."""
    if isinstance(dist, CategoricalDistribution):
        return f"one of {list(dist.choices)}"
    if isinstance(dist, FloatDistribution | IntDistribution):
        kind = "float" if isinstance(dist, FloatDistribution) else "int"
        extras = [e for e in ("log" if dist.log else "", _step(dist)) if e]
        more = f" ({', '.join(extras)})" if extras else ""
        return f"{kind} in [{dist.low}, {dist.high}]{more}"
    return repr(dist)


def _step(dist: FloatDistribution | IntDistribution) -> str:
    if dist.step is None or (isinstance(dist, IntDistribution) and dist.step == 1):
        return ""
    return f"step {dist.step}"


def check_value(where: str, name: str, value: Any, dist: BaseDistribution) -> None:
    """Refuse ``value`` for parameter ``name`` unless ``dist`` could have suggested it: a
    number (never a bool or text) for a float, an integer for an int, finite and in range (on
    the step), one of the choices of a categorical (a bool only for a bool choice).

    Raises:
        InputTypeError: ``value`` has the wrong type; the message names ``where``, the
            parameter, the value and the distribution.
        InputError: ``value`` is out of range, off the step, not finite or not a choice.
    """
    said = f"{where}: {name}={value!r:.60}"
    if isinstance(dist, CategoricalDistribution):
        if not _is_choice(value, dist):
            raise InputError(f"{said} is not {describe(dist)}")
        return
    if isinstance(dist, FloatDistribution | IntDistribution):
        whole = isinstance(dist, IntDistribution)
        if (
            isinstance(value, bool | np.bool_)
            or not isinstance(value, numbers.Real)
            or (whole and not _integral(value))
        ):
            word = "an integer" if whole else "a number"
            raise InputTypeError(
                f"{said} ({type(value).__name__}) must be {word}: {describe(dist)}"
            )
        if not _inside(value, dist):
            raise InputError(f"{said} is outside its range: {describe(dist)}")


def _integral(value: numbers.Real) -> bool:
    """Whether a number is whole (``32`` or ``32.0``: a table's rows hold ints as floats)."""
    if isinstance(value, numbers.Integral):
        return True
    return math.isfinite(value) and float(value).is_integer()


def _inside(value: Any, dist: FloatDistribution | IntDistribution) -> bool:
    """Whether a number is finite and in ``dist``'s range, on its step."""
    try:
        number = float(value)
        if not math.isfinite(number):
            return False
        if isinstance(value, np.floating) and value.dtype != np.float64:  # (float32 at a bound)
            number = _nearest_inside(number, dist)
        return bool(dist._contains(number))
    except OverflowError:  # an integer too large for a float: out of any range
        return False


def _nearest_inside(number: float, dist: FloatDistribution | IntDistribution) -> float:
    """``number`` moved onto a bound it misses by a rounding of single precision."""
    for bound in (dist.low, dist.high):
        if math.isclose(number, bound, rel_tol=1e-6, abs_tol=1e-12):
            return float(bound)
    return number


def _is_choice(value: Any, dist: CategoricalDistribution) -> bool:
    if isinstance(value, np.bool_):
        value = bool(value)
    try:
        choice = dist.choices[int(dist.to_internal_repr(value))]
    except (ValueError, TypeError):
        return False
    return isinstance(choice, bool) == isinstance(value, bool)  # True is not 1


class _CheckingTrial(optuna.trial.FixedTrial):
    """A fixed trial that checks each value of a configuration as the space suggests it: a
    parameter the configuration lacks is refused at once; a value the space would not have
    suggested is noted (``problems``) and handed back as it is, since the space may return
    something else under that name (``2 ** batch_size``), which is not the suggested value."""

    def __init__(self, config: dict[str, Any], where: str) -> None:
        super().__init__(config)
        self._config = config
        self._where = where
        self.problems: dict[str, HyperlabError] = {}
        self.handed: dict[str, Any] = {}

    def _suggest(self, name: str, distribution: BaseDistribution) -> Any:
        if name not in self._config:
            raise InputError(
                f"{self._where} lacks {[name]}, which its values ask for: {describe(distribution)}"
            )
        try:
            check_value(self._where, name, self._config[name], distribution)
        except HyperlabError as exc:
            self.problems.setdefault(name, exc)
            self._suggested_params[name] = self._config[name]
            self._distributions[name] = distribution
            return self._config[name]
        return super()._suggest(name, distribution)

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> float:
        return self._handed(name, super().suggest_float(name, *args, **kwargs))

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> int:
        return self._handed(name, super().suggest_int(name, *args, **kwargs))

    def suggest_categorical(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._handed(name, super().suggest_categorical(name, *args, **kwargs))

    def _handed(self, name: str, value: Any) -> Any:
        """Remember what the space was handed for ``name`` (a suggest method casts the value:
        ``int("2")`` is 2), to tell it apart from what the space returns under the name."""
        self.handed[name] = value
        return value


def checked_space(
    space: Callable[[Any], Any], config: dict[str, Any], where: str
) -> tuple[set[str], set[str]] | None:
    """Run ``space`` on ``config``'s values, each checked as it is suggested.

    A value is refused where the space returns it unchanged under its parameter's name (the
    configuration then holds what the space suggested); where the space returns something
    made of it (``ACTS[act]``, ``2 ** batch_size``), the configuration holds that, which no
    distribution describes, and it is not checked.

    Returns:
        The parameters the space asked for and the keys of what it returned (a conditional
        space asks for its branch's parameters only); ``None`` when the space failed on the
        trial (it uses something a fixed trial lacks, or it failed on a value made of a
        suggestion), so that it cannot be checked.

    Raises:
        InputTypeError, InputError: A value is of the wrong type, out of range or not a
            choice, or the configuration lacks a parameter its branch asks for (see
            :func:`check_value`).
    """
    trial = _CheckingTrial(config, where)
    try:
        returned = space(trial)
    except HyperlabError:
        raise
    except Exception:  # a space that needs a real trial (its study, say), or one that made
        return None  # something of its suggestion (ACTS[act]) and fails on the made thing
    given = returned if isinstance(returned, dict) else {}
    for name, problem in trial.problems.items():
        if name in given and _same(given[name], trial.handed.get(name, config[name])):
            raise problem
    return set(trial.params), set(given)


def _same(a: Any, b: Any) -> bool:
    """Whether the space returned the value it was given (``is``, or ``==`` for numbers)."""
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # (an array's ==, say)
        return False
