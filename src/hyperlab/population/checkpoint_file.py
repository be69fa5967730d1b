"""The population checkpoint's file: its layout, written atomically and read back.

A serialized payload is written as a small index (the layout, the pickled payload with its
arrays out of band, and each array's size), then every array's bytes; to a temporary file,
flushed to disk, and moved over the checkpoint with ``os.replace``. Reading checks the layout
and the sizes and names a damaged file; files of the layouts before 3 (tensors stored as
:class:`_Array`, in one pickled payload or with an index) are still read.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperlab.errors import InputError

#: The checkpoint's file name inside the work folder.
FILE = "population.pkl"
#: The small plain record beside the checkpoint of how far its population had got
#: (``{"member_epochs": N}``), which the lab reads without loading the checkpoint (the
#: trials a resumed run held, :mod:`hyperlab.lab.run_progress`, names it too).
PROGRESS = "progress.json"
#: The index's marker: the arrays' bytes follow the index (files written before it hold one
#: pickled payload). Layout 3 rebuilds arrays with :func:`_rebuild`; layout 2 files (NumPy's
#: own pickling of the arrays) are still read.
_LAYOUT = "hyperlab-checkpoint-3"
_READS = ("hyperlab-checkpoint-2", _LAYOUT)


@dataclass
class _Array:
    """A CPU tensor stored as an array (the layouts before 3)."""

    array: np.ndarray
    requires_grad: bool


def load_file(path: Path) -> dict[str, Any] | None:
    try:
        return _read(path) if path.exists() else None
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
        if first["layout"] not in _READS:
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
    payload = pickle.loads(first["head"], buffers=buffers)
    if first["layout"] != _LAYOUT:  # layout 2 held arrays as _Array, in dicts, lists, tuples
        payload = _unpack(payload)
    return payload  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Serialized:
    """A payload pickled with its arrays' bytes out of band (still in the arrays' memory)."""

    head: bytes
    buffers: list[memoryview]
    #: Written beside the checkpoint as :data:`PROGRESS` (``None``: nothing is).
    progress: dict[str, Any] | None = None


def write_file(workdir: Path, data: Serialized) -> None:
    """Write a serialized payload: the index, then every array's bytes; flushed, then moved
    over the checkpoint; then its progress beside it (the old one is removed first, so that it
    never describes another checkpoint than the one there)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (workdir / PROGRESS).unlink()
    views = data.buffers
    index = {"layout": _LAYOUT, "head": data.head, "sizes": [v.nbytes for v in views]}
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
    if data.progress is not None:
        _write_progress(workdir, data.progress)


def _write_progress(workdir: Path, progress: dict[str, Any]) -> None:
    """Write ``progress`` beside the checkpoint; one that fails leaves none (its reader takes
    that for unknown) and never fails the checkpoint."""
    tmp = workdir / (PROGRESS + ".tmp")
    try:
        tmp.write_text(json.dumps(progress), encoding="utf-8")
        os.replace(tmp, workdir / PROGRESS)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


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
