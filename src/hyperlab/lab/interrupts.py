"""Ctrl-C with worker processes: every process stops once, quietly, and the parent waits.

The terminal sends SIGINT to the whole foreground process group, so the parent of ``--jobs N``
and each of its workers get it at once. A worker turns the first SIGINT or SIGTERM into one
``KeyboardInterrupt`` while it runs trials (the trial cut off is failed and its parameters are
queued again, see :func:`hyperlab.lab.runner.run_job`) and ignores any later one, so its
clean-up is never cut short and it never prints a traceback. Workers start with SIGINT ignored
and install their handler themselves, so a Ctrl-C while they start cannot hit them half-built.
The parent, once interrupted, passes SIGINT on to the workers still running (a signal sent to
the parent alone stops them too), waits for them, and kills the ones that do not stop in time.
A worker whose parent is gone (``kill -9``) stops as if interrupted.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: A worker's exit status after an interrupt (as a shell reports a process ended by SIGINT).
INTERRUPTED_EXIT = 130


class _State:
    """This process's interrupt: the first signal's name, and whether it raises now."""

    signal: str | None = None
    armed = False


def _on_signal(signum: int, frame: Any) -> None:
    if _State.signal is not None:
        return  # one interrupt per process; its clean-up runs undisturbed
    _State.signal = signal.Signals(signum).name
    if _State.armed:
        raise KeyboardInterrupt(_State.signal)


def install(interruptible: bool = True) -> None:
    """In a worker process: SIGTERM, and SIGINT when ``interruptible``, stop it once.

    Args:
        interruptible: Whether SIGINT stops the worker (``False`` when its parent ignores
            SIGINT, as a process started in the background by a shell does).
    """
    signal.signal(signal.SIGTERM, _on_signal)
    if interruptible:
        signal.signal(signal.SIGINT, _on_signal)
        if hasattr(signal, "pthread_sigmask"):
            # started inside starting_workers(), the process inherited SIGINT blocked: a
            # Ctrl-C during its start, held back until now, arrives here (and is recorded)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


#: Seconds a worker whose parent is gone has to put its interrupted trial back, before it
#: ends itself (a pool's process would otherwise wait for work forever).
ORPHAN_GRACE = 30.0


def follow_parent(parent: int, poll: float = 1.0, grace: float = ORPHAN_GRACE) -> None:
    """In a worker process: stop (as on SIGTERM) once the parent process ``parent`` is gone,
    and end the process ``grace`` seconds later if it is still there.

    A parent killed with ``kill -9`` cannot stop its workers; left running, they would keep
    writing to a run whose lock has been let go, next to whoever takes the run over.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        send(os.getpid(), signal.SIGTERM)
        time.sleep(grace)  # the trial it cut off is failed and queued again meanwhile
        os._exit(INTERRUPTED_EXIT)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def interrupted() -> str | None:
    """The signal that interrupted this process (``SIGINT``/``SIGTERM``), or ``None``."""
    return _State.signal


@contextmanager
def armed() -> Iterator[None]:
    """Inside, the first signal raises ``KeyboardInterrupt``; outside, it is only recorded.

    Raises:
        KeyboardInterrupt: On entry when a signal came already.
    """
    if _State.signal is not None:
        raise KeyboardInterrupt(_State.signal)
    _State.armed = True
    try:
        yield
    finally:
        _State.armed = False


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def interruptible() -> bool:
    """Whether this process reacts to SIGINT (its workers then do too)."""
    return signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


@contextmanager
def starting_workers() -> Iterator[None]:
    """Start processes inside: they begin with SIGINT ignored (until :func:`install`).

    A SIGINT that arrives meanwhile is held back for this process and raised on leaving.
    """
    if not _main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    # blocked signals stay pending even while ignored (on Linux), and come once unblocked
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT inside: a second Ctrl-C must not cut the parent's clean-up short."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop(procs: Sequence[Any], grace: float = 30.0, poll: float = 0.2) -> None:
    """Interrupt the processes still running and wait for them; kill those left after ``grace``.

    SIGINT is sent again at each poll: a worker ignores it while starting and after its first
    one, so repeating it only reaches workers that have not reacted yet.

    Args:
        procs: :class:`multiprocessing.Process` objects.
        grace: Seconds to wait for them to stop by themselves.
        poll: Seconds between checks.
    """
    deadline = time.monotonic() + grace
    alive = [p for p in procs if p.is_alive()]
    while alive and time.monotonic() < deadline:
        for p in alive:
            send(p.pid, signal.SIGINT)
        for p in alive:
            p.join(poll / len(alive))
        alive = [p for p in alive if p.is_alive()]
    for p in alive:
        p.kill()
        p.join()


def send(pid: int | None, sig: int) -> None:
    """Send ``sig`` to process ``pid`` unless it is gone."""
    if pid is None:
        return
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
