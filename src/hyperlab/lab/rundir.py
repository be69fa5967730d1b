"""A run directory: ``runs/NAME/`` with ``run.json`` (the full setup) and the study storage."""

from __future__ import annotations

import fnmatch
import json
import platform
import shutil
import warnings
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hyperlab.errors import (
    DataNotFoundError,
    HyperlabError,
    InputError,
    InputTypeError,
    RunConflictError,
)
from hyperlab.lab import urls

SPEC_FILE = "run.json"
# Settings that may change between a run and its resumption (``name``: a copied run keeps the
# study names it was recorded with).
_RESUMABLE = {"trials", "jobs", "created", "versions", "command", "name", "warnings"}
# Settings a run recorded by an older hyperlab may lack (null): then they are not compared.
_UNKNOWN_WHEN_NULL = {"objective"}
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


def versions() -> dict[str, str]:
    """Versions of Python and the libraries a result depends on (read without importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("hyperlab", "optuna", "torch", "numpy", "scikit-learn", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


@dataclass
class RunSpec:
    """Everything needed to resume and report a run.

    Attributes:
        kind: ``tune`` or ``compare``.
        task: Task name (``None`` for a user objective).
        tuners: Tuner names.
        pruners: Pruner names.
        seeds: Seeds (one study per tuner x pruner x seed).
        trials: Finished trials wanted per study.
        storage: Storage URL.
        budget: Epochs per trial (``None``: the task's maximum).
        jobs: Worker processes.
        stop_at_noise: End a study once the remaining improvement is within noise.
        direction: ``"minimize"`` or ``"maximize"``: which way the score was optimized (a
            ``run.json`` without it is a minimized run).
        task_options: Options given to the task's factory.
        tuner_options: Options given to each tuner's factory.
        pruner_options: Options for the pruners' factories (each gets those it takes).
        objective: The identity of a Python objective given as a function (``module:qualname``;
            ``None`` for a task name, which identifies itself).
        warnings: What the checks of the setup warned about (a tuner that never leaves its
            start-up design, a run too short for its tuner's first full trial): the report
            repeats it beside the results it concerns.
    """

    kind: str
    task: str | None
    tuners: list[str]
    pruners: list[str]
    seeds: list[int]
    trials: int
    storage: str
    budget: int | None = None
    jobs: int = 1
    stop_at_noise: bool = False
    direction: str = "minimize"
    task_options: dict[str, Any] = field(default_factory=dict)
    tuner_options: dict[str, Any] = field(default_factory=dict)
    pruner_options: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    objective: str | None = None
    warnings: list[str] = field(default_factory=list)

    def study_names(self) -> list[tuple[str, str, str, int]]:
        """``(study name, tuner, pruner, seed)`` of every study in the run."""
        out = []
        for tuner in self.tuners:
            for pruner in self.pruners:
                for seed in self.seeds:
                    out.append((f"{self.name}:{tuner}:{pruner}:seed{seed}", tuner, pruner, seed))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data, with no password in ``storage`` or ``command``."""
        out = dict(self.__dict__)
        out["storage"] = urls.without_password(self.storage)
        out["command"] = urls.mask_args(list(self.command))
        return out

    def differences(self, other: RunSpec) -> list[str]:
        """Settings that differ from ``other`` and forbid resuming (passwords aside)."""
        mine, theirs = self.to_dict(), other.to_dict()
        # ``--population N`` is ``--trials N`` (resumable; a population refuses another size
        # by name): the copy of it among the tuner options is not a setting of its own
        for data in (mine, theirs):
            options = dict(data.get("tuner_options") or {})
            if options.get("population") == data.get("trials"):
                del options["population"]
            # an option spelled out at its default is the same setting as one left out; a
            # file's path recorded relative (before runs recorded them absolute) is read from
            # the current folder, where a run that recorded it so is resumed
            data["tuner_options"] = _without_defaults(
                "tuner", data.get("tuners"), _files("tuner", data.get("tuners"), options)
            )
            pruner_options = dict(data.get("pruner_options") or {})
            data["pruner_options"] = _without_defaults(
                "pruner", data.get("pruners"), _files("pruner", data.get("pruners"), pruner_options)
            )
        budgets = {mine.get("budget"), theirs.get("budget")}
        if len(budgets) == 2 and None in budgets and budgets - {None} == {_max_budget(self)}:
            mine["budget"] = theirs["budget"]  # the task's full budget, given or left out
        return [
            f"{k}: {_short(theirs.get(k))} -> {_short(mine.get(k))}"
            for k in mine
            if k not in _RESUMABLE
            and mine.get(k) != theirs.get(k)
            and not (k in _UNKNOWN_WHEN_NULL and theirs.get(k) is None)
        ]


def _max_budget(spec: RunSpec) -> int | None:
    """The full budget of the spec's registered task (``None``: no such task, or it cannot be
    built now)."""
    from hyperlab.registry import TASKS

    if spec.task is None or spec.task not in TASKS:
        return None
    try:
        return int(TASKS.create(spec.task, **spec.task_options).max_budget)
    except Exception:  # a task that cannot be built is refused elsewhere, by name
        return None


def _files(kind: str, names: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the paths of files made absolute (see
    :func:`hyperlab.lab.plugins.absolute_files`); kept as they are when a name is not
    registered (a plug-in gone since the run)."""
    from hyperlab.lab.plugins import absolute_files
    from hyperlab.registry import PRUNERS, TUNERS

    try:
        return absolute_files(TUNERS if kind == "tuner" else PRUNERS, names or [], options)
    except HyperlabError:
        return options


def _without_defaults(kind: str, names: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` less each one whose value is the factory's default for every tuner (``kind``
    ``"tuner"``) or pruner in ``names`` that takes it. Kept: an option no factory is known to
    take, or one whose default is not in a factory's signature (a factory that checks its own
    keywords); all are kept when a name is not registered (a plug-in gone since the run)."""
    from hyperlab.registry import PRUNERS, TUNERS

    registry = TUNERS if kind == "tuner" else PRUNERS
    try:
        factories = [(registry.options(n), registry.defaults(n)) for n in names or []]
    except HyperlabError:
        return options

    def is_default(key: str, value: Any) -> bool:
        takers = [d for taken, d in factories if taken is None or key in taken]
        return bool(takers) and all(_same(d.get(key, _NONE), value) for d in takers)

    return {k: v for k, v in options.items() if not is_default(k, v)}


_NONE = object()


def _same(default: Any, value: Any) -> bool:
    """Whether ``value`` is ``default`` as a setting (``1`` is ``1.0`` but not ``True``)."""
    if default is _NONE or isinstance(default, bool) != isinstance(value, bool):
        return False
    if isinstance(default, int | float) and isinstance(value, int | float):
        return default == value
    try:
        return type(default) is type(value) and bool(default == value)
    except Exception:  # an exotic default that cannot be compared
        return False


def _short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters (a setting may list a million seeds)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


class RunDir:
    """The folder of one run.

    Args:
        path: The folder (created on :meth:`prepare`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._storages: dict[str, optuna.storages.BaseStorage] = {}

    def open_storage(self, url: str, *, must_exist: bool = False) -> optuna.storages.BaseStorage:
        """The storage behind ``url``, opened on the first call and reused by the later ones.

        Opening a journal replays the whole file, while an open journal storage reads only what
        was appended since (a database storage asks the server each time), so the steps of one
        command share one: the checks before a run, loading its studies, its summary and its
        report. :meth:`clear` forgets them (it may remove the file). See
        :func:`hyperlab.lab.storage.open_storage` for ``must_exist`` and the errors.
        """
        from hyperlab.lab.storage import check_exists, open_storage

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
        _check_folder(self.path)
        if not self.spec_path.exists():
            raise InputError(f"{str(self.path)!r} is not a hyperlab run directory (no {SPEC_FILE})")
        try:
            data = json.loads(self.spec_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{str(self.spec_path)!r} is not valid JSON: {exc}") from None
        spec = RunSpec(**_spec_fields(data, self.spec_path))
        spec.storage = self._usable(spec.storage)
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
        spec.storage = _absolute(spec.storage) if spec.storage else ""
        self._check_storage_place(spec.storage)  # before anything is cleared
        urls.remember(spec.storage)  # the old run's studies may need the password to go
        if overwrite and self.exists():
            self._check_ours()
            self._check_no_workers()
            if spec.storage and not self.holds_storage(spec.storage):
                _check_opens(spec.storage)  # a storage that fails must not cost the old run
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
        self.path.mkdir(parents=True, exist_ok=True)
        spec.storage = spec.storage or self.default_storage(spec)
        self.open_storage(spec.storage)  # (a resumed run's too: a damaged one keeps its run.json)
        if unused is not None:
            self._drop_unused_studies(unused, spec)
        # a run set up again keeps its identity, which its studies record (lab/claim.py)
        spec.created = spec.created or (unused.created if unused is not None else "") or _now()
        spec.versions = versions()
        data = spec.to_dict()
        data["storage"] = self._portable(data["storage"])
        self.spec_path.write_text(json.dumps(data, indent=2))
        return spec

    def _check_no_workers(self) -> None:
        """Refuse to clear a run whose trials workers are running now (``hyperlab worker``
        processes hold no run lock): they would write into a storage that was removed."""
        from hyperlab.lab.workers import live_trials, workers_running_error

        old = self.load_spec()
        live = live_trials(old.storage, {n for n, *_ in old.study_names()})
        if live:
            raise workers_running_error(old.storage, live, f"overwrite run {self.path.name!r}")

    def default_storage(self, spec: RunSpec) -> str:
        """A file in the folder: SQLite for one process, a journal file for several."""
        from hyperlab.lab.storage import default_storage

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
            if not _lab_made(entry.name) or entry.name == ".lock":
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
        path = Path(_file_storage(url)[1] or "").resolve()
        folder = self.path.resolve()
        if path == folder or path.is_dir():
            raise InputError(f"storage {url!r} names a folder: name a file, e.g. study.db in it")
        first = path.relative_to(folder).parts[0]
        if _lab_made(first) and not first.startswith("study."):
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
        if isinstance(data, dict) and not set(data) & _RUN_KEYS:
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
        found = sorted(e.name for e in self.path.iterdir() if not _lab_made(e.name))
        if found:
            shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
            raise InputError(
                f"folder {str(self.path)!r} holds no hyperlab run (no {SPEC_FILE}) but other "
                f"files ({shown}); the lab neither uses nor deletes it: choose another --name"
            )

    def holds_storage(self, url: str) -> bool:
        """Whether ``url`` is a storage file inside this folder (it moves with the folder)."""
        return self._inside(_absolute(url))

    def _inside(self, url: str) -> bool:
        """Whether ``url`` is a storage file inside this folder."""
        _kind, path = _file_storage(url)
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
        from hyperlab.lab.storage import redact

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
        _kind, path = _file_storage(unused.storage)
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
        _kind, path = _file_storage(spec.storage)
        if path is not None and not Path(path).exists():
            return not self._inside(spec.storage)
        try:
            storage = self.open_storage(spec.storage)
            names = {n for n, *_ in spec.study_names()}
            studies = [s for s in storage.get_all_studies() if s.study_name in names]
            return any(storage.get_n_trials(s._study_id) for s in studies)
        except Exception:
            return True

    def _portable(self, url: str) -> str:
        """``url`` as recorded: a storage file inside the folder is named relative to it."""
        kind, path = _file_storage(url)
        if path is None:
            return url
        try:
            inside = Path(path).resolve().relative_to(self.path.resolve())
        except ValueError:
            return url
        return f"{kind}{inside.as_posix()}"

    def _usable(self, url: str) -> str:
        """A recorded URL to connect with: relative files are in this folder (wherever it has
        been moved or copied to), and a password comes from the environment."""
        kind, path = _file_storage(url)
        if path is not None and not Path(path).is_absolute():
            return f"{kind}{(self.path.resolve() / path).as_posix()}"
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


def _file_storage(url: str) -> tuple[str, str | None]:
    """``(prefix, path)`` of a SQLite or journal URL, ``(url, None)`` for anything else."""
    for prefix in ("sqlite:///", "journal:"):
        if url.startswith(prefix) and url != prefix:
            return prefix, url[len(prefix) :]
    return url, None


def _absolute(url: str) -> str:
    """A SQLite or journal URL with its path made absolute (from the current folder)."""
    kind, path = _file_storage(url)
    if path is None or path.startswith(":memory:"):
        return url
    return f"{kind}{Path(path).resolve().as_posix()}"


def _now() -> str:
    """The time a run is created, to the microsecond: it identifies the run (its studies record
    it), so two runs started in one second get two identities."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _lab_made(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in LAB_FILES)


def _check_opens(url: str) -> None:
    """Open the storage once, so a bad URL fails before the run is recorded."""
    from hyperlab.lab.storage import open_storage

    open_storage(url)


def load_studies(run_dir: str | Path | RunDir) -> list[tuple[optuna.Study, str, str, int]]:
    """``(study, tuner, pruner, seed)`` for each study of a run that exists in storage.

    Given a :class:`RunDir`, the storage it opened already is used (see
    :meth:`RunDir.open_storage`); given a folder, the storage is opened anew.

    Raises:
        DataNotFoundError: The run folder, or the storage file it names, does not exist
            (nothing is created: an empty storage would pass for a run with no trials).
    """
    folder = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    spec = folder.load_spec()
    try:
        storage = folder.open_storage(spec.storage, must_exist=True)
    except DataNotFoundError as exc:
        raise DataNotFoundError(
            f"run {str(folder.path)!r} has lost its storage: {exc} (its {SPEC_FILE} names that "
            "storage; it was deleted or moved)"
        ) from None
    existing = set(optuna.get_all_study_names(storage))  # (summaries deep-copy every trial)
    out = []
    for name, tuner, pruner, seed in spec.study_names():
        if name in existing:
            out.append((optuna.load_study(study_name=name, storage=storage), tuner, pruner, seed))
    return out


def find_trial(
    run_dir: str | Path, number: int, study: str | None = None
) -> optuna.trial.FrozenTrial:
    """Trial ``number`` of a run's study (``study`` may be omitted when the run has one study).

    Raises:
        InputError: No such study or trial; the message lists what exists.
    """
    studies = load_studies(run_dir)
    if not studies:
        raise InputError(f"run {str(run_dir)!r} has no studies in its storage yet")
    if study is None:
        if len(studies) > 1:
            names = ", ".join(s.study_name for s, *_ in studies)
            raise InputError(
                f"run {str(run_dir)!r} has several studies; pick one with --study: {names}"
            )
        chosen = studies[0][0]
    else:
        matches = [s for s, *_ in studies if s.study_name == study]
        if not matches:
            names = ", ".join(s.study_name for s, *_ in studies)
            raise InputError(f"no study {study!r} in {str(run_dir)!r}; studies: {names}")
        chosen = matches[0]
    trials = chosen.get_trials(deepcopy=False)
    for t in trials:
        if t.number == number:
            return t
    held = f"trials are 0..{len(trials) - 1}" if trials else "it holds no trial yet"
    raise InputError(f"study {chosen.study_name!r} has no trial {number}; {held}")


def _check_folder(path: Path) -> None:
    """Raise :class:`DataNotFoundError` when the run folder ``path`` is missing, and
    :class:`InputError` when it is a file."""
    if not path.exists():
        raise DataNotFoundError(f"run directory {str(path)!r} does not exist")
    if not path.is_dir():
        raise InputError(f"{str(path)!r} is a file, not a run directory")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list_of(kind: type) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return isinstance(value, list) and all(
            isinstance(v, kind) and not isinstance(v, bool) for v in value
        )

    return check


#: What each recorded setting of ``run.json`` must be: a test and how to say it.
_SPEC_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "kind": (lambda v: v in ("tune", "compare"), "'tune' or 'compare'"),
    "task": (lambda v: v is None or isinstance(v, str), "a task name or null"),
    "tuners": (_is_list_of(str), "a list of names"),
    "pruners": (_is_list_of(str), "a list of names"),
    "seeds": (_is_list_of(int), "a list of integers"),
    "trials": (_is_int, "an integer"),
    "storage": (lambda v: isinstance(v, str), "a string"),
    "budget": (lambda v: v is None or _is_int(v), "an integer or null"),
    "jobs": (_is_int, "an integer"),
    "stop_at_noise": (lambda v: isinstance(v, bool), "true or false"),
    "direction": (lambda v: v in ("minimize", "maximize"), "'minimize' or 'maximize'"),
    "task_options": (lambda v: isinstance(v, dict), "an object"),
    "tuner_options": (lambda v: isinstance(v, dict), "an object"),
    "pruner_options": (lambda v: isinstance(v, dict), "an object"),
    "name": (lambda v: isinstance(v, str), "a string"),
    "created": (lambda v: isinstance(v, str), "a string"),
    "versions": (lambda v: isinstance(v, dict), "an object"),
    "command": (_is_list_of(str), "a list of strings"),
    "objective": (lambda v: v is None or isinstance(v, str), "a module:qualname or null"),
    "warnings": (_is_list_of(str), "a list of strings"),
}


#: Settings every hyperlab ``run.json`` holds (one of them tells a run's record from another's).
_RUN_KEYS = {"kind", "tuners", "pruners", "seeds", "trials"}


def _spec_fields(data: Any, path: Path) -> dict[str, Any]:
    """The settings of a loaded ``run.json`` that :class:`RunSpec` knows, each checked.

    Raises:
        InputError: ``data`` is not a JSON object, lacks a required setting or holds one of
            the wrong type; the message names the file and every bad key.
    """
    where = f"run record {str(path)!r}"
    if not isinstance(data, dict):
        raise InputError(f"{where} must hold a JSON object, got {type(data).__name__}")
    known = {f.name: f for f in fields(RunSpec)}
    missing = [
        name
        for name, f in known.items()
        if name not in data and f.default is MISSING and f.default_factory is MISSING
    ]
    bad = [
        f"{key} must be {_SPEC_CHECKS[key][1]}, got {data[key]!r}"
        for key in known
        if key in data and key in _SPEC_CHECKS and not _SPEC_CHECKS[key][0](data[key])
    ]
    problems = ([f"missing keys {missing}"] if missing else []) + bad
    if problems:
        raise InputError(
            f"{where} is damaged ({'; '.join(problems)}); restore it, or delete the run "
            "directory to start over"
        )
    return {k: v for k, v in data.items() if k in known}
