"""The population's checkpoint: one file in the work folder, replaced atomically.

The whole population (every member's state, hyperparameters, record and lineage, the segment
log and the random generator) is pickled to a temporary file, flushed to disk, and moved over
the checkpoint with ``os.replace``; a process killed at any moment leaves either the old
checkpoint or the new one, never a torn file.

One process at a time trains a population: :func:`locked` holds an exclusive ``flock`` on a
file in the work folder (the kernel drops it when its holder dies, so a killed process leaves
no stale lock); a second worker on the same study waits, then finds the members written.

CPU tensors are stored as NumPy arrays (restored as tensors of the same dtype): pickling a few
hundred small arrays is several times faster than pickling the tensors. The payload is pickled
in one pass (a pickler that turns tensors into arrays on the way), and the arrays' bytes are
written straight from the arrays (pickle protocol 5's out-of-band buffers, after a small
index), not copied into one pickled string first.

:class:`Writer` writes in a background thread, so the population trains its next generation
while the last one is written: it pickles the payload in the caller's thread (a snapshot; the
arrays are the states' own memory, which a task never changes, see ``Task.train_segment``),
keeps at most one write in flight and one payload waiting for it (a newer one replaces it), and
never makes training wait for the disk except when the caller waits. A process killed while a
write is in flight keeps the checkpoint before it.

This module holds the entry points (:func:`locked`, :func:`save`, :func:`load`,
:class:`Writer`) and the pickling of a payload. The file's layout, its writing and its reading
live in :mod:`~hyperlab.population.checkpoint_file`, the collector's pauses in
:mod:`~hyperlab.population.gc_pause`. Files name some objects by this module's path, so these
stay here: :func:`_rebuild` and :func:`_tensor` (every file of layout 3) and the name
``_Array`` (the layouts before 3), which this module re-exports.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import pickle
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.errors import InputTypeError
from hyperlab.folder_lock import folder_lock
from hyperlab.population.checkpoint_file import FILE as FILE
from hyperlab.population.checkpoint_file import Serialized, load_file, write_file
from hyperlab.population.checkpoint_file import _Array as _Array  # (earlier files name it here)
from hyperlab.population.gc_pause import gc_paused

#: The lock file's name inside the work folder.
LOCK = "population.lock"
#: What a task's state must be, for the messages that refuse one.
STATE_RULE = (
    "A task's state must be picklable and deep-copyable (tensors, arrays, numbers, lists and "
    "dicts of them, modules, optimizers; no locks, open files or lambdas)"
)


@contextlib.contextmanager
def locked(workdir: Path) -> Iterator[None]:
    """Hold the work folder's lock, waiting for it (:func:`hyperlab.folder_lock.folder_lock`)."""
    with folder_lock(workdir, LOCK):
        yield


def save(workdir: Path, payload: dict[str, Any], progress: dict[str, Any] | None = None) -> None:
    """Write ``payload`` as the checkpoint of ``workdir`` (made if missing), now, and
    ``progress`` beside it (:data:`~hyperlab.population.checkpoint_file.PROGRESS`)."""
    write_file(workdir, replace(_serialize(payload), progress=progress))


def load(workdir: Path) -> dict[str, Any] | None:
    """The checkpoint of ``workdir``, or ``None`` when there is none.

    Raises:
        InputError: The file is damaged (cut short, bytes after its end, not a checkpoint)
            or was written by a newer version of hyperlab; the message names the file.
    """
    with gc_paused:
        return load_file(workdir / FILE)


class Writer:
    """Writes checkpoints of one work folder in a background thread, never holding up training.

    :meth:`save` pickles the payload (a snapshot: containers changed later do not reach it) and
    hands it to the writing thread: written at once when the thread is idle; otherwise it waits
    for the write in flight, and a later save replaces a payload still waiting (``replaced``
    counts those), so a disk that stalls delays the checkpoint, not the training. :meth:`wait`
    returns once the last payload saved is on disk and raises the error of a write that failed;
    :meth:`close` ends the thread. ``saves`` counts the payloads saved; ``seconds`` is the time
    the caller spent in :meth:`save` and :meth:`wait` (the checkpoints' cost to the training
    loop).
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.seconds = 0.0
        self.saves = 0
        self.replaced = 0
        self.write_seconds = 0.0  # the writing thread's time (guarded)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._next: Serialized | None = None  # the payload to write next (guarded)
        self._busy = False  # a write is in flight (guarded)
        self._closed = False  # the thread is to end once idle (guarded)

    def save(self, payload: dict[str, Any], progress: dict[str, Any] | None = None) -> None:
        """Have ``payload`` written after the write in flight, if any, without waiting for it
        (and ``progress`` beside it, see :func:`save`).

        Raises:
            OSError: An earlier write failed (the error it met); nothing more is written.
            InputTypeError: Something in ``payload`` cannot be pickled (a task's state that
                holds a lock or a lambda, say); the message names it.
        """
        began = time.perf_counter()
        with gc_paused:
            self.check()
            data = replace(_serialize_checked(payload, "the population"), progress=progress)
            self._start()  # before anything waits for the thread
            self._hand_over(data)
        self.saves += 1
        self.seconds += time.perf_counter() - began

    def cost_per_save(self) -> float:
        """Mean seconds a save has cost so far: the caller's time in :meth:`save` and
        :meth:`wait` and the writing thread's (0 before the first save)."""
        return (self.seconds + self.write_seconds) / self.saves if self.saves else 0.0

    def wait(self) -> None:
        """Return once the last payload saved is on disk.

        Raises:
            OSError: A write failed (the error it met).
        """
        began = time.perf_counter()
        with gc_paused:
            self._wait_idle()
        self.seconds += time.perf_counter() - began
        self.check()

    def check(self) -> None:
        """Raise the error of a write that has already failed, without waiting for one in
        flight (so that a full disk stops the run at its next segment, not its next save).

        Raises:
            OSError: A write failed (the error it met); it is raised once.
        """
        with self._cond:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Write what waits, then end the writing thread (a later save starts another)."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        thread.join()
        self._thread = None

    def _start(self) -> None:
        """Start the writing thread, unless it runs."""
        if self._thread is not None:
            return
        self._closed = False
        thread = threading.Thread(target=self._loop, name="hyperlab-checkpoint", daemon=True)
        thread.start()
        self._thread = thread

    def _hand_over(self, data: Serialized) -> None:
        """Make ``data`` the payload to write next, replacing one still waiting."""
        with self._cond:
            self.replaced += self._next is not None
            self._next = data
            self._cond.notify_all()

    def _wait_idle(self) -> None:
        """Wait until nothing waits to be written and no write is in flight, or one failed."""
        with self._cond:
            while (self._next is not None or self._busy) and self._error is None:
                self._cond.wait()

    def _loop(self) -> None:
        """The writing thread: write each payload handed over until closed and idle."""
        while (data := self._take()) is not None:
            began = time.perf_counter()
            try:
                self._run(data)
            finally:
                self._written(began)

    def _take(self) -> Serialized | None:
        """The next payload to write (marked in flight), waiting for one; ``None`` once closed
        with nothing waiting. A payload waiting behind a failed write is dropped, not written."""
        while True:
            with self._cond:
                while self._next is None and not self._closed:
                    self._cond.wait()
                if self._next is None:
                    return None
                data, self._next = self._next, None
                self._busy = self._error is None  # nothing is written after a failure
                if self._busy:
                    return data

    def _written(self, began: float) -> None:
        """End the write begun at ``began`` (``time.perf_counter``), written or failed."""
        with self._cond:
            self.write_seconds += time.perf_counter() - began
            self._busy = False
            if self._error is not None:  # nothing is written after a failure
                self._next = None
            self._cond.notify_all()

    def _run(self, data: Serialized) -> None:
        """Write ``data``; an error is kept for the caller's next save, check or wait."""
        try:
            with gc_paused:  # a collection would hold the interpreter lock
                write_file(self.workdir, data)
        except BaseException as exc:  # handed to the caller's next save, check or wait
            with self._cond:
                self._error = exc


class _Pickler(pickle.Pickler):
    """Pickles plain CPU tensors as the bytes of their NumPy arrays, out of band (rebuilt as
    tensors wherever they sit: in dicts, tuples, a user's own objects)."""

    def reducer_override(self, obj: Any) -> Any:
        torch = sys.modules.get("torch")
        # a subclass (a Parameter) keeps its own pickling, which reaches its plain data tensor
        if torch is None or type(obj) is not torch.Tensor:
            return NotImplemented
        if not obj.is_cpu or obj.layout != torch.strided or obj.is_quantized:
            return NotImplemented
        grad = obj.requires_grad
        try:
            array = (obj.detach() if grad else obj).numpy()
        except (TypeError, RuntimeError):  # bfloat16, a conjugate view: pickled as a tensor
            return NotImplemented
        if array.flags.c_contiguous:  # its memory as is: 3x faster than NumPy's own reduce
            return _rebuild, (pickle.PickleBuffer(array), array.dtype.str, array.shape, grad)
        return _tensor, (array, grad)


def _rebuild(buffer: Any, dtype: str, shape: tuple[int, ...], requires_grad: bool) -> Any:
    """A tensor from the bytes of a C-contiguous array (wherever it sits in the payload)."""
    return _tensor(np.frombuffer(buffer, dtype=dtype).reshape(shape), requires_grad)


def _tensor(array: np.ndarray, requires_grad: bool) -> Any:
    import torch

    return torch.from_numpy(array).requires_grad_(requires_grad)


def check_picklable(obj: Any, what: str) -> None:
    """Refuse ``obj`` (``what`` names it) unless a checkpoint can pickle it.

    Raises:
        InputTypeError: It cannot be pickled; the message says what failed.
    """
    _serialize_checked(obj, what)


def fingerprint(obj: Any, what: str) -> bytes:
    """A digest of everything a checkpoint would store of ``obj`` (``what`` names it): equal
    digests, equal checkpoints (a state changed in place gets another one).

    Raises:
        InputTypeError: It cannot be pickled; the message says what failed.
    """
    data = _serialize_checked(obj, what)
    digest = hashlib.blake2b(data.head, digest_size=16)
    for view in data.buffers:
        digest.update(view)
    return digest.digest()


def _serialize_checked(payload: Any, what: str) -> Serialized:
    """:func:`_serialize`, with a failure to pickle named as an :class:`InputTypeError`."""
    try:
        return _serialize(payload)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise InputTypeError(
            f"{what} cannot be pickled for a checkpoint ({type(exc).__name__}: {exc}). {STATE_RULE}"
        ) from exc


def _serialize(payload: Any) -> Serialized:
    """``payload`` pickled now (protocol 5); the arrays' bytes stay in their memory, which a
    task never changes, until written."""
    buffers: list[pickle.PickleBuffer] = []
    stream = io.BytesIO()
    with gc_paused:
        _Pickler(stream, protocol=5, buffer_callback=buffers.append).dump(payload)
    return Serialized(stream.getvalue(), [b.raw() for b in buffers])
