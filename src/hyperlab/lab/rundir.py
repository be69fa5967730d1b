"""A run directory: ``runs/NAME/`` with ``run.json`` (the full setup) and the study storage.

This module loads a run's studies (:func:`load_studies`, :func:`find_trial`) and keeps the
names code imported from it before the split: the folder (:class:`RunDir`, in
:mod:`hyperlab.lab.run_folder`), the recorded setup (:class:`RunSpec`, in
:mod:`hyperlab.lab.runspec`) and the run's name and files (in :mod:`hyperlab.lab.run_paths`).
"""

from __future__ import annotations

from pathlib import Path

import optuna

from hyperlab.errors import DataNotFoundError, InputError
from hyperlab.lab.run_folder import RunDir as RunDir
from hyperlab.lab.run_paths import LAB_FILES as LAB_FILES
from hyperlab.lab.run_paths import MAX_NAME as MAX_NAME
from hyperlab.lab.run_paths import SPEC_FILE as SPEC_FILE
from hyperlab.lab.run_paths import check_name as check_name
from hyperlab.lab.runspec import RunSpec as RunSpec
from hyperlab.lab.runspec import versions as versions


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


#: What :func:`find_trial` reads as the study's best trial.
BEST = "best"


def find_trial(
    run_dir: str | Path, number: int | str, study: str | None = None
) -> optuna.trial.FrozenTrial:
    """Trial ``number`` of a run's study (``study`` may be omitted when the run has one study);
    ``"best"``: the study's best complete trial, in its direction (a population's best member).

    Raises:
        InputError: No such study or trial (or, for ``"best"``, no complete trial); the message
            lists what exists.
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
    if number == BEST:
        if not any(t.state == optuna.trial.TrialState.COMPLETE for t in trials):
            raise InputError(
                f"study {chosen.study_name!r} has no complete trial yet to be its best"
            )
        return chosen.best_trial
    for t in trials:
        if t.number == number:
            return t
    held = f"trials are 0..{len(trials) - 1}" if trials else "it holds no trial yet"
    raise InputError(f"study {chosen.study_name!r} has no trial {number}; {held}")
