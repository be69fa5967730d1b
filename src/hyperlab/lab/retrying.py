"""A database storage that repeats a trial's writes and reads after a transient error.

A database that restarts, or a connection that drops, for a few seconds made the write in
flight fail: the objective's last attributes or Optuna's final ``tell``. The trial's result was
then lost (its worker went on with a new trial, and the trial, left running without heartbeats,
was failed as lost and run again from the start). :class:`RetryWrites` repeats each write that
meets a transient error with back-off (0.5 s doubling, about 30 s in all, the default grace
period), so a trial outlives a short outage. Every write repeated is idempotent: it writes the
same value again, or finds its trial finished as it asked (the first attempt was stored after
all, its answer lost). Complete or pruned, which only the trial's own worker writes, is then a
success. Failed, which another worker's check for lost trials writes too, is written with a
token of this write in the same transaction (:data:`FAILED_BY_ATTR`): a repeat that finds the
trial failed answers True where the token is its own (its first attempt was stored) and False
(not changed here) where another process failed it, so that a lost trial is queued again once,
neither twice nor never. Creating a trial or a study is never repeated, nor claiming a waiting trial
(``set_trial_state_values`` to RUNNING): repeated after a claim that was stored, it would find
the trial running and take it for another worker's, leaving it running for no one.

Reads are repeated the same way (:data:`READS`): a trial reads too while it runs (Optuna's
``tell`` reads the trial before it stores the result, the sampler and the admission check read
the study's trials), and a read that failed lost the trial as surely as a write. The methods
repeated are the leaves that Optuna's cached storage calls, private ones included
(``_set_trial_param``, ``_get_trials``), so that nothing is repeated twice over.

A trial may be given what to write before it is failed (:func:`before_fail`: the reason of
a trial cut off, which the storage refused when it was due): failing it writes that first, and
fails nothing if that cannot be written, so that no trial is failed without its reason.

A statement the server cancelled at its statement timeout (:mod:`hyperlab.lab.libpq`) is not
repeated here: it waited a minute already, and seven such waits in a row would leave a worker
facing a hung server silent for most of an hour; the worker's own retries take it over.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import TrialState

from hyperlab.lab.libpq import is_statement_timeout, register_plugin
from hyperlab.lab.storage_errors import is_transient

#: The writes :class:`RetryWrites` repeats.
REPEATABLE = (
    "_set_trial_param",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "set_trial_state_values",
    "set_study_user_attr",
    "set_study_system_attr",
)
#: The reads :class:`RetryWrites` repeats.
READS = (
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "get_trial_param",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "_get_trials",
    "_get_best_trial_id",
)


class RetryWrites:
    """Mix-in for an RDB storage: repeat the writes in :data:`REPEATABLE` and the reads in
    :data:`READS` after transient errors.

    Attributes:
        write_retries: Further attempts after the first.
        write_backoff: Seconds before the first repeat, doubled after each.
    """

    write_retries = 6
    write_backoff = 0.5

    def __setstate__(self, state: dict[str, Any]) -> None:
        # unpickled in another process: its engine names our plug-in (lab/libpq_timeout.py)
        register_plugin()
        super().__setstate__(state)  # type: ignore[misc]

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        if state == TrialState.RUNNING:  # a claim: not repeated (see the module's docstring)
            return super().set_trial_state_values(trial_id, state, values)  # type: ignore[misc,no-any-return]
        if state == TrialState.FAIL and values is None:
            return self._fail(trial_id)
        write = super().set_trial_state_values  # type: ignore[misc]

        def stored() -> bool | None:  # what to answer when a repeat finds it finished
            trial = self.get_trial(trial_id)  # type: ignore[attr-defined]
            wanted = None if values is None else [float(v) for v in values]
            if trial.state != state or (wanted is not None and trial.values != wanted):
                return None  # finished otherwise: refused as before
            return state != TrialState.FAIL  # (see the module's docstring)

        return self._repeat(  # type: ignore[no-any-return]
            lambda: write(trial_id, state, values), _stored=stored
        )

    def _fail(self, trial_id: int) -> bool:
        """Fail a running trial, what :func:`before_fail` gave it written first; repeated
        after transient errors, a repeat that finds it failed tells its own first attempt
        (True) from another process's failure of it (False) by the token stored with it."""
        write = self.__dict__.get("_before_fail", {}).pop(trial_id, None)
        if write is not None:
            write(self)  # (raising, it fails nothing: see before_fail)
        token = uuid.uuid4().hex

        def stored() -> bool | None:
            trial = self.get_trial(trial_id)  # type: ignore[attr-defined]
            if trial.state != TrialState.FAIL:
                return None
            return bool(trial.system_attrs.get(FAILED_BY_ATTR) == token)

        return self._repeat(  # type: ignore[no-any-return]
            lambda: self._fail_marked(trial_id, token), _stored=stored
        )

    def _fail_marked(self, trial_id: int, token: str) -> bool:
        """Fail a running trial, and store ``token`` on it in the same transaction (Optuna's
        ``set_trial_state_values`` for a failure, the token added)."""
        import sqlalchemy.exc
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        try:
            with _create_scoped_session(self.scoped_session) as session:  # type: ignore[attr-defined]
                trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
                self.check_trial_is_updatable(trial_id, trial.state)  # type: ignore[attr-defined]
                trial.state = TrialState.FAIL
                trial.datetime_complete = datetime.now()
                mark = json.dumps(token)
                attr = models.TrialSystemAttributeModel
                session.add(attr(trial_id=trial_id, key=FAILED_BY_ATTR, value_json=mark))
        except sqlalchemy.exc.IntegrityError:
            return False
        return True

    def _repeat(
        self, write: Callable[[], Any], _stored: Callable[[], bool | None] | None = None
    ) -> Any:
        delay = self.write_backoff
        for attempt in range(self.write_retries + 1):
            try:
                return write()
            except UpdateFinishedTrialError:
                answer = _stored() if attempt and _stored is not None else None
                if answer is None:
                    raise
                return answer
            except Exception as exc:
                if attempt == self.write_retries or not is_transient(exc):
                    raise
                if is_statement_timeout(exc):  # it waited long enough: the worker retries
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


#: A failed trial's system attribute: a token of the write that failed it
#: (:meth:`RetryWrites._fail`).
FAILED_BY_ATTR = "failed_by"


def before_fail(storage: BaseStorage, trial_id: int, write: Callable[[BaseStorage], None]) -> bool:
    """Have ``write(storage)`` run when this process next fails the trial, before the trial's
    state is written; whether ``storage`` (or the storage behind Optuna's cache of it) takes
    it. ``write`` that raises fails nothing: the trial is left running, to be failed as lost
    once its heartbeats have stopped."""
    for held in (storage, getattr(storage, "_backend", None)):
        if isinstance(held, RetryWrites):
            held.__dict__.setdefault("_before_fail", {})[trial_id] = write
            return True
    return False


def _repeated(name: str) -> Callable[..., Any]:
    def write(self: RetryWrites, *args: Any, **kwargs: Any) -> Any:
        return self._repeat(lambda: getattr(super(RetryWrites, self), name)(*args, **kwargs))

    write.__name__ = write.__qualname__ = name
    return write


for _name in REPEATABLE + READS:
    if _name not in vars(RetryWrites):  # (set_trial_state_values is written out above)
        setattr(RetryWrites, _name, _repeated(_name))


class RetryingRDBStorage(RetryWrites, RDBStorage):
    """Optuna's :class:`~optuna.storages.RDBStorage` that repeats writes after transient errors."""
