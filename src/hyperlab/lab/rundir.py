"""A run directory: ``runs/NAME/`` with ``run.json`` (the full setup) and the study storage."""

from __future__ import annotations

import json
import platform
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna

from hyperlab.errors import InputError, RunConflictError

SPEC_FILE = "run.json"
# Settings that may change between a run and its resumption.
_RESUMABLE = {"trials", "jobs", "created", "versions", "command"}


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
        task_options: Options given to the task's factory.
        tuner_options: Options given to each tuner's factory.
        pruner_options: Options for the pruners' factories (each gets those it takes).
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
    task_options: dict[str, Any] = field(default_factory=dict)
    tuner_options: dict[str, Any] = field(default_factory=dict)
    pruner_options: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)

    def study_names(self) -> list[tuple[str, str, str, int]]:
        """``(study name, tuner, pruner, seed)`` of every study in the run."""
        out = []
        for tuner in self.tuners:
            for pruner in self.pruners:
                for seed in self.seeds:
                    out.append((f"{self.name}:{tuner}:{pruner}:seed{seed}", tuner, pruner, seed))
        return out

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def differences(self, other: RunSpec) -> list[str]:
        """Settings that differ from ``other`` and forbid resuming."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{k}: {theirs.get(k)!r} -> {mine.get(k)!r}"
            for k in mine
            if k not in _RESUMABLE and mine.get(k) != theirs.get(k)
        ]


class RunDir:
    """The folder of one run.

    Args:
        path: The folder (created on :meth:`prepare`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def spec_path(self) -> Path:
        return self.path / SPEC_FILE

    def exists(self) -> bool:
        return self.spec_path.exists()

    def load_spec(self) -> RunSpec:
        """The recorded setup.

        Raises:
            InputError: The folder holds no run.
        """
        if not self.spec_path.exists():
            raise InputError(f"{str(self.path)!r} is not a hyperlab run directory (no {SPEC_FILE})")
        try:
            data = json.loads(self.spec_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{str(self.spec_path)!r} is not valid JSON: {exc}") from None
        known = RunSpec.__dataclass_fields__
        return RunSpec(**{k: v for k, v in data.items() if k in known})

    def prepare(self, spec: RunSpec, overwrite: bool = False) -> RunSpec:
        """Create the folder and record ``spec``, or check it matches the recorded one.

        Returns:
            The spec to run with (the recorded one updated with resumable settings).

        Raises:
            RunConflictError: A run with different settings is there and ``overwrite`` is off.
        """
        if overwrite and self.path.exists():
            if self.exists():
                _delete_studies(self.load_spec())
            shutil.rmtree(self.path)
        if self.exists():
            old = self.load_spec()
            spec.storage = old.storage if spec.storage == "" else spec.storage
            diffs = spec.differences(old)
            if diffs:
                raise RunConflictError(
                    f"run directory {str(self.path)!r} holds a run with other settings "
                    f"({'; '.join(diffs)}); resume it with the same settings, choose another "
                    "--name, or pass --overwrite to start over"
                )
            spec.created = old.created
        self.path.mkdir(parents=True, exist_ok=True)
        spec.created = spec.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
        spec.versions = versions()
        self.spec_path.write_text(json.dumps(spec.to_dict(), indent=2))
        return spec


def _delete_studies(spec: RunSpec) -> None:
    """Delete the run's studies from external storage (files go with the folder)."""
    if spec.storage.startswith(("sqlite:", "journal:")):
        return
    from hyperlab.lab.storage import open_storage

    storage = open_storage(spec.storage)
    for name, *_ in spec.study_names():
        try:
            optuna.delete_study(study_name=name, storage=storage)
        except KeyError:
            pass


def load_studies(run_dir: str | Path) -> list[tuple[optuna.Study, str, str, int]]:
    """``(study, tuner, pruner, seed)`` for each study of a run that exists in storage."""
    from hyperlab.lab.storage import open_storage

    spec = RunDir(run_dir).load_spec()
    storage = open_storage(spec.storage)
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage)}
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
    raise InputError(
        f"study {chosen.study_name!r} has no trial {number}; trials are 0..{len(trials) - 1}"
    )
