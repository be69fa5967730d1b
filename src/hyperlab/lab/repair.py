"""``hyperlab recover``: copy every intact trial of a damaged storage file into a fresh one.

The damaged original is kept next to the new file as ``FILE.damaged-<UTC time>`` and the
recovered file takes its place, so the run resumes with the same command as before.

* Journal files (``journal:PATH``): every line that holds a whole record is kept, in order. A
  line on which whole records follow one cut off mid-write (what a writer killed mid-append left
  before hyperlab moved such lines aside) keeps those records. A trial created on a damaged
  line (the line starts as a "create trial" record does, or later lines name a trial no line
  before them created) becomes a placeholder trial, so the trials after it keep their
  identities; unless later lines finish it, it is marked failed. Records Optuna cannot replay
  are dropped; the result is checked by replaying it. The trials that were running at a
  damaged line, or were created on it, are named as possibly incomplete. A study created on a
  damaged line is put back when its name and directions can still be read there; else the
  report says that its records are lost.
* SQLite files (``sqlite:///PATH``): the rows of every table that can be read are copied into a
  scratch database, scanning each table without its indexes and stepping over damaged pages;
  then every study and every trial that is whole is copied from there into a fresh file through
  Optuna's storage API. A file whose table list is unreadable cannot be recovered this way.

Stop every process that uses the storage first (``hyperlab worker`` processes included): the run
folder's lock and the journal's lock are held while the file is replaced, but a process that has
the old file open would not notice the new one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import warnings
from collections import Counter
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import TrialState

from hyperlab.errors import InputError, StorageError
from hyperlab.lab.damage import (
    RECORD_START,
    not_a_journal,
    parse_record,
    side_file,
    sqlite_problem,
    storage_file,
)
from hyperlab.lab.journal import FlockLock
from hyperlab.lab.repeats import find_repeats

#: System attribute of a placeholder trial: the journal line whose trial it stands for.
PLACEHOLDER = "hyperlab:placeholder_for_line"
_CREATE_STUDY = 0  # Optuna's journal operation code for "create study"
_CREATE_TRIAL = 4  # Optuna's journal operation code for "create trial"
_FILE_URLS = ("journal:", "sqlite:///")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass
class Recovery:
    """What :func:`recover` did.

    Attributes:
        url: The storage.
        kept: Where the damaged original lies now (``None``: no damage found, nothing changed).
        studies: Studies in the storage now.
        trials: Its trials by state name, e.g. ``{"COMPLETE": 5, "FAIL": 1}``; a trial failed
            at once because other workers had claimed the study's last trials counts as
            ``"SURPLUS"``, not as a failure.
        lost: What could not be recovered or may be incomplete, one entry each.
        doubts: For a journal, what points to records lost at its very end, which a file cut
            at a line end would show and recover cannot restore
            (:func:`~hyperlab.lab.journal_end.end_doubts`), one entry each.
    """

    url: str
    kept: Path | None
    studies: int = 0
    trials: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report, as lines of text."""
        n = sum(self.trials.values())
        states = ", ".join(f"{v} {k.lower()}" for k, v in sorted(self.trials.items()))
        what = f"{self.studies} {'study' if self.studies == 1 else 'studies'}, {n} "
        what += f"trial{'' if n == 1 else 's'}" + (f" ({states})" if states else "")
        if self.kept is None:
            out = [f"{self.url}: no damage found, nothing changed ({what})"]
        else:
            out = [f"recovered {self.url}: {what}"]
            if self.lost:
                out.append("lost, or possibly incomplete:")
                out += [f"  {item}" for item in self.lost]
            else:
                out.append("nothing was lost")
            out.append(f"the damaged original is kept as {self.kept}")
        if self.doubts:
            out.append(
                "a journal has no end mark, so records lost at its end leave no damaged "
                "line; what points to such a loss (not restored):"
            )
            out += [f"  {item}" for item in self.doubts]
        return out


def recover(target: str | Path) -> Recovery:
    """Copy every intact trial of a damaged journal or SQLite file into a fresh one in its place.

    Args:
        target: A run folder (its ``run.json`` names the storage) or a ``journal:PATH`` or
            ``sqlite:///PATH`` URL.

    Raises:
        InputError: ``target`` is neither, names a database server, or its file is missing.
        RunInUseError: A command is running the run, or workers are running trials in the
            file (a heartbeat within the default grace period).
        StorageError: Nothing can be read from the file (it is left as it was).
    """
    url, folder = _storage_of(target)
    path = storage_file(url)
    if path.is_dir():
        raise InputError(f"storage {str(path)!r} is a folder, not a journal or SQLite file")
    if not path.is_file():
        raise InputError(f"storage file {str(path)!r} does not exist")
    with _run_locked(folder):
        _check_no_workers(url)
        if url.startswith("journal:"):
            kept, lost = _recover_journal(path)
        else:
            kept, lost = _recover_sqlite(path)
    return _summary(url, kept, lost, path if url.startswith("journal:") else None)


def _storage_of(target: str | Path) -> tuple[str, Path | None]:
    """``(storage URL, run folder or None)`` of what ``hyperlab recover`` was given."""
    text = str(target)
    if text.startswith(_FILE_URLS):
        return text, _run_holding(text)
    if _SCHEME.match(text) is None:
        from hyperlab.lab.rundir import RunDir

        url = RunDir(text).load_spec().storage
        if url.startswith(_FILE_URLS):
            return url, Path(text)
        text = url
    from hyperlab.lab.storage import redact

    raise InputError(
        f"cannot recover {redact(text)!r}: hyperlab recover handles journal files (journal:PATH) "
        "and SQLite files (sqlite:///PATH); repair a database server with its own tools"
    )


def _run_holding(url: str) -> Path | None:
    """The run folder whose storage the file of ``url`` is, when it lies in one (its default
    storage): recovering it takes that run's lock, as ``hyperlab recover runs/NAME`` does."""
    from hyperlab.errors import HyperlabError
    from hyperlab.lab.rundir import SPEC_FILE, RunDir

    folder = storage_file(url).absolute().parent
    if not (folder / SPEC_FILE).is_file():
        return None
    try:
        own = storage_file(RunDir(folder).load_spec().storage)
    except (HyperlabError, OSError):
        return None
    same = own is not None and own.absolute().resolve() == storage_file(url).absolute().resolve()
    return folder if same else None


def _check_no_workers(url: str) -> None:
    """Refuse to replace a storage file while workers run trials in it (they would go on
    writing into the file that was moved aside)."""
    from hyperlab.lab.workers import live_trials, workers_running_error

    live = live_trials(url, read=False)  # (a journal by its heartbeat files alone)
    if live:
        raise workers_running_error(url, live, f"recover {str(storage_file(url))!r}")


@contextmanager
def _run_locked(folder: Path | None) -> Iterator[None]:
    if folder is None:
        yield
        return
    from hyperlab.lab.runlock import run_lock

    folder = folder.resolve()
    with run_lock(folder.parent, folder.name):
        yield


def _summary(url: str, kept: Path | None, lost: list[str], journal: Path | None) -> Recovery:
    """Open the storage as every command does and count what it holds (and for a journal,
    what points to records lost at its end)."""
    from hyperlab.lab.journal_end import end_doubts
    from hyperlab.lab.storage import open_storage
    from hyperlab.lab.trial_kinds import is_surplus

    storage = open_storage(url)
    studies = storage.get_all_studies()
    counts: Counter[str] = Counter()
    for study in studies:
        for trial in storage.get_all_trials(study._study_id, deepcopy=False):
            counts["SURPLUS" if is_surplus(trial) else trial.state.name] += 1
    doubts = end_doubts(storage, journal) if journal is not None else []
    _dispose(storage)
    return Recovery(url, kept, len(studies), dict(counts), lost, doubts)


def _dispose(storage: Any) -> None:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()  # let go of the file


def _replace(path: Path, fresh: Path) -> Path:
    """Move ``path`` (and a SQLite file's ``-wal``/``-shm``) aside and ``fresh`` into its place."""
    kept = side_file(path)
    os.replace(path, kept)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            os.replace(extra, kept.with_name(kept.name + suffix))
    os.replace(fresh, path)
    return kept


# --- journal files ---------------------------------------------------------------------------


@dataclass
class _Lines:
    """The records salvaged from a journal file, with their line numbers.

    Attributes:
        records: ``(line number, record)``, in the file's order.
        lost: What was lost, one entry each.
        changed: Whether any line was damaged.
        damaged: ``(index in records, line number, length)`` of each damaged line: where the
            records it held would have stood.
        studies: The damaged lines that name a study, by line number.
    """

    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    changed: bool = False
    damaged: list[tuple[int, int, int]] = field(default_factory=list)
    studies: dict[int, bytes] = field(default_factory=dict)


def _recover_journal(path: Path) -> tuple[Path | None, list[str]]:
    """Rewrite a journal file from its intact records; ``(kept original, what was lost)``."""
    _check_journal(path)  # (before the lock, whose file another program's file would get)
    lock = FlockLock(str(path))
    lock.acquire()  # no writer appends meanwhile
    try:
        salvaged = _salvage_lines(path.read_bytes())
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
        return _replace(path, fresh), lost
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
        if op == _CREATE_TRIAL:
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


def _salvage_lines(data: bytes) -> _Lines:
    """Every whole record of a journal file's bytes, and what was lost."""
    out = _Lines()
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        complete = number < len(lines)  # every piece but the last had a line end
        if not complete and not line:
            break
        record = parse_record(line)
        if record is not None:
            out.records.append((number, record))
            out.changed |= not complete
            continue
        out.changed = True
        out.damaged.append((len(out.records), number, len(line)))
        if b'"study_name":' in line:
            out.studies[number] = line
        _salvage_line(out, number, line, complete)
    _drop_repeats(out)
    _restore_lost_studies(out)
    _restore_lost_creations(out)
    return out


def _salvage_line(out: _Lines, number: int, line: bytes, complete: bool) -> None:
    """Keep what can be kept of damaged line ``number``."""
    starts = [m.start() for m in re.finditer(re.escape(RECORD_START), line)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    pieces = [line[a:b] for a, b in zip(starts, [*starts[1:], len(line)])]
    whole = [r for r in map(parse_record, pieces) if r is not None]
    if whole:  # records appended after one cut off mid-write
        out.records.extend((number, r) for r in whole)
        out.lost.append(f"line {number}: a record cut off mid-write ({len(whole)} after it kept)")
    elif complete and line.startswith(RECORD_START + str(_CREATE_TRIAL).encode() + b","):
        out.records.append((number, _placeholder(number, line, out.records)))
        out.lost.append(
            f"line {number}: damaged; the trial it created is kept, failed unless later "
            "lines finish it"
        )
    else:
        out.lost.append(f"line {number}: {'damaged' if complete else 'cut off mid-write'}")


def _drop_repeats(out: _Lines) -> None:
    """Drop the blocks of records written twice (:mod:`hyperlab.lab.repeats`), saying which."""
    records = [record for _, record in out.records]
    repeats = find_repeats(records)
    if not repeats:
        return
    for repeat in repeats:
        size = repeat.stop - repeat.start
        copy = _span(out.records[repeat.start][0], out.records[repeat.stop - 1][0])
        source = _span(out.records[repeat.source][0], out.records[repeat.source + size - 1][0])
        out.lost.append(
            f"{copy}: a copy of {source} ({repeat.what(records)}), written twice; the copy "
            "was dropped"
        )
    drop = {i for repeat in repeats for i in range(repeat.start, repeat.stop)}
    out.records = [entry for i, entry in enumerate(out.records) if i not in drop]
    out.damaged = [
        (index - sum(i < index for i in drop), number, length)
        for index, number, length in out.damaged
    ]
    out.changed = True


def _span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


#: The fewest bytes a journal record takes (``{"op_code":4,"worker_id":"","study_id":0}``):
#: a damaged line of ``n`` bytes held at most ``n // _SHORTEST + 1`` records.
_SHORTEST = 40


def _restore_lost_creations(out: _Lines) -> None:
    """Put placeholder trials where a damaged line created trials that later lines name.

    Optuna numbers trials by the "create trial" records before them, so one lost in a damaged
    line would hand every later trial's records to the trial created before it. A record naming
    a trial that no earlier record created shows such a loss: as many placeholders as it takes
    go where the last damaged line before it stood (at most as many as that line could hold).
    """
    created, at, room = 0, -1, 0
    inserts: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for i, (_number, record) in enumerate(out.records):
        while at + 1 < len(out.damaged) and out.damaged[at + 1][0] <= i:
            at += 1
            room = out.damaged[at][2] // _SHORTEST + 1
        if record.get("op_code") == _CREATE_TRIAL:
            created += 1
            continue
        trial_id = record.get("trial_id")
        if at < 0 or type(trial_id) is not int or not created <= trial_id < created + room:
            continue
        index, number, _length = out.damaged[at]
        missing = trial_id + 1 - created
        study_id = _study_of_worker(record.get("worker_id"), out.records, i)
        stand_in = _placeholder(number, b"", out.records[:index], study_id)
        inserts.setdefault(index, []).extend((number, dict(stand_in)) for _ in range(missing))
        created, room = created + missing, room - missing
        out.lost.append(
            f"line {number}: {missing} trial{'s' if missing > 1 else ''} created on it, kept "
            f"as {'placeholders' if missing > 1 else 'a placeholder'}, failed unless later "
            "lines finish them"
        )
    for index in sorted(inserts, reverse=True):
        out.records[index:index] = inserts[index]
    out.lost.sort(key=_line_number)


def _restore_lost_studies(out: _Lines) -> None:
    """Put back a study whose creation a damaged line held and later lines name, when its
    name and directions can still be read on that line; else say that its records are lost.

    Optuna numbers studies by the "create study" records before them (a name created twice
    counts once), and drops every record of a study that does not exist.
    """
    names: set[Any] = set()
    said: set[int] = set()
    at = -1
    inserts: list[tuple[int, int, dict[str, Any]]] = []
    for i, (_number, record) in enumerate(out.records):
        while at + 1 < len(out.damaged) and out.damaged[at + 1][0] <= i:
            at += 1
        if record.get("op_code") == _CREATE_STUDY:
            names.add(record.get("study_name"))
            continue
        if at < 0 or record.get("study_id") != len(names) or len(names) in said:
            continue
        index, number, _length = out.damaged[at]
        found = _study_on(out.studies.get(number, b""))
        if found is None or found["study_name"] in names:
            said.add(len(names))
            trials = sum(
                r.get("op_code") == _CREATE_TRIAL and r.get("study_id") == len(names)
                for _, r in out.records
            )
            out.lost.append(
                f"line {number}: damaged; it created study {len(names)}, whose name cannot be "
                f"read: that study's records are lost, its {trials} trials with them"
            )
            continue
        inserts.append((index, number, found))
        names.add(found["study_name"])
        out.lost.append(
            f"line {number}: damaged; the study it created, {found['study_name']!r}, is kept "
            "(its name and directions read from what is left of the line)"
        )
    for index, number, record in reversed(inserts):
        out.records.insert(index, (number, record))
    out.damaged = [  # the trials that damaged line created come after its study
        (index + sum(put <= index for put, _, _ in inserts), number, length)
        for index, number, length in out.damaged
    ]


def _study_on(line: bytes) -> dict[str, Any] | None:
    """The "create study" record whose name and directions can be read on a damaged line."""
    name = re.search(rb'"study_name":("(?:[^"\\\x00-\x1f]|\\.)*")', line)
    directions = re.search(rb'"directions":\[([12](?:,[12])*)\]', line)
    if name is None or directions is None:
        return None
    try:
        study_name = json.loads(name[1])
    except ValueError:
        return None
    return {
        "op_code": _CREATE_STUDY,
        "worker_id": "hyperlab-recover",
        "study_name": study_name,
        "directions": [int(d) for d in directions[1].split(b",")],
    }


def _line_number(entry: str) -> int:
    found = re.match(r"lines? (\d+)", entry)
    return int(found[1]) if found else 0


def _study_of_worker(
    worker: Any, records: list[tuple[int, dict[str, Any]]], stop: int
) -> int | None:
    """The study of the last trial that ``worker`` created before ``records[stop]``."""
    for i in range(stop - 1, -1, -1):
        record = records[i][1]
        if record.get("op_code") == _CREATE_TRIAL and record.get("worker_id") == worker:
            study_id = record.get("study_id")
            return study_id if type(study_id) is int else None
    return None


def _placeholder(
    number: int,
    line: bytes,
    before: list[tuple[int, dict[str, Any]]],
    study_id: int | None = None,
) -> dict[str, Any]:
    """A "create trial" record standing for the damaged one on line ``number``, in study
    ``study_id`` if given, else the one the line names or that of the last trial created
    before it."""
    study = re.search(rb'"study_id":(\d+)', line)
    if study_id is not None:
        pass
    elif study is not None:
        study_id = int(study[1])
    else:  # the study of the last trial created before it
        creates = [r for _, r in before if r.get("op_code") == _CREATE_TRIAL]
        study_id = creates[-1].get("study_id", 0) if creates else 0
    start = datetime.now(timezone.utc).isoformat()
    found = re.search(rb'"datetime_start":"([^"]+)"', line)
    if found is not None:
        try:
            start = datetime.fromisoformat(found[1].decode()).isoformat()
        except (ValueError, UnicodeDecodeError):
            pass
    return {
        "op_code": _CREATE_TRIAL,
        "worker_id": "hyperlab-recover",
        "study_id": study_id,
        "datetime_start": start,
        "system_attrs": {PLACEHOLDER: number},
    }


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
            number, record = numbered.pop(memory.at)
            if touched is not None and type(record.get("trial_id")) is int:
                touched.add(record["trial_id"])
            dropped.append(f"line {number}: cannot be replayed ({type(exc).__name__}: {exc})")


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


# --- SQLite files ----------------------------------------------------------------------------


def _recover_sqlite(path: Path) -> tuple[Path | None, list[str]]:
    """Copy what can be read of a SQLite file into a fresh one; ``(kept original, lost)``."""
    copy = path.with_name(path.name + ".salvage-src")  # the original is only ever read
    scratch = path.with_name(path.name + ".salvage")
    fresh = path.with_name(path.name + ".recovering")
    for stale in (copy, scratch, fresh):
        _remove_db(stale)
    try:
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        # checked on the copy: opening a file with a WAL beside it writes the WAL into it
        if sqlite_problem(copy) is None:
            return None, []
        rows = _salvage_rows(copy, scratch, path)
        lost = rows.lost + _copy_studies(scratch, fresh, rows)
    except BaseException:
        _remove_db(fresh)
        raise
    finally:
        _remove_db(copy)
        _remove_db(scratch)
    return _replace(path, fresh), lost


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


#: Tables of a trial's parameters and values: a trial that may have lost rows there is left out.
_VITAL = ("trial_params", "trial_values")


@dataclass
class _Rows:
    """What the row salvage lost.

    Attributes:
        lost: One line per table that lost rows.
        suspects: ``(table, lowest, highest)``: trials with ids in that range (``None``: open)
            may have lost rows of that table.
    """

    lost: list[str] = field(default_factory=list)
    suspects: list[tuple[str, int | None, int | None]] = field(default_factory=list)

    def damage(self, trial_id: int) -> list[str]:
        """The tables in which trial ``trial_id`` may have lost rows."""
        return sorted(
            {
                table
                for table, low, high in self.suspects
                if (low is None or low <= trial_id) and (high is None or trial_id <= high)
            }
        )


def _salvage_rows(source_path: Path, target_path: Path, shown: Path) -> _Rows:
    """Copy every readable row of every table into a new database with the same tables.

    Raises:
        StorageError: The list of tables is unreadable (``shown`` names the file).
    """
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path)
    try:
        try:
            schema = source.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"nothing can be recovered from SQLite file {str(shown)!r}: its list "
                f"of tables is unreadable ({exc}); the file is left as it was"
            ) from None
        out = _Rows()
        for kind, name, sql in schema:
            if kind == "table" and not name.startswith("sqlite_"):
                target.execute(sql)
                error, gaps = _copy_rows(source, target, name)
                if error is not None:
                    out.lost.append(f"rows of table {name} ({error})")
                    out.suspects += _suspects(target, name, gaps)
        for kind, _name, sql in schema:
            if kind == "index":
                try:
                    target.execute(sql)
                except sqlite3.Error:
                    pass  # the indexes only make the next step faster
        target.commit()
        return out
    finally:
        source.close()
        target.close()


Gap = tuple[int | None, int | None]


def _copy_rows(
    source: sqlite3.Connection, target: sqlite3.Connection, table: str
) -> tuple[str | None, list[Gap]]:
    """Copy the readable rows of ``table`` in rowid order, stepping over damaged pages.

    Returns:
        The error met (``None``: none) and the gaps: ``(last rowid read before, first rowid
        read after)`` around each run of lost rows (``None``: no such row).
    """
    quoted = '"' + table.replace('"', '""') + '"'
    query = f"SELECT rowid, * FROM {quoted} NOT INDEXED WHERE rowid > ? ORDER BY rowid"
    after: int | None = None
    jump, error, gaps, open_gap = 0, None, [], False
    while jump < 2**40:
        start = -(2**63) if after is None else min(after + jump, 2**63 - 1)
        try:
            for row in source.execute(query, (start,)):
                if open_gap:
                    gaps.append((after, row[0]))
                    open_gap = False
                after, jump = row[0], 0
                marks = ",".join("?" * (len(row) - 1))
                target.execute(f"INSERT OR IGNORE INTO {quoted} VALUES ({marks})", row[1:])
            break
        except sqlite3.DatabaseError as exc:
            error, open_gap = str(exc), True
            jump = max(1, jump * 2)  # look for readable rows further on
    if open_gap:
        gaps.append((after, None))
    return error, gaps


def _suspects(
    target: sqlite3.Connection, table: str, gaps: list[Gap]
) -> list[tuple[str, int | None, int | None]]:
    """The trial ids that rows lost in ``gaps`` of a per-trial table may have belonged to.

    Rows are added as trials run, so a lost row belongs to a trial between the trials of the
    rows read on either side of it.
    """
    columns = {r[1] for r in target.execute(f'PRAGMA table_info("{table}")')}
    if table == "trials" or "trial_id" not in columns:
        return []
    quoted = '"' + table.replace('"', '""') + '"'

    def trial_of(rowid: int | None) -> int | None:
        if rowid is None:
            return None
        found = target.execute(f"SELECT trial_id FROM {quoted} WHERE rowid = ?", (rowid,))
        row = found.fetchone()
        return None if row is None else int(row[0])

    return [(table, trial_of(low), trial_of(high)) for low, high in gaps]


def _copy_studies(source_path: Path, target_path: Path, rows: _Rows) -> list[str]:
    """Copy every study and every whole trial through Optuna; what was left out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = optuna.storages.RDBStorage(
            f"sqlite:///{source_path}", skip_compatibility_check=True, skip_table_creation=True
        )
        target = optuna.storages.RDBStorage(f"sqlite:///{target_path}")
    lost: list[str] = []
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" lines
    try:
        for study in source.get_all_studies():
            study_id = target.create_new_study(study.directions, study.study_name)
            for key, value in study.user_attrs.items():
                target.set_study_user_attr(study_id, key, value)
            for key, value in study.system_attrs.items():
                target.set_study_system_attr(study_id, key, value)
            copy = optuna.load_study(study_name=study.study_name, storage=target)
            for trial in source.get_all_trials(study._study_id, deepcopy=False):
                lost += _copy_trial(copy, trial, rows.damage(trial._trial_id))
    finally:
        optuna.logging.set_verbosity(verbosity)
        _dispose(source)
        _dispose(target)
    return lost


def _copy_trial(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, damage: list[str]
) -> list[str]:
    """Add ``trial`` to ``study`` unless it is not whole; what to report about it."""
    name = f"trial {trial.number} of study {study.study_name!r}"
    vital = [table for table in damage if table in _VITAL]
    if vital:
        return [f"{name}: some of its rows in {', '.join(vital)} may be lost"]
    try:
        study.add_trial(trial)  # checks that the trial is whole
    except ValueError as exc:
        return [f"{name}: {exc}"]
    if damage:
        return [f"{name}: kept, though some of its rows in {', '.join(damage)} may be lost"]
    return []
