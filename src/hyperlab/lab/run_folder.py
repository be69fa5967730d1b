"""The folder of one run, ``runs/NAME/``, and its lifecycle: record the setup in ``run.json``
(or check it against the recorded one on resumption), open the run's storage, and clear what
the lab wrote (``--overwrite``). What the folder owns is checked in
:mod:`hyperlab.lab.run_owned`, what a resumption may do in :mod:`hyperlab.lab.run_resume`.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import optuna

from hyperlab.errors import HyperlabError, InputError, RunConflictError
from hyperlab.lab import run_defaults, run_owned, run_resume, urls
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
from hyperlab.lab.runspec import RunSpec, spec_fields, timestamp_now, versions
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
            RunInUseError: ``overwrite`` while workers run trials of the recorded run, or fewer
                trials than recorded where workers run trials that would finish past them.
            StorageError: The storage cannot be opened.
        """
        run_owned.check_not_foreign(self.path)
        spec.storage = absolute_url(spec.storage) if spec.storage else ""
        run_owned.check_storage_place(self.path, spec.storage)  # before anything is cleared
        urls.remember(spec.storage)  # the old run's studies may need the password to go
        if overwrite and self.exists():
            run_owned.check_record_ours(self.spec_path)
            self.check_no_workers(f"overwrite run {self.path.name!r}")
            if spec.storage and not self.holds_storage(spec.storage):
                check_opens(spec.storage)  # a storage that fails must not cost the old run
            self.clear()
        old = self.load_spec() if self.exists() else None
        unused = None
        if old is not None:
            held = run_resume.has_trials(self.path, old, self.open_storage)
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
            run_resume.check_fewer_trials(self.path, spec, old)
            spec.created, spec.name = old.created, old.name
        self.afresh = old is None
        self.path.mkdir(parents=True, exist_ok=True)
        spec.storage = spec.storage or self.default_storage(spec)
        self.open_storage(spec.storage)  # (a resumed run's too: a damaged one keeps its run.json)
        if unused is not None:
            run_owned.drop_unused_studies(unused, spec, self.open_storage)
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
        run_resume.check_no_workers(self.load_spec(), self.open_storage, doing)

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
                run_owned.delete_run_studies(self.path, self.load_spec(), self.open_storage)
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

    def holds_storage(self, url: str) -> bool:
        """Whether ``url`` is a storage file inside this folder (it moves with the folder)."""
        return run_owned.storage_inside(self.path, absolute_url(url))

    def _progress(self, spec: RunSpec) -> dict[str, Any]:
        """How far the run had got (:func:`hyperlab.lab.run_progress.run_progress`)."""
        folders = {n: self.population_folder(n) for n, *_ in spec.study_names()}
        return run_progress(run_resume.trials_by_study(spec, self.open_storage), folders)

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


def _tuner_packages(tuners: list[str]) -> list[str]:
    """The other libraries the run's tuners run (a peer's), whose versions the run records."""
    return [package for name in tuners for package in TUNERS.packages(name)]
