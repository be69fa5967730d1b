"""A parameter whose range Optuna refuses, read from the error it raised.

Optuna builds a parameter's distribution in each ``trial.suggest_*`` call, and the
distribution's constructor raises ``ValueError`` for a range no trial could draw from
(``low > high``, a log scale from ``low <= 0``, a step that is not positive, a log scale with
a step, no choices). Such an error is a mistake in the search space, not in a trial's work:
:func:`refused_range` tells it from any other ``ValueError`` by its traceback (raised in a
distribution's constructor called by a trial's ``suggest_*``) and names the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import FrameType, TracebackType

from optuna.distributions import BaseDistribution
from optuna.trial import BaseTrial

from hyperlab.errors import user_place


@dataclass(frozen=True)
class RefusedRange:
    """A parameter whose range Optuna refused.

    Attributes:
        name: The parameter.
        call: The suggestion as it was made, e.g. ``suggest_float('lr', 1.0, 0.1)``.
        why: Optuna's message.
        place: ``FILE:LINE in FUNCTION`` of the user's line that asked for it (``None``: not
            known).
    """

    name: str
    call: str
    why: str
    place: str | None

    def __str__(self) -> str:
        at = f" (at {self.place})" if self.place else ""
        return (
            f"parameter {self.name!r} is asked for with {self.call}{at}, a range Optuna refuses: "
            f"{self.why}"
        )


def refused_range(exc: BaseException) -> RefusedRange | None:
    """The parameter whose range Optuna refused when it raised ``exc``, or ``None`` when
    ``exc`` is anything else (a ``ValueError`` of the user's own code, for one)."""
    if not isinstance(exc, ValueError):
        return None
    frames = _frames(exc.__traceback__)
    if len(frames) < 2 or not _constructs_distribution(frames[-1]):
        return None  # (raised elsewhere than in the distribution's constructor)
    suggest = next((f for f in reversed(frames) if _suggests(f)), None)
    if suggest is None:
        return None  # (a distribution the user's code built itself)
    args = suggest.f_locals
    return RefusedRange(
        name=str(args.get("name")),
        call=_call(suggest.f_code.co_name, args),
        why=str(exc).rstrip("."),
        place=user_place(exc),
    )


def _frames(tb: TracebackType | None) -> list[FrameType]:
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _constructs_distribution(frame: FrameType) -> bool:
    owner = frame.f_locals.get("self")
    return frame.f_code.co_name == "__init__" and isinstance(owner, BaseDistribution)


def _suggests(frame: FrameType) -> bool:
    owner = frame.f_locals.get("self")
    return frame.f_code.co_name.startswith("suggest_") and isinstance(owner, BaseTrial)


def _call(method: str, args: dict[str, object]) -> str:
    """The suggestion as code: its name, its range, and ``step``/``log`` where they were set."""
    if "choices" in args:
        return f"{method}({args.get('name')!r}, {args['choices']!r})"
    shown = [repr(args.get("name")), repr(args.get("low")), repr(args.get("high"))]
    step = args.get("step")
    if step is not None and not (method == "suggest_int" and step == 1):
        shown.append(f"step={step!r}")
    if args.get("log"):
        shown.append("log=True")
    return f"{method}({', '.join(shown)})"
