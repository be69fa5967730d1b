"""A database storage that repeats a trial's writes after a transient error.

A database that restarts, or a connection that drops, for a few seconds made the write in
flight fail: the objective's last attributes or Optuna's final ``tell``. The trial's result was
then lost (its worker went on with a new trial, and the trial, left running without heartbeats,
was failed as lost and run again from the start). :class:`RetryWrites` repeats each write that
meets a transient error with back-off (0.5 s doubling, about 30 s in all, the default grace
period), so a trial outlives a short outage. Every write repeated is idempotent: it writes the
same value again, or finds its trial finished (the first attempt was stored after all) and says
so as it would have anyway. Creating a trial or a study is never repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from optuna.storages import RDBStorage

#: The writes :class:`RetryWrites` repeats.
REPEATABLE = (
    "set_trial_param",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "set_trial_state_values",
    "set_study_user_attr",
    "set_study_system_attr",
)


class RetryWrites:
    """Mix-in for an RDB storage: repeat the writes in :data:`REPEATABLE` after transient errors.

    Attributes:
        write_retries: Further attempts after the first.
        write_backoff: Seconds before the first repeat, doubled after each.
    """

    write_retries = 6
    write_backoff = 0.5

    def _repeat(self, name: str, *args: Any, **kwargs: Any) -> Any:
        from hyperlab.lab.storage import is_transient  # (storage imports this module)

        write = getattr(super(), name)
        delay = self.write_backoff
        for attempt in range(self.write_retries + 1):
            try:
                return write(*args, **kwargs)
            except Exception as exc:
                if attempt == self.write_retries or not is_transient(exc):
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _repeated(name: str) -> Callable[..., Any]:
    def write(self: RetryWrites, *args: Any, **kwargs: Any) -> Any:
        return self._repeat(name, *args, **kwargs)

    write.__name__ = write.__qualname__ = name
    return write


for _name in REPEATABLE:
    setattr(RetryWrites, _name, _repeated(_name))


class RetryingRDBStorage(RetryWrites, RDBStorage):
    """Optuna's :class:`~optuna.storages.RDBStorage` that repeats writes after transient errors."""
