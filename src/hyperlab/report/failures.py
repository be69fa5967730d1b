"""Report records of failed trials: grouped by the kind of error, first failure first."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from hyperlab.errors import TRACEBACK_ATTR
from hyperlab.lab.trial_kinds import (
    TUNER_AFTER_ATTR,
    is_bookkeeping,
    is_pruner_failure,
    is_tuner_failure,
    is_tuner_failure_after,
)


@dataclass
class FailureGroup:
    """Failed trials of one study that share their reason.

    Attributes:
        label: The method (empty in a single study's report).
        seed: The study's seed (``None`` in a single study's report).
        reason: The stored reason (an error's type, message and the place it was raised).
        trials: Their trial numbers.
        traceback: The first one's traceback, where one was kept (an error of the code).
    """

    label: str
    seed: int | None
    reason: str
    trials: list[int]
    traceback: str = ""


def failure_groups(
    trials: Sequence[FrozenTrial], label: str = "", seed: int | None = None
) -> list[FailureGroup]:
    """The failed trials (not the surplus of a claim) grouped by kind, first failure first;
    a finished trial whose tuner raised taking in its result is one too (its value kept).

    Errors of one type raised at one place are one kind, whatever their messages (one cause
    whose message carries a value, ``"diverged at lr=0.31"``, is one row, not one per value);
    the row shows the first message and says how many others there were."""
    groups: dict[str, FailureGroup] = {}
    messages: dict[str, set[str]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        after = is_tuner_failure_after(t)
        if (t.state != TrialState.FAIL and not after) or is_bookkeeping(t):
            continue
        reason = str(t.user_attrs.get("fail_reason") or "no reason recorded")
        kept = str(t.user_attrs.get(TRACEBACK_ATTR) or "")
        key = _failure_kind(reason)
        if after:  # (a finished trial: its value kept)
            reason = str(t.user_attrs[TUNER_AFTER_ATTR])
            key, reason = (
                f"tuner after: {_failure_kind(reason)}",
                f"in the tuner, taking in the finished trial (its value kept): {reason}",
            )
        elif is_tuner_failure(t):  # (a kind of its own, said first)
            key, reason = f"tuner: {key}", f"in the tuner, choosing the parameters: {reason}"
        elif is_pruner_failure(t):
            key, reason = f"pruner: {key}", f"in the pruner, deciding whether to stop: {reason}"
        groups.setdefault(key, FailureGroup(label, seed, reason, [], kept)).trials.append(t.number)
        messages.setdefault(key, set()).add(reason)
    for key, group in groups.items():
        others = len(messages[key]) - 1
        if others:
            group.reason += f" (and {others} other message{'s' if others > 1 else ''} of this kind)"
    return list(groups.values())


#: A stored reason's parts: ``Type: message (at FILE:LINE in FUNCTION)``.
_REASON = re.compile(r"(?P<type>[\w.]+): .*?(?P<place> \(at [^()]*:\d+ in [^()]*\))?", re.DOTALL)


def _failure_kind(reason: str) -> str:
    """The error type and the place it was raised; the whole reason where it has no place (a
    killed worker, a lost heartbeat: their messages are the kind)."""
    match = _REASON.fullmatch(reason)
    if match is None or match["place"] is None:
        return reason
    return match["type"] + match["place"]
