"""Study storage: URLs, defaults per run directory, and clear errors.

Any Optuna storage URL works (``sqlite:///file.db``, ``postgresql://user:pw@host/db``, ...).
``journal:PATH`` names Optuna's journal file storage, which is safe for several local processes
(SQLite is not safe under concurrent writers).

Opening a database retries transient failures (connection refused, timeouts, a server that is
starting up or full) with exponential back-off, and reports permanent ones (wrong password,
unknown database, unknown host) at once; either way the error names the URL without its password.
PostgreSQL connections carry connect and statement timeouts (:mod:`hyperlab.lab.libpq`), so a
server that stops answering raises an error that is handled like an outage.
Heartbeats (``heartbeat_interval``/``grace_period``) let a worker notice a trial whose process
died: Optuna's RDB heartbeats for databases, :mod:`hyperlab.lab.heartbeat` for journal files.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import optuna

from hyperlab.errors import (
    DataNotFoundError,
    HyperlabError,
    InputError,
    InputTypeError,
    StorageError,
    listed,
)
from hyperlab.lab import libpq, urls
from hyperlab.lab.heartbeat import (
    HeartbeatJournalStorage,
    HeartbeatRDBStorage,
    beats_folder,
    stale_callback,
)
from hyperlab.lab.retrying import RetryingRDBStorage

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
#: The longest heartbeat interval, in seconds: the longest wait of the thread that beats
#: (``threading.TIMEOUT_MAX``, some 292 years); a longer one would stop that thread at once.
MAX_HEARTBEAT_INTERVAL = int(threading.TIMEOUT_MAX)


def redact(url: str) -> str:
    """``url`` (or any text quoting one) with every password replaced by ``***``."""
    return urls.mask(url)


def default_storage(run_dir: Path, jobs: int = 1) -> str:
    """The default storage of a run directory: SQLite for one process, a journal file for more."""
    run_dir = Path(run_dir)
    if jobs > 1:
        return f"journal:{(run_dir / 'study.journal').resolve()}"
    path = (run_dir / "study.db").resolve()
    odd = sorted({c for c in str(path) if c in URL_SYNTAX})
    if odd:  # SQLAlchemy would read them as a query, a fragment or an escape
        raise InputError(
            f"the run folder {str(run_dir)!r} holds {odd}, which a SQLite URL cannot hold in a "
            "path: choose a run name and runs folder without them"
        )
    return f"sqlite:///{path}"


#: Characters a database URL reads as syntax (a query, a fragment, an escape).
URL_SYNTAX = "?#%"


#: SQLite URLs of a database that lives in one connection's memory.
_IN_MEMORY = ("sqlite://", "sqlite:///", "sqlite:///:memory:")


def check_url(url: str) -> str:
    """Return ``url`` if it looks like a storage URL, else raise :class:`InputError` (or
    :class:`InputTypeError` for a value that is not a string)."""
    if not isinstance(url, str):
        raise InputTypeError(f"storage must be a URL (a string), got {url!r}")
    if not _SCHEME.match(url):
        raise InputError(
            f"malformed storage URL {redact(str(url))!r}: expected e.g. sqlite:///study.db, "
            "postgresql://user:password@host/db or journal:PATH"
        )
    if url.startswith("sqlite:") and url.split("?")[0] in _IN_MEMORY:
        raise InputError(
            f"storage URL {url!r} is an in-memory SQLite database, which no other connection "
            "(nor a resumed run) can see: give a file, e.g. sqlite:///study.db"
        )
    if url in ("journal:", "journal:.") or (url.endswith("/") and url.startswith("journal:")):
        raise InputError(
            f"storage URL {url!r} names no journal file: give one, e.g. journal:study.log"
        )
    secret = urls.password(url)
    if secret is not None and "@" in secret:
        raise InputError(
            f"the password in storage URL {redact(url)!r} holds a raw '@', which makes the host "
            "ambiguous: write it percent-encoded as %40"
        )
    if not url.startswith(("sqlite:", "journal:")):
        _server_url(url)
    return url


# Driver messages of failures that another attempt may not meet (psycopg2/libpq, MySQL, SQLite).
_TRANSIENT = (
    "connection refused",
    "timeout",
    "timed out",
    "could not connect",
    "server closed the connection",
    "the database system is starting up",
    "the database system is shutting down",
    "too many clients",
    "too many connections",
    "connection reset",
    "database is locked",
    "terminating connection",
    "ssl syscall error",
    "could not receive data",
    "could not send data",
)

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from or while handling (Optuna wraps the
    driver's errors, e.g. ``StorageInternalError`` from ``OperationalError``), looks like a
    failure that a later attempt may not meet."""
    return any(_transient_alone(e) for e in error_chain(exc))


def error_chain(exc: BaseException, most: int = 10) -> list[BaseException]:
    """``exc`` and the errors behind it (``__cause__``, else ``__context__``), nearest first."""
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(out) < most and e not in out:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def _transient_alone(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    text = str(exc).lower()
    if "unsupported startup parameter" in text:  # a pooler's refusal (of statement_timeout)
        return False
    return any(marker in text for marker in _TRANSIENT)


def transient_cause(exc: BaseException) -> str:
    """The message (masked, short) of the error behind ``exc`` that makes it transient: the
    driver's ``connection refused``, not Optuna's wrapper around it (``An exception is raised
    during the commit ... e.g. exceeding max length``)."""
    chain = error_chain(exc)
    cause = _cause(next((e for e in chain if _transient_alone(e)), exc))
    return f"{cause} ({libpq.TIMED_OUT})" if libpq.is_statement_timeout(exc) else cause


@contextlib.contextmanager
def storage_failures(url: str, what: str) -> Iterator[None]:
    """Report a transient storage error raised inside (one that outlived the storage's own
    repeats: a server down or hung) as a :class:`StorageError` naming ``url`` without its
    password and the driver's reason, not as a traceback; any other error as it is.

    Args:
        url: The storage URL.
        what: What was attempted, e.g. ``"read the studies of"``.
    """
    try:
        yield
    except HyperlabError:  # (a StorageError names the URL already)
        raise
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise StorageError(
            f"cannot {what} storage {redact(url)!r}: {transient_cause(exc)}; run the command "
            "again once the storage is back"
        ) from None


def _cause(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # SQLAlchemy wraps the driver's message: "(psycopg2.OperationalError) connection ... failed:"
    first = " ".join(lines[:2]) if lines else type(exc).__name__
    first = re.sub(r"\(Background on this error at:.*", "", first).strip()
    first = re.sub(r"\s*\[SQL: .*", "", first)  # (the statement, from SQLAlchemy)
    return redact(first)[:400]


def _hint(url: str, exc: BaseException) -> str:
    """What to do about a permanent error that libpq words for those who know it: a password
    none was given, a pooler that refuses our statement timeout (:mod:`hyperlab.lab.libpq`),
    or a database the URL does not name (libpq takes the user's name)."""
    if "no password supplied" in str(exc):
        return (
            "; give the password in PGPASSWORD or ~/.pgpass, or the full URL in "
            f"${urls.STORAGE_ENV}"
        )
    if "unsupported startup parameter in options: statement_timeout" in str(exc):
        return (
            "; a connection pooler (PgBouncer) refuses the statement timeout hyperlab sends: "
            "add ?options= to the URL to send none (see docs/scaling.md)"
        )
    if "does not exist" in str(exc) and _server_url(url).database is None:
        return (
            "; the URL names no database, so the server looked for one named after the user: "
            "name it after the host, e.g. postgresql://user@host:5432/NAME"
        )
    return ""


def _server_url(url: str) -> Any:
    """``url`` parsed by SQLAlchemy.

    Raises:
        InputError: SQLAlchemy cannot read it (a port that is not a number, a typo after the
            scheme); the message names the URL without its password.
    """
    from sqlalchemy.engine import make_url

    try:
        return make_url(url)
    except Exception as exc:  # (ArgumentError; ValueError for a port)
        raise InputError(
            f"malformed storage URL {redact(url)!r} ({_cause(exc)}): expected e.g. "
            "postgresql://user:password@host:5432/db"
        ) from None


def with_retries(
    func: Callable[[], T],
    url: str,
    what: str,
    *,
    retries: int = 3,
    backoff: float = 0.5,
) -> T:
    """Call ``func``, retrying transient storage errors with exponential back-off.

    Args:
        func: The storage operation.
        url: The storage URL (named in the error, without its password).
        what: What was attempted, e.g. ``"open storage"``.
        retries: Further attempts after the first one fails transiently.
        backoff: Seconds before the first retry; doubled after each.

    Raises:
        StorageError: A permanent failure, or a transient one that outlived the retries.
    """
    delay = backoff
    for attempt in range(retries + 1):
        try:
            return func()
        except (InputError, StorageError, ImportError):  # a missing driver: named by the caller
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise StorageError(
                    f"cannot {what} {redact(url)!r}: {_cause(exc)}{_hint(url, exc)}"
                ) from None
            if attempt == retries:
                raise StorageError(
                    f"cannot {what} {redact(url)!r} after {retries + 1} attempts "
                    f"(transient errors, backing off {backoff:g}s doubling): {_cause(exc)}"
                ) from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def open_storage(
    url: str,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = 3,
    retries: int = 3,
    backoff: float = 0.5,
    must_exist: bool = False,
    **rdb_options: Any,
) -> optuna.storages.BaseStorage:
    """Open the storage behind ``url``.

    Args:
        url: A storage URL (see the module docstring).
        heartbeat_interval: Seconds between heartbeats of running trials (``None``: none). With
            heartbeats, a trial whose worker stopped beating for ``grace_period`` seconds is
            failed (reason recorded) and re-queued with the same parameters.
        grace_period: Seconds without a heartbeat before a running trial is stale (default
            twice the interval).
        max_retry: How often one configuration is re-queued after stale failures (``None``:
            without limit).
        retries: Further attempts to connect after transient errors.
        backoff: Seconds before the first retry, doubled after each.
        must_exist: Refuse a SQLite or journal file that does not exist instead of creating
            it, and a database that holds no Optuna storage yet (commands that read or join a
            storage made earlier: ``worker``, ``report``).
        **rdb_options: Passed to :class:`optuna.storages.RDBStorage`.

    Raises:
        DataNotFoundError: ``must_exist`` and the URL names a file that does not exist.
        InputError: The URL is malformed or a setting is out of range.
        StorageError: The storage could not be opened; the message names the URL without its
            password. Also a database or SQLite file that holds another program's tables
            (opening would write Optuna's among them), a damaged SQLite or journal file (:mod:`hyperlab.lab.damage`); a
            journal's last line cut off mid-write is moved aside instead, with a warning.
    """
    check_url(url)
    check_heartbeats(heartbeat_interval, grace_period)
    if must_exist:
        check_exists(url)
    callback = stale_callback(max_retry) if heartbeat_interval else None
    if url.startswith("journal:"):
        return _open_journal(
            url[len("journal:") :], heartbeat_interval, grace_period, callback, max_retry
        )
    if heartbeat_interval:
        rdb_options.update(
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=callback,
        )
    return _open_rdb(
        url,
        rdb_options,
        heartbeats=bool(heartbeat_interval),
        max_retry=max_retry,
        retries=retries,
        backoff=backoff,
        must_exist=must_exist,
    )


def load_study(url: str, study_name: str) -> optuna.Study:
    """Study ``study_name`` of the storage behind ``url``, to read (a past study outside any
    run folder): a SQLite or journal file that does not exist is refused, not created.

    Raises:
        DataNotFoundError: The URL names a file that does not exist.
        InputError: The storage holds no study of that name; the message lists some it holds.
        InputTypeError: ``study_name`` is not a string.
        StorageError: The storage cannot be opened.
    """
    if not isinstance(study_name, str) or not study_name:
        raise InputTypeError(f"study name must be a non-empty string, got {study_name!r}")
    storage = open_storage(url, must_exist=True)
    names = [s.study_name for s in storage.get_all_studies()]
    if study_name not in names:
        raise InputError(
            f"no study {study_name!r} in storage {redact(url)!r} (its studies: {listed(names)})"
        )
    return optuna.load_study(study_name=study_name, storage=storage)


def check_exists(url: str) -> None:
    """Refuse a SQLite or journal URL whose file does not exist (opening would create it).

    Raises:
        DataNotFoundError: The file does not exist (or is a folder); the message names it.
    """
    path = urls.storage_file(url)
    if path is not None and path.is_file() and url.startswith("sqlite"):
        _check_optuna_tables(url, path)
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


def _check_optuna_tables(url: str, path: Path, *, empty_ok: bool = False) -> None:
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


def _check_server_tables(
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


def check_heartbeats(interval: int | None, grace: int | None) -> None:
    """Refuse heartbeat settings a live trial could not meet.

    Raises:
        InputError: ``interval`` or ``grace`` is given but not a positive whole number of
            seconds, ``interval`` is longer than :data:`MAX_HEARTBEAT_INTERVAL`, or ``grace``
            is shorter than two intervals (a trial whose worker is alive would be taken for
            lost between two of its heartbeats, failed and run again).
    """
    _check_seconds("heartbeat_interval", interval)
    if interval is not None and interval > MAX_HEARTBEAT_INTERVAL:
        raise InputError(
            f"heartbeat_interval must be at most {MAX_HEARTBEAT_INTERVAL} s (the longest a "
            f"thread can wait), got {interval}"
        )
    _check_seconds("grace_period", grace)
    if interval is not None and grace is not None and grace < 2 * interval:
        raise InputError(
            f"grace_period={grace} s must be at least twice heartbeat_interval={interval} s: "
            "a live trial would be taken for lost between two heartbeats"
        )


def _check_seconds(name: str, value: int | None) -> None:
    """Refuse a heartbeat setting that is not ``None`` or a positive whole number of seconds."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InputError(f"{name} must be a positive whole number of seconds, got {value!r}")


def _open_rdb(
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
        path = urls.storage_file(url) or Path(url[len("sqlite:///") :])  # (less any ?query)
        if not path.parent.exists():
            raise StorageError(f"SQLite storage folder {str(path.parent)!r} does not exist")
        if path.is_dir():
            raise InputError(
                f"SQLite storage {str(path)!r} is a folder: name a file in it, e.g. "
                f"'sqlite:///{path / 'study.db'}'"
            )
        from hyperlab.lab.damage import check_sqlite

        check_sqlite(url)  # a damaged file is named, with the command that recovers it
        if path.is_file():
            _check_optuna_tables(shown, path, empty_ok=True)  # not another program's database
    if url.startswith(("postgresql", "postgres:")):
        url = _postgres_driver(url)
        engine = dict(rdb_options.pop("engine_kwargs", {}))
        engine.setdefault("pool_pre_ping", True)  # a dropped connection is replaced, not used
        # timeouts, so a server that stops answering raises instead of hanging (lab/libpq.py)
        engine["connect_args"] = {**libpq.connect_args(url), **engine.get("connect_args", {})}
        rdb_options["engine_kwargs"] = engine

    def connect() -> optuna.storages.BaseStorage:
        if not url.startswith("sqlite"):  # (a SQLite file was looked at above)
            engine = rdb_options.get("engine_kwargs", {})
            _check_server_tables(url, shown, engine, empty_ok=not must_exist)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if not heartbeats:
                return RetryingRDBStorage(url, **rdb_options)
            rdb = HeartbeatRDBStorage(url, **rdb_options)
            rdb.max_retry = max_retry
            return rdb

    def connect_after_a_race() -> optuna.storages.BaseStorage:
        for attempt in range(_SCHEMA_RACE_TRIES):
            try:
                return connect()
            except Exception as exc:
                if not _lost_schema_race(exc) or attempt == _SCHEMA_RACE_TRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))  # the other process is making the tables
        raise AssertionError("unreachable")

    try:
        storage = with_retries(
            connect_after_a_race, shown, "open storage", retries=retries, backoff=backoff
        )
        if url.startswith("sqlite:"):
            _sqlite_wal(storage)
        return storage
    except ImportError as exc:
        raise StorageError(
            f"cannot open storage {redact(shown)!r}: its database driver is missing ({exc}); "
            "for PostgreSQL install it with `pip install 'hyperlab[postgres]'`"
        ) from None


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


def _check_text_journal(path: Path) -> None:
    """Refuse a text file none of whose lines is a journal record: another program's (a JSON
    file, say), whose last line the journal would take for a record cut off by a kill and move
    aside, writing itself in its place. Binary data is left to the damage check, which names
    the file as a damaged journal.

    Raises:
        StorageError: Naming the file.
    """
    import codecs

    from hyperlab.lab.damage import not_a_journal

    if not path.is_file():
        return
    with open(path, "rb") as f:
        head = f.read(1 << 12)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return
    problem = not_a_journal(path)
    if problem is not None:
        raise StorageError(
            f"storage 'journal:{path}' is not a journal file: {problem}; name the file a run "
            "or `hyperlab tune --create-only` wrote, or a new file (it is left as it was)"
        )


def _open_journal(
    path_text: str,
    heartbeat_interval: int | None,
    grace_period: int | None,
    callback: Any,
    max_retry: int | None,
) -> optuna.storages.BaseStorage:
    """Open a journal file storage (see :func:`open_storage`).

    A last line cut off by a killed writer is moved aside first, with a warning.
    """
    path = Path(path_text)
    if not path.parent.exists():
        raise StorageError(f"journal storage folder {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise InputError(
            f"journal storage {str(path)!r} is a folder: name a file in it, e.g. "
            f"'journal:{path / 'study.journal'}'"
        )
    from hyperlab.errors import HyperlabError
    from hyperlab.lab.damage import JournalFile, journal_damaged

    _check_text_journal(path)
    backend = JournalFile(path)
    # a line cut off by a killed writer is moved aside, with a warning naming both files
    backend.repair()
    try:  # the journal is replayed here: damage shows as StorageError naming the line
        if heartbeat_interval:
            folder = beats_folder(path)
            storage = HeartbeatJournalStorage(
                backend, folder, heartbeat_interval, grace_period, callback
            )
            storage.max_retry = max_retry
            return storage
        return optuna.storages.JournalStorage(backend)
    except HyperlabError:
        raise
    except (KeyError, TypeError, ValueError, AssertionError) as exc:  # a record Optuna rejects
        detail = f"the record on line {backend.line} cannot be replayed: {exc!r}"
        raise journal_damaged(path, detail) from None
