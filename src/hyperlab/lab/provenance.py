"""What made a result: the command, the code's git commit, library versions and the machine.

A number is only worth quoting if it can be made again. :func:`write_result` writes a result
as JSON with a ``provenance`` block (:func:`provenance`) beside it, so a results file says which
command, on which commit of the code, produced it; ``benchmarks/`` writes every result this way.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from hyperlab.errors import InputError, InputTypeError

#: Libraries whose versions a result records (those absent are left out).
LIBRARIES = ("hyperlab", "optuna", "torch", "numpy", "scipy", "scikit-learn")


def git_commit(path: str | Path | None = None) -> dict[str, Any]:
    """The git commit of the checkout holding ``path`` (default: hyperlab's own source).

    Returns:
        ``{"commit": 40 hex digits, "dirty": uncommitted changes present}``; both ``None`` when
        ``path`` is not inside a git checkout or git is not installed, and by default when
        hyperlab is installed (not tracked by the checkout around it, a project's ``.venv``).
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    if where.is_file():
        where = where.parent
    try:
        if path is None:  # installed into another project's checkout (its .venv): not our commit
            subprocess.run(
                ["git", "-C", str(where), "ls-files", "--error-unmatch", Path(__file__).name],
                capture_output=True,
                check=True,
                timeout=30,
            )
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(status.strip())}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Where a result comes from: command, git commit, versions, machine and time.

    Args:
        argv: The command line, program first (default: this process's own, ``sys.orig_argv``,
            interpreter included).

    Returns:
        ``{"command": the command as one shell-quoted line, "commit": ..., "dirty": ...,
        "versions": {...}, "machine": {...}, "date": ISO 8601 in UTC}`` (plain JSON data).

    Raises:
        InputTypeError: ``argv`` is a string or holds something other than strings.
    """
    if argv is None:
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    if isinstance(argv, str) or not all(isinstance(a, str) for a in argv):
        raise InputTypeError(f"argv must be a sequence of strings, got {argv!r}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "command": shlex.join([_from_here(a) for a in argv]),
        **git_commit(),
        "versions": _versions(),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_1m": load,
            **_cpu(),
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _from_here(arg: str) -> str:
    """``arg`` relative to the folder the command ran in when it is an absolute path inside it
    (``/home/me/hyperlab/.venv/bin/python`` → ``.venv/bin/python``): a result file names no
    machine's folders, and its command runs again from a checkout anywhere."""
    if not os.path.isabs(arg):
        return arg
    try:
        return str(Path(arg).relative_to(Path.cwd()))
    except ValueError:
        return arg


def _cpu() -> dict[str, str]:
    """The processor's model and the vector instructions torch's CPU kernels use: results in
    floating point differ in their last digits between processors (then, through a chaotic
    training path, sometimes in more)."""
    out = {}
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    out["processor"] = line.split(":", 1)[1].strip()
                    break
    if "processor" not in out:  # no /proc/cpuinfo, or no model name in it (ARM)
        out["processor"] = platform.processor() or platform.machine() or "unknown"
    torch = sys.modules.get("torch")
    out["torch_cpu_capability"] = "torch not imported"
    if torch is not None:
        with contextlib.suppress(Exception):
            out["torch_cpu_capability"] = str(torch.backends.cpu.get_cpu_capability())
    return out


def write_result(
    path: str | Path, payload: Mapping[str, Any], argv: Sequence[str] | None = None
) -> Path:
    """Write ``payload`` as JSON to ``path``, with its :func:`provenance` under ``provenance``.

    Args:
        path: The file to write (its folder is created).
        payload: The result: plain JSON data; numpy numbers and arrays and paths are
            converted (NaN and infinity are written as ``NaN``/``Infinity``, which Python's
            ``json`` reads back). A path (or a string naming one) inside the current folder
            is written relative to it, so a result file names no folder of one machine.
        argv: The command line to record (default: this process's).

    Returns:
        The path written.

    Raises:
        InputError: ``payload`` already has a ``provenance`` key.
        InputTypeError: ``payload`` is not a mapping.
    """
    if not isinstance(payload, Mapping):
        raise InputTypeError(f"payload must be a mapping, got {type(payload).__name__}")
    if "provenance" in payload:
        raise InputError("payload already has a 'provenance' key; it is written by write_result")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    plain = _relative(json.loads(json.dumps(dict(payload), default=_plain)), Path.cwd())
    text = json.dumps({"provenance": provenance(argv), **plain}, indent=1)
    out.write_text(text + "\n")
    return out


def _relative(value: Any, root: Path) -> Any:
    """``value`` with every string that is an absolute path under ``root`` made relative."""
    if isinstance(value, dict):
        return {k: _relative(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, root) for v in value]
    if isinstance(value, str) and value.startswith(str(root) + "/"):
        return value[len(str(root)) + 1 :]
    return value


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists, paths as strings."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON data: {value!r}")
