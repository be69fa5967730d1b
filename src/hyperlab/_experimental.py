"""Marking experimental features: they work and are tested, but their interface may change."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class ExperimentalWarning(UserWarning):
    """Raised (as a warning) when an experimental feature is first used."""


def experimental(note: str = "") -> Callable[[F], F]:
    """Decorate a function or class whose interface may still change.

    The first call (or instantiation) emits an :class:`ExperimentalWarning`.

    Args:
        note: What may change, appended to the warning.
    """

    def deco(obj: F) -> F:
        message = f"{obj.__qualname__} is experimental; its interface may change. {note}".strip()
        warned = False

        if isinstance(obj, type):
            original_init = obj.__init__  # type: ignore[misc]

            @functools.wraps(original_init)
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                nonlocal warned
                if not warned:
                    warnings.warn(message, ExperimentalWarning, stacklevel=2)
                    warned = True
                original_init(self, *args, **kwargs)

            obj.__init__ = __init__  # type: ignore[misc]
            return obj

        @functools.wraps(obj)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal warned
            if not warned:
                warnings.warn(message, ExperimentalWarning, stacklevel=2)
                warned = True
            return obj(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco
