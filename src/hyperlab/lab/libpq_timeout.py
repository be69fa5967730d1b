"""A SQLAlchemy plug-in that gives each new PostgreSQL connection hyperlab's statement timeout
(:data:`hyperlab.lab.libpq.STATEMENT_TIMEOUT`) where the session has none that anybody set.

It is set after connecting, not among libpq's startup options, which would outrank every
setting made on the server's side (a role's ``ALTER ROLE ... SET statement_timeout = '10min'``
for long reads of a large study, a database's, ``postgresql.conf``'s). On each new connection
it asks PostgreSQL where the session's value came from (``pg_settings.source``): ``default``
means from nowhere, and only then is ours set. A value set anywhere, ``0`` (no limit) included,
is kept. A pooler that refuses unknown startup options (PgBouncer) never sees it either.

SQLAlchemy finds the plug-in by name: :func:`hyperlab.lab.libpq.register_plugin` tells it where,
in the process that opens a storage and in one that unpickles it.
"""

from __future__ import annotations

import warnings
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, CreateEnginePlugin, Engine

from hyperlab.lab import libpq

#: Sets the statement timeout (its milliseconds formatted in) where nobody set one.
_SET_WHERE_UNSET = (
    "SELECT set_config('statement_timeout', '{ms}', false) FROM pg_settings "
    "WHERE name = 'statement_timeout' AND source = 'default'"
)


class StatementTimeout(CreateEnginePlugin):
    """The plug-in: its engines set the statement timeout on every new connection."""

    def update_url(self, url: URL) -> URL:
        return url  # (the URL names no plug-in)

    def engine_created(self, engine: Engine) -> None:
        # first among the connection's listeners: before SQLAlchemy's own first statements
        event.listen(engine, "connect", set_statement_timeout, insert=True)


def set_statement_timeout(dbapi_connection: Any, _record: Any = None) -> None:
    """Give the new connection ``dbapi_connection`` our statement timeout, unless its session
    has one that anybody set (the server's configuration, the database's, the role's, the
    client's startup options). A server that cannot answer (one that speaks PostgreSQL's
    protocol without its ``pg_settings``) is warned of and used without it."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_SET_WHERE_UNSET.format(ms=libpq.STATEMENT_TIMEOUT * 1000))
    except Exception as exc:  # (the driver's own error class; the connection stays usable)
        dbapi_connection.rollback()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        warnings.warn(
            f"hyperlab: the database server did not take a statement timeout ({first}); its "
            "statements run without one, so a hung server can block a worker",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    finally:
        cursor.close()
    dbapi_connection.commit()  # (a SET in a transaction rolled back later would be undone)
