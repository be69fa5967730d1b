"""Fixtures for scaling tests: a real PostgreSQL server, fresh databases, forked workers."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperlab.testing.postgres import TemporaryPostgres, find_bindir

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    """A PostgreSQL server on loopback for the whole session (fails, never skips, without one)."""
    try:
        find_bindir()
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required for the storage and worker tests: {exc}")
    server = TemporaryPostgres(max_connections=200)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["journal", "postgres"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty storage of each kind."""
    if request.param == "journal":
        return f"journal:{tmp_path / 'study.journal'}"
    server: TemporaryPostgres = request.getfixturevalue("postgres")
    return server.create_database(f"db{os.getpid()}_{next(_counter)}")
