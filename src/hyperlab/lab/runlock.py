"""One writer per run: an exclusive lock on ``runs/NAME/.lock`` while a command runs it.

``tune`` and ``compare`` (and ``tune --create-only``/``--dask``) hold the lock from before they
write anything to the run until they end; a second command on the same run stops at once with
:class:`~hyperlab.errors.RunInUseError` naming the process that holds it. The worker processes of
``--jobs N`` run under their parent's lock, and ``hyperlab worker`` processes never take it: they
are many writers by design (see :mod:`hyperlab.lab.admission` for how they share a study).

The lock is ``flock(LOCK_EX | LOCK_NB)`` on the file, so the kernel drops it when its holder
ends in any way, ``kill -9`` included: a lock file left behind is stale and simply taken over.
The holder writes its process id, host and start time (JSON) into the file for the message,
and removes the file when it lets go (a process that opened the old file meanwhile notices it
is no longer the one at the path and tries again).
Where the file system offers no ``flock``, the recorded process is checked instead: a record
from this host whose process is gone is stale.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hyperlab.errors import InputError, RunInUseError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the recorded process is checked instead
    fcntl = None  # type: ignore[assignment]

#: The lock file's name inside the run folder (``--overwrite`` keeps it).
LOCK_FILE = ".lock"
# flock errors that mean "not supported here", not "held by another process"
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_HELD = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES}


@dataclass(frozen=True)
class Holder:
    """The process recorded in a lock file.

    Attributes:
        pid: Its process id.
        host: The host it runs on.
        since: When it took the lock (ISO 8601, UTC).
    """

    pid: int
    host: str
    since: str

    @classmethod
    def me(cls) -> Holder:
        """This process, now."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), now)

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder recorded in ``text`` (``None`` when it is empty or not a record)."""
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["since"]))
        except (ValueError, TypeError, KeyError):
            return None

    def dumps(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "since": self.since}) + "\n"

    def alive(self) -> bool:
        """Whether the process may still run (a process on another host cannot be checked)."""
        if self.host != socket.gethostname() or os.name != "posix":
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process
            return True
        return True


def _missing_parents(folder: Path) -> list[Path]:
    """The folders above ``folder`` that do not exist, deepest first."""
    out = []
    for parent in folder.absolute().parents:
        if parent.exists():
            break
        out.append(parent)
    return out


class RunLock:
    """The exclusive lock of one run folder (a context manager).

    Args:
        folder: The run folder (created when missing, with any missing folders above it;
            those it made are removed again on release when empty).
        name: The run's name, for messages (default: the folder's name).
    """

    def __init__(self, folder: str | Path, name: str | None = None) -> None:
        self.folder = Path(folder)
        self.name = name or self.folder.name
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None
        self._created: list[Path] = []  # the folders this lock made, deepest first

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or fail at once.

        Raises:
            RunInUseError: A live process holds it (the message names the process).
            InputError: The run's path exists and is not a folder.
        """
        if self._fd is not None:
            return
        self._created = []
        missing: FileNotFoundError | None = None
        for _attempt in range(20):  # the file is replaced only by a holder that leaves
            try:
                fd = self._open()
            except FileNotFoundError as exc:  # the folder was removed by a holder leaving
                missing = exc
                continue
            try:
                taken = self._take(fd)
            except BaseException:
                os.close(fd)
                raise
            if taken:
                self._fd = fd
                return
            os.close(fd)
        if missing is not None and not self.folder.is_dir():  # not a race: no folder goes there
            raise InputError(
                f"cannot create the run folder {str(self.folder)!r}: {missing.strerror or missing}"
            )
        raise RunInUseError(
            f"run {self.name!r} is in use: its lock file {str(self.path)!r} keeps changing"
        )

    def release(self) -> None:
        """Let the lock go; its file is removed (and the folder, if this lock made it and it is
        empty now), so nothing is left behind."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # still locked: a process that opened the file meanwhile finds it gone, tries again
            self.path.unlink()
        except OSError:
            with suppress(OSError):
                os.ftruncate(fd, 0)  # at least name no one
        for made in self._created:  # the folder first, then the runs folders made for it
            try:
                made.rmdir()
            except OSError:  # not empty: a run lives there now
                break
        os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _open(self) -> int:
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"{str(self.folder)!r} exists and is not a folder")
        blocking = _file_above(self.folder)
        if blocking is not None:
            raise InputError(
                f"the runs folder {str(self.folder.parent)!r} cannot hold run {self.name!r}: "
                f"{str(blocking)!r} is a file, not a folder"
            )
        if self.folder.is_symlink() and not self.folder.exists():
            raise InputError(
                f"{str(self.folder)!r} is a link to {os.readlink(self.folder)!r}, which does not "
                "exist: make its target, or remove the link"
            )
        if not self.folder.exists():
            missing = [self.folder, *_missing_parents(self.folder)]
            try:
                self.folder.mkdir(parents=True)
                self._created = missing
            except FileExistsError:  # made by another process just now
                pass
            except FileNotFoundError:  # a parent went meanwhile (a race), or none can be made
                raise
            except OSError as exc:  # (a path that cannot hold a folder)
                raise InputError(
                    f"cannot create the run folder {str(self.folder)!r}: {exc.strerror or exc}"
                ) from None
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def _take(self, fd: int) -> bool:
        """Lock the open file and record this process in it.

        Returns:
            ``False`` when the file was removed meanwhile (by a holder leaving): try again.

        Raises:
            RunInUseError: A live process holds the lock.
        """
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in _HELD:
                    raise self._in_use(_holder(fd, wait=True)) from None
                if exc.errno not in _NO_FLOCK:
                    raise
            else:
                if not _same_file(fd, self.path):
                    return False
                _write(fd, Holder.me())
                return True
        return self._take_by_record(fd)

    def _take_by_record(self, fd: int) -> bool:
        """Without ``flock``: take the lock unless its record names a live process."""
        holder = _holder(fd)
        if holder is not None and holder.alive():
            raise self._in_use(holder)
        me = Holder.me()
        _write(fd, me)
        time.sleep(0.05)  # two takers at once: the last record wins, the other one leaves
        holder = _holder(fd)
        if holder != me:
            raise self._in_use(holder)
        return True

    def _in_use(self, holder: Holder | None) -> RunInUseError:
        if holder is None:
            who = "another process"
        else:
            who = f"process {holder.pid} since {holder.since}"
            if holder.host != socket.gethostname():
                who += f" on host {holder.host}"
        return RunInUseError(
            f"run {self.name!r} is in use by {who}; wait for it to end (or stop it), then run "
            f"the command again (lock file {str(self.path)!r})"
        )


def _file_above(folder: Path) -> Path | None:
    """The nearest existing folder above ``folder`` when it is a file instead (``None``: the
    folder can be made)."""
    for parent in folder.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _holder(fd: int, wait: bool = False) -> Holder | None:
    """The holder recorded in the open lock file; with ``wait``, give a holder that has just
    locked the file a moment to write its record."""
    for _ in range(40 if wait else 1):
        holder = Holder.parse(_read(fd))
        if holder is not None:
            return holder
        if wait:
            time.sleep(0.05)
    return None


def _write(fd: int, holder: Holder) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.dumps().encode(), 0)


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file is still the one at ``path``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode(errors="replace")
    except OSError:
        return ""


@contextmanager
def run_lock(runs_dir: str | Path, name: str) -> Iterator[RunLock]:
    """Hold the lock of run ``name`` under ``runs_dir`` while inside.

    Raises:
        RunInUseError: Another live process holds it.
        InputError: ``name`` is not a plain folder name.
    """
    from hyperlab.lab.run_paths import check_name

    with RunLock(Path(runs_dir) / check_name(name), name) as lock:
        yield lock
