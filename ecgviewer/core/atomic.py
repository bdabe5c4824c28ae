"""Write a file all at once or not at all: the one way the core replaces a file.

The bytes go to a hidden temporary file in the target folder (a new name per
write, so two processes writing at once never share one), are flushed to disk,
and the temporary file is renamed over the target. A failure at any step (disk
full, permission denied, the file open in another program) removes the
temporary file, leaves any earlier file at the target untouched, and raises a
`StorageError` (or the subclass the caller names) whose message says in plain
words why, with the `OSError` kept in `__cause__`.

Used by the PDF report, the settings, the evaluation's run description, the
preprocess CLI's images and the small JSON and prefix caches (which log the
error and go on).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from pathlib import Path

from ecgviewer.core.errors import StorageError

log = logging.getLogger(__name__)

_FREE_SPACE = "Free some space or choose another folder."
_WRITABLE = "Choose a folder you can write to, and close the file if another program has it open."
_REASONS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full", _FREE_SPACE),
    errno.EDQUOT: ("your disk quota is used up", _FREE_SPACE),
    errno.EACCES: ("permission denied", _WRITABLE),
    errno.EPERM: ("permission denied", _WRITABLE),
    errno.EROFS: ("the disk is read-only", "Choose another folder."),
    errno.ENOENT: ("the folder does not exist", "Choose an existing folder."),
    errno.ENOTDIR: ("the folder does not exist", "Choose an existing folder."),
    errno.EISDIR: ("a folder with that name exists", "Choose another file name."),
    errno.ENAMETOOLONG: ("the file name is too long", "Choose a shorter name."),
    errno.EBUSY: ("the file is in use", "Close it in the other program and try again."),
}
_SHARING_VIOLATION = 32  # Windows: the file is open in another program


def describe_os_error(
    error: OSError, target: Path, *, what: str = "the file",
    kind: type[StorageError] = StorageError,
) -> StorageError:  # fmt: skip
    """A `kind` error saying in plain words why `what` could not be written to `target`."""
    if getattr(error, "winerror", None) == _SHARING_VIOLATION:
        reason, hint = "the file is open in another program", _REASONS[errno.EBUSY][1]
    elif error.errno in _REASONS:
        reason, hint = _REASONS[error.errno]
    else:
        reason, hint = (error.strerror or str(error)).rstrip("."), "Try another folder."
    return kind(f"Could not write {what} to {target}: {reason}.", hint=hint)


def write_atomically(
    data: bytes, target: Path, *, what: str = "the file",
    kind: type[StorageError] = StorageError, durable: bool = True,
) -> Path:  # fmt: skip
    """Replace `target` with `data` atomically; return the absolute target path.

    `what` names the file in the error message ("the report"); `kind` is the
    error class raised. `durable=False` skips the fsyncs, for caches where a
    lost file after a power cut only costs time.
    """
    target = Path(os.path.abspath(Path(target).expanduser()))
    if target.is_dir():
        error = IsADirectoryError(errno.EISDIR, "Is a directory")
        raise describe_os_error(error, target, what=what, kind=kind) from error
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        _write_new(temporary, data, durable=durable)
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        # file names can hold a patient's name: the log gets what was written and why only
        log.warning("writing %s failed: %s (errno %s)", what, type(error).__name__, error.errno)
        raise describe_os_error(error, target, what=what, kind=kind) from error
    if durable:
        _sync_folder(target.parent)
    return target


def write_text_atomically(
    text: str, target: Path, *, what: str = "the file",
    kind: type[StorageError] = StorageError, durable: bool = True,
) -> Path:  # fmt: skip
    """`write_atomically` for text, encoded as UTF-8."""
    return write_atomically(text.encode("utf-8"), target, what=what, kind=kind, durable=durable)


def _write_new(path: Path, data: bytes, *, durable: bool) -> None:
    # Created with the usual permissions (the umask applies), never over another file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags, 0o666)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        if durable:
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
