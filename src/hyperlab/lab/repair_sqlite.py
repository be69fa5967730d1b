"""Recovering a damaged SQLite file (``hyperlab recover``).

The rows of every table that can be read are copied into a scratch database, scanning each
table without its indexes and stepping over damaged pages; then every study and every trial
that is whole is copied from there into a fresh file through Optuna's storage API. A file
whose table list is unreadable cannot be recovered this way.
"""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from hyperlab.errors import StorageError
from hyperlab.lab.damage import sqlite_problem
from hyperlab.lab.repair_files import dispose_engine, replace_file


def recover_sqlite(path: Path) -> tuple[Path | None, list[str]]:
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
    return replace_file(path, fresh), lost


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
        dispose_engine(source)
        dispose_engine(target)
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
