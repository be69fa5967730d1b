"""What a storage error says: the URL without its password, the cause in short, and whether
another attempt may succeed (a transient failure: connection refused, a timeout, a server that
is starting up or full, a locked SQLite file).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from hyperlab.errors import HyperlabError, InputError, StorageError
from hyperlab.lab import libpq, urls


def check_file_path(path: Path, kind: str, example: str) -> None:
    """Refuse a storage file ``path`` of ``kind`` (``'SQLite'``, ``'journal'``) whose folder is
    missing (a :class:`StorageError`) or that names a folder (an :class:`InputError` whose
    example URL, ``example`` of a file in it, names what to give instead)."""
    if not path.parent.exists():
        raise StorageError(f"{kind} storage folder {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise InputError(
            f"{kind} storage {str(path)!r} is a folder: name a file in it, e.g. '{example}'"
        )


def redact(url: str) -> str:
    """``url`` (or any text quoting one) with every password replaced by ``***``."""
    return urls.mask(url)


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


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from or while handling (Optuna wraps the
    driver's errors, e.g. ``StorageInternalError`` from ``OperationalError``), looks like a
    failure that a later attempt may not meet."""
    return any(_transient_alone(e) for e in error_chain(exc))


def error_chain(exc: BaseException, most: int = 10) -> list[BaseException]:
    """``exc`` and the errors behind it, nearest first, as Python's traceback shows them: the
    ``__cause__``, else the ``__context__`` unless it was suppressed (``raise ... from None``:
    its author chose to hide it)."""
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(out) < most and e not in out:
        out.append(e)
        if e.__cause__ is not None:
            e = e.__cause__
        else:
            e = None if e.__suppress_context__ else e.__context__
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
    cause = short_message(next((e for e in chain if _transient_alone(e)), exc))
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


def short_message(exc: BaseException) -> str:
    """``exc``'s own message, short enough for one line of an error: its first two lines without
    SQLAlchemy's link and statement, every password masked, at most 400 characters (the type's
    name when the message is empty)."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # SQLAlchemy wraps the driver's message: "(psycopg2.OperationalError) connection ... failed:"
    first = " ".join(lines[:2]) if lines else type(exc).__name__
    first = re.sub(r"\(Background on this error at:.*", "", first).strip()
    first = re.sub(r"\s*\[SQL: .*", "", first)  # (the statement, from SQLAlchemy)
    return redact(first)[:400]
