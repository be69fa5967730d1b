"""What resuming a recorded run may do, judged from its storage: whether the run holds trials
(one that holds none is set up afresh), how many each of its studies holds, whether fewer
trials may be asked for, and whether workers still run its trials (the run may then be neither
overwritten nor run by one process beside them).
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState

from hyperlab.errors import HyperlabError, RunConflictError
from hyperlab.lab.run_owned import OpenStorage, storage_inside
from hyperlab.lab.run_paths import file_url_parts
from hyperlab.lab.runspec import RunSpec


def check_fewer_trials(folder: Path, spec: RunSpec, old: RunSpec) -> None:
    """Fewer trials than the run ``old`` recorded in ``folder`` only while no study holds more
    finished trials, nor would once the trials its workers run now finish: the report covers
    every trial a study holds, and would label them with the smaller count.

    The smaller count is written into the studies' setups for workers here, and the check made
    again after the write: a worker that read the old count just before may have claimed a trial
    under it meanwhile (it was created before the write, so the second check sees it). Refused
    then, or cut short (an interrupt, a storage error), the setups ask for the old count again.

    Raises:
        RunConflictError: A study holds more finished trials than ``spec`` asks for.
        RunInUseError: A study's finished trials and those its workers run now are more.
    """
    if spec.trials >= old.trials:
        return
    from hyperlab.lab.storage import open_storage

    storage = open_storage(old.storage)
    names = {n for n, *_ in old.study_names()}
    _check_within(folder, spec, old, storage, names)  # (nothing written yet)
    lowered: dict[int, int] = {}
    try:
        _ask_fewer(storage, names, spec.trials, lowered)
        _check_within(folder, spec, old, storage, names)
    except BaseException:  # refused, or cut short (Ctrl-C, a storage error): nothing changes
        _ask_again(storage, lowered, spec.trials)
        raise


def _check_within(
    folder: Path,
    spec: RunSpec,
    old: RunSpec,
    storage: optuna.storages.BaseStorage,
    names: set[str],
) -> None:
    """Refuse ``spec``'s smaller count where a study of ``names`` holds more finished trials,
    or would once the trials its workers run now finish (see :func:`check_fewer_trials`)."""
    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    held = {
        st.study_name: len(storage.get_all_trials(st._study_id, deepcopy=False, states=finished))
        for st in storage.get_all_studies()
        if st.study_name in names
    }
    most = max(held.values(), default=0)
    if most > spec.trials:
        raise RunConflictError(
            f"run directory {str(folder)!r} asks for {spec.trials} trials per study, but "
            f"a study of the run already holds {most} finished trials (the run was made with "
            f"{old.trials}); ask for {old.trials} or more, choose another --name, or pass "
            "--overwrite (overwrite=True) to start over"
        )
    _check_live_within(spec, old, storage, held)


def _ask_fewer(
    storage: optuna.storages.BaseStorage, names: set[str], trials: int, before: dict[int, int]
) -> None:
    """Have the setups for workers of the studies ``names`` that ask for more than ``trials``
    ask for ``trials``, adding the count each asked for to ``before`` (by study id) as it is
    written: cut short, those written so far are known."""
    from hyperlab.lab.study_job import SETUP_ATTR

    for frozen in storage.get_all_studies():
        setup = frozen.user_attrs.get(SETUP_ATTR)
        if frozen.study_name not in names or not isinstance(setup, dict):
            continue
        asked = setup.get("trials")
        if isinstance(asked, int) and asked > trials:
            before[frozen._study_id] = asked  # (first: a write whose answer is lost counts)
            storage.set_study_user_attr(frozen._study_id, SETUP_ATTR, {**setup, "trials": trials})


def _ask_again(storage: optuna.storages.BaseStorage, before: dict[int, int], trials: int) -> None:
    """Undo :func:`_ask_fewer`: each setup that still asks for ``trials`` asks for the count it
    asked for ``before`` (one another process has set since keeps that process's)."""
    from hyperlab.lab.study_job import SETUP_ATTR

    for study_id, asked in before.items():
        setup = storage.get_study_user_attrs(study_id).get(SETUP_ATTR)
        if isinstance(setup, dict) and setup.get("trials") == trials:
            storage.set_study_user_attr(study_id, SETUP_ATTR, {**setup, "trials": asked})


def _check_live_within(
    spec: RunSpec, old: RunSpec, storage: optuna.storages.BaseStorage, held: dict[str, int]
) -> None:
    """Refuse ``spec``'s smaller count where a study's finished trials and those workers run
    in it now (``held``: the finished ones by study) are more: they finish all the same."""
    from hyperlab.lab.workers import live_trials, workers_running_error

    live = live_trials(old.storage, set(held), opened=storage)
    for name, done in sorted(held.items()):
        running = sum(t.study in (name, "") for t in live)  # ("": a study not known)
        if running and done + running > spec.trials:
            raise workers_running_error(
                old.storage,
                live,
                f"ask run {old.name!r} for {spec.trials} trial{'' if spec.trials == 1 else 's'} per study "
                f"(it was made with "
                f"{old.trials}): study {name!r} holds {done} finished trials and workers run "
                f"{running} more, which would finish past that count; ask for "
                f"{done + running} or more",
            )


def has_trials(folder: Path, spec: RunSpec, open_storage: OpenStorage) -> bool:
    """Whether the run in ``folder`` holds any trial (its storage opened by ``open_storage``,
    which keeps it open for the steps after). A storage file of the folder that is missing
    holds none; any other storage that cannot be read (a file elsewhere that is missing, an
    unmounted disk, a server that is down) counts as holding some, so that nothing is replaced
    by mistake."""
    population = folder / "population"
    if population.is_dir() and any(population.iterdir()):
        return True  # a population's checkpoints: its trials are written when it ends
    _kind, path = file_url_parts(spec.storage)
    if path is not None and not Path(path).exists():
        return not storage_inside(folder, spec.storage)
    held = trials_by_study(spec, open_storage)
    return held is None or sum(held.values()) > 0


def trials_by_study(spec: RunSpec, open_storage: OpenStorage) -> dict[str, int] | None:
    """The trials each of the run's studies holds, by name (``None``: the storage cannot be
    read)."""
    try:
        storage = open_storage(spec.storage)
        names = {n for n, *_ in spec.study_names()}
        studies = [s for s in storage.get_all_studies() if s.study_name in names]
        return {s.study_name: storage.get_n_trials(s._study_id) for s in studies}
    except Exception:
        return None


def check_no_workers(spec: RunSpec, open_storage: OpenStorage, doing: str) -> None:
    """Refuse ``doing`` (what was asked, named in the error) to the recorded run ``spec`` while
    workers run its trials (``hyperlab worker`` processes hold no run lock).

    Raises:
        RunInUseError: A trial of the run beat within its study's grace period.
    """
    from hyperlab.lab.workers import live_trials, workers_running_error

    try:  # (opened once for the run's later steps too: a journal is replayed each time)
        opened = open_storage(spec.storage, must_exist=True)
    except HyperlabError:
        opened = None  # (damaged, say: judged by its heartbeat files alone)
    live = live_trials(spec.storage, {n for n, *_ in spec.study_names()}, opened=opened)
    if live:
        raise workers_running_error(spec.storage, live, doing)
