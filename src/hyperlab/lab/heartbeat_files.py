"""Heartbeats read without opening the storage through Optuna: ``hyperlab recover`` (which
must not write into the damaged file it replaces) and a journal that does not open judge the
running trials by these, each by the grace period its worker recorded (:data:`GRACE_ATTR`)."""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path

from hyperlab.lab.heartbeat import GRACE_ATTR, grace_or


def fresh_beat_files(
    folder: Path, grace: float, journal: Path | None = None
) -> dict[int, tuple[float, float]]:
    """``(seconds since it was touched, grace period)`` of each heartbeat file of ``folder``,
    by trial id, for those touched within their trial's grace period: its own worker's, read
    from ``journal`` (:func:`journal_graces`), else ``grace`` (a file removed after the
    listing: its trial ended)."""
    now = time.time()
    ages = {}
    for beat in sorted(folder.iterdir()) if folder.is_dir() else ():
        try:
            age = now - beat.stat().st_mtime
        except FileNotFoundError:
            continue
        if beat.name.isdigit():
            ages[int(beat.name)] = max(0.0, age)
    own = journal_graces(journal) if ages and journal is not None else {}
    judged = {trial_id: (age, own.get(trial_id, grace)) for trial_id, age in ages.items()}
    return {trial_id: (age, g) for trial_id, (age, g) in judged.items() if age <= g}


def journal_graces(journal: Path) -> dict[int, float]:
    """The grace period each trial of ``journal`` recorded (:data:`GRACE_ATTR`), by trial id,
    read from its lines without Optuna (which would repair a cut last line); a line that is
    not a record (cut, damaged) or a file that cannot be read gives none."""
    from optuna.storages.journal._storage import JournalOperation

    out: dict[int, float] = {}
    try:
        with journal.open("rb") as f:
            for line in f:
                if GRACE_ATTR.encode() not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                op = record.get("op_code") if isinstance(record, dict) else None
                attrs, trial_id = record.get("system_attr"), record.get("trial_id")
                if op != JournalOperation.SET_TRIAL_SYSTEM_ATTR or not isinstance(attrs, dict):
                    continue
                grace = grace_or(attrs.get(GRACE_ATTR), math.nan)
                if isinstance(trial_id, int) and not math.isnan(grace):
                    out[trial_id] = grace
    except OSError:
        return {}
    return out


def fresh_sqlite_beats(path: Path, grace: float) -> list[tuple[str, int, float, float]]:
    """``(study, trial number, seconds since its heartbeat, grace period)`` of the running
    trials of a SQLite file that beat within their grace period (their own worker's,
    :data:`GRACE_ATTR`, else ``grace``), read read-only (opening it through Optuna could write
    into it; a damaged or unreadable file shows none)."""
    import sqlite3

    query = (
        "SELECT s.study_name, t.number, "
        "(julianday(CURRENT_TIMESTAMP) - julianday(h.heartbeat)) * 86400, a.value_json "
        "FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
        "JOIN studies s ON s.study_id = t.study_id "
        "LEFT JOIN trial_system_attributes a ON a.trial_id = t.trial_id AND a.key = ? "
        "WHERE t.state = 'RUNNING'"
    )
    uri = path.absolute().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute(query, (GRACE_ATTR,)).fetchall()
    except sqlite3.Error:
        return []
    out = []
    for name, number, age, recorded in rows:
        try:
            own = grace_or(json.loads(recorded), grace) if recorded is not None else grace
        except ValueError:
            own = grace
        if age is not None and age <= own:
            out.append((str(name), int(number), max(0.0, float(age)), own))
    return out
