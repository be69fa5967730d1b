"""Reading a damaged journal file's lines for ``hyperlab recover``: every whole record, in order.

A line on which whole records follow one cut off mid-write keeps those records; blocks of
records written twice are dropped; a study or trial created on a damaged line is put back
(a study when its name and directions can still be read there, a trial as a placeholder) so
the records after it keep their meaning. What was lost is said, one entry per line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hyperlab.lab.damage import RECORD_START, parse_record
from hyperlab.lab.repeats import find_repeats

#: System attribute of a placeholder trial: the journal line whose trial it stands for.
PLACEHOLDER = "hyperlab:placeholder_for_line"


_CREATE_STUDY = 0  # Optuna's journal operation code for "create study"
CREATE_TRIAL = 4  # Optuna's journal operation code for "create trial"


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


def salvage_lines(data: bytes) -> _Lines:
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
    elif complete and line.startswith(RECORD_START + str(CREATE_TRIAL).encode() + b","):
        out.records.append((number, placeholder_record(number, line, out.records)))
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
        if record.get("op_code") == CREATE_TRIAL:
            created += 1
            continue
        trial_id = record.get("trial_id")
        if at < 0 or type(trial_id) is not int or not created <= trial_id < created + room:
            continue
        index, number, _length = out.damaged[at]
        missing = trial_id + 1 - created
        study_id = _study_of_worker(record.get("worker_id"), out.records, i)
        stand_in = placeholder_record(number, b"", out.records[:index], study_id)
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
                r.get("op_code") == CREATE_TRIAL and r.get("study_id") == len(names)
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
        if record.get("op_code") == CREATE_TRIAL and record.get("worker_id") == worker:
            study_id = record.get("study_id")
            return study_id if type(study_id) is int else None
    return None


def placeholder_record(
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
        creates = [r for _, r in before if r.get("op_code") == CREATE_TRIAL]
        study_id = creates[-1].get("study_id", 0) if creates else 0
    start = datetime.now(timezone.utc).isoformat()
    found = re.search(rb'"datetime_start":"([^"]+)"', line)
    if found is not None:
        try:
            start = datetime.fromisoformat(found[1].decode()).isoformat()
        except (ValueError, UnicodeDecodeError):
            pass
    return {
        "op_code": CREATE_TRIAL,
        "worker_id": "hyperlab-recover",
        "study_id": study_id,
        "datetime_start": start,
        "system_attrs": {PLACEHOLDER: number},
    }
