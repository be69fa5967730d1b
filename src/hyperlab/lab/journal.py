"""A journal-file lock that dies with its holder.

Optuna's journal file locks (``JournalFileOpenLock``/``JournalFileSymlinkLock``) are lock files:
a worker killed with SIGKILL while appending leaves the file behind, and every other worker
then waits for the lock's 30-second grace period before breaking it. :class:`FlockLock` uses the
kernel's ``flock`` instead, which the kernel releases the moment the holder dies, so a killed
worker costs the others nothing. ``flock`` works on local file systems and on NFSv4 (emulated
with byte-range locks); on file systems without it, fall back to Optuna's symlink lock.
"""

from __future__ import annotations

import fcntl
import os

from optuna.storages.journal._file import BaseJournalFileLock


class FlockLock(BaseJournalFileLock):
    """An exclusive ``flock`` on ``filepath + ".flock"`` (created if missing).

    Args:
        filepath: The journal file whose appends the lock protects.
    """

    def __init__(self, filepath: str) -> None:
        self._path = filepath + ".flock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
