"""A PostgreSQL server that accepts connections but never finishes a statement (hung, or a table
of Optuna's locked by another session) ends a worker with an error naming it, never blocks it
for ever: connections carry a statement timeout (lab/libpq.py), unless one was set elsewhere."""

from __future__ import annotations

import itertools
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pytest

from hyperlab.cli import main
from hyperlab.lab import libpq
from hyperlab.lab.storage import open_storage
from hyperlab.testing.postgres import TemporaryPostgres


def _setting(url: str, name: str) -> str:
    storage = open_storage(url)
    with storage.engine.connect() as conn:  # type: ignore[attr-defined]
        return str(conn.exec_driver_sql(f"SHOW {name}").scalar())


@pytest.mark.parametrize(
    ("query", "environment", "timeout", "connect"),
    [
        ("", {}, "1min", "10"),  # ours
        # the URL's own settings win (SQLAlchemy let ours override them)
        ("?connect_timeout=30&options=-c%20statement_timeout%3D5s", {}, "5s", "30"),
        ("?options=-c%20statement_timeout%3D0", {}, "0", "10"),  # none, asked for
        ("?options=", {}, "0", "10"),  # none: an empty options (a pooler in transaction mode)
        # options that set something else keep ours (as startup options they took it away)
        ("?options=-c%20work_mem%3D8MB", {}, "1min", "10"),
        # and so do libpq's environment variables (the driver reads them)
        ("", {"PGOPTIONS": "-c statement_timeout=7s", "PGCONNECT_TIMEOUT": "20"}, "7s", None),
    ],
)
def test_postgres_connections_carry_a_statement_timeout_that_the_url_can_change(
    postgres: TemporaryPostgres,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    environment: dict[str, str],
    timeout: str,
    connect: str | None,
) -> None:
    for name in ("PGOPTIONS", "PGCONNECT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    url = postgres.url("postgres") + query
    assert _setting(url, "statement_timeout") == timeout
    dsn = open_storage(url).engine.raw_connection().dbapi_connection.dsn  # type: ignore[attr-defined]
    if connect is None:
        assert "connect_timeout" not in dsn
    else:
        assert f"connect_timeout={connect}" in dsn


_names = itertools.count()


@pytest.mark.parametrize(
    ("setting", "timeout"),
    [
        ("ALTER ROLE {role} SET statement_timeout = '10min'", "10min"),
        ("ALTER DATABASE {db} SET statement_timeout = '5min'", "5min"),
        ("ALTER ROLE {role} IN DATABASE {db} SET statement_timeout = '3min'", "3min"),
        ("ALTER ROLE {role} SET statement_timeout = 0", "0"),  # no limit, on purpose
    ],
)
def test_a_statement_timeout_set_on_the_server_is_kept(
    postgres: TemporaryPostgres, monkeypatch: pytest.MonkeyPatch, setting: str, timeout: str
) -> None:
    """Ours, sent among the startup options, outranked a role's or a database's: a DBA's ten
    minutes for the long reads of a large study became one."""
    monkeypatch.delenv("PGOPTIONS", raising=False)
    n = next(_names)
    role, db = f"keeper{n}", f"kept{n}"
    postgres.execute(
        f"CREATE ROLE {role} LOGIN PASSWORD 'pw'",
        f"CREATE DATABASE {db} OWNER {role}",
        setting.format(role=role, db=db),
    )
    url = f"postgresql+psycopg2://{role}:pw@127.0.0.1:{postgres.port}/{db}"
    assert _setting(url, "statement_timeout") == timeout


def test_a_storage_unpickled_in_another_process_keeps_its_statement_timeout(
    postgres: TemporaryPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its engine names hyperlab's SQLAlchemy plug-in, which that process had not heard of."""
    monkeypatch.delenv("PGOPTIONS", raising=False)
    storage = pickle.dumps(open_storage(postgres.url("postgres")))
    show = (
        "import pickle, sys\n"
        "storage = pickle.loads(sys.stdin.buffer.read())\n"
        "with storage.engine.connect() as conn:\n"
        "    print(conn.exec_driver_sql('SHOW statement_timeout').scalar())\n"
    )
    done = subprocess.run([sys.executable, "-c", show], input=storage, capture_output=True)
    assert done.stdout.decode().strip() == "1min", done.stderr.decode()[-1000:]


@contextmanager
def _locked(postgres: TemporaryPostgres, database: str, table: str) -> Iterator[None]:
    """Another session holds ``table`` locked: every statement that touches it waits (let go
    after a minute at the latest, so that a test that fails does not hang)."""
    import psycopg2

    conn = psycopg2.connect(
        host="127.0.0.1",
        port=postgres.port,
        user=postgres.user,
        password=postgres.password,
        dbname=database,
    )
    release = threading.Timer(60, conn.rollback)
    try:
        with conn.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        release.start()
        yield
    finally:
        release.cancel()
        conn.rollback()
        conn.close()


def test_a_worker_facing_a_hung_server_stops_naming_it(
    postgres: TemporaryPostgres,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It waited for ever on its first statement that touched the locked table."""
    monkeypatch.setattr(libpq, "STATEMENT_TIMEOUT", 1)
    url = postgres.create_database("hung_for_worker")
    tune = ["tune", "--task", "branin", "--tuner", "random", "--trials", "2", "--name", "h"]
    assert main([*tune, "--runs-dir", str(tmp_path), "--storage", url, "--create-only"]) == 0
    capsys.readouterr()
    with _locked(postgres, "hung_for_worker", "trials"):
        status = main(["worker", "--storage", url, "--name", "h"])
    err = capsys.readouterr().err
    assert status == 2, err
    shown = f"postgresql+psycopg2://{postgres.user}:***@127.0.0.1:{postgres.port}/hung_for_worker"
    assert f"hyperlab worker: error: cannot join the study in storage '{shown}'" in err
    assert "canceling statement due to statement timeout (the server finished no statement" in err
    assert postgres.password not in err and "Traceback" not in err and "SELECT" not in err


def test_a_statement_cancelled_at_the_statement_timeout_is_not_repeated_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each repeat waited the whole timeout again: a worker facing a hung server was silent
    for seven timeouts per error, six errors in a row, before it gave up."""
    from optuna.storages import RDBStorage

    from hyperlab.lab.retrying import RetryWrites

    monkeypatch.setattr(RetryWrites, "write_backoff", 0.001)
    storage = open_storage(f"sqlite:///{tmp_path}/s.db")
    study = optuna.create_study(storage=storage)
    calls = []

    def hung(self: RDBStorage, *args: Any) -> None:
        calls.append(args)
        raise RuntimeError(
            "(psycopg2.errors.QueryCanceled) canceling statement due to statement timeout"
        )

    monkeypatch.setattr(RDBStorage, "get_study_user_attrs", hung)
    with pytest.raises(RuntimeError, match="statement timeout"):
        storage.get_study_user_attrs(study._study_id)
    assert len(calls) == 1


def test_a_pooler_that_refuses_a_statement_timeout_among_the_options_says_what_to_do() -> None:
    from hyperlab.errors import StorageError
    from hyperlab.lab.storage import with_retries

    def refused() -> None:
        raise RuntimeError(
            '(psycopg2.OperationalError) connection to server at "db", port 6432 failed: FATAL:  '
            "unsupported startup parameter in options: statement_timeout"
        )

    with pytest.raises(StorageError, match=r"refuses the statement timeout .* leave it out, "):
        with_retries(refused, "postgresql://u:pw@db:6432/hpo", "open storage", backoff=0.001)


class _Refusing:
    """A DB-API connection to a server that speaks PostgreSQL's protocol without ``pg_settings``."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def cursor(self) -> _Refusing:
        return self

    def execute(self, sql: str) -> None:
        self.calls.append("execute")
        raise RuntimeError('relation "pg_settings" does not exist')

    def close(self) -> None:
        self.calls.append("close")

    def rollback(self) -> None:
        self.calls.append("rollback")

    def commit(self) -> None:
        self.calls.append("commit")


def test_a_server_without_pg_settings_is_used_without_the_timeout_and_warned_of() -> None:
    from hyperlab.lab.libpq_timeout import set_statement_timeout

    conn = _Refusing()
    with pytest.warns(RuntimeWarning, match='did not take a statement timeout .*"pg_settings"'):
        set_statement_timeout(conn)
    assert conn.calls == ["execute", "rollback", "close"]
