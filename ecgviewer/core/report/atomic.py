"""Write a file all at once or not at all.

The bytes go to a hidden temporary file in the target folder, are flushed to
disk, and the temporary file is renamed over the target. A failure at any
step (disk full, permission denied, the file open in another program) removes
the temporary file, leaves any earlier file at the target untouched, and
raises `ReportError` with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from pathlib import Path

from ecgviewer.core.errors import ReportError

log = logging.getLogger(__name__)

_REASONS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full", "Free some space or choose another folder."),
    errno.EDQUOT: ("your disk quota is used up", "Free some space or choose another folder."),
    errno.EACCES: (
        "permission denied",
        "Choose a folder you can write to, and close the file if another program has it open.",
    ),
    errno.EPERM: (
        "permission denied",
        "Choose a folder you can write to, and close the file if another program has it open.",
    ),
    errno.EROFS: ("the disk is read-only", "Choose another folder."),
    errno.ENOENT: ("the folder does not exist", "Choose an existing folder."),
    errno.ENOTDIR: ("the folder does not exist", "Choose an existing folder."),
    errno.EISDIR: ("a folder with that name exists", "Choose another file name."),
    errno.ENAMETOOLONG: ("the file name is too long", "Choose a shorter name."),
    errno.EBUSY: ("the file is in use", "Close it in the other program and try again."),
}
_SHARING_VIOLATION = 32  # Windows: the file is open in another program


def describe_os_error(error: OSError, target: Path) -> ReportError:
    """A `ReportError` saying in plain words why `target` could not be written."""
    if getattr(error, "winerror", None) == _SHARING_VIOLATION:
        reason, hint = _REASONS[errno.EBUSY]
        reason = "the file is open in another program"
    elif error.errno in _REASONS:
        reason, hint = _REASONS[error.errno]
    else:
        reason, hint = (error.strerror or str(error)).rstrip("."), "Try another folder."
    return ReportError(f"Could not write the report to {target}: {reason}.", hint=hint)


def _temporary_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def _write_new(path: Path, data: bytes) -> None:
    # Created with the usual permissions (the umask applies), never over another file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags, 0o666)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the OS allows it (not on Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_atomic(data: bytes, target: Path) -> Path:
    """Write `data` to `target` atomically and return the absolute target path.

    Raises `ReportError` (cause kept in `__cause__`) when it cannot be written.
    """
    target = Path(os.path.abspath(target.expanduser()))
    if target.is_dir():
        raise describe_os_error(IsADirectoryError(errno.EISDIR, "Is a directory"), target)
    temporary = _temporary_path(target)
    try:
        _write_new(temporary, data)
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        log.warning("Writing %s failed: %r", target, error)
        raise describe_os_error(error, target) from error
    _sync_folder(target.parent)
    return target
