"""Heartbeats for Optuna's journal storage, so that a killed worker's trial is noticed.

Optuna's :class:`~optuna.storages.RDBStorage` keeps a heartbeat table; the journal storage has
none. :class:`HeartbeatJournalStorage` adds the same protocol (Optuna's ``BaseHeartbeat``) with
one small file per running trial next to the journal, touched every ``heartbeat_interval``
seconds by the worker's heartbeat thread. A running trial whose file is older than
``grace_period`` seconds is stale: Optuna's own ``fail_stale_trials`` (called before every new
trial in ``study.optimize``) marks it failed and runs the stale-trial callback, which re-queues
its parameters. File times come from the local clock, so this is for workers on one machine (or
on a shared file system whose clients agree on the time).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import BaseJournalBackend
from optuna.trial import FrozenTrial, TrialState

from hyperlab.lab.retrying import RetryWrites
from hyperlab.lab.storage_errors import is_transient, transient_cause

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]

#: How often one configuration is queued again after being cut off (killed, interrupted, lost)
#: before it is failed for good: the one limit that the re-queue decision and the "not re-queued
#: (retried N times)" reasons share (storages, stale-trial callbacks and killed workers alike).
MAX_RETRY = 3

#: What the folder of a journal's heartbeat files is called, after the journal file's name.
BEATS_SUFFIX = ".heartbeats"

STALE_REASON = (
    "worker lost: no heartbeat within the grace period (killed, hung or cut off from the "
    "storage); re-queued"
)
#: The same reason as runs before 2026-12-05 stored it (a database outage longer than the grace
#: period loses live workers' beats too, so "killed or hung" was not the whole story).
_STALE_REASON_BEFORE = (
    "worker lost: no heartbeat within the grace period (killed or hung); re-queued"
)
STALE_FINAL = "worker lost: no heartbeat within the grace period; not re-queued (retried {n} times)"
#: A trial lost before any of its parameters was chosen: nothing to queue again.
STALE_UNCHOSEN = (
    "worker lost before it chose any parameter: no heartbeat within the grace period; nothing "
    "to re-queue"
)


def is_stale_reason(reason: str) -> bool:
    """Whether a failed trial's ``fail_reason`` says it was failed as lost and queued again."""
    return reason in (STALE_REASON, _STALE_REASON_BEFORE)


#: The system attribute that lists the trials of a retry chain that were cut off (killed,
#: interrupted, lost: the cut-offs the retry limit counts), a part of its ``retry_history``
#: (every trial of the chain: a queued trial its tuner failed before it ran, or one that lost
#: its slot to another worker, ends its slot there too but is no cut-off).
CUT_OFFS_ATTR = "cut_off_history"


def cut_offs(trial: FrozenTrial) -> list[int]:
    """The numbers of the trials cut off in ``trial``'s retry chain, before it.

    A trial queued by a version before this record (no :data:`CUT_OFFS_ATTR`) counts its whole
    ``retry_history``, as that version did.
    """
    history = trial.system_attrs.get("retry_history", [])
    return list(trial.system_attrs.get(CUT_OFFS_ATTR, history))


#: A trial's system attribute: the grace period (seconds) of the worker that runs it, recorded
#: as it claims the trial (:func:`record_grace`). Workers may beat at other intervals than the
#: study's setup (``hyperlab worker --heartbeat-interval``): each trial is judged by its own
#: worker's grace period, not the judge's.
GRACE_ATTR = "heartbeat_grace"


def own_grace(trial: FrozenTrial, default: float) -> float:
    """The grace period ``trial`` is judged by: its worker's (:data:`GRACE_ATTR`), else
    ``default`` (a trial claimed before its worker recorded one, or by a version without it)."""
    return grace_or(trial.system_attrs.get(GRACE_ATTR), default)


def grace_or(grace: Any, default: float) -> float:
    """``grace``, a recorded :data:`GRACE_ATTR`, as seconds when it is a positive number, else
    ``default``."""
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not grace > 0:
        return default
    return float(grace)


def storage_grace(storage: optuna.storages.BaseStorage) -> float | None:
    """The grace period of ``storage``'s heartbeats (``None``: it keeps none)."""
    for held in (storage, getattr(storage, "_backend", None)):  # (Optuna's cache wraps one)
        grace = getattr(held, "heartbeat_grace", None)
        if callable(grace) and held.get_heartbeat_interval() is not None:  # type: ignore[union-attr]
            return float(grace())
    return None


def record_grace(storage: optuna.storages.BaseStorage, trial_id: int) -> None:
    """Record on a trial this process runs the grace period its heartbeats keep
    (:data:`GRACE_ATTR`); nothing without heartbeats."""
    grace = storage_grace(storage)
    if grace is not None:
        storage.set_trial_system_attr(trial_id, GRACE_ATTR, grace)


def requeue(
    study: optuna.Study,
    trial: FrozenTrial,
    max_retry: int | None = MAX_RETRY,
    reason: str = "",
    *,
    cut_off: bool = True,
) -> bool:
    """Queue a failed trial's parameters again as a WAITING trial; whether it was queued.

    The new trial records ``failed_trial`` (the first trial of the chain) and ``retry_history``
    in its system attributes, as Optuna's ``RetryHeartbeatStaleTrialCallback`` does, so
    ``RetryHeartbeatStaleTrialCallback.retried_trial_number`` works on it; unlike that callback it
    starts with no user attributes, so no stale curves or failure reason carry over. It also
    records which trials of the chain were cut off (:func:`cut_offs`), which is what
    ``max_retry`` counts.

    Args:
        study: The study.
        trial: The failed trial.
        max_retry: Re-queue at most this many times per configuration after a cut-off
            (``None``: always).
        reason: Stored as ``retry_reason`` on the new trial.
        cut_off: Whether ``trial`` was cut off (killed, interrupted, lost); ``False`` for a
            queued trial that never ran (its tuner failed it first, or it lost its slot to
            another worker), which does not count towards ``max_retry``.

    A trial that failed before any parameter was chosen (lost while its sampler chose) has
    nothing to keep and is not queued: a waiting trial with no parameter could stay waiting
    after the study had all its trials.
    """
    if not trial.params:
        return False
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    cut = [*cut_offs(trial), trial.number] if cut_off else cut_offs(trial)
    if max_retry is not None and len(cut) > max_retry:
        return False
    system_attrs = {
        "failed_trial": trial.system_attrs.get("failed_trial", trial.number),
        "retry_history": history,
        CUT_OFFS_ATTR: cut,
    }
    new = optuna.trial.create_trial(
        state=TrialState.WAITING,
        params=trial.params,
        distributions=trial.distributions,
        user_attrs={"retry_reason": reason} if reason else {},
        system_attrs=system_attrs,
    )
    study.add_trial(new)
    return True


def stale_callback(max_retry: int | None = MAX_RETRY) -> StaleCallback:
    """Optuna's stale-trial callback: re-queue the trial's parameters (see :func:`requeue`)."""

    def on_stale(study: optuna.Study, trial: FrozenTrial) -> None:
        requeue(study, trial, max_retry, reason=f"retry of trial {trial.number}: {STALE_REASON}")

    return on_stale


class _ReasonOnStale:
    """Record ``fail_reason`` on stale trials while they are still RUNNING (then writable), and
    how their failure counts (:func:`~hyperlab.lab.trial_kinds.record_failure`).

    Optuna's ``fail_stale_trials`` asks the storage for stale trials and then fails them; this
    hook runs in between, so every trial failed that way says why.
    """

    max_retry: int | None = MAX_RETRY

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        from hyperlab.lab.trial_kinds import record_failure  # (trial_kinds imports this module)

        ids: list[int] = super()._get_stale_trial_ids(study_id)  # type: ignore[misc]
        for trial_id in ids:
            try:
                trial = self.get_trial(trial_id)  # type: ignore[attr-defined]
                n = len(cut_offs(trial))
                final = self.max_retry is not None and n >= self.max_retry
                reason = STALE_FINAL.format(n=n) if final else STALE_REASON
                reason = reason if trial.params else STALE_UNCHOSEN
                self.set_trial_user_attr(trial_id, "fail_reason", reason)  # type: ignore[attr-defined]
                record_failure(self, trial_id)  # type: ignore[arg-type]
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another worker failed it first
        return ids

    def record_heartbeat(self, trial_id: int) -> None:
        """One beat; a transient storage error (a database restarting, say) skips this beat
        instead of ending Optuna's heartbeat thread, which would leave the trial without
        heartbeats for the rest of its run (and another worker would fail it as lost)."""
        try:
            super().record_heartbeat(trial_id)  # type: ignore[misc]
        except Exception as exc:
            if not is_transient(exc):
                raise
            logging.getLogger(__name__).warning(
                "heartbeat of %s skipped: %s", self._trial_named(trial_id), transient_cause(exc)
            )

    def _trial_named(self, trial_id: int) -> str:
        """``trial N`` by the trial's number, as the user sees trials named (its id where this
        process never saw its number: a storage that is down cannot be asked)."""
        number = getattr(self, "_numbers", {}).get(trial_id)
        return f"the trial with id {trial_id}" if number is None else f"trial {number}"


class _OwnGrace:
    """A running trial whose worker records a longer grace period than this process's
    (:data:`GRACE_ATTR`: it beats less often) is stale only once its last beat is older than
    that: judged by this process's own, it was failed as lost while its worker ran it."""

    def heartbeat_grace(self) -> float:
        """Seconds without a heartbeat before a running trial of this storage is stale."""
        interval = self.get_heartbeat_interval()  # type: ignore[attr-defined]
        return float(self._grace_setting() or 2 * interval)

    def _grace_setting(self) -> float | None:
        return getattr(self, "grace_period", None)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale: list[int] = super()._get_stale_trial_ids(study_id)  # type: ignore[misc]
        mine = self.heartbeat_grace()
        longer = {}
        for trial_id in stale:
            grace = own_grace(self.get_trial(trial_id), mine)  # type: ignore[attr-defined]
            if grace > mine:
                longer[trial_id] = grace
        if not longer:
            return stale
        ages = self._beat_ages_by_id(study_id, set(longer))
        return [i for i in stale if i not in longer or ages.get(i, math.inf) > longer[i]]

    def _beat_ages_by_id(self, study_id: int, ids: set[int]) -> dict[int, float]:
        """Seconds since the last heartbeat of each running trial of ``ids``, by trial id
        (those with one)."""
        raise NotImplementedError


#: How long a database trial with no heartbeat at all may run before it counts as lost (at
#: least; the grace period if longer): its first beat is stored only once its sampler has
#: chosen, and a slow model (GP past a thousand trials) may take tens of seconds to choose.
FIRST_BEAT_WAIT = 300.0


class _FirstBeatDue:
    """On a database, a running trial that has no heartbeat at all is stale too, once this
    process has seen it without one for :data:`FIRST_BEAT_WAIT` seconds (or the grace period,
    if longer).

    Optuna's :class:`~optuna.storages.RDBStorage` judges only trials with a heartbeat row, and
    writes the first when the trial's heartbeat thread starts. A worker that created a trial
    and then died, or lost the database (a restart) before that first beat was stored, left
    the trial running with no row: it was never failed, it kept its slot, and every worker
    waited for it for ever. The wait is timed on this process's monotonic clock, because the
    trial's start time was written by another machine's clock, in its time zone.
    """

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale: list[int] = super()._get_stale_trial_ids(study_id)  # type: ignore[misc]
        grace = self.grace_period or 2 * self.heartbeat_interval  # type: ignore[attr-defined]
        grace = max(grace, FIRST_BEAT_WAIT)
        now = time.monotonic()
        seen: dict[int, tuple[int, float]] = self.__dict__.setdefault("_beatless_since", {})
        beatless = self._beatless(study_id)
        for trial_id in [i for i, (study, _) in seen.items() if study == study_id]:
            if trial_id not in beatless:
                del seen[trial_id]  # it beat, or it finished
        for trial_id in beatless:
            since = seen.setdefault(trial_id, (study_id, now))[1]
            if now - since > grace and trial_id not in stale:
                stale.append(trial_id)
        return stale

    def _beatless(self, study_id: int) -> set[int]:
        """The ids of the study's running trials that have no heartbeat row."""
        import sqlalchemy
        from optuna.storages._rdb import models

        trial, beat = models.TrialModel, models.TrialHeartbeatModel
        query = sqlalchemy.select(trial.trial_id).where(
            trial.study_id == study_id,
            trial.state == TrialState.RUNNING,
            ~sqlalchemy.exists().where(beat.trial_id == trial.trial_id),
        )
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            return {int(i) for i in conn.execute(query).scalars()}


_UNFINISHED = (TrialState.RUNNING, TrialState.WAITING)


class _TrialNumbers:
    """Remember the number of each unfinished trial this process creates or reads (both free:
    Optuna's cached storage finds a queued trial to claim through ``_get_trials``), so that a
    heartbeat that meets a storage that is down can name its trial by number."""

    #: How many trials are remembered at most (the oldest forgotten first).
    KEPT = 1024

    def _create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> Any:
        frozen = super()._create_new_trial(study_id, template_trial)  # type: ignore[misc]
        self._remember([frozen])
        return frozen

    def _get_trials(self, *args: Any, **kwargs: Any) -> Any:
        trials = super()._get_trials(*args, **kwargs)  # type: ignore[misc]
        self._remember([t for t in trials if t.state in _UNFINISHED])
        return trials

    def _remember(self, trials: Sequence[FrozenTrial]) -> None:
        numbers: dict[int, int] = self.__dict__.setdefault("_numbers", {})
        for trial in trials:
            numbers[trial._trial_id] = trial.number
        while len(numbers) > self.KEPT:
            del numbers[next(iter(numbers))]


class HeartbeatRDBStorage(
    _ReasonOnStale, _OwnGrace, _FirstBeatDue, _TrialNumbers, RetryWrites, RDBStorage
):
    """Optuna's :class:`~optuna.storages.RDBStorage` whose stale trials record a reason (those
    that never beat included), each judged by its own worker's grace period, and whose writes
    are repeated after transient errors (:mod:`hyperlab.lab.retrying`)."""

    def _beat_ages_by_id(self, study_id: int, ids: set[int]) -> dict[int, float]:
        return _database_ages(self, ids)


class _JournalHeartbeat(JournalStorage, BaseHeartbeat):
    """A :class:`~optuna.storages.JournalStorage` with Optuna's heartbeat protocol.

    Use :class:`HeartbeatJournalStorage`, which also records why stale trials failed.

    Args:
        backend: The journal backend (a file).
        folder: Folder of the heartbeat files (made by the first heartbeat, removed by
            :meth:`tidy` once empty).
        heartbeat_interval: Seconds between heartbeats of a running trial.
        grace_period: Seconds without a heartbeat after which a running trial is stale
            (default ``2 * heartbeat_interval``, as in Optuna).
        stale_callback: Called with ``(study, trial)`` for each trial failed as stale.
    """

    def __init__(
        self,
        backend: BaseJournalBackend,
        folder: Path,
        heartbeat_interval: float,
        grace_period: float | None = None,
        stale_callback: StaleCallback | None = None,
    ) -> None:
        super().__init__(backend)
        self._folder = Path(folder)
        self._interval = heartbeat_interval
        self._grace = grace_period if grace_period is not None else 2 * heartbeat_interval
        self._stale_callback = stale_callback

    def _beat_file(self, trial_id: int) -> Path:
        return self._folder / str(trial_id)

    def record_heartbeat(self, trial_id: int) -> None:
        for _attempt in range(3):  # (another process may remove the empty folder meanwhile)
            try:
                self._beat_file(trial_id).touch()
                return
            except FileNotFoundError:
                self._folder.mkdir(exist_ok=True)
        self._beat_file(trial_id).touch()

    def tidy(self) -> None:
        """Remove the heartbeat folder when no running trial has a file in it (a process
        that beats later makes it again)."""
        with contextlib.suppress(OSError):
            self._folder.rmdir()

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            try:
                last = self._beat_file(trial._trial_id).stat().st_mtime
            except FileNotFoundError:  # no beat since it started (a trial left running by a
                if trial.datetime_start is None:  # line cut off, or its worker died at once)
                    continue
                last = trial.datetime_start.timestamp()
            if now - last > self._grace:
                stale.append(trial._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._interval  # type: ignore[return-value]  # a float works as well

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self._stale_callback

    # A trial gets its first heartbeat the moment it is claimed, so a worker killed before its
    # heartbeat thread starts still leaves a trial that goes stale.
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        if template_trial is None or template_trial.state == TrialState.RUNNING:
            self.record_heartbeat(trial_id)
        return trial_id

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        if state == TrialState.RUNNING:
            self.record_heartbeat(trial_id)  # before the claim, so it is never without one
        changed = super().set_trial_state_values(trial_id, state, values)
        if state.is_finished():
            self._beat_file(trial_id).unlink(missing_ok=True)
        return changed


class HeartbeatJournalStorage(_ReasonOnStale, _OwnGrace, _JournalHeartbeat):
    """A :class:`~optuna.storages.JournalStorage` with heartbeats whose stale trials say why,
    each judged by its own worker's grace period."""

    def _grace_setting(self) -> float | None:
        return self._grace

    def _beat_ages_by_id(self, study_id: int, ids: set[int]) -> dict[int, float]:
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return _file_ages(self._folder, [t for t in running if t._trial_id in ids])


def beats_folder(journal: Path) -> Path:
    """The folder of the heartbeat files of the journal file ``journal``."""
    return journal.with_name(journal.name + BEATS_SUFFIX)


def beat_ages(
    storage: optuna.storages.BaseStorage, study_id: int, folder: Path | None = None
) -> dict[int, float]:
    """Seconds since each RUNNING trial's last heartbeat (since its start, before the first),
    by trial number.

    Args:
        storage: A journal storage (its heartbeat files in ``folder``) or a database storage
            (Optuna's heartbeat table, against the database's clock, as Optuna reads it).
        study_id: The study.
        folder: The journal's heartbeat folder (see :func:`beats_folder`).
    """
    running = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return {}
    if isinstance(storage, RDBStorage):
        ages = _database_ages(storage, {t._trial_id for t in running})
    else:
        ages = _file_ages(folder, running)
    out = {}
    for trial in running:
        age = ages.get(trial._trial_id)
        if age is None and trial.datetime_start is not None:
            age = time.time() - trial.datetime_start.timestamp()
        if age is not None:
            out[trial.number] = max(0.0, age)
    return out


def _file_ages(folder: Path | None, trials: Sequence[FrozenTrial]) -> dict[int, float]:
    """Seconds since the trials' heartbeat files were touched, by trial id (those with one)."""
    out: dict[int, float] = {}
    if folder is None:
        return out
    now = time.time()
    for trial in trials:
        try:
            out[trial._trial_id] = now - (folder / str(trial._trial_id)).stat().st_mtime
        except (FileNotFoundError, NotADirectoryError):
            continue
    return out


def _database_ages(storage: RDBStorage, ids: set[int]) -> dict[int, float]:
    """Seconds since the heartbeat of each trial of ``ids``, by trial id, by the database's
    clock (the heartbeat table keeps a row for every trial that ever beat: only these are
    read)."""
    import sqlalchemy
    from optuna.storages._rdb import models

    beat = models.TrialHeartbeatModel
    query = sqlalchemy.select(beat.trial_id, beat.heartbeat).where(beat.trial_id.in_(sorted(ids)))
    with storage.engine.connect() as conn:
        now = conn.execute(sqlalchemy.select(sqlalchemy.func.now())).scalar_one()
        rows = conn.execute(query).all()
    now = _naive(now)  # (both naive in the database's time, as Optuna compares them)
    return {int(i): (now - _naive(t)).total_seconds() for i, t in rows}


def _naive(moment: Any) -> datetime:
    if isinstance(moment, str):  # (SQLite without type information)
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=None)  # type: ignore[no-any-return]
