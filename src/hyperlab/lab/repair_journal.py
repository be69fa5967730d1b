"""Rebuilding a damaged journal file from its salvaged records (``hyperlab recover``).

The records :mod:`hyperlab.lab.repair_lines` salvaged are replayed through Optuna, dropping
each one it rejects (a trial's creation it rejects becomes a placeholder); placeholder trials
no later line finished are marked failed; the trials that may have lost records are named;
and the replayed records are written to a fresh file that takes the damaged one's place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import TrialState

from hyperlab.errors import StorageError
from hyperlab.lab.damage import not_a_journal
from hyperlab.lab.journal import FlockLock
from hyperlab.lab.repair_files import replace_file
from hyperlab.lab.repair_lines import CREATE_TRIAL, PLACEHOLDER, placeholder_record, salvage_lines


def recover_journal(path: Path) -> tuple[Path | None, list[str]]:
    """Rewrite a journal file from its intact records; ``(kept original, what was lost)``."""
    _check_journal(path)  # (before the lock, whose file another program's file would get)
    lock = FlockLock(str(path))
    lock.acquire()  # no writer appends meanwhile
    try:
        salvaged = salvage_lines(path.read_bytes())
        exposed: set[int] = set()
        storage, memory, dropped = _replay(salvaged.records, exposed)
        if not (salvaged.changed or dropped):
            return None, []
        _fail_placeholders(storage)
        exposed |= _exposed(salvaged.records, [number for _, number, _ in salvaged.damaged])
        lost = salvaged.lost + dropped + _name_trials(storage, exposed)
        fresh = path.with_name(path.name + ".recovering")
        with open(fresh, "wb") as f:
            for record in memory.records:
                f.write((json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        return replace_file(path, fresh), lost
    finally:
        lock.release()


_SET_STATE = 6  # Optuna's journal operation code for "set trial state and values"
_FINISHED = {s.value for s in TrialState if s.is_finished()}


def _exposed(records: list[tuple[int, dict[str, Any]]], damaged: list[int]) -> set[int]:
    """The ids of the trials that may have lost records on the ``damaged`` lines: those
    created before such a line and not yet finished (a finished trial takes no more records),
    and those created on it."""
    open_ids: set[int] = set()
    exposed: set[int] = set()
    pending = sorted(damaged)
    created = 0
    for number, record in records:
        while pending and pending[0] < number:
            exposed |= open_ids
            pending.pop(0)
        op, state = record.get("op_code"), record.get("state", 0)
        if op == CREATE_TRIAL:
            if pending and pending[0] == number:
                exposed.add(created)
            if state not in _FINISHED:
                open_ids.add(created)
            created += 1
        elif op == _SET_STATE and state in _FINISHED:
            open_ids.discard(record.get("trial_id"))  # type: ignore[arg-type]
    if pending:
        exposed |= open_ids
    return exposed


def _name_trials(storage: optuna.storages.JournalStorage, trial_ids: set[int]) -> list[str]:
    """One entry per study naming the trials ``trial_ids`` as possibly incomplete."""
    out = []
    for study in storage.get_all_studies():
        trials = storage.get_all_trials(study._study_id, deepcopy=False)
        found = [t.number for t in trials if t._trial_id in trial_ids]
        if found:
            out.append(
                f"study {study.study_name!r}: trial{'s' if len(found) > 1 else ''} "
                f"{', '.join(map(str, found))} may have lost records on the lines above "
                "(running at a damaged line, created on it, or named by a dropped record)"
            )
    return out


def _check_journal(path: Path) -> None:
    """Refuse a file none of whose lines starts as a journal record does (a damaged journal's
    lines still do): another program's file, which recovering would empty.

    Raises:
        StorageError: Naming the file.
    """
    problem = not_a_journal(path)
    if problem is not None:
        raise StorageError(f"{str(path)!r} is not a journal file: {problem} (it is left as it was)")


class _Memory(BaseJournalBackend):
    """A journal in memory: the records to replay, then those the replay appends."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.at = -1  # the record being replayed

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        for i in range(log_number_from, len(self.records)):
            self.at = i
            yield self.records[i]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        self.records.extend(logs)


def _replay(
    numbered: list[tuple[int, dict[str, Any]]], touched: set[int] | None = None
) -> tuple[optuna.storages.JournalStorage, _Memory, list[str]]:
    """Replay the records, dropping each one Optuna rejects; the storage and what was dropped.
    The trials the dropped records were about go into ``touched``."""
    dropped: list[str] = []
    while True:
        memory = _Memory([r for _, r in numbered])
        try:
            return optuna.storages.JournalStorage(memory), memory, dropped
        except Exception as exc:  # whatever a damaged record makes the replay raise
            if memory.at < 0:
                raise StorageError(f"cannot replay the salvaged journal records: {exc!r}") from None
            at = memory.at
            number, record = numbered.pop(at)
            if touched is not None and type(record.get("trial_id")) is int:
                touched.add(record["trial_id"])
            reason = f"line {number}: cannot be replayed ({type(exc).__name__}: {exc})"
            stand_in = _stand_in(number, record, numbered[:at])
            if stand_in is not None:  # the later trials keep their ids, and so their records
                numbered.insert(at, (number, stand_in))
                if touched is not None:
                    touched.add(sum(r.get("op_code") == CREATE_TRIAL for _, r in numbered[:at]))
                reason += "; the trial it created is kept, failed unless later lines finish it"
            dropped.append(reason)


def _stand_in(
    number: int, record: dict[str, Any], before: list[tuple[int, dict[str, Any]]]
) -> dict[str, Any] | None:
    """A placeholder for a "create trial" record Optuna rejects (one that is still JSON, a key
    of it garbled), as for one on a damaged line: dropped, it would hand every later trial's
    records to the trial created before it. ``None`` for another record, or a placeholder."""
    attrs = record.get("system_attrs")
    if record.get("op_code") != CREATE_TRIAL or (isinstance(attrs, dict) and PLACEHOLDER in attrs):
        return None
    return placeholder_record(number, json.dumps(record, separators=(",", ":")).encode(), before)


def _fail_placeholders(storage: optuna.storages.JournalStorage) -> None:
    """Mark placeholder trials that no later line finished as failed, saying why."""
    for study in storage.get_all_studies():
        for trial in storage.get_all_trials(study._study_id, deepcopy=False):
            line = trial.system_attrs.get(PLACEHOLDER)
            if line is None or trial.state.is_finished():
                continue
            storage.set_trial_user_attr(
                trial._trial_id,
                "fail_reason",
                f"lost: journal line {line}, which created this trial, was damaged",
            )
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
