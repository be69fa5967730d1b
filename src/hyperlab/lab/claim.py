"""Which run a study in a storage belongs to, and a run claiming its studies.

A run's studies are named ``NAME:tuner:pruner:seedN``, so two runs of one name in one storage
(two run folders, or two machines) would share them: both would write trials into one study,
and each run's results would be wrong. Each study records the run that made it in its user
attribute ``hyperlab`` (``run``: the creation time in that run's ``run.json``, which a moved or
copied run folder keeps).

The claim rule. Before any trial runs, a run *claims* its studies (:func:`claim_studies`): it
creates each study that is missing with the storage's ``create_new_study``, which is atomic (a
database refuses a second study of one name by a unique constraint; a journal is one ordered
log, in which the first record of a name wins), and marks it as its own at once. A study that
exists already is the run's own only when its mark names this run. Of two runs that race for
one name, exactly one creates the study; the other finds it and is refused, whether or not
the winner has marked it yet (a study with no mark and no trial is one being claimed now).
A refused run deletes the studies it had just created, so that two runs never keep half a
run each. Studies made before studies recorded their run keep being resumed by their task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optuna.exceptions import DuplicatedStudyError
from optuna.storages import BaseStorage
from optuna.study import StudyDirection

from hyperlab.direction import check_direction
from hyperlab.errors import RunConflictError

if TYPE_CHECKING:
    from hyperlab.lab.study_job import StudyJob

#: The study user attribute that records what made the study.
MARK = "hyperlab"


def mark_of(job: StudyJob) -> dict[str, Any]:
    """What ``job``'s study records about the run that made it (``run`` when the job has one)."""
    info: dict[str, Any] = {
        "task": job.task,
        "tuner": job.tuner,
        "pruner": job.pruner,
        "seed": job.seed,
    }
    if job.run:
        info["run"] = job.run
    return info


def other_owner(mark: Any, has_trials: bool, task: str | None, run: str | None) -> str | None:
    """Who else owns a study with the mark ``mark``; ``None`` when it is the run's own.

    Args:
        mark: The study's ``hyperlab`` user attribute (anything: a storage holds what it holds).
        has_trials: Whether the study holds any trial.
        task: The run's task name (``None`` for a Python objective).
        run: The run's identity (its creation time; ``None`` for a run not recorded yet).

    Returns:
        ``None`` for the run's own study, else a short description of its owner.
    """
    if not isinstance(mark, dict):
        if has_trials:
            return None  # made before studies were marked (or by Optuna alone): as before
        return "a run that is creating it now, or one that stopped while creating it"
    theirs = mark.get("run")
    if theirs is None:  # marked by an older lab, without its run: its task tells
        return None if mark.get("task") == task else f"a run of task {mark.get('task')!r}"
    if theirs == run:
        return None
    return f"a run of task {mark.get('task')!r}, made {theirs}"


def owner_conflict(study_name: str, owner: str, shown_url: str) -> RunConflictError:
    """The error for a study of the run's name that ``owner`` (another run) holds."""
    return RunConflictError(
        f"storage {shown_url!r} already holds study {study_name!r} of another run ({owner}); "
        "a run name is one run per storage: choose another --name (a study that no run uses "
        "any more can be deleted with `optuna delete-study --storage URL --study-name NAME`)"
    )


def check_owner(
    storage: BaseStorage, study_name: str, task: str | None, run: str | None, url: str
) -> None:
    """Refuse study ``study_name`` of ``storage`` unless it is the run's own (see
    :func:`other_owner`); a study that is not there is refused by nothing.

    Raises:
        RunConflictError: The message names the study, its owner and what to do.
    """
    from hyperlab.lab.storage_errors import redact

    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return
    mark = storage.get_study_user_attrs(study_id).get(MARK)
    owner = other_owner(mark, bool(storage.get_n_trials(study_id)), task, run)
    if owner is not None:
        raise owner_conflict(study_name, owner, redact(url))


def claim_studies(storage: BaseStorage, jobs: list[StudyJob]) -> None:
    """Create the jobs' studies that are missing, marked as the run's, and check that those
    that exist are its own: see the module's claim rule.

    Args:
        storage: The run's storage, open.
        jobs: One per study of the run; ``job.run`` is the run's identity.

    Raises:
        RunConflictError: Another run owns (or is creating) one of the studies; the studies
            created here are deleted again first.
    """
    created: list[int] = []
    try:
        for job in jobs:
            study_id = _create(storage, job)
            if study_id is None:
                check_owner(storage, job.study_name, job.task, job.run, job.storage)
            else:
                created.append(study_id)
    except RunConflictError:
        for study_id in created:  # marked as ours a moment ago, and no trial was run in them
            storage.delete_study(study_id)
        raise


def _create(storage: BaseStorage, job: StudyJob) -> int | None:
    """Create and mark ``job``'s study; ``None`` when a study of its name exists already."""
    direction = StudyDirection[check_direction(job.direction).upper()]
    try:
        study_id = storage.create_new_study([direction], job.study_name)
    except DuplicatedStudyError:
        return None
    storage.set_study_user_attr(study_id, MARK, mark_of(job))
    return study_id
