"""What a run folder owns, checked before the lab uses or clears anything: the folder itself (a
folder of other files, or a ``run.json`` another program wrote, is never used or cleared), the
storage files inside it (they move with it, and may not be one of the lab's own files), and the
run's studies in its storage (deleted with ``--overwrite``, dropped when a run that held no trial
is set up again), told from studies of the same name that another run made.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Protocol

import optuna

from hyperlab.errors import InputError
from hyperlab.lab.run_paths import SPEC_FILE, file_url_parts, lab_made
from hyperlab.lab.runspec import RUN_KEYS, RunSpec


class OpenStorage(Protocol):
    """Opens the storage behind a URL (:meth:`hyperlab.lab.run_folder.RunDir.open_storage`:
    one opened storage a URL for the steps of one command)."""

    def __call__(self, url: str, *, must_exist: bool = False) -> optuna.storages.BaseStorage: ...


def check_not_foreign(folder: Path) -> None:
    """Refuse a path that is a file, or a folder with files and no run.

    Raises:
        InputError: Naming the path (and the files found).
    """
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r} exists and is not a folder")
    if (folder / SPEC_FILE).exists():
        return
    found = sorted(e.name for e in folder.iterdir() if not lab_made(e.name))
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise InputError(
            f"folder {str(folder)!r} holds no hyperlab run (no {SPEC_FILE}) but other "
            f"files ({shown}); the lab neither uses nor deletes it: choose another --name"
        )


def check_record_ours(spec_path: Path) -> None:
    """Refuse to clear a folder whose ``run.json`` (``spec_path``) another program wrote: a
    JSON object with none of a hyperlab run's settings.

    Raises:
        InputError: Naming the file and its keys.
    """
    try:
        data = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # unreadable: a damaged record of ours (a crash mid-write) may be cleared
    if isinstance(data, dict) and not set(data) & RUN_KEYS:
        raise InputError(
            f"{str(spec_path)!r} is not a hyperlab run's record (its keys: "
            f"{sorted(data)[:6]}); --overwrite clears only hyperlab runs: choose another "
            "--name, or move that folder"
        )


def check_storage_place(folder: Path, url: str) -> None:
    """Refuse a storage file inside ``folder`` that is the folder, one of the lab's own files
    (the report would be written over it, ``--overwrite`` would clear it first), or lies in a
    sub-folder that does not exist.

    Raises:
        InputError: Naming the path.
    """
    if not url or not storage_inside(folder, url):
        return
    path = Path(file_url_parts(url)[1] or "").resolve()
    resolved = folder.resolve()
    if path == resolved or path.is_dir():
        raise InputError(f"storage {url!r} names a folder: name a file, e.g. study.db in it")
    first = path.relative_to(resolved).parts[0]
    if lab_made(first) and not first.startswith("study."):
        raise InputError(
            f"storage {url!r} names {first!r}, a file the lab writes in the run folder: "
            "name another file (the default is study.db, or study.journal for workers)"
        )
    if not path.parent.is_dir() and path.parent != resolved:
        raise InputError(f"storage {url!r}: its folder {str(path.parent)!r} does not exist")


def storage_inside(folder: Path, url: str) -> bool:
    """Whether ``url`` is a storage file inside ``folder``."""
    _kind, path = file_url_parts(url)
    if path is None:
        return False
    try:
        Path(path).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def delete_run_studies(folder: Path, spec: RunSpec, open_storage: OpenStorage) -> None:
    """Delete the studies of ``spec``'s run from a storage outside ``folder`` (files inside it
    go with the lab's other files); a warning names those of the same name another run made,
    which stay."""
    if storage_inside(folder, spec.storage):
        return
    from hyperlab.lab.storage_errors import redact

    storage = open_storage(spec.storage)
    ours, kept = run_studies(storage, spec)
    for study in ours:
        optuna.delete_study(study_name=study.study_name, storage=storage)
    if kept:  # (stacklevel: the caller of RunDir.clear's caller)
        warnings.warn(
            f"kept {len(kept)} {'study' if len(kept) == 1 else 'studies'} of the same "
            "name that another run made in "
            f"{redact(spec.storage)!r} (e.g. {kept[0]!r})",
            stacklevel=4,
        )


def drop_unused_studies(unused: RunSpec, spec: RunSpec, open_storage: OpenStorage) -> None:
    """Delete the studies of a recorded run ``unused`` that holds no trial and is set up again
    as ``spec``, less those ``spec`` reuses (its own, in the same storage): a worker started
    as the old ``--create-only`` said would otherwise run trials the run no longer reads."""
    _kind, path = file_url_parts(unused.storage)
    if path is not None and not Path(path).exists():
        return
    same = unused.storage == spec.storage
    reused = {n for n, *_ in spec.study_names()} if same else set()
    opened = open_storage(unused.storage)
    for study in run_studies(opened, unused)[0]:
        if study.study_name not in reused and not opened.get_n_trials(study._study_id):
            optuna.delete_study(study_name=study.study_name, storage=opened)


def run_studies(storage: optuna.storages.BaseStorage, spec: RunSpec) -> tuple[list[Any], list[str]]:
    """The studies of ``spec``'s run in ``storage``, and the names of those of the same name
    that another run made (another task, or another run's creation time)."""
    names = {n for n, *_ in spec.study_names()}
    ours, kept = [], []
    for study in storage.get_all_studies():
        if study.study_name not in names:
            continue
        info = study.user_attrs.get("hyperlab")
        info = info if isinstance(info, dict) else {}
        if info.get("task", spec.task) != spec.task or info.get("run", spec.created) not in (
            spec.created,
            "",
        ):
            kept.append(study.study_name)
        else:
            ours.append(study)
    return ours, kept
