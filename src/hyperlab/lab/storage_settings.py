"""A storage's settings, checked before anything is opened: its URL (and a run folder's default
one) and its heartbeats.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from hyperlab.errors import InputError, InputTypeError
from hyperlab.lab import urls
from hyperlab.lab.storage_errors import redact, short_message

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
#: The longest heartbeat interval, in seconds: the longest wait of the thread that beats
#: (``threading.TIMEOUT_MAX``, some 292 years); a longer one would stop that thread at once.
MAX_HEARTBEAT_INTERVAL = int(threading.TIMEOUT_MAX)


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
        parse_server_url(url)
    return url


def parse_server_url(url: str) -> Any:
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
            f"malformed storage URL {redact(url)!r} ({short_message(exc)}): expected e.g. "
            "postgresql://user:password@host:5432/db"
        ) from None


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
