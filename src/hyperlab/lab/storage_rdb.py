"""A database storage (SQLite, PostgreSQL, MySQL) opened: retried while its failures are
transient, two processes that make its tables at once both served, SQLite in write-ahead mode
(its log folded back at exit), and libpq told to give up on a server that does not answer.
"""

from __future__ import annotations

import atexit
import re
import time
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import optuna

from hyperlab.errors import StorageError
from hyperlab.lab import libpq, urls
from hyperlab.lab.heartbeat import HeartbeatRDBStorage
from hyperlab.lab.retrying import RetryingRDBStorage
from hyperlab.lab.storage_errors import check_file_path, error_chain, redact
from hyperlab.lab.storage_retries import with_retries
from hyperlab.lab.storage_tables import check_optuna_tables, check_server_tables

T = TypeVar("T")


def open_rdb(
    url: str,
    rdb_options: dict[str, Any],
    *,
    heartbeats: bool,
    max_retry: int | None,
    retries: int,
    backoff: float,
    must_exist: bool = False,
) -> optuna.storages.BaseStorage:
    """Open a database storage, retrying transient failures (see :func:`open_storage`).

    Args:
        url: The database URL.
        rdb_options: Keyword arguments of the RDB storage (heartbeat settings included).
        heartbeats: Whether running trials send heartbeats (``rdb_options`` hold their settings).
        max_retry: How often one configuration is re-queued after stale failures.
        retries: Further attempts to connect after transient errors.
        backoff: Seconds before the first retry, doubled after each.
        must_exist: Refuse a database that holds no Optuna storage yet (an empty one), not
            only one that holds another program's tables.
    """
    shown = url  # errors name the URL as given
    if url.startswith("sqlite:///"):
        _check_sqlite_file(url)
    if url.startswith(("postgresql", "postgres:")):
        url = _postgres_driver(url)
        rdb_options = _with_libpq_settings(url, rdb_options)

    def connect() -> optuna.storages.BaseStorage:
        if not url.startswith("sqlite"):  # (a SQLite file was looked at above)
            engine = rdb_options.get("engine_kwargs", {})
            check_server_tables(url, shown, engine, empty_ok=not must_exist)
        return _rdb_storage(url, rdb_options, heartbeats=heartbeats, max_retry=max_retry)

    try:
        storage = with_retries(
            lambda: _after_schema_races(connect),
            shown,
            "open storage",
            retries=retries,
            backoff=backoff,
        )
        if url.startswith("sqlite:"):
            _sqlite_wal(storage)
        return storage
    except ImportError as exc:
        raise StorageError(
            f"cannot open storage {redact(shown)!r}: its database driver is missing ({exc}); "
            "for PostgreSQL install it with `pip install 'hyperlab[postgres]'`"
        ) from None


def _check_sqlite_file(url: str) -> None:
    """Refuse the file of a SQLite ``url`` (``sqlite:///PATH``) whose folder does not exist,
    that is a folder, that is damaged (:func:`hyperlab.lab.damage.check_sqlite` names the
    command that recovers it) or that holds another program's tables.

    Raises:
        StorageError: The folder does not exist, the file is damaged or another program's.
        InputError: The path names a folder.
    """
    path = urls.storage_file(url) or Path(url[len("sqlite:///") :])  # (less any ?query)
    check_file_path(path, "SQLite", f"sqlite:///{path / 'study.db'}")
    from hyperlab.lab.damage import check_sqlite

    check_sqlite(url)  # a damaged file is named, with the command that recovers it
    if path.is_file():
        check_optuna_tables(url, path, empty_ok=True)  # not another program's database


def _with_libpq_settings(url: str, rdb_options: dict[str, Any]) -> dict[str, Any]:
    """``rdb_options`` for the PostgreSQL database ``url``: an engine that replaces a dropped
    connection rather than use it, and libpq's timeouts and a statement timeout, so a server
    that stops answering raises instead of hanging (:mod:`hyperlab.lab.libpq`); settings the
    options give win."""
    engine = dict(rdb_options.get("engine_kwargs", {}))
    engine.setdefault("pool_pre_ping", True)
    engine["connect_args"] = {**libpq.connect_args(url), **engine.get("connect_args", {})}
    engine["plugins"] = [*libpq.plugins(url), *engine.get("plugins", [])]
    return {**rdb_options, "engine_kwargs": engine}


def _rdb_storage(
    url: str, rdb_options: dict[str, Any], *, heartbeats: bool, max_retry: int | None
) -> optuna.storages.BaseStorage:
    """Optuna's storage of the database ``url`` (its tables made if new), whose writes are
    repeated after transient errors; with ``heartbeats``, one whose stale trials record why
    they failed (``max_retry``: how often a configuration is re-queued, for that reason)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if not heartbeats:
            return RetryingRDBStorage(url, **rdb_options)
        rdb = HeartbeatRDBStorage(url, **rdb_options)
        rdb.max_retry = max_retry
        return rdb


def _after_schema_races(connect: Callable[[], T]) -> T:
    """``connect()``, called again (a few times, after a short pause) while it fails because
    another process made the storage's tables meanwhile."""
    for attempt in range(_SCHEMA_RACE_TRIES):
        try:
            return connect()
        except Exception as exc:
            if not _lost_schema_race(exc) or attempt == _SCHEMA_RACE_TRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))  # the other process is making the tables
    raise AssertionError("unreachable")


#: What the database says to the second of two processes that make Optuna's tables in a new
#: database at once (two workers started together on a new SQLite file, say): its own insert
#: of the schema's version, or its own table, was there first.
_SCHEMA_RACE = ("alembic_version", "pg_type_typname_nsp_index", "already exists")
#: Attempts to open a storage whose tables other processes are making meanwhile.
_SCHEMA_RACE_TRIES = 5


def _lost_schema_race(exc: BaseException) -> bool:
    """Whether opening a storage failed because another process made its tables meanwhile."""
    import sqlalchemy.exc

    return any(
        isinstance(e, sqlalchemy.exc.DatabaseError)
        and any(marker in str(e) for marker in _SCHEMA_RACE)
        for e in error_chain(exc)
    )


def _sqlite_wal(storage: optuna.storages.BaseStorage) -> None:
    """Write-ahead logging without an fsync per commit for SQLite files.

    A commit survives a crash of the process (the data are in the OS's buffers and the WAL); only
    a crash of the whole machine can lose the last commits. It makes each trial's ~20 commits
    several times cheaper.
    """
    from sqlalchemy import event

    engine = getattr(storage, "engine", None)
    if engine is None:
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()  # connections opened from now on get the pragmas
    _close_at_exit(engine)


#: SQLite engines to close when the interpreter exits (weakly held).
_SQLITE_ENGINES: weakref.WeakSet[Any] = weakref.WeakSet()
_CLOSING_AT_EXIT = False


def _close_at_exit(engine: Any) -> None:
    """Close ``engine``'s connections at exit: SQLite folds the write-ahead log back into the
    database file only when its last connection closes, and a connection still pooled at
    exit (a cached storage) would leave every trial in ``study.db-wal``, not ``study.db``."""
    global _CLOSING_AT_EXIT
    if not _CLOSING_AT_EXIT:
        atexit.register(_dispose_sqlite_engines)
        _CLOSING_AT_EXIT = True
    _SQLITE_ENGINES.add(engine)


def _dispose_sqlite_engines() -> None:
    for engine in list(_SQLITE_ENGINES):
        try:
            engine.dispose()
        except Exception:  # exiting anyway; the data are safe in the log
            pass


def _postgres_driver(url: str) -> str:
    """Name a driver that is installed: SQLAlchemy 2.1 defaults to psycopg 3, 2.0 to psycopg2."""
    match = re.match(r"^(postgres|postgresql)://", url)
    if match is None:
        return url
    import importlib.util

    for module, dialect in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{dialect}://" + url[match.end() :]
    return url
