"""The names and files of a run folder: the run's name (a folder name), the files the lab
writes in the folder, and storage URLs that name a file.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from hyperlab.errors import DataNotFoundError, InputError, InputTypeError

SPEC_FILE = "run.json"


#: What the lab writes beside a storage file: a journal's lock and heartbeats, the damaged
#: original that ``hyperlab recover`` or a repaired journal keeps, the files of a recovery that
#: was cut off (a user's own copy, ``study.db.bak``, is none of them).
_STORAGE_SIDE_FILES = (".flock", ".heartbeats", ".damaged-*", ".recovering*", ".salvage*")
#: What the lab writes into a run folder (``--overwrite`` removes these and nothing else).
LAB_FILES = (
    SPEC_FILE,
    ".lock",
    "report.html",
    "results.csv",
    "study.db",
    "study.db-*",  # (SQLite's -wal, -shm and -journal)
    "study.journal",
    *(f"study.{kind}{side}" for kind in ("db", "journal") for side in _STORAGE_SIDE_FILES),
    "population",
)
#: The longest run name accepted (it is a folder name and part of every study name).
MAX_NAME = 100


def check_name(name: object) -> str:
    """Return ``name`` if it is one plain path component, else raise :class:`InputError`.

    A run name becomes a folder under the runs folder and the prefix of its study names, so it
    must not be empty, ``.`` or ``..``, hold a path separator, ``:`` or a control character,
    start or end with white space, or be longer than :data:`MAX_NAME` characters.
    """
    if not isinstance(name, str):
        raise InputTypeError(f"run name must be a string, got {name!r}")
    bad = [c for c in name if c in "/\\:?#%" or ord(c) < 32 or c == "\x7f"]
    if name in ("", ".", "..") or bad or name != name.strip():
        raise InputError(
            f"run name must be one plain folder name (not empty, '.' or '..', no '/', '\\', "
            f"':', '?', '#', '%' or control characters, no leading or trailing spaces; a "
            f"storage URL reads '?', '#' and '%' as syntax), got {name!r}"
        )
    if len(name) > MAX_NAME:
        raise InputError(f"run name must be at most {MAX_NAME} characters, got {len(name)}")
    return name


def file_url_parts(url: str) -> tuple[str, str | None]:
    """``(prefix, path)`` of a SQLite or journal URL, ``(url, None)`` for anything else."""
    for prefix in ("sqlite:///", "journal:"):
        if url.startswith(prefix) and url != prefix:
            return prefix, url[len(prefix) :]
    return url, None


def absolute_url(url: str) -> str:
    """A SQLite or journal URL with its path made absolute (from the current folder)."""
    kind, path = file_url_parts(url)
    if path is None or path.startswith(":memory:"):
        return url
    return f"{kind}{Path(path).resolve().as_posix()}"


def lab_made(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in LAB_FILES)


def check_opens(url: str) -> None:
    """Open the storage once, so a bad URL fails before the run is recorded."""
    from hyperlab.lab.storage import open_storage

    open_storage(url)


def check_folder(path: Path) -> None:
    """Raise :class:`DataNotFoundError` when the run folder ``path`` is missing, and
    :class:`InputError` when it is a file."""
    if not path.exists():
        raise DataNotFoundError(f"run directory {str(path)!r} does not exist")
    if not path.is_dir():
        raise InputError(f"{str(path)!r} is a file, not a run directory")


#: The storage files a run folder holds when no storage was given (``default_storage``).
DEFAULT_STORAGE_FILES = ("study.db", "study.journal")


def own_default_file(recorded: str, name: str, folder: Path) -> Path | None:
    """The storage file of ``folder`` that ``recorded``, an absolute storage path in the
    ``run.json`` of run ``name``, stood for when the run was made; ``None`` when it is not one.

    Runs made before storages were recorded relative to their folder (2026-12-03) recorded
    their default storage by absolute path: once such a folder is moved, the path names nothing,
    and once it is copied, the copy's path names the original's file, which a resumed copy
    would write into. A path is read as the folder's own file when it names a default storage
    file (``study.db``, ``study.journal``) in another folder of the run's (or this folder's)
    name, and this folder holds a file of that name.
    """
    path = Path(recorded)
    own = folder / path.name
    if path.name not in DEFAULT_STORAGE_FILES or path.parent.name not in {name, folder.name}:
        return None
    if not own.is_file() or path.parent.resolve() == folder.resolve():
        return None
    return own.resolve()
