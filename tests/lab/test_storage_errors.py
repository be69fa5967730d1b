"""Clear, password-free errors for bad storage URLs; transient errors retried with back-off."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperlab.errors import InputError, StorageError
from hyperlab.lab.storage import open_storage, with_retries
from hyperlab.lab.urls import storage_file
from hyperlab.testing.postgres import TemporaryPostgres, free_port


def test_wrong_password_is_named_without_password(postgres: TemporaryPostgres) -> None:
    url = postgres.url("postgres", password="not-the-password")
    with pytest.raises(StorageError, match="password authentication failed") as info:
        open_storage(url, retries=3, backoff=5.0)  # permanent: no back-off
    assert "not-the-password" not in str(info.value)
    assert f"127.0.0.1:{postgres.port}/postgres" in str(info.value)


def test_unknown_database(postgres: TemporaryPostgres) -> None:
    with pytest.raises(StorageError, match='database "nosuchdb" does not exist') as info:
        open_storage(postgres.url("nosuchdb"), retries=3, backoff=5.0)
    assert postgres.password not in str(info.value)


def test_closed_port_is_retried_then_reported() -> None:
    url = f"postgresql://bob:s3cret@127.0.0.1:{free_port()}/x"
    with pytest.raises(StorageError, match="after 2 attempts") as info:
        open_storage(url, retries=1, backoff=0.01)
    text = str(info.value)
    assert "s3cret" not in text and "bob:***@127.0.0.1" in text
    assert "refused" in text.lower()


def test_unknown_host_is_reported_at_once() -> None:
    with pytest.raises(StorageError, match=r"nohost\.invalid") as info:
        open_storage("postgresql://bob:s3cret@nohost.invalid/x", retries=3, backoff=5.0)
    assert "s3cret" not in str(info.value)


def test_transient_errors_are_retried_until_success() -> None:
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError("connection reset by peer")
        return "ok"

    assert with_retries(flaky, "postgresql://u:pw@h/db", "open storage", backoff=0.001) == "ok"
    assert calls["n"] == 3


def test_bad_heartbeat_settings(tmp_path: object) -> None:
    with pytest.raises(InputError, match="heartbeat_interval"):
        open_storage(f"journal:{tmp_path}/j.log", heartbeat_interval=0)
    with pytest.raises(InputError, match="grace_period"):
        open_storage(f"journal:{tmp_path}/j.log", heartbeat_interval=1, grace_period=-2)
    with pytest.raises(InputError, match="grace_period=1 s must be at least twice heartbeat"):
        open_storage(f"journal:{tmp_path}/j.log", heartbeat_interval=10, grace_period=1)
    with pytest.raises(InputError, match=r"heartbeat_interval must be at most .*99999999999"):
        open_storage(f"journal:{tmp_path}/j.log", heartbeat_interval=99999999999)


def test_a_worker_refuses_heartbeats_a_live_trial_could_not_meet() -> None:
    from hyperlab.lab.workers import with_heartbeats

    job = type("Job", (), {"heartbeat_interval": None, "grace_period": None})()
    with pytest.raises(InputError, match="grace_period=1 s must be at least twice"):
        with_heartbeats(job, 10, 1)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="heartbeat_interval must be a positive whole number"):
        with_heartbeats(job, 0, None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="grace_period must be a positive whole number"):
        with_heartbeats(job, None, 0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="heartbeat_interval must be at most"):
        with_heartbeats(job, 10**11, None)  # type: ignore[arg-type]


def test_postgres_end_to_end(postgres: TemporaryPostgres) -> None:
    import optuna

    url = postgres.create_database("e2e")
    # the bare postgresql:// scheme works whichever psycopg is installed
    bare = url.replace("postgresql+psycopg2://", "postgresql://")
    study = optuna.create_study(storage=open_storage(bare), study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
    storage = open_storage(url)
    again = optuna.load_study(study_name="s", storage=storage)
    assert len(again.trials) == 3
    # a silent network cut is noticed by libpq's keepalive probes, not the system's TCP timeout
    dsn = storage.engine.raw_connection().dbapi_connection.dsn  # type: ignore[attr-defined]
    assert "keepalives=1" in dsn and "keepalives_idle=30" in dsn and "connect_timeout=10" in dsn


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///runs/a/study.db", "runs/a/study.db"),
        ("sqlite:////abs/study.db?timeout=5", "/abs/study.db"),
        ("sqlite:///file:runs/a/study.db?mode=ro&uri=true", "runs/a/study.db"),
        ("journal:runs/a/journal.log", "runs/a/journal.log"),
        ("postgresql://u@localhost/db", None),
    ],
)
def test_the_file_of_a_storage_url(url: str, path: str | None) -> None:
    assert storage_file(url) == (None if path is None else Path(path))


def _tables(postgres: TemporaryPostgres, database: str) -> list[str]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres.url(database))
    try:
        return sorted(sqlalchemy.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _app_database(postgres: TemporaryPostgres, name: str, *tables: str) -> str:
    """A database of another program: ``tables``, one row each."""
    import sqlalchemy

    url = postgres.create_database(name)
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as db:
        for table in tables:
            db.execute(sqlalchemy.text(f"CREATE TABLE {table} (id int, name text)"))
            db.execute(sqlalchemy.text(f"INSERT INTO {table} VALUES (1, 'alice')"))
    engine.dispose()
    return url


@pytest.mark.parametrize("tables", [("customers",), ("studies", "users")])
def test_another_programs_postgres_database_is_left_alone(
    postgres: TemporaryPostgres,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tables: tuple[str, ...],
) -> None:
    """Optuna wrote its 13 tables among another program's (or failed on its own ``studies``
    table with a cut-off SQL error), and a run folder was made."""
    from hyperlab.cli import main

    url = _app_database(postgres, f"app_{'_'.join(tables)}", *tables)
    argv = ["tune", "--task", "branin", "--trials", "1", "--storage", url, "--create-only"]
    assert main([*argv, "--runs-dir", str(tmp_path), "--name", "r", "--no-progress"]) == 2
    worker = ["worker", "--storage", url, "--name", "r", "--no-wait"]
    assert main(worker) == 2
    err = capsys.readouterr().err
    assert err.count(f"holds no Optuna storage: the tables {sorted(tables)}") == 2, err
    assert postgres.password not in err and "Traceback" not in err
    assert _tables(postgres, url.rsplit("/", 1)[1]) == sorted(tables)
    assert not (tmp_path / "r").exists()


def test_a_worker_leaves_an_empty_postgres_database_empty(
    postgres: TemporaryPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker (or report) pointed at a database no run wrote created Optuna's tables."""
    from hyperlab.cli import main

    url = postgres.create_database("empty_for_worker")
    assert main(["worker", "--storage", url, "--name", "r", "--no-wait"]) == 2
    assert "holds no Optuna storage: no table" in capsys.readouterr().err
    assert _tables(postgres, "empty_for_worker") == []


def test_a_missing_password_says_where_to_give_it(
    postgres: TemporaryPostgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("HYPERLAB_STORAGE", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    url = postgres.url("postgres").replace(f":{postgres.password}@", "@")
    with pytest.raises(StorageError, match="no password supplied; give the password in "):
        open_storage(url)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://u:s3cret@127.0.0.1:5432x/db", "'5432x'"),
        ("postgresql:/u:s3cret@127.0.0.1:5432/db", "Could not parse"),
    ],
)
def test_a_url_sqlalchemy_cannot_read_is_refused_as_malformed(url: str, says: str) -> None:
    with pytest.raises(InputError, match="malformed storage URL") as info:
        open_storage(url, retries=0)
    assert says in str(info.value) and "postgresql://user:password@host:5432/db" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_a_url_without_a_database_says_why_the_users_name_was_looked_for(
    postgres: TemporaryPostgres,
) -> None:
    url = postgres.url("postgres").rsplit("/", 1)[0]  # no /NAME: libpq takes the user's name
    with pytest.raises(StorageError, match=f'database "{postgres.user}" does not exist; the URL '):
        open_storage(url)


@pytest.mark.parametrize("scheme", ["sqlite:///", "journal:"])
def test_a_storage_that_names_a_folder_says_so(tmp_path: Path, scheme: str) -> None:
    """SQLite's was 'unable to open database file'."""
    with pytest.raises(InputError, match=f"{tmp_path}' is a folder: name a file in it"):
        open_storage(f"{scheme}{tmp_path}")
