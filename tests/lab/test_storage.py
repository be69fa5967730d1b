from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hyperlab.errors import InputError, StorageError
from hyperlab.lab.storage import check_url, default_storage, open_storage, redact


def test_redact_hides_password() -> None:
    assert redact("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert redact("sqlite:///a.db") == "sqlite:///a.db"


def test_malformed_url_named() -> None:
    with pytest.raises(InputError, match="not a url"):
        check_url("not a url")


def test_missing_folder_and_bad_driver(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        open_storage(f"sqlite:///{tmp_path}/nope/x.db")
    with pytest.raises(StorageError) as info:
        open_storage("nosuchdb://user:pw@localhost/x")
    assert "pw" not in str(info.value)


def test_missing_postgres_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The install command a pip user can paste (quoted, as shells want brackets)."""
    for module in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, module, None)  # neither driver can be imported
    with pytest.raises(StorageError, match="driver is missing") as info:
        open_storage("postgresql://user:pw@localhost/x", retries=0)
    assert "pip install 'hyperlab[postgres]'" in str(info.value)


def test_defaults(tmp_path: Path) -> None:
    assert default_storage(tmp_path).startswith("sqlite:///")
    assert default_storage(tmp_path, jobs=2).startswith("journal:")
    open_storage(default_storage(tmp_path, jobs=2))
    open_storage(default_storage(tmp_path))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "in-memory SQLite database"),
        ("sqlite:///", "in-memory SQLite database"),
        ("sqlite:///:memory:", "in-memory SQLite database"),
        ("journal:", "names no journal file"),
        ("journal:runs/", "names no journal file"),
    ],
)
def test_a_storage_no_run_could_resume_from_is_refused(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_url(url)


def test_a_sqlite_file_holds_every_trial_once_the_process_exits(tmp_path: Path) -> None:
    """A run with its progress bar (a storage cached until exit) leaves its trials in
    ``study.db`` itself, not only in ``study.db-wal``: connections are closed at exit."""
    import sqlite3
    import subprocess
    import sys

    argv = ["tune", "--task", "branin", "--tuner", "random", "--trials", "3", "--name", "w"]
    code = f"from hyperlab.cli import main; raise SystemExit(main({argv!r}))"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, cwd=tmp_path)
    run = tmp_path / "runs" / "w"
    assert not (run / "study.db-wal").exists()
    with sqlite3.connect(run / "study.db") as conn:
        assert conn.execute("select count(*) from trials").fetchone() == (3,)


def test_a_running_trial_that_never_beat_is_stale_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial left RUNNING without a beat file (its completion cut off, then moved aside) was
    never failed: every worker waited for it for ever."""
    import time
    import warnings

    import optuna

    from hyperlab.lab.storage import open_storage

    storage = open_storage(
        f"journal:{tmp_path / 's.journal'}", heartbeat_interval=1, grace_period=2
    )
    study = optuna.create_study(storage=storage, study_name="s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (Optuna: heartbeats are meant for Study.optimize)
        study.ask()
    assert storage._get_stale_trial_ids(study._study_id) == []  # (within its grace period)
    later = time.time() + 3
    monkeypatch.setattr(time, "time", lambda: later)
    assert storage._get_stale_trial_ids(study._study_id) == [study.trials[0]._trial_id]


def test_a_storage_whose_tables_another_process_made_meanwhile_opens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two workers started together on a new SQLite file: the second's insert of the schema's
    version met the first's ('UNIQUE constraint failed: alembic_version.version_num') and it
    stopped with a StorageError."""
    import sqlalchemy.exc

    from hyperlab.lab import storage_rdb

    real = storage_rdb.RetryingRDBStorage
    calls = []

    def first_loses(url: str, **options: object) -> object:
        calls.append(url)
        if len(calls) <= 2:  # (a third process racing too)
            real(url, **options)  # the tables are made, as by the other process
            raise sqlalchemy.exc.IntegrityError(
                "INSERT INTO alembic_version (version_num) VALUES (?)",
                {},
                Exception("UNIQUE constraint failed: alembic_version.version_num"),
            )
        return real(url, **options)

    monkeypatch.setattr(storage_rdb, "RetryingRDBStorage", first_loses)
    opened = open_storage(f"sqlite:///{tmp_path / 'new.db'}", retries=0)
    assert len(calls) == 3 and opened.get_all_studies() == []


def test_an_integrity_error_of_another_table_is_not_taken_for_that_race() -> None:
    import sqlalchemy.exc

    from hyperlab.lab.storage_rdb import _lost_schema_race

    other = sqlalchemy.exc.IntegrityError("INSERT INTO trials", {}, Exception("UNIQUE failed"))
    assert not _lost_schema_race(other) and not _lost_schema_race(ValueError("alembic_version"))


def test_a_running_trial_with_no_heartbeat_row_on_a_database_is_stale_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose database restarted between creating a trial and storing its first beat
    left it RUNNING with no heartbeat row; Optuna's check skips such trials, so the trial held
    its slot and every worker waited for it for ever."""
    import time
    import warnings

    import optuna

    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(storage=storage, study_name="s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (Optuna: heartbeats are meant for Study.optimize)
        lost, beating = study.ask(), study.ask()
    storage.record_heartbeat(beating._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []  # (first seen now)
    from hyperlab.lab.heartbeat import FIRST_BEAT_WAIT

    now = time.monotonic()
    slow = now + 3  # past the grace period: a slow sampler may still be choosing
    monkeypatch.setattr(time, "monotonic", lambda: slow)
    assert storage._get_stale_trial_ids(study._study_id) == []
    later = now + FIRST_BEAT_WAIT + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert storage._get_stale_trial_ids(study._study_id) == [lost._trial_id]
    optuna.storages.fail_stale_trials(study)
    failed = study.trials[lost.number]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert failed.user_attrs["fail_reason"].startswith("worker lost")
    assert study.trials[beating.number].state == optuna.trial.TrialState.RUNNING
