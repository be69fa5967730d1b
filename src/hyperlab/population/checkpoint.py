"""The population's checkpoint: one file in the work folder, replaced atomically.

The whole population (every member's state, hyperparameters, record and lineage, the segment
log and the random generator) is pickled to a temporary file, flushed to disk, and moved over
the checkpoint with ``os.replace``; a process killed at any moment leaves either the old
checkpoint or the new one, never a torn file.

One process at a time trains a population: :func:`locked` holds an exclusive ``flock`` on a
file in the work folder (the kernel drops it when its holder dies, so a killed process leaves
no stale lock); a second worker on the same study waits, then finds the members written.

CPU tensors are stored as NumPy arrays (restored as tensors of the same dtype): pickling a few
hundred small arrays is several times faster than pickling the tensors, and a checkpoint is
written after every generation. The arrays' bytes are written straight from the arrays (pickle
protocol 5's out-of-band buffers, after a small index), not copied into one pickled string first.

:class:`Writer` writes in a background thread, so the population trains its next generation
while the last one is written: it packs the payload in the caller's thread (new containers; the
arrays are the states' own memory, which a task never changes, see ``Task.train_segment``),
keeps at most one write in flight and one payload waiting for it (a newer one replaces it), and
never makes training wait for the disk except when the caller waits. A process killed while a
write is in flight keeps the checkpoint before it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.errors import InputError
from hyperlab.folder_lock import folder_lock

#: The checkpoint's file name inside the work folder.
FILE = "population.pkl"
#: The lock file's name inside the work folder.
LOCK = "population.lock"
#: The index's marker: the arrays' bytes follow the index (files written before it hold one
#: pickled payload).
_LAYOUT = "hyperlab-checkpoint-2"


@dataclass
class _Array:
    """A CPU tensor stored as an array."""

    array: np.ndarray
    requires_grad: bool


@contextlib.contextmanager
def locked(workdir: Path) -> Iterator[None]:
    """Hold the work folder's lock, waiting for it (:func:`hyperlab.folder_lock.folder_lock`)."""
    with folder_lock(workdir, LOCK):
        yield


def save(workdir: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as the checkpoint of ``workdir`` (made if missing), now."""
    _write(workdir, _pack(payload))


def load(workdir: Path) -> dict[str, Any] | None:
    """The checkpoint of ``workdir``, or ``None`` when there is none.

    Raises:
        InputError: The file is damaged (cut short, bytes after its end, not a checkpoint)
            or was written by a newer version of hyperlab; the message names the file.
    """
    path = workdir / FILE
    if not path.exists():
        return None
    try:
        return _read(path)
    except _Damaged as exc:
        raise InputError(_damaged(path, *exc.args)) from None
    except (ImportError, AttributeError) as exc:  # a state's class: the file may be fine
        raise InputError(
            f"the population checkpoint {path} holds an object this process cannot import "
            f"({exc}); resume where the task's code imports"
        ) from exc
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(_damaged(path, "it is damaged or not a population checkpoint")) from exc


class _Damaged(Exception):
    """What is wrong with a checkpoint file, found while reading it."""


def _damaged(path: Path, what: str, advice: str = "remove it to start again") -> str:
    return f"the population checkpoint {path} cannot be read ({what}); {advice}"


def _read(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        try:
            first = pickle.load(f)  # our own file: states hold any picklable object
        except EOFError:
            raise _Damaged("it is empty or cut short") from None
        if not (isinstance(first, dict) and "layout" in first):
            return _unpack(first)  # written before the arrays followed the index
        if first["layout"] != _LAYOUT:
            raise _Damaged(
                f"layout {first['layout']!r}, this version reads {_LAYOUT!r}",
                "resume it with the hyperlab that wrote it, or remove it to start again",
            )
        buffers = []
        for size in first["sizes"]:
            buffer = bytearray(size)  # writable: the tensors made from it can be trained
            if f.readinto(buffer) != size:
                raise _Damaged("it is cut short")
            buffers.append(buffer)
        if f.read(1):
            raise _Damaged("it has bytes after its end")
    return _unpack(pickle.loads(first["head"], buffers=buffers))  # type: ignore[no-any-return]


class Writer:
    """Writes checkpoints of one work folder in a background thread, never holding up training.

    :meth:`save` packs the payload and returns: the write starts at once when none is in
    flight; otherwise the payload waits for it, and a later save replaces a payload that is
    still waiting (``replaced`` counts those), so a disk that stalls delays the checkpoint, not
    the training. :meth:`wait` returns once the last payload saved is on disk and raises the
    error of a write that failed. ``saves`` counts the payloads saved; ``seconds`` is the time
    the caller spent in :meth:`save` and :meth:`wait` (the checkpoints' cost to the training
    loop).
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.seconds = 0.0
        self.saves = 0
        self.replaced = 0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._busy = False  # a write is in flight (guarded by the lock)
        self._waiting: Any = None  # the packed payload to write next (guarded by the lock)

    def save(self, payload: dict[str, Any]) -> None:
        """Have ``payload`` written after the write in flight, if any, without waiting for it.

        Raises:
            OSError: An earlier write failed (the error it met); nothing more is written.
        """
        began = time.perf_counter()
        self.check()
        packed = _pack(payload)
        with self._lock:
            start = not self._busy
            if start:
                self._busy = True
            else:
                self.replaced += self._waiting is not None
                self._waiting = packed
        self.saves += 1
        if start:
            self._thread = threading.Thread(
                target=self._drain, args=(packed,), name="hyperlab-checkpoint", daemon=True
            )
            self._thread.start()
        self.seconds += time.perf_counter() - began

    def wait(self) -> None:
        """Return once the last payload saved is on disk.

        Raises:
            OSError: A write failed (the error it met).
        """
        began = time.perf_counter()
        self._join()
        self.seconds += time.perf_counter() - began

    def check(self) -> None:
        """Raise the error of a write that has already failed, without waiting for one in
        flight (so that a full disk stops the run at its next segment, not its next save).

        Raises:
            OSError: A write failed (the error it met).
        """
        if self._error is not None:
            self._join()

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()  # it writes every payload waiting before it ends
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _drain(self, packed: Any) -> None:
        """Write ``packed``, then whatever payload waits, until none does or a write fails."""
        while True:
            self._run(packed)
            with self._lock:
                packed, self._waiting = self._waiting, None
                if packed is None or self._error is not None:
                    self._busy = False
                    return

    def _run(self, packed: Any) -> None:
        try:
            _write(self.workdir, packed)
        except BaseException as exc:  # handed to the caller's next save, check or wait
            self._error = exc


def _write(workdir: Path, packed: Any) -> None:
    """Write a packed payload: the index, then every array's bytes; flushed, then moved over
    the checkpoint."""
    workdir.mkdir(parents=True, exist_ok=True)
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(packed, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    index = {"layout": _LAYOUT, "head": head, "sizes": [v.nbytes for v in views]}
    tmp = workdir / (FILE + ".tmp")
    try:
        with open(tmp, "wb") as f:
            pickle.dump(index, f, protocol=pickle.HIGHEST_PROTOCOL)
            for view in views:
                f.write(view)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, workdir / FILE)
    except OSError as exc:  # a full disk: say which file, leave no half-written one
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise type(exc)(
            exc.errno, f"{exc.strerror}: the population checkpoint {workdir / FILE} was not written"
        ) from exc
    _sync_folder(workdir)


def _sync_folder(workdir: Path) -> None:
    """Flush the folder's entry of the replaced file (where the platform allows)."""
    try:
        fd = os.open(workdir, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pack(obj: Any) -> Any:
    """``obj`` with its CPU tensors (in dicts, lists and tuples) replaced by :class:`_Array`."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        if obj.is_cpu and obj.layout == torch.strided and not obj.is_quantized:
            grad = obj.requires_grad
            try:
                return _Array((obj.detach() if grad else obj).numpy(), grad)
            except TypeError:  # a dtype NumPy lacks (bfloat16): pickled as a tensor
                return obj
        return obj
    if isinstance(obj, dict):
        return _like(obj, {k: _pack(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [_pack(v) for v in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(_pack(v) for v in obj)
    return obj


def _like(original: dict[Any, Any], items: dict[Any, Any]) -> dict[Any, Any]:
    """``items`` as an ``OrderedDict`` with the module versions (``_metadata``) of a
    ``state_dict`` when ``original`` is one; else a dict."""
    if not isinstance(original, OrderedDict):
        return items
    out = OrderedDict(items)
    metadata = getattr(original, "_metadata", None)
    if metadata is not None:
        out._metadata = metadata  # type: ignore[attr-defined]
    return out


def _unpack(obj: Any) -> Any:
    if isinstance(obj, _Array):
        import torch

        return torch.from_numpy(obj.array).requires_grad_(obj.requires_grad)
    if isinstance(obj, dict):
        return _like(obj, {k: _unpack(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [_unpack(v) for v in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(_unpack(v) for v in obj)
    return obj
