"""A storage operation retried with exponential back-off while its failures are transient;
a permanent failure is named at once, with what to do about it where libpq words it obscurely.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from hyperlab.errors import InputError, StorageError
from hyperlab.lab import urls
from hyperlab.lab.storage_errors import is_transient, redact, short_message
from hyperlab.lab.storage_settings import parse_server_url

T = TypeVar("T")


def _hint(url: str, exc: BaseException) -> str:
    """What to do about a permanent error that libpq words for those who know it: a password
    none was given, a pooler that refuses a statement timeout among the startup options,
    or a database the URL does not name (libpq takes the user's name)."""
    if "no password supplied" in str(exc):
        return (
            "; give the password in PGPASSWORD or ~/.pgpass, or the full URL in "
            f"${urls.STORAGE_ENV}"
        )
    if "unsupported startup parameter in options: statement_timeout" in str(exc):
        return (
            "; a connection pooler (PgBouncer) refuses the statement timeout among the startup "
            "options (the URL's ?options= or PGOPTIONS): leave it out, and set it on the server "
            "instead (ALTER ROLE ... SET statement_timeout), which hyperlab keeps (see "
            "docs/scaling.md in a checkout of hyperlab's source)"
        )
    if "does not exist" in str(exc) and parse_server_url(url).database is None:
        return (
            "; the URL names no database, so the server looked for one named after the user: "
            "name it after the host, e.g. postgresql://user@host:5432/NAME"
        )
    return ""


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
                    f"cannot {what} {redact(url)!r}: {short_message(exc)}{_hint(url, exc)}"
                ) from None
            if attempt == retries:
                raise StorageError(
                    f"cannot {what} {redact(url)!r} after {retries + 1} attempts "
                    f"(transient errors, backing off {backoff:g}s doubling): {short_message(exc)}"
                ) from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover
