"""Blocks of whole journal records written twice (what ``hyperlab recover`` drops).

A copy tool that resumes a transfer, or a write sent again, can repeat a block of whole lines
in the middle of a journal file. Every line of it parses, so nothing looks damaged, yet
replaying the block again is not harmless: each repeated "create trial" record makes an extra
trial (and, since Optuna numbers trials by the "create trial" records before them, hands every
later record's trial to another trial), and a repeated attribute can undo a later change.

A repeat is taken for a copy only when it holds a record that no writer writes twice: a change
of a trial's state to running or finished (Optuna refuses a second one from the same worker
for the same trial, and every record names its worker: process and thread), or, in a repeat of
two lines or more, a "create trial" of a running trial (stamped with its worker and its start
to the microsecond). From such a record the copy is grown, backward and forward, for as long
as its lines equal the lines at the same distance from the first copy, and dropped whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optuna.trial import TrialState

_CREATE_TRIAL = 4  # Optuna's journal operation code for "create trial"
_SET_STATE = 6  # Optuna's journal operation code for "set trial state and values"
_STAMPED = {s.value for s in TrialState if s.is_finished()} | {TrialState.RUNNING.value}


@dataclass(frozen=True)
class Repeat:
    """A block of records that repeats an earlier block (indexes into the record list).

    Attributes:
        start: The first record of the copy.
        stop: One past its last record.
        source: The first record of the block it repeats.
    """

    start: int
    stop: int
    source: int

    def what(self, records: Sequence[dict[str, Any]]) -> str:
        """What the copy held: its trial creations and state changes, counted."""
        block = records[self.start : self.stop]
        created = sum(r.get("op_code") == _CREATE_TRIAL for r in block)
        states = sum(r.get("op_code") == _SET_STATE for r in block)
        parts = [f"{self.stop - self.start} record{'s' if self.stop - self.start > 1 else ''}"]
        if created:
            parts.append(f"{created} trial creation{'s' if created > 1 else ''}")
        if states:
            parts.append(f"{states} trial state change{'s' if states > 1 else ''}")
        return ", ".join(parts)


def find_repeats(records: Sequence[dict[str, Any]]) -> list[Repeat]:
    """The blocks of ``records`` (a journal's, in order) that repeat an earlier block and hold
    a record no writer writes twice, in order; none overlaps another or its source."""
    keys = [json.dumps(r, sort_keys=True) for r in records]
    seen: dict[str, int] = {}
    found: list[Repeat] = []
    floor = 0  # records before this belong to a copy found already
    i = 0
    while i < len(keys):
        earlier = seen.setdefault(keys[i], i)
        if earlier == i or not _once_only(records[i]):
            i += 1
            continue
        repeat = _grow(keys, i, earlier, floor)
        if repeat.stop - repeat.start > 1 or records[i].get("op_code") == _SET_STATE:
            found.append(repeat)
            floor = i = repeat.stop
        else:
            i += 1
    return found


def _once_only(record: dict[str, Any]) -> bool:
    """Whether a record is one that no writer writes twice (see the module docstring)."""
    op = record.get("op_code")
    if op == _SET_STATE:
        return record.get("state") in _STAMPED
    if op == _CREATE_TRIAL:
        running = record.get("state", TrialState.RUNNING.value) == TrialState.RUNNING.value
        return running and record.get("datetime_start") is not None
    return False


def _grow(keys: list[str], at: int, earlier: int, floor: int) -> Repeat:
    """The longest block around ``keys[at]`` equal to the block around ``keys[earlier]``,
    the copy starting at or after ``floor`` and after the end of its source."""
    after = 1
    while (
        at + after < len(keys)
        and earlier + after < at
        and (keys[at + after] == keys[earlier + after])
    ):
        after += 1
    before = 0
    while (
        earlier - before - 1 >= 0
        and at - before - 1 >= max(floor, earlier + after)
        and keys[at - before - 1] == keys[earlier - before - 1]
    ):
        before += 1
    return Repeat(at - before, at + after, earlier - before)
