"""A run on a password-protected PostgreSQL server records no password, and is resumed and
reported with the password from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hyperlab.cli import main
from hyperlab.lab import urls
from hyperlab.lab.urls import STORAGE_ENV, without_password
from hyperlab.testing.postgres import TemporaryPostgres


def _files_hold(folder: Path, secret: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_postgres_run_records_no_password(
    postgres: TemporaryPostgres,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = postgres.create_database(f"secret{os.getpid()}")
    secret = postgres.password
    base = ["--tuner", "random", "--task", "branin", "--runs-dir", str(tmp_path), "--no-progress"]
    for argv in (
        ["tune", *base, "--trials", "3", "--storage", url, "--name", "pg"],
        [
            "compare",
            *base[2:],
            "--tuners",
            "random",
            "--seeds",
            "2",
            "--trials",
            "2",
            "--name",
            "pgc",
            "--storage",
            url,
        ],
    ):
        assert main(argv) == 0
    assert secret not in "".join(capsys.readouterr())
    assert _files_hold(tmp_path, secret) == []
    monkeypatch.setattr(urls, "_GIVEN", {})  # as in a new process
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    # without the password anywhere, a clean error that does not leak it either
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    assert main(["report", str(tmp_path / "pg")]) == 2
    assert secret not in "".join(capsys.readouterr())
    # the full URL in the environment
    monkeypatch.setenv(STORAGE_ENV, url)
    assert main(["report", str(tmp_path / "pg")]) == 0
    assert main(["tune", *base, "--trials", "4", "--name", "pg"]) == 0  # resumes
    # PostgreSQL's own PGPASSWORD, with the stripped URL given again
    monkeypatch.delenv(STORAGE_ENV)
    monkeypatch.setattr(urls, "_GIVEN", {})
    monkeypatch.setenv("PGPASSWORD", secret)
    assert (
        main(["tune", *base, "--trials", "5", "--storage", without_password(url), "--name", "pg"])
        == 0
    )
    assert main(["report", str(tmp_path / "pgc")]) == 0
    # the full URL given again resumes the same run (the password is not a setting)
    assert main(["tune", *base, "--trials", "6", "--storage", url, "--name", "pg"]) == 0
    out = capsys.readouterr()
    assert "best value" in out.out and secret not in out.out + out.err
    assert _files_hold(tmp_path, secret) == []
