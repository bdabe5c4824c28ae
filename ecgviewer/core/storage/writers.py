"""Telling a live streaming answer from one whose process died.

Each open `CaseHistory` holds an OS file lock on `<folder>/<token>.lock` for
its whole life and stamps the turns it streams with that token. The OS drops
the lock when the process ends in any way (crash, SIGKILL, power cut), so any
process can test whether a turn's writer is still alive by trying to take the
lock: if it can, the writer is gone and the turn was interrupted. This is what
lets two app instances share one database without one marking the other's
answer in progress as interrupted.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

from ecgviewer.core.storage.database import make_private_folder

_TOKEN = re.compile(r"[0-9a-f]{32}")


class WriterLease:
    """This instance's proof of life, held until `release()`."""

    def __init__(self, folder: Path) -> None:
        make_private_folder(folder)
        self.token = secrets.token_hex(16)
        self._path = folder / f"{self.token}.lock"
        self._fd: int | None = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o600)
        if not _try_lock(self._fd):  # pragma: no cover - a fresh random name
            raise OSError("could not lock a new writer lease")

    def release(self) -> None:
        """Drop the lock and remove the lease file (idempotent)."""
        if self._fd is None:
            return
        if sys.platform == "win32":  # Windows cannot remove an open file
            os.close(self._fd)
            self._path.unlink(missing_ok=True)
        else:
            self._path.unlink(missing_ok=True)
            os.close(self._fd)
        self._fd = None


def writer_alive(folder: Path, token: str | None) -> bool:
    """Whether the instance that stamped a turn with `token` still runs."""
    if token is None or not _TOKEN.fullmatch(token):
        return False
    path = folder / f"{token}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        if not _try_lock(fd):
            return True
        if sys.platform != "win32":
            path.unlink(missing_ok=True)  # a dead writer's leftover: tidy it
        return False
    finally:
        os.close(fd)  # also releases the lock we may have taken


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
