"""Study storage: URLs, defaults per run directory, and clear errors.

Any Optuna storage URL works (``sqlite:///file.db``, ``postgresql://user:pw@host/db``, ...).
``journal:PATH`` names Optuna's journal file storage, which is safe for several local processes
(SQLite is not safe under concurrent writers).

Opening a database retries transient failures (connection refused, timeouts, a server that is
starting up or full) with exponential back-off, and reports permanent ones (wrong password,
unknown database, unknown host) at once; either way the error names the URL without its password.
PostgreSQL connections carry connect and statement timeouts (:mod:`hyperlab.lab.libpq`), so a
server that stops answering raises an error that is handled like an outage.
Heartbeats (``heartbeat_interval``/``grace_period``) let a worker notice a trial whose process
died: Optuna's RDB heartbeats for databases, :mod:`hyperlab.lab.heartbeat` for journal files.

This module opens a storage (:func:`open_storage`, :func:`load_study`) and keeps the names
imported from it before the split (the package imports them from their homes); the parts live by concept: what an error says and whether it is transient
(:mod:`~hyperlab.lab.storage_errors`), the URL and heartbeat settings checked before opening
(:mod:`~hyperlab.lab.storage_settings`), retries (:mod:`~hyperlab.lab.storage_retries`), a
storage that must exist and hold Optuna's tables (:mod:`~hyperlab.lab.storage_tables`), and the
opening of a database (:mod:`~hyperlab.lab.storage_rdb`) and of a journal file
(:mod:`~hyperlab.lab.storage_journal`).
"""

from __future__ import annotations

from typing import Any

import optuna

from hyperlab.errors import InputError, InputTypeError, listed
from hyperlab.lab.heartbeat import MAX_RETRY, stale_callback
from hyperlab.lab.storage_errors import error_chain as error_chain
from hyperlab.lab.storage_errors import is_transient as is_transient
from hyperlab.lab.storage_errors import redact as redact
from hyperlab.lab.storage_errors import storage_failures as storage_failures
from hyperlab.lab.storage_errors import transient_cause as transient_cause
from hyperlab.lab.storage_journal import open_journal
from hyperlab.lab.storage_rdb import open_rdb
from hyperlab.lab.storage_retries import with_retries as with_retries
from hyperlab.lab.storage_settings import MAX_HEARTBEAT_INTERVAL as MAX_HEARTBEAT_INTERVAL
from hyperlab.lab.storage_settings import URL_SYNTAX as URL_SYNTAX
from hyperlab.lab.storage_settings import check_heartbeats as check_heartbeats
from hyperlab.lab.storage_settings import check_url as check_url
from hyperlab.lab.storage_settings import default_storage as default_storage
from hyperlab.lab.storage_tables import check_exists as check_exists


def open_storage(
    url: str,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = MAX_RETRY,
    retries: int = 3,
    backoff: float = 0.5,
    must_exist: bool = False,
    **rdb_options: Any,
) -> optuna.storages.BaseStorage:
    """Open the storage behind ``url``.

    Args:
        url: A storage URL (see the module docstring).
        heartbeat_interval: Seconds between heartbeats of running trials (``None``: none). With
            heartbeats, a trial whose worker stopped beating for ``grace_period`` seconds is
            failed (reason recorded) and re-queued with the same parameters.
        grace_period: Seconds without a heartbeat before a running trial is stale (default
            twice the interval).
        max_retry: How often one configuration is re-queued after stale failures (``None``:
            without limit).
        retries: Further attempts to connect after transient errors.
        backoff: Seconds before the first retry, doubled after each.
        must_exist: Refuse a SQLite or journal file that does not exist instead of creating
            it, and a database that holds no Optuna storage yet (commands that read or join a
            storage made earlier: ``worker``, ``report``).
        **rdb_options: Passed to :class:`optuna.storages.RDBStorage`.

    Raises:
        DataNotFoundError: ``must_exist`` and the URL names a file that does not exist.
        InputError: The URL is malformed or a setting is out of range.
        StorageError: The storage could not be opened; the message names the URL without its
            password. Also a database or SQLite file that holds another program's tables
            (opening would write Optuna's among them), a damaged SQLite or journal file (:mod:`hyperlab.lab.damage`); a
            journal's last line cut off mid-write is moved aside instead, with a warning.
    """
    check_url(url)
    check_heartbeats(heartbeat_interval, grace_period)
    if must_exist:
        check_exists(url)
    callback = stale_callback(max_retry) if heartbeat_interval else None
    if url.startswith("journal:"):
        return open_journal(
            url[len("journal:") :], heartbeat_interval, grace_period, callback, max_retry
        )
    if heartbeat_interval:
        rdb_options.update(
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=callback,
        )
    return open_rdb(
        url,
        rdb_options,
        heartbeats=bool(heartbeat_interval),
        max_retry=max_retry,
        retries=retries,
        backoff=backoff,
        must_exist=must_exist,
    )


def load_study(url: str, study_name: str) -> optuna.Study:
    """Study ``study_name`` of the storage behind ``url``, to read (a past study outside any
    run folder): a SQLite or journal file that does not exist is refused, not created.

    Raises:
        DataNotFoundError: The URL names a file that does not exist.
        InputError: The storage holds no study of that name; the message lists some it holds.
        InputTypeError: ``study_name`` is not a string.
        StorageError: The storage cannot be opened.
    """
    if not isinstance(study_name, str) or not study_name:
        raise InputTypeError(f"study name must be a non-empty string, got {study_name!r}")
    storage = open_storage(url, must_exist=True)
    names = [s.study_name for s in storage.get_all_studies()]
    if study_name not in names:
        raise InputError(
            f"no study {study_name!r} in storage {redact(url)!r} (its studies: {listed(names)})"
        )
    return optuna.load_study(study_name=study_name, storage=storage)
