"""Whether a storage to open exists, and holds Optuna's tables rather than another program's
(opening would write Optuna's among them).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from hyperlab.errors import DataNotFoundError, StorageError
from hyperlab.lab import urls
from hyperlab.lab.storage_errors import redact


def check_exists(url: str) -> None:
    """Refuse a SQLite or journal URL whose file does not exist (opening would create it).

    Raises:
        DataNotFoundError: The file does not exist (or is a folder); the message names it.
    """
    path = urls.storage_file(url)
    if path is not None and path.is_file() and url.startswith("sqlite"):
        check_optuna_tables(url, path)
    if path is None or path.is_file():
        return
    if path.is_dir():
        raise DataNotFoundError(
            f"storage {redact(url)!r} names the folder {str(path)!r}, not a storage file"
        )
    where = "" if path.is_absolute() else f", read from the current folder {os.getcwd()!r}"
    raise DataNotFoundError(
        f"no such storage file {str(path)!r} (storage {redact(url)!r}{where}); nothing was created"
    )


def check_optuna_tables(url: str, path: Path, *, empty_ok: bool = False) -> None:
    """Refuse a SQLite file that holds no Optuna storage, into which opening would write
    Optuna's tables: another program's database, or (unless ``empty_ok``: a storage about to be
    made) an empty one.

    Raises:
        StorageError: Naming the file and what it holds.
    """
    import sqlite3

    uri = path.absolute().as_uri() + "?mode=ro"  # (a quoted path: '#' or '?' in it is a name)
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    except sqlite3.DatabaseError:
        return  # not a readable database: opening names the damage
    _refuse_other_tables(url, tables, empty_ok=empty_ok)


def check_server_tables(
    url: str, shown: str, engine_kwargs: dict[str, Any], *, empty_ok: bool
) -> None:
    """Refuse a database on a server (PostgreSQL, MySQL) that holds no Optuna storage: one of
    another program's, into which Optuna would write its tables, or (unless ``empty_ok``) an
    empty one.

    Raises:
        StorageError: Naming the URL as given (``shown``, without its password) and the tables.
    """
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, **engine_kwargs)
    try:
        tables = sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    _refuse_other_tables(shown, tables, empty_ok=empty_ok)


#: Tables every Optuna storage holds (another program may have a table called ``studies``).
_OPTUNA_TABLES = frozenset({"studies", "version_info"})


def _refuse_other_tables(url: str, tables: list[str], *, empty_ok: bool) -> None:
    """Refuse a database with ``tables`` unless they hold an Optuna storage (or there are none
    and ``empty_ok``)."""
    if _OPTUNA_TABLES <= set(tables) or (empty_ok and not tables):
        return
    holds = f"the tables {sorted(tables)[:8]}" if tables else "no table (an empty database)"
    thing = "file" if url.startswith("sqlite") else "database"
    raise StorageError(
        f"storage {redact(url)!r} holds no Optuna storage: {holds}; name the {thing} a run or "
        f"`hyperlab tune --create-only` wrote, or a new {thing} (it is left as it was)"
    )
