"""Damaged storage files: a cut-off journal line is repaired, any other damage is named.

A worker killed in the middle of an append leaves the journal file (``journal:PATH``) ending in
a cut-off line. Optuna's reader skips such a line, but the next append would land on the same
line and make the whole journal unreadable. :class:`JournalFile` therefore looks at the end of
the file when it is opened and before each append, holding the journal's lock (every hyperlab
writer appends under that lock, so while it is held no append is half done): a cut-off last line
is moved to a side file ``PATH.damaged-<UTC time>`` (never dropped), the journal is truncated to
its last complete line and a :class:`RuntimeWarning` names both files. A last line that holds a
whole record and only lacks its line end gets the line end instead.

Any other damage raises :class:`~hyperlab.errors.StorageError` naming the file (and, for a
journal, the line) with the ``hyperlab recover`` command that copies every intact trial into a
fresh storage (:mod:`hyperlab.lab.repair`): a line before the last one that is not a journal
record, a file that is not text, a SQLite file that fails SQLite's ``PRAGMA quick_check``.
"""

from __future__ import annotations

import codecs
import json
import os
import shlex
import sqlite3
import warnings
from collections.abc import Generator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from optuna.storages.journal import JournalFileBackend

from hyperlab.errors import InputError, StorageError
from hyperlab.lab import urls
from hyperlab.lab.journal import FlockLock

#: What separates a storage file's name from the time in the name of its damaged copy.
DAMAGED = ".damaged-"
_CHUNK = 1 << 16


def recover_command(url: str) -> str:
    """The ``hyperlab recover`` command for the storage file of ``url`` (``journal:``/``sqlite:``).

    It names the run folder when the file lies in one, else the URL.
    """
    from hyperlab.lab.run_paths import SPEC_FILE

    folder = storage_file(url).parent
    target = str(folder) if (folder / SPEC_FILE).is_file() else url
    return f"hyperlab recover {shlex.quote(target)}"


def storage_file(url: str) -> Path:
    """The file behind a ``journal:PATH`` or ``sqlite:///PATH`` URL.

    Raises:
        InputError: ``url`` names a database server, not a file.
    """
    path = urls.storage_file(url)
    if path is None:
        raise InputError(f"storage {urls.without_password(url)!r} is not a SQLite or journal file")
    return path


def side_file(path: Path) -> Path:
    """A free name ``PATH.damaged-<UTC time>`` next to ``path`` for damaged bytes or files."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    side = path.with_name(f"{path.name}{DAMAGED}{stamp}")
    n = 1
    while side.exists():
        n += 1
        side = path.with_name(f"{path.name}{DAMAGED}{stamp}-{n}")
    return side


def parse_record(line: bytes) -> dict[str, Any] | None:
    """The journal record on ``line`` (with or without its line end), or ``None``."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # also UnicodeDecodeError: not UTF-8
        return None
    if isinstance(record, dict) and type(record.get("op_code")) is int:
        return record
    return None


#: How every journal record starts (Optuna writes them without spaces).
RECORD_START = b'{"op_code":'


def not_a_journal(path: Path) -> str | None:
    """Why the file ``path`` is no journal: none of its lines starts as a record does (a
    damaged journal's lines still do, and a journal cut within its first record's start is
    one); ``None`` for a journal or an empty file. Reads up to the first record only."""
    count, text = 0, b""
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(RECORD_START):
                return None
            count, text = count + 1, text or line.strip()
    if not text or (count == 1 and RECORD_START.startswith(text)):
        return None
    if count == 1:
        return "its one line does not start as a journal record does"
    return f"none of its {count} lines starts as a journal record does"


def first_damage(path: Path) -> tuple[int, str] | None:
    """The first damaged line of a journal file (counted from 1) and what is wrong with it."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.endswith(b"\n") or parse_record(line) is None:
                return number, _what(line)
    return None


def _what(line: bytes) -> str:
    """What is wrong with a journal line that is not a whole record."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data, not text"
    if not line.endswith(b"\n"):
        return "cut off: it has no line end"  # only the last line can be
    excerpt = line[:40].decode("utf-8", errors="replace")
    return f"not a journal record{_where(line)}: {excerpt!r}{'...' if len(line) > 40 else ''}"


def _where(line: bytes) -> str:
    """Where a text line that is no record goes wrong, when its start does not show it: zero
    bytes (what a disk error leaves), the column where it stops being JSON, or JSON that is no
    record (an object without its operation code, say)."""
    zero = line.find(b"\0")
    if zero >= 0:
        return f" ({line.count(0)} zero bytes, the first at column {zero + 1})"
    try:
        json.loads(line)
    except json.JSONDecodeError as exc:
        return f" (not JSON from column {exc.colno})"
    except (ValueError, RecursionError):
        return ""
    return " (JSON without an integer op_code)"


def journal_damaged(path: Path, detail: str = "") -> StorageError:
    """The error for a damaged journal file: the file, its first bad line, the way out."""
    found = first_damage(path) if path.is_file() else None
    where = f" at line {found[0]} ({found[1]})" if found else ""
    if detail:
        where += f" ({detail})"
    return StorageError(
        f"journal file {str(path)!r} is damaged{where}; copy every intact trial into a fresh "
        f"journal with `{recover_command(f'journal:{path}')}` (the damaged file is kept)"
    )


def _last_line_start(f: BinaryIO, size: int) -> int:
    """Where the last line of the open file starts (a final line end belongs to that line)."""
    pos = size - 1
    while pos > 0:
        start = max(0, pos - _CHUNK)
        f.seek(start)
        found = f.read(pos - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        pos = start
    return 0


def _cut_record(tail: bytes) -> bool:
    """Whether ``tail`` (a last line) looks like the start of a record cut off mid-write."""
    body = tail[:-1] if tail.endswith(b"\n") else tail
    if body and not body.startswith(b"{"):
        return False
    try:  # text, though maybe cut inside a character
        codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return False
    return True


def repair_tail(path: Path) -> Path | None:
    """Move a cut-off last line of a journal to a side file; the caller holds the lock.

    Returns:
        The side file, or ``None`` when the journal ended with a whole record (a missing final
        line end is added then).

    Raises:
        StorageError: The last line is damaged in another way (binary data, say).
    """
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        start = _last_line_start(f, size)
        f.seek(start)
        tail = f.read()
        if parse_record(tail) is not None:
            if not tail.endswith(b"\n"):
                f.write(b"\n")
                _sync(f)
            return None
        if not _cut_record(tail):
            raise journal_damaged(path)
        side = side_file(path)
        with open(side, "xb") as out:
            out.write(tail)
            _sync(out)
        f.truncate(start)
        _sync(f)
    return side


def _sync(f: BinaryIO) -> None:
    f.flush()
    os.fsync(f.fileno())


def _ends_with_line_end(path: Path) -> bool:
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _warn_cut(path: Path, side: Path) -> None:
    warnings.warn(
        f"journal file {str(path)!r} ended in a line cut off mid-write (a writer was stopped); "
        f"moved that line to {str(side)!r} and went on from the last complete line",
        RuntimeWarning,
        stacklevel=3,
    )


class JournalFile(JournalFileBackend):
    """Optuna's journal file backend under a :class:`FlockLock` that survives a cut-off line.

    Appends always start on a fresh line (a cut-off last line is moved aside first), and a
    damaged journal raises :class:`StorageError` instead of a decoding error.

    Args:
        path: The journal file (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.line = 0  # the line of the record read last (Optuna reads one record a line)
        self.lock = FlockLock(str(self.path))
        super().__init__(str(self.path), lock_obj=self.lock)

    def repair(self) -> Path | None:
        """Move a cut-off last line aside (warning about it); the side file, if any."""
        self.lock.acquire()
        try:
            side = repair_tail(self.path)
        finally:
            self.lock.release()
        if side is not None:
            _warn_cut(self.path, side)
        return side

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        try:
            for line, record in enumerate(super().read_logs(log_number_from), log_number_from + 1):
                if not isinstance(record, dict) or type(record.get("op_code")) is not int:
                    raise ValueError("not a journal record")
                self.line = line
                yield record
        except ValueError:  # JSONDecodeError, UnicodeDecodeError, a line without its end
            raise journal_damaged(self.path) from None

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        side = None
        self.lock.acquire()
        try:
            if not _ends_with_line_end(self.path):
                side = repair_tail(self.path)
            with open(self.path, "ab") as f:
                f.write(data.encode("utf-8"))
                _sync(f)
        finally:
            self.lock.release()
        if side is not None:
            _warn_cut(self.path, side)


def sqlite_problem(path: Path) -> str | None:
    """What SQLite's ``PRAGMA quick_check`` finds wrong with a database file (``None``: nothing).

    A missing or empty file, or one that is busy, passes.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(path, timeout=10)  # read and write: it cleans up its WAL file
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError:  # locked or busy: nothing known about damage
        return None
    except sqlite3.DatabaseError as exc:  # not a database, malformed
        return str(exc)
    finally:
        conn.close()
    if rows == [("ok",)]:
        return None
    return " ".join(" ".join(str(r[0]) for r in rows[:3]).split())[:300]


def check_sqlite(url: str) -> None:
    """Raise :class:`StorageError` when the SQLite file of ``url`` is damaged.

    Raises:
        StorageError: It fails SQLite's ``quick_check``; the message names the file, the
            problem and the ``hyperlab recover`` command.
    """
    path = storage_file(url)
    problem = sqlite_problem(path)
    if problem is not None:
        raise StorageError(
            f"SQLite file {str(path)!r} is damaged ({problem}); copy every readable trial into "
            f"a fresh file with `{recover_command(url)}` (the damaged file is kept)"
        )
