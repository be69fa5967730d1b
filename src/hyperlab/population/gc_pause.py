"""Python's garbage collector paused while checkpoint code runs, in any thread (pauses nest)."""

from __future__ import annotations

import gc
import threading


class _GcPause:
    """Pauses Python's garbage collector while checkpoint code runs, in any thread.

    Pickling allocates many small objects, and a full collection of a large process (0.2-0.3 s
    at half a million objects, the objects of the whole process) that happened to start inside
    a save, a write or a restore was charged to the checkpoint. The pauses of several threads
    nest: the collector is enabled again, if it was before, when the last one ends. A class,
    not a generator: a generator's end allocates (its ``StopIteration``) just after the
    collector is back, which made the collection that came due during the pause start inside
    the checkpoint call after all. Used as ``with gc_paused:``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0  # pauses in progress (guarded)
        self._was_enabled = False  # the collector's state when the first began (guarded)

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._was_enabled:
                gc.enable()


gc_paused = _GcPause()
