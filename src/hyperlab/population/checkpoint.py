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
written after every generation.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.folder_lock import folder_lock

#: The checkpoint's file name inside the work folder.
FILE = "population.pkl"
#: The lock file's name inside the work folder.
LOCK = "population.lock"


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
    """Write ``payload`` as the checkpoint of ``workdir`` (made if missing)."""
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = workdir / (FILE + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(_pack(payload), f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, workdir / FILE)


def load(workdir: Path) -> dict[str, Any] | None:
    """The checkpoint of ``workdir``, or ``None`` when there is none."""
    path = workdir / FILE
    if not path.exists():
        return None
    with open(path, "rb") as f:
        return _unpack(pickle.load(f))  # our own file: states hold any picklable object


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
        return {k: _pack(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_pack(v) for v in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(_pack(v) for v in obj)
    return obj


def _unpack(obj: Any) -> Any:
    if isinstance(obj, _Array):
        import torch

        return torch.from_numpy(obj.array).requires_grad_(obj.requires_grad)
    if isinstance(obj, dict):
        return {k: _unpack(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v) for v in obj]
    if isinstance(obj, tuple) and type(obj) is tuple:
        return tuple(_unpack(v) for v in obj)
    return obj
