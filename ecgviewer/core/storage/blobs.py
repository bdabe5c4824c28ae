"""Content-addressed copies of the original scans.

Each file is stored once, named by the SHA-256 of its bytes, at
`<root>/ab/abcdef…` (the first two hex digits make a sub-folder so no folder
grows huge). Files are written to a staging folder, synced and renamed into
place, so a crash never leaves a half-written blob under a real name. Folders
are 0700 and files 0600 where the OS supports it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ecgviewer.core.errors import StorageError
from ecgviewer.core.storage.database import make_private_folder

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
_STAGING = ".staging"
STALE_STAGING_S = 3600.0
"""Staging files older than this are leftovers of a crash and may be removed."""


class BlobStore:
    """Original scan bytes, stored once per distinct content."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / _STAGING

    def path_for(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        if not _SHA256.fullmatch(sha256):
            raise StorageError("The case refers to a stored scan with an invalid name.")
        return self.root / sha256[:2] / sha256

    def contains(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path_for(sha256).is_file()

    def get_path(self, sha256: str) -> Path:
        """The stored file; raises `StorageError` when it is missing."""
        path = self.path_for(sha256)
        if not path.is_file():
            raise StorageError(
                "The stored copy of this scan is missing.",
                hint="Open the original file again to start a new case from it.",
            )
        return path

    def put(self, source: Path | bytes) -> str:
        """Store a file's (or a bytes object's) content; return its SHA-256."""
        make_private_folder(self._staging)
        if isinstance(source, bytes):
            sha = hashlib.sha256(source).hexdigest()
            if not self.contains(sha):
                tmp = self._write_staged([source])
                self._publish(tmp, sha)
            return sha
        return self._put_file(source)

    def _put_file(self, source: Path) -> str:
        digest = hashlib.sha256()
        try:
            handle = source.open("rb")
        except FileNotFoundError as exc:
            raise StorageError(
                f"The original file {source.name} can no longer be read.",
                hint="It may have been moved or deleted; open it again from its new place.",
            ) from exc
        with handle:
            chunks = iter(lambda: handle.read(_CHUNK), b"")
            tmp = self._write_staged(_hashing(chunks, digest.update))
        sha = digest.hexdigest()
        if self.contains(sha):
            tmp.unlink(missing_ok=True)
        else:
            self._publish(tmp, sha)
        return sha

    def _write_staged(self, chunks: Iterable[bytes]) -> Path:
        # Not `core.atomic.write_atomically`: a blob streams from a file whose name (its
        # hash) is known only after the last chunk, and is published or dropped later,
        # from the staging folder; the helper takes whole bytes and a known target.
        tmp = self._staging / f"{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _publish(self, tmp: Path, sha256: str) -> None:
        target = self.path_for(sha256)
        make_private_folder(target.parent)
        os.replace(tmp, target)
        _sync_folder(target.parent)

    def stage_removal(self, sha256: str) -> Path | None:
        """Move a blob out of its place (first half of a delete); None if it was absent.

        Done inside the database transaction that drops its last reference, so
        a concurrent save either sees the blob or puts it back.
        """
        path = self.path_for(sha256)
        if not path.is_file():
            return None
        make_private_folder(self._staging)
        staged = self._staging / f"{sha256}.{secrets.token_hex(4)}.trash"
        os.replace(path, staged)
        return staged

    def undo_removal(self, staged: Path, sha256: str) -> None:
        """Put a staged blob back (the transaction that removed it failed)."""
        self._publish(staged, sha256)

    def clean_staging(self, older_than_s: float = STALE_STAGING_S) -> int:
        """Remove staging leftovers of crashed writes or deletes; return how many."""
        if not self._staging.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in self._staging.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
            except OSError:  # another process removed it first
                continue
        if removed:
            log.info("removed %d stale staging files from the scan store", removed)
        return removed


def _hashing(chunks: Iterable[bytes], update: Callable[[bytes], None]) -> Iterator[bytes]:
    for chunk in chunks:
        update(chunk)
        yield chunk


def _sync_folder(folder: Path) -> None:
    """Make a rename durable across a power cut (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
