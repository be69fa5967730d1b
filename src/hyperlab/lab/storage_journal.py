"""A journal file storage opened: another program's text file refused, a last line cut off by
a killed writer moved aside, and a record Optuna cannot replay named as damage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from hyperlab.errors import StorageError
from hyperlab.lab.heartbeat import HeartbeatJournalStorage, beats_folder
from hyperlab.lab.storage_errors import check_file_path


def _check_text_journal(path: Path) -> None:
    """Refuse a text file none of whose lines is a journal record: another program's (a JSON
    file, say), whose last line the journal would take for a record cut off by a kill and move
    aside, writing itself in its place. Binary data is left to the damage check, which names
    the file as a damaged journal.

    Raises:
        StorageError: Naming the file.
    """
    import codecs

    from hyperlab.lab.damage import not_a_journal

    if not path.is_file():
        return
    with open(path, "rb") as f:
        head = f.read(1 << 12)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return
    problem = not_a_journal(path)
    if problem is not None:
        raise StorageError(
            f"storage 'journal:{path}' is not a journal file: {problem}; name the file a run "
            "or `hyperlab tune --create-only` wrote, or a new file (it is left as it was)"
        )


def open_journal(
    path_text: str,
    heartbeat_interval: int | None,
    grace_period: int | None,
    callback: Any,
    max_retry: int | None,
) -> optuna.storages.BaseStorage:
    """Open a journal file storage (see :func:`open_storage`).

    A last line cut off by a killed writer is moved aside first, with a warning.
    """
    path = Path(path_text)
    check_file_path(path, "journal", f"journal:{path / 'study.journal'}")
    from hyperlab.errors import HyperlabError
    from hyperlab.lab.damage import JournalFile, journal_damaged

    _check_text_journal(path)
    backend = JournalFile(path)
    # a line cut off by a killed writer is moved aside, with a warning naming both files
    backend.repair()
    try:  # the journal is replayed here: damage shows as StorageError naming the line
        if heartbeat_interval:
            folder = beats_folder(path)
            storage = HeartbeatJournalStorage(
                backend, folder, heartbeat_interval, grace_period, callback
            )
            storage.max_retry = max_retry
            return storage
        return optuna.storages.JournalStorage(backend)
    except HyperlabError:
        raise
    except (KeyError, TypeError, ValueError, AssertionError) as exc:  # a record Optuna rejects
        detail = f"the record on line {backend.line} cannot be replayed: {exc!r}"
        raise journal_damaged(path, detail) from None
