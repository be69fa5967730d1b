"""The error tree users can catch.

Every error raised on bad user input subclasses both :class:`HyperlabError` and the
built-in type a Python user would expect (``ValueError``, ``KeyError``, ``TypeError``), and
its message names the bad value.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from traceback import FrameSummary
    from types import FrameType


class HyperlabError(Exception):
    """Base class of every error hyperlab raises on purpose."""


class InputError(HyperlabError, ValueError):
    """A value given by the user is out of range, malformed or inconsistent."""


class SettingError(InputError):
    """A tuner's or pruner's setting that cannot work with the study, found only once the
    trials show its search space (a user objective's): raised inside a trial, it stops the
    run at once, as bad input, instead of failing every trial the same way."""


class InputTypeError(HyperlabError, TypeError):
    """A value given by the user has the wrong type."""


class TaskContractError(SettingError, InputTypeError):
    """A task's own code breaks the :class:`~hyperlab.tasks.Task` contract (its ``_evaluate``
    returns no ``Evaluation``, reports a budget it was not given, or gives a score that is not
    a number: text, a bool, ``None``): raised inside a trial, it stops the run at once, since
    every trial would fail the same way. A NaN or infinite score is no such mistake (a training
    may diverge): that trial fails and the run goes on."""

    def in_trial(self, task: str, trial: str) -> TaskContractError:
        """This error as met in ``trial`` (``"trial 3"``) of task ``task``: the message names
        both and says that the run stops there."""
        return TaskContractError(
            f"task {task!r}, {trial}: {self}; the run stops here, its finished trials kept "
            "(fix the task and run the same command again to go on)"
        )


class ObjectiveContractError(SettingError, InputTypeError):
    """A user's objective (``f(trial) -> float``) returned something that is not a number (text,
    a list, ``None``, a bool): a mistake in its code, raised inside the trial, that stops the run
    at once instead of failing trial after trial. A NaN or infinite score is no such mistake (a
    training may diverge): that trial fails and the run goes on."""


class SearchSpaceError(SettingError):
    """A search space asks Optuna for a parameter whose range it refuses (``low > high``, a log
    scale from ``low <= 0``, a step that is not positive, no choices): raised inside a trial,
    it stops the run at once, since every trial that asks for it would fail the same way. The
    message names the parameter, its range and the line that asked for it."""


class UnknownNameError(InputError):
    """A name (task, tuner, pruner, experiment, ...) is not in its registry."""


class NotANameError(UnknownNameError, InputTypeError):
    """An object (an Optuna sampler, say) where a registered name is expected: an
    :class:`InputTypeError`, and an :class:`UnknownNameError` like any name that is not
    registered, so that either catches it."""


class StorageError(HyperlabError, RuntimeError):
    """A study storage could not be opened or used (the message never shows a password)."""


class RunConflictError(InputError):
    """A run directory already holds a run with different settings."""


class RunInUseError(HyperlabError, RuntimeError):
    """Another live process is running the run (its lock file names that process)."""


class DataNotFoundError(HyperlabError, FileNotFoundError):
    """A data file or folder the user pointed at (or the default one) does not exist."""


class NoCompletedTrialError(HyperlabError, RuntimeError):
    """A study ended without a completed trial: every trial failed or was pruned (the command
    line exits 1, as for a study stopped by its failures; the report is written)."""


class SetupWarning(UserWarning):
    """A run's setup will not do all it seems to (a tuner that never leaves its start-up
    design, a pruner that stops nothing): shown when the run starts, kept in its ``run.json``
    and repeated by its report."""


class TrialFailure(HyperlabError, RuntimeError):
    """A trial could not produce a finite score (diverged, NaN/inf, objective raised).

    Args:
        message: The reason, recorded with the failed trial.
        curves: The per-epoch curves up to the failure, when there are any.
    """

    def __init__(self, message: str, curves: dict[str, list[float]] | None = None) -> None:
        super().__init__(message)
        self.curves = curves or {}


#: At most this many characters of a failed trial's traceback are kept (its last lines).
TRACEBACK_CHARS = 4000
#: The trial attribute that keeps the traceback of an error of the objective's own code.
TRACEBACK_ATTR = "fail_traceback"
#: The trial attribute where the lab records, before it fails a trial, how the failure counts
#: (``hyperlab.lab.trial_kinds.failure_kind``: results.csv's ``failure``), so that a tuner,
#: which may not import the lab, tells the task's own failures from the others; a tuner that
#: fails its own trials (``one-epoch``) records it too.
FAILURE_ATTR = "failure_kind"
#: The value of :data:`FAILURE_ATTR` for a failure of the task's own (its configuration's).
TASK_FAILURE = "task"
#: The values of :data:`FAILURE_ATTR` for the failures that are not the task's: the tuner or
#: the pruner raised, the trial was cut off (an interrupt, a lost worker; its parameters queued
#: again), or the run's bookkeeping (a surplus claim; a trial refused).
TUNER_FAILURE = "tuner"
PRUNER_FAILURE = "pruner"
CUT_OFF_FAILURE = "cut off"
SURPLUS_FAILURE = "surplus"
REFUSED_FAILURE = "refused"
#: A failed trial's user attribute: the run refused it, its search space having changed, or a
#: setting or a task that would fail every trial alike (:class:`SettingError`,
#: :class:`TaskContractError`) showing in it.
REFUSED_ATTR = "refused_space"


def listed(names: list[str], most: int = 10) -> str:
    """``names`` for a message: the first ``most`` joined by commas, and how many there are in
    all when there are more (``"none"`` for none)."""
    if not names:
        return "none"
    more = f", ... ({len(names)} in all)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun`` for a message, the noun plural (with an s) unless ``n`` is 1:
    ``"1 item"``, ``"3 items"``, ``"0 items"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def with_article(name: str) -> str:
    """``name`` (a class's, say) after "a" or "an" as it is read: a word by its first letter
    (an ArchitectureSearch, a HyperTrainer), an initialism, two capitals first, by its first
    letter's name (an STNTrainer, an SGDHD, a BCELoss; one capital alone too, an X)."""
    initialism = name[:2].isupper()
    sounds = "AEFHILMNORSX" if initialism else "AEIOU"
    return f"{'an' if name and name[0].upper() in sounds else 'a'} {name}"


def failure_reason(exc: BaseException) -> str:
    """A failed trial's reason: ``Type: message (at FILE:LINE in FUNCTION)``, the place being
    the innermost frame of the traceback (where the error was raised). When that frame is in a
    library (the standard library, an installed package, hyperlab) and the traceback passes
    through the user's code, the reason adds the last such frame, the line that called into
    the library: ``(at distributions.py:146 in __init__, called from train.py:12 in
    objective)``."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    text = f"{type(exc).__name__}: {exc}"
    if not frames:  # never raised
        return text
    place = _place(frames[-1])
    caller = library_caller(exc)
    if caller is not None:
        place += f", called from {caller}"
    return f"{text} (at {place})"


def library_caller(exc: BaseException) -> str | None:
    """Where the user's code called into the library that raised ``exc``: ``FILE:LINE in
    FUNCTION`` of the last frame in the user's code (:func:`user_place`) when ``exc`` was
    raised in a library's (NumPy reading a file that is missing, say), else ``None``."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or not _in_library(frames[-1].filename):
        return None
    return user_place(exc)


def user_place(exc: BaseException) -> str | None:
    """``FILE:LINE in FUNCTION`` of the last frame of ``exc``'s traceback in the user's code
    (not a library's: see :func:`failure_reason`), or ``None`` when it never passed there."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    caller = next((f for f in reversed(frames) if not _in_library(f.filename)), None)
    return None if caller is None else _place(caller)


def _place(frame: FrameSummary) -> str:
    """``FILE:LINE in FUNCTION`` of a traceback frame (the file's name only)."""
    from pathlib import Path

    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"


def _in_library(filename: str) -> bool:
    """Whether ``filename`` is library code: the standard library's, an installed package's
    or hyperlab's own (``<...>`` pseudo-files, such as ``<string>``, are not)."""
    return filename.startswith(_library_dirs())


@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """The folders of the standard library, of installed packages and of hyperlab (each as
    given and resolved, ending in a separator)."""
    import os
    import sysconfig
    from pathlib import Path

    paths = sysconfig.get_paths()
    found = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    found.add(str(Path(__file__).parent))
    return tuple(
        {d.rstrip(os.sep) + os.sep for d in found | {str(Path(d).resolve()) for d in found}}
    )


def user_stacklevel() -> int:
    """The ``stacklevel`` of a ``warnings.warn`` in the function that calls this one that
    points the warning at the line that called into library code: the first frame out from
    that function (level 1) that is not library code (:func:`_in_library`: hyperlab's, an
    installed package's such as torch's or Optuna's, the standard library's), or is hyperlab's
    command line (which shows the lab's warnings as ``hyperlab: warning: ...``), however deep
    the warning is raised (``hyperlab.diagnose(...)`` passes through the callable package's
    ``__call__``; a pruner's warning through Optuna's ``should_prune``; an optimizer's through
    torch's wrappers around ``step``). Level 1, the line that warns, when no frame is the
    user's: every one is library code (a thread the library started), or the only other is
    the ``<string>`` that starts a process of ``multiprocessing`` (a worker of ``--jobs N``),
    which is no line of the user's either."""
    import sys

    frame, level, inner = sys._getframe(1), 1, None
    while frame.f_back is not None and _skipped(frame.f_code.co_filename):
        frame, level, inner = frame.f_back, level + 1, frame
    if _skipped(frame.f_code.co_filename) or _process_start(frame, inner):
        return 1
    return level


def _process_start(frame: FrameType, inner: FrameType | None) -> bool:
    """Whether ``frame``, which called ``inner``, is the code ``multiprocessing`` runs to start
    a process: a ``<string>`` with no caller, calling into ``multiprocessing``."""
    module = "" if inner is None else str(inner.f_globals.get("__name__", ""))
    return (
        frame.f_back is None
        and frame.f_code.co_filename.startswith("<")
        and module.startswith("multiprocessing.")
    )


def _skipped(filename: str) -> bool:
    """Whether a warning skips a frame of ``filename``: library code other than hyperlab's
    command line."""
    import os

    cli = os.path.join(os.path.dirname(__file__), "cli") + os.sep
    return _in_library(filename) and not filename.startswith(cli)


def exit_reason(exc: SystemExit, what: str = "the code of the trial") -> str:
    """The reason told when ``what`` (a trial's code, a task's test score) called
    ``sys.exit()``: it cannot end the run that way (a trial would be left running and the
    process end with no word), so it fails instead."""
    place = failure_reason(exc).partition(" (at ")[2]
    where = f" (at {place}" if place else ""
    return (
        f"{what} called sys.exit({exc.code!r}){where}; it fails by raising an exception instead "
        "(an argument parser such as argparse's exits like this when the training script is "
        "given arguments it does not know)"
    )


def traceback_text(exc: BaseException) -> str:
    """The last :data:`TRACEBACK_CHARS` characters of ``exc``'s formatted traceback."""
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text[-TRACEBACK_CHARS:]


def _is_bool(value: object) -> bool:
    """Whether ``value`` is a truth value (Python's or NumPy's), which must not pass for 0/1."""
    import numpy as np

    return isinstance(value, bool | np.bool_)


def check_bool(name: str, value: object) -> bool:
    """``value`` as a bool when it is ``True`` or ``False`` (NumPy's too); anything else
    (``"no"``, which would count as true, ``1``, ``None``) is refused by name.

    Raises:
        InputTypeError: ``value`` is not a bool.
    """
    if not _is_bool(value):
        raise InputTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _real(name: str, value: object, what: str) -> float:
    """``value`` as a float when it is a real number (NumPy's scalars included, a bool
    refused), else an :class:`InputTypeError` saying it must be ``what``."""
    import numbers

    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be {what}, got {value!r}")
    return float(value)


def _whole(name: str, value: object, what: str) -> int:
    """``value`` as an int when it is an integer (NumPy's included; a bool, a float such as
    ``10.0`` or text refused), else an :class:`InputTypeError` saying it must be ``what``."""
    import numbers

    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_nonneg(name: str, value: object) -> float:
    """``value`` as a float when it is a finite number >= 0 (a NumPy scalar too); a bool
    (``True`` would read as 1), text, NaN or inf is refused by name.

    Raises:
        InputTypeError: ``value`` is not a number.
        InputError: ``value`` is negative or not finite.
    """
    import math

    number = _real(name, value, "a number")
    if not math.isfinite(number) or number < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def check_positive(name: str, value: object) -> float:
    """``value`` as a float when it is a finite number > 0 (a bool is refused).

    Raises:
        InputTypeError: ``value`` is not a number.
        InputError: ``value`` is 0, negative or not finite.
    """
    import math

    number = _real(name, value, "a number")
    if not math.isfinite(number) or number <= 0:
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return number


def check_unit(name: str, value: object, *, closed_low: bool = True) -> float:
    """``value`` as a float when it lies in ``[0, 1)`` (``(0, 1)`` unless ``closed_low``).

    Raises:
        InputTypeError: ``value`` is not a number.
        InputError: ``value`` lies outside.
    """
    number = check_nonneg(name, value)
    if number >= 1 or (not closed_low and number <= 0):
        interval = "[0, 1)" if closed_low else "(0, 1)"
        raise InputError(f"{name} must be in {interval}, got {value!r}")
    return number


def check_label(what: str, value: object) -> str:
    """``value`` when it is a non-empty string (a name of the user's: a hyperparameter's).

    Raises:
        InputTypeError: ``value`` is not one.
    """
    if not isinstance(value, str) or not value:
        raise InputTypeError(f"{what} must be a non-empty string, got {value!r}")
    return value


def check_names(what: str, value: object) -> tuple[str, ...]:
    """``value`` as a tuple when it is a list or tuple of non-empty strings; one string
    (``("lr")``, a tuple without its comma, whose letters would pass for names) or anything
    else is refused by name.

    Raises:
        InputTypeError: ``value`` is not one.
    """
    if isinstance(value, str):
        raise InputTypeError(
            f"{what} must be a tuple of names, got the string {value!r} (a one-name tuple "
            f"needs its comma: ({value!r},))"
        )
    if not isinstance(value, list | tuple):
        raise InputTypeError(f"{what} must be a tuple of names, got {value!r}")
    for name in value:
        check_label(f"each name of {what}", name)
    return tuple(value)


def check_seed(value: object, name: str = "seed") -> int | None:
    """``value`` when it is ``None`` (a fresh seed) or an integer >= 0 (numpy refuses negative
    seeds deep inside); a bool, a float or text is refused by name.

    Raises:
        InputTypeError: ``value`` is not an integer or ``None``.
        InputError: ``value`` is negative.
    """
    if value is None:
        return None
    number = _whole(name, value, "an integer >= 0 or None")
    if number < 0:
        raise InputError(f"{name} must be an integer >= 0 or None, got {value}")
    return number


def check_nonneg_int(name: str, value: object) -> int:
    """``value`` when it is an integer >= 0 (a count that may be 0); a float such as ``10.0``,
    a bool, text or ``None`` is refused by name.

    Raises:
        InputTypeError: ``value`` is not an integer.
        InputError: ``value`` is negative.
    """
    number = _whole(name, value, "an integer >= 0")
    if number < 0:
        raise InputError(f"{name} must be an integer >= 0, got {value}")
    return number


def check_positive_int(name: str, value: object, *, allow_none: bool = False) -> int | None:
    """``value`` when it is a positive integer (or ``None`` when ``allow_none``); a float such
    as ``10.0``, a bool, text or a number below 1 is refused by name.

    Raises:
        InputTypeError: ``value`` is not an integer.
        InputError: ``value`` is below 1.
    """
    if value is None and allow_none:
        return None
    number = _whole(name, value, "a positive integer")
    if number < 1:
        raise InputError(f"{name} must be a positive integer, got {value}")
    return number
