"""The folder of one run, ``runs/NAME/``, and its lifecycle: record the setup in ``run.json``
(or check it against the recorded one on resumption), open the run's storage, and clear what
the lab wrote (``--overwrite``).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hyperlab.errors import HyperlabError, InputError, RunConflictError
from hyperlab.lab import run_defaults, urls
from hyperlab.lab.run_paths import (
    SPEC_FILE,
    absolute_url,
    check_folder,
    check_opens,
    file_url_parts,
    lab_made,
    own_default_file,
)
from hyperlab.lab.run_progress import run_progress
from hyperlab.lab.run_versions import earlier_set, resume_warning, version_changes
from hyperlab.lab.runspec import RUN_KEYS, RunSpec, spec_fields, timestamp_now, versions
from hyperlab.registry import TUNERS


class RunDir:
    """The folder of one run.

    Args:
        path: The folder (created on :meth:`prepare`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._storages: dict[str, optuna.storages.BaseStorage] = {}
        #: Whether :meth:`prepare` recorded a run afresh: a new one, an overwritten one, or one
        #: that held no trial set up again (no earlier run is left that the record describes).
        self.afresh = False

    def open_storage(self, url: str, *, must_exist: bool = False) -> optuna.storages.BaseStorage:
        """The storage behind ``url``, opened on the first call and reused by the later ones.

        Opening a journal replays the whole file, while an open journal storage reads only what
        was appended since (a database storage asks the server each time), so the steps of one
        command share one: the checks before a run, loading its studies, its summary and its
        report. :meth:`clear` forgets them (it may remove the file). See
        :func:`hyperlab.lab.storage.open_storage` for ``must_exist`` and the errors.
        """
        from hyperlab.lab.storage import open_storage
        from hyperlab.lab.storage_tables import check_exists

        if must_exist:
            check_exists(url)
        if url not in self._storages:
            self._storages[url] = open_storage(url, must_exist=must_exist)
        return self._storages[url]

    def _forget_storages(self) -> None:
        for storage in self._storages.values():
            engine = getattr(storage, "engine", None)
            if engine is not None:
                engine.dispose()  # let go of a file that is about to be removed
        self._storages.clear()

    @property
    def spec_path(self) -> Path:
        return self.path / SPEC_FILE

    def population_folder(self, study_name: str) -> Path:
        """Where the population of study ``study_name`` keeps its checkpoint."""
        return self.path / "population" / study_name.replace(":", "_")

    def exists(self) -> bool:
        return self.spec_path.exists()

    def load_spec(self) -> RunSpec:
        """The recorded setup.

        Raises:
            DataNotFoundError: The folder does not exist.
            InputError: The folder holds no run, or its ``run.json`` is damaged (the message
                names the missing or bad keys).
        """
        check_folder(self.path)
        if not self.spec_path.exists():
            raise InputError(f"{str(self.path)!r} is not a hyperlab run directory (no {SPEC_FILE})")
        try:
            data = json.loads(self.spec_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{str(self.spec_path)!r} is not valid JSON: {exc}") from None
        spec = RunSpec(**spec_fields(data, self.spec_path))
        spec.storage = self._usable(spec.storage, spec.name)
        return spec

    def prepare(self, spec: RunSpec, overwrite: bool = False) -> RunSpec:
        """Create the folder and record ``spec``, or check it matches the recorded one.

        A folder that holds files but no run is never used or removed. ``overwrite`` removes the
        files the lab wrote (and the run's studies in an external storage), nothing else. A
        recorded run that has no trials yet is set up again with the new settings (and its
        creation time, which identifies it to its studies). Nothing is
        recorded until the storage has opened, so a failed first attempt leaves no run behind.
        An empty ``spec.storage`` means the recorded run's storage, else a file in the folder.

        Returns:
            The spec to run with (the recorded one updated with resumable settings).

        Raises:
            InputError: The folder is not a run's (the message lists what was found).
            RunConflictError: A run with different settings is there and ``overwrite`` is off.
            RunInUseError: ``overwrite`` while workers run trials of the recorded run.
            StorageError: The storage cannot be opened.
        """
        self._check_not_foreign()
        spec.storage = absolute_url(spec.storage) if spec.storage else ""
        self._check_storage_place(spec.storage)  # before anything is cleared
        urls.remember(spec.storage)  # the old run's studies may need the password to go
        if overwrite and self.exists():
            self._check_ours()
            self.check_no_workers(f"overwrite run {self.path.name!r}")
            if spec.storage and not self.holds_storage(spec.storage):
                check_opens(spec.storage)  # a storage that fails must not cost the old run
            self.clear()
        old = self.load_spec() if self.exists() else None
        unused = None
        if old is not None:
            held = self._has_trials(old)
            if not held:
                old, unused = None, old  # nothing ran yet: set up afresh
        if old is not None:
            spec.storage = spec.storage or old.storage
            diffs = spec.differences(old)
            if diffs:
                kept = (
                    f" (a run keeps its direction: give --direction {old.direction} to resume "
                    "it; left out, the direction is the task's, or minimize)"
                    if spec.direction != old.direction
                    else ""
                )
                raise RunConflictError(
                    f"run directory {str(self.path)!r} holds a run with other settings "
                    f"({'; '.join(diffs)}){kept}; resume it with the same settings, choose "
                    "another --name, or pass --overwrite (overwrite=True) to start over"
                )
            self._check_fewer_trials(spec, old)
            spec.created, spec.name = old.created, old.name
        self.afresh = old is None
        self.path.mkdir(parents=True, exist_ok=True)
        spec.storage = spec.storage or self.default_storage(spec)
        self.open_storage(spec.storage)  # (a resumed run's too: a damaged one keeps its run.json)
        if unused is not None:
            self._drop_unused_studies(unused, spec)
        # a run set up again keeps its identity, which its studies record (lab/claim.py)
        spec.created = (
            spec.created or (unused.created if unused is not None else "") or timestamp_now()
        )
        spec.versions = versions(_tuner_packages(spec.tuners))
        if old is not None:
            spec.earlier_versions = self._earlier_versions(old, spec.versions)
        self._record_options(old, spec)
        data = spec.to_dict()
        data["storage"] = self._portable(data["storage"])
        self.spec_path.write_text(json.dumps(data, indent=2))
        return spec

    def _earlier_versions(self, old: RunSpec, current: dict[str, str]) -> list[dict[str, Any]]:
        """The version sets the resumed run ``old`` ran with before, the recorded one added
        (and a warning given) when ``current`` differs from it."""
        changes = version_changes(old.versions, current)
        if not changes:
            return list(old.earlier_versions)
        # (stacklevel: the caller of tune or compare)
        warnings.warn(resume_warning(old.name, changes), UserWarning, stacklevel=6)
        held = earlier_set(old.versions, timestamp_now(), self._progress(old))
        return [*old.earlier_versions, held]

    def _record_options(self, old: RunSpec | None, spec: RunSpec) -> None:
        """Set the options each tuner and pruner takes, defaults included, in ``spec``: now for
        a new run; for the resumed run ``old`` as recorded, each that takes another value now
        updated and the change added to ``default_changes`` (a warning given where no option
        given now asked for it: a default that changed). A run recorded before run.json kept
        them keeps none."""
        now = run_defaults.effective_options(
            spec.tuners, spec.pruners, spec.tuner_options, spec.pruner_options
        )
        if old is None:
            spec.effective_options, spec.default_changes = now, []
            return
        found = run_defaults.changes(old.effective_options, now)
        unasked = [
            c for c in found if not run_defaults.given(c, spec.tuner_options, spec.pruner_options)
        ]
        if unasked:  # (stacklevel: the caller of tune or compare)
            text = run_defaults.resume_warning(old.name, unasked, old.default_changes)
            warnings.warn(text, UserWarning, stacklevel=6)
        spec.effective_options = run_defaults.applied(old.effective_options, found)
        spec.default_changes = (
            run_defaults.with_changes(
                old.default_changes, found, timestamp_now(), self._progress(old)
            )
            if found
            else list(old.default_changes)
        )

    def check_no_workers(self, doing: str) -> None:
        """Refuse ``doing`` (what was asked, named in the error) to the recorded run while
        workers run its trials (``hyperlab worker`` processes hold no run lock): overwritten,
        they would write into a storage that was removed.

        Raises:
            RunInUseError: A trial of the run beat within its study's grace period.
        """
        from hyperlab.lab.workers import live_trials, workers_running_error

        old = self.load_spec()
        try:  # (opened once for the run's later steps too: a journal is replayed each time)
            opened = self.open_storage(old.storage, must_exist=True)
        except HyperlabError:
            opened = None  # (damaged, say: judged by its heartbeat files alone)
        live = live_trials(old.storage, {n for n, *_ in old.study_names()}, opened=opened)
        if live:
            raise workers_running_error(old.storage, live, doing)

    def default_storage(self, spec: RunSpec) -> str:
        """A file in the folder: SQLite for one process, a journal file for several."""
        from hyperlab.lab.storage_settings import default_storage

        return default_storage(self.path, spec.jobs)

    def clear(self) -> None:
        """Remove what the lab wrote in the folder (and the run's external studies).

        Files the lab did not write stay where they are, and so does the lock of this process.
        """
        if self.exists():
            try:
                self._delete_studies(self.load_spec())
            except HyperlabError as exc:
                warnings.warn(f"the old run's studies were not deleted: {exc}", stacklevel=3)
        self._forget_storages()
        for entry in self.path.iterdir():
            if not lab_made(entry.name) or entry.name == ".lock":
                continue
            if (entry / SPEC_FILE).exists():
                continue  # a run of its own (``--runs-dir`` this folder), named as the lab's
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _check_storage_place(self, url: str) -> None:
        """Refuse a storage file inside this folder that is the folder, one of the lab's own
        files (the report would be written over it, ``--overwrite`` would clear it first), or
        lies in a sub-folder that does not exist.

        Raises:
            InputError: Naming the path.
        """
        if not url or not self._inside(url):
            return
        path = Path(file_url_parts(url)[1] or "").resolve()
        folder = self.path.resolve()
        if path == folder or path.is_dir():
            raise InputError(f"storage {url!r} names a folder: name a file, e.g. study.db in it")
        first = path.relative_to(folder).parts[0]
        if lab_made(first) and not first.startswith("study."):
            raise InputError(
                f"storage {url!r} names {first!r}, a file the lab writes in the run folder: "
                "name another file (the default is study.db, or study.journal for workers)"
            )
        if not path.parent.is_dir() and path.parent != folder:
            raise InputError(f"storage {url!r}: its folder {str(path.parent)!r} does not exist")

    def _check_ours(self) -> None:
        """Refuse to clear a folder whose ``run.json`` another program wrote: a JSON object
        with none of a hyperlab run's settings."""
        try:
            data = json.loads(self.spec_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # unreadable: a damaged record of ours (a crash mid-write) may be cleared
        if isinstance(data, dict) and not set(data) & RUN_KEYS:
            raise InputError(
                f"{str(self.spec_path)!r} is not a hyperlab run's record (its keys: "
                f"{sorted(data)[:6]}); --overwrite clears only hyperlab runs: choose another "
                "--name, or move that folder"
            )

    def _check_not_foreign(self) -> None:
        """Refuse a path that is a file, or a folder with files and no run."""
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise InputError(f"{str(self.path)!r} exists and is not a folder")
        if self.exists():
            return
        found = sorted(e.name for e in self.path.iterdir() if not lab_made(e.name))
        if found:
            shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
            raise InputError(
                f"folder {str(self.path)!r} holds no hyperlab run (no {SPEC_FILE}) but other "
                f"files ({shown}); the lab neither uses nor deletes it: choose another --name"
            )

    def holds_storage(self, url: str) -> bool:
        """Whether ``url`` is a storage file inside this folder (it moves with the folder)."""
        return self._inside(absolute_url(url))

    def _inside(self, url: str) -> bool:
        """Whether ``url`` is a storage file inside this folder."""
        _kind, path = file_url_parts(url)
        if path is None:
            return False
        try:
            Path(path).resolve().relative_to(self.path.resolve())
        except ValueError:
            return False
        return True

    def _delete_studies(self, spec: RunSpec) -> None:
        """Delete the run's studies from a storage outside the folder (files inside it go
        with the lab's other files)."""
        if self._inside(spec.storage):
            return
        from hyperlab.lab.storage_errors import redact

        storage = self.open_storage(spec.storage)
        ours, kept = _run_studies(storage, spec)
        for study in ours:
            optuna.delete_study(study_name=study.study_name, storage=storage)
        if kept:
            warnings.warn(
                f"kept {len(kept)} {'study' if len(kept) == 1 else 'studies'} of the same "
                "name that another run made in "
                f"{redact(spec.storage)!r} (e.g. {kept[0]!r})",
                stacklevel=4,
            )

    def _drop_unused_studies(self, unused: RunSpec, spec: RunSpec) -> None:
        """Delete the studies of a recorded run that holds no trial and is set up again as
        ``spec``, less those ``spec`` reuses (its own, in the same storage): a worker started
        as the old ``--create-only`` said would otherwise run trials the run no longer reads."""
        _kind, path = file_url_parts(unused.storage)
        if path is not None and not Path(path).exists():
            return
        same = unused.storage == spec.storage
        reused = {n for n, *_ in spec.study_names()} if same else set()
        opened = self.open_storage(unused.storage)
        for study in _run_studies(opened, unused)[0]:
            if study.study_name not in reused and not opened.get_n_trials(study._study_id):
                optuna.delete_study(study_name=study.study_name, storage=opened)

    def _check_fewer_trials(self, spec: RunSpec, old: RunSpec) -> None:
        """Fewer trials than recorded only while no study holds more finished trials: the
        report covers every trial a study holds, and would label them with the smaller count."""
        if spec.trials >= old.trials:
            return
        from hyperlab.lab.storage import open_storage

        storage = open_storage(old.storage)
        names = {n for n, *_ in old.study_names()}
        finished = (TrialState.COMPLETE, TrialState.PRUNED)
        most = max(
            (
                len(storage.get_all_trials(st._study_id, deepcopy=False, states=finished))
                for st in storage.get_all_studies()
                if st.study_name in names
            ),
            default=0,
        )
        if most > spec.trials:
            raise RunConflictError(
                f"run directory {str(self.path)!r} asks for {spec.trials} trials per study, but "
                f"a study of the run already holds {most} finished trials (the run was made with "
                f"{old.trials}); ask for {old.trials} or more, choose another --name, or pass "
                "--overwrite (overwrite=True) to start over"
            )

    def _has_trials(self, spec: RunSpec) -> bool:
        """Whether the run's storage holds any trial (the storage stays open for the steps
        after, see :meth:`open_storage`). A storage file of this folder that is missing holds none; any other storage that cannot
        be read (a file elsewhere that is missing, an unmounted disk, a server that is down)
        counts as holding some, so that nothing is replaced by mistake."""
        population = self.path / "population"
        if population.is_dir() and any(population.iterdir()):
            return True  # a population's checkpoints: its trials are written when it ends
        _kind, path = file_url_parts(spec.storage)
        if path is not None and not Path(path).exists():
            return not self._inside(spec.storage)
        held = self._trials_by_study(spec)
        return held is None or sum(held.values()) > 0

    def _trials_by_study(self, spec: RunSpec) -> dict[str, int] | None:
        """The trials each of the run's studies holds, by name (``None``: the storage cannot
        be read)."""
        try:
            storage = self.open_storage(spec.storage)
            names = {n for n, *_ in spec.study_names()}
            studies = [s for s in storage.get_all_studies() if s.study_name in names]
            return {s.study_name: storage.get_n_trials(s._study_id) for s in studies}
        except Exception:
            return None

    def _progress(self, spec: RunSpec) -> dict[str, Any]:
        """How far the run had got (:func:`hyperlab.lab.run_progress.run_progress`)."""
        folders = {n: self.population_folder(n) for n, *_ in spec.study_names()}
        return run_progress(self._trials_by_study(spec), folders)

    def _portable(self, url: str) -> str:
        """``url`` as recorded: a storage file inside the folder is named relative to it."""
        kind, path = file_url_parts(url)
        if path is None:
            return url
        try:
            inside = Path(path).resolve().relative_to(self.path.resolve())
        except ValueError:
            return url
        return f"{kind}{inside.as_posix()}"

    def _usable(self, url: str, name: str) -> str:
        """A recorded URL to connect with: relative files are in this folder (wherever it has
        been moved or copied to), as is the default storage an older run ``name`` recorded by
        absolute path (:func:`own_default_file`), and a password comes from the environment."""
        kind, path = file_url_parts(url)
        if path is not None and not Path(path).is_absolute():
            return f"{kind}{(self.path.resolve() / path).as_posix()}"
        if path is not None and (own := own_default_file(path, name, self.path)) is not None:
            return f"{kind}{own.as_posix()}"
        return urls.with_secret(url)


def _run_studies(
    storage: optuna.storages.BaseStorage, spec: RunSpec
) -> tuple[list[Any], list[str]]:
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


def _tuner_packages(tuners: list[str]) -> list[str]:
    """The other libraries the run's tuners run (a peer's), whose versions the run records."""
    return [package for name in tuners for package in TUNERS.packages(name)]
