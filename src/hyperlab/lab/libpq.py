"""The connection settings hyperlab gives PostgreSQL's client library (libpq), so that a server
that stops answering ends in an error the retries handle, not in a worker waiting for ever.

- ``connect_timeout``: give up on a server that does not answer a new connection in 10 s.
- keepalive probes: an idle connection is probed after 30 s, every 10 s, and dropped after 3
  unanswered probes, so a network cut that leaves no trace (no reset) is found in about a
  minute instead of the system's TCP timeout (about 15 minutes).
- ``statement_timeout`` (:data:`STATEMENT_TIMEOUT`): the server cancels a statement that has not
  finished within it. A server that accepts connections but whose statements never return (a
  table locked by another session, a server stuck on its disk) then raises ``canceling
  statement due to statement timeout``, which the retries treat like an outage. It is set after
  connecting (:mod:`hyperlab.lab.libpq_timeout`), and only in a session that has none that
  anybody set: one set anywhere else wins (``postgresql.conf``, ``ALTER DATABASE``/``ALTER
  ROLE ... SET statement_timeout``, the URL's ``?options=-c%20statement_timeout%3D5min``,
  ``PGOPTIONS``), ``0`` (no limit) included.

A connect setting the URL gives itself (``?connect_timeout=30``) or libpq's environment gives
(``PGCONNECT_TIMEOUT``) wins: hyperlab then sends none of its own for it. An empty ``?options=``
asks for no statement timeout at all: behind a pooler in transaction mode (PgBouncer) the
``SET`` of one session would stay on a server connection that other clients get next.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl

#: Seconds a PostgreSQL statement may run before the server cancels it. Optuna's statements
#: each read or write a few rows by index: reading all 100,000 trials of one study took none
#: longer than 0.12 s (docs/scaling.md), so only a hung server or a lock held elsewhere
#: comes near a minute.
STATEMENT_TIMEOUT = 60

#: What a statement cancelled at the statement timeout says of the server.
TIMED_OUT = (
    "the server finished no statement within the statement timeout: it hangs, or another "
    "session holds a lock on Optuna's tables"
)

#: The name SQLAlchemy finds the plug-in that sets the statement timeout under.
PLUGIN = "hyperlab_statement_timeout"

#: libpq's settings given when connecting (see the module's docstring).
_TIMEOUTS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}

#: libpq's environment variables of the settings we give (a setting given there wins).
_ENVIRONMENT = {"connect_timeout": "PGCONNECT_TIMEOUT"}


def connect_args(url: str) -> dict[str, Any]:
    """The libpq settings to connect to the PostgreSQL database ``url`` with: ours, less those
    the URL's query or libpq's environment variables give (SQLAlchemy would let ours override
    the URL's)."""
    given = _given(url)
    return {key: value for key, value in _TIMEOUTS.items() if key not in given}


def plugins(url: str) -> list[str]:
    """The SQLAlchemy plug-ins of an engine of the PostgreSQL database ``url``: the one that
    sets the statement timeout after connecting, unless the URL asks for none (an empty
    ``?options=``)."""
    if _options_left_empty(url):
        return []
    register_plugin()
    return [PLUGIN]


def register_plugin() -> None:
    """Tell SQLAlchemy where the plug-in named :data:`PLUGIN` lives (an engine made in this
    process, a storage unpickled in it, finds it so)."""
    from sqlalchemy.dialects import plugins as registry

    registry.register(PLUGIN, "hyperlab.lab.libpq_timeout", "StatementTimeout")


def _given(url: str) -> set[str]:
    """The settings ``url``'s query string or the environment gives."""
    keys = {key for key, _ in _query(url)}
    return keys | {key for key, name in _ENVIRONMENT.items() if name in os.environ}


def _options_left_empty(url: str) -> bool:
    """Whether ``url`` gives an empty ``options=`` (which SQLAlchemy drops)."""
    return any(key == "options" and not value for key, value in _query(url))


def _query(url: str) -> list[tuple[str, str]]:
    query = url.split("?", 1)[1] if "?" in url else ""
    return parse_qsl(query, keep_blank_values=True)


def is_statement_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is (or wraps) a statement the server cancelled at its statement timeout.

    Such a statement has waited the whole timeout already: repeating it at once (the short
    repeats that bridge a restart) would only multiply the wait; the worker's own retries,
    with their back-off, take it over.
    """
    from hyperlab.lab.storage_errors import error_chain  # (it imports this module)

    return any("due to statement timeout" in str(e) for e in error_chain(exc))
