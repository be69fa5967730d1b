"""Logging in a process that runs trials: one thread each, and Optuna's failure warnings kept
to one line, or dropped where the trial's failure is told elsewhere (surplus, cut off, refused).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

import optuna

from hyperlab.errors import RunConflictError, SettingError
from hyperlab.lab.trial_kinds import SurplusTrial


def configure_worker() -> None:
    """Settings for a process that trains small networks (one thread each is fastest)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by torch when imported later
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _quiet_surplus()
    _one_line_failures()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class _NoTraceback(logging.Filter):
    """Keep Optuna's "trial failed" warnings to one line; the reason is stored on the trial."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def _one_line_failures() -> None:
    logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _NoTraceback) for f in logger.filters):
        logger.addFilter(_NoTraceback())


#: The errors of a trial whose Optuna failure line is dropped (see :class:`_SurplusFilter`).
_TOLD_ELSEWHERE = ("SurplusTrial", "KeyboardInterrupt", "RunConflictError", "SettingError")


class _SurplusFilter(logging.Filter):
    """Drop Optuna's failure warnings for surplus trials, for trials an interrupt cut off, and
    for those that stop the run (a changed search space, a setting that cannot work): expected
    or told once by the command, and recorded on the trial."""

    def __init__(self) -> None:
        super().__init__()
        self._dropped: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        words = message.split()
        number = words[1] if len(words) > 1 and words[0] == "Trial" else ""
        cause = record.exc_info[1] if record.exc_info else None
        if any(f"{name}(" in message for name in _TOLD_ELSEWHERE) or isinstance(
            cause, SurplusTrial | KeyboardInterrupt | RunConflictError | SettingError
        ):
            self._dropped.add(number)
            return False
        if number in self._dropped and "failed with value" in message:
            self._dropped.discard(number)
            return False
        return True


def _quiet_surplus() -> None:
    logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _SurplusFilter) for f in logger.filters):
        logger.addFilter(_SurplusFilter())
