"""Study storage: URLs, defaults per run directory, and clear errors.

Any Optuna storage URL works (``sqlite:///file.db``, ``postgresql://user:pw@host/db``, ...).
``journal:PATH`` names Optuna's journal file storage, which is safe for several local processes
(SQLite is not safe under concurrent writers).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import optuna

from hyperlab.errors import InputError, StorageError

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def default_storage(run_dir: Path, jobs: int = 1) -> str:
    """The default storage of a run directory: SQLite for one process, a journal file for more."""
    run_dir = Path(run_dir)
    if jobs > 1:
        return f"journal:{(run_dir / 'study.journal').resolve()}"
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def check_url(url: str) -> str:
    """Return ``url`` if it looks like a storage URL, else raise :class:`InputError`."""
    if not isinstance(url, str) or not _SCHEME.match(url):
        raise InputError(
            f"malformed storage URL {redact(str(url))!r}: expected e.g. sqlite:///study.db, "
            "postgresql://user:password@host/db or journal:PATH"
        )
    return url


def open_storage(url: str, **rdb_options: Any) -> optuna.storages.BaseStorage:
    """Open the storage behind ``url``.

    Args:
        url: A storage URL (see the module docstring).
        **rdb_options: Passed to :class:`optuna.storages.RDBStorage` (e.g. heartbeats).

    Raises:
        InputError: The URL is malformed.
        StorageError: The storage could not be opened; the message names the URL without its
            password.
    """
    check_url(url)
    if url.startswith("journal:"):
        path = Path(url[len("journal:") :])
        if not path.parent.exists():
            raise StorageError(f"journal storage folder {str(path.parent)!r} does not exist")
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return optuna.storages.JournalStorage(backend)
    if url.startswith("sqlite:///"):
        folder = Path(url[len("sqlite:///") :]).parent
        if not folder.exists():
            raise StorageError(f"SQLite storage folder {str(folder)!r} does not exist")
    try:
        return optuna.storages.RDBStorage(url, **rdb_options)
    except ImportError as exc:
        raise StorageError(
            f"cannot open storage {redact(url)!r}: its database driver is missing ({exc}); "
            "for PostgreSQL install hyperlab[postgres]"
        ) from None
    except Exception as exc:  # SQLAlchemy raises many types; the user needs the URL and cause
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StorageError(f"cannot open storage {redact(url)!r}: {redact(cause)}") from None
