"""A study to run, as plain data (:class:`StudyJob`), and the Optuna study built from it.

A :class:`StudyJob` is picklable, so worker processes rebuild the task, tuner and pruner from
registry names; :func:`build_study` creates or loads its study with a seeded sampler and pruner.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.study import StudyDirection

from hyperlab.direction import check_direction, name_of
from hyperlab.errors import RunConflictError
from hyperlab.lab.claim import MARK, mark_of, other_owner, owner_conflict
from hyperlab.lab.objective import planned
from hyperlab.lab.plugins import make_pruner, make_tuner, max_budget
from hyperlab.lab.results import record_spread
from hyperlab.lab.storage import open_storage
from hyperlab.lab.storage_errors import redact
from hyperlab.tasks.base import Task

#: The study's user attribute that holds its whole setup (a :class:`StudyJob` as a dict, but
#: its storage) for workers (:mod:`hyperlab.lab.workers`).
SETUP_ATTR = "hyperlab_setup"


@dataclass
class StudyJob:
    """One study to run: which task, tuner, pruner, seed, and how many finished trials;
    ``direction`` is which way its value is optimized (``"minimize"`` or ``"maximize"``)."""

    study_name: str
    storage: str
    task: str | None
    tuner: str
    pruner: str
    seed: int
    trials: int
    budget: int | None = None
    stop_at_noise: bool = False
    direction: str = "minimize"
    task_options: dict[str, Any] = field(default_factory=dict)
    tuner_options: dict[str, Any] = field(default_factory=dict)
    pruner_options: dict[str, Any] = field(default_factory=dict)
    test_score: bool = True
    heartbeat_interval: int | None = None
    grace_period: int | None = None
    folder: str | None = None
    run: str | None = None


def build_study(
    job: StudyJob, task: Task | None, worker: int = 0, reuse_storage: bool = False
) -> optuna.Study:
    """Create or load the job's study with its seeded sampler and pruner.

    The sampler of a study that holds trials already is seeded anew (:func:`resumed_seed`).
    The study records what its task's ``std_err`` is over
    (:func:`hyperlab.lab.results.record_spread`): its summary and report name it by that, and
    ``stop_at_noise`` reads it.
    A run has claimed its studies before (:func:`hyperlab.lab.claim.claim_studies`); a study
    that another run marked as its own is refused here too, never marked as this run's.

    Args:
        job: The study.
        task: Its task (``None`` for a user objective).
        worker: Worker index (offsets the sampler's seed).
        reuse_storage: Reuse this process's storage object for the URL (workers and Dask tasks
            that run many short jobs); otherwise open a fresh one (a run directory may have
            been deleted and recreated since).

    Raises:
        RunConflictError: The study is marked as another run's, or has the other direction.
    """
    known = planned(task)  # tuners get no space (nor task) when the objective suggests its own
    seed = job.seed if worker == 0 else (job.seed + 7919 * worker) % 2**31
    if reuse_storage:
        storage = _process_storage(
            job.storage, job.heartbeat_interval, job.grace_period, os.getpid()
        )
    else:
        storage = open_storage(
            job.storage, heartbeat_interval=job.heartbeat_interval, grace_period=job.grace_period
        )
    sampler_seed = resumed_seed(seed, _trials_so_far(storage, job.study_name))
    sampler = make_tuner(
        job.tuner, job.tuner_options, seed=sampler_seed, task=known, study_seed=job.seed
    )
    pruner = make_pruner(
        job.pruner, job.pruner_options, seed=seed, budget=max_budget(job.budget, known), task=known
    )
    study = optuna.create_study(
        study_name=job.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction=StudyDirection[check_direction(job.direction).upper()],
        load_if_exists=True,
    )
    _check_direction(study, job)
    recorded = study.user_attrs.get(MARK)
    theirs = recorded.get("run") if isinstance(recorded, dict) else None
    if job.run and theirs and theirs != job.run:  # another run's: never marked as this one's
        owner = other_owner(recorded, True, job.task, job.run) or ""
        raise owner_conflict(job.study_name, owner, redact(job.storage))
    info = mark_of(dataclasses.replace(job, run=job.run or theirs))  # (see lab/claim.py)
    if recorded != info:
        study.set_user_attr(MARK, info)
    record_spread(study, task)
    return study


def _check_direction(study: optuna.Study, job: StudyJob) -> None:
    """A study that exists already keeps its direction (Optuna loads it without a word): a job
    with the other one is refused by name."""
    stored = name_of(study.direction)
    if stored != job.direction:
        raise RunConflictError(
            f"study {job.study_name!r} was created to {stored} its value; it cannot be resumed "
            f"to {job.direction} it: choose another run name, or start over"
        )


def resumed_seed(seed: int, trials_so_far: int) -> int:
    """The sampler's seed in a process that joins a study holding ``trials_so_far`` trials.

    A seeded sampler draws the same stream in every process it starts in: a resumed run (or a
    restarted worker, or a Dask task of a re-run) would propose its first configurations again.
    Joining a study that has trials, it is seeded from ``(seed, trials_so_far)`` instead; the
    count only grows, so no stream is replayed, and a fresh study keeps ``seed`` as it is.
    """
    if trials_so_far == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence([seed, trials_so_far]).generate_state(1)[0] % 2**31)


def _trials_so_far(storage: optuna.storages.BaseStorage, study_name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    return storage.get_n_trials(study_id)


@functools.lru_cache(maxsize=16)
def _process_storage(
    url: str, heartbeat_interval: int | None, grace_period: int | None, pid: int
) -> optuna.storages.BaseStorage:
    """One storage object per URL and process, reused by every study and trial run here.

    Opening costs a connection, schema checks and (for a journal) replaying the whole log; a
    Dask worker runs many one-trial tasks, so it opens once. ``pid`` keeps a forked child from
    using its parent's connections.
    """
    return open_storage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)


def release_connections(study: optuna.Study) -> None:
    """Close the connections the study's database storage keeps pooled; the storage stays
    usable (it connects again when used). A worker that joins its study again with other
    heartbeat settings opens another storage (:func:`_process_storage`), and this one's
    connections would stay open, idle, as long as the process runs."""
    backend = getattr(study._storage, "_backend", study._storage)  # (Optuna's cache wraps it)
    engine = getattr(backend, "engine", None)
    if engine is not None:
        engine.dispose()


def asked_trials(study: optuna.Study) -> int | None:
    """The finished trials the study's setup for workers asks for now (``None``: a study not
    set up for workers, or a setup whose count is not a positive whole number, which no run
    writes). A run set up again for another count changes it while workers run."""
    setup = study.user_attrs.get(SETUP_ATTR)
    trials = setup.get("trials") if isinstance(setup, dict) else None
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        return None
    return trials


def job_from_setup(setup: Any, study_name: str, storage: str) -> StudyJob | None:
    """The job a study's setup for workers describes (``None``: ``setup`` is no setup); keys
    that are no :class:`StudyJob` field are left out."""
    if not isinstance(setup, dict):
        return None
    fields = {f.name for f in dataclasses.fields(StudyJob)}
    values = {k: v for k, v in setup.items() if k in fields}
    values.update(storage=storage, study_name=study_name)
    return StudyJob(**values)


def setup_changes(study: optuna.Study, built_from: StudyJob) -> list[str]:
    """The settings in which the study's setup for workers now differs from ``built_from`` (the
    job a worker built from it when it started), its count of trials aside (a worker follows
    that one in place: :func:`asked_trials`), by name; none when the study has no setup."""
    now = job_from_setup(
        study.user_attrs.get(SETUP_ATTR), built_from.study_name, built_from.storage
    )
    if now is None:
        return []
    return [
        f.name
        for f in dataclasses.fields(StudyJob)
        if f.name != "trials" and getattr(now, f.name) != getattr(built_from, f.name)
    ]
