"""Opening the case database: permissions, pragmas, corrupt-file recovery, transactions.

A database that cannot be read (not SQLite, damaged pages, tables missing) is
moved aside with a timestamp and a fresh one is started; the caller learns the
old file's new name and tells the user. A database from a newer app is refused
without being written to: it is first opened read-only, and nothing (not even
WAL mode) is set on it before its version is known.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ecgviewer.core.errors import StorageError
from ecgviewer.core.storage.schema import (
    has_expected_tables,
    migrate,
    refuse_newer,
    schema_version,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 5.0
"""How long a write waits for another process's transaction before giving up."""

SIDE_FILES = ("-wal", "-shm")
_CORRUPTION_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_BUSY_CODES = ("SQLITE_BUSY", "SQLITE_LOCKED")


@dataclass
class OpenedDatabase:
    """A ready connection and what had to be done to get it."""

    conn: sqlite3.Connection
    recovered_from: Path | None  # where a corrupt file was moved, None if none was
    upgraded_from: int | None  # the schema version before migration, None if current


def open_database(path: Path) -> OpenedDatabase:
    """Open (creating, recovering or upgrading as needed) the database at `path`."""
    make_private_folder(path.parent)
    recovered: Path | None = None
    with storage_errors("open the case history"):
        if path.exists() and not _is_healthy(path):
            recovered = move_aside(path)
        conn = _connect(path)
        try:
            upgraded = migrate(conn)
        except BaseException:
            conn.close()
            raise
    if upgraded is not None:
        log.info("case history upgraded from schema version %d", upgraded)
    return OpenedDatabase(conn, recovered, upgraded)


def make_private_folder(folder: Path) -> None:
    """Create `folder` readable by the user only (0700) where the OS supports it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _chmod(folder, 0o700)


def _is_healthy(path: Path) -> bool:
    """Read-only checks: SQLite file, known version, `quick_check`, expected tables.

    Raises `NewerHistoryError` for a newer schema and lets errors that are not
    corruption (busy, permissions, I/O) propagate: those files are not moved.
    """
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S
        )
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            return False
        raise
    try:
        version = schema_version(conn)
        refuse_newer(version)
        checked = conn.execute("PRAGMA quick_check").fetchall()
        return checked == [("ok",)] and has_expected_tables(conn, version)
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            return False
        raise
    finally:
        conn.close()


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file is damaged or not a database at all."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_CORRUPTION_CODES)


def move_aside(path: Path) -> Path:
    """Rename a damaged database (and its -wal/-shm) to `<name>.corrupt-<timestamp>`."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, target)
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    log.warning("damaged case history moved aside to %s", target.name)
    return target


def _connect(path: Path) -> sqlite3.Connection:
    """A read-write connection with WAL, foreign keys, busy timeout and FULL sync.

    `check_same_thread` is off because `CaseHistory` shares the connection
    between its callers and its flusher thread, always under one lock.
    """
    _create_private_file(path)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
    if mode.lower() != "wal":  # e.g. a network file system without shared memory
        log.warning("case history runs in journal mode %s, not WAL", mode)
    # FULL: a streamed answer flushed before a power cut is still there after it.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            _chmod(side, 0o600)
    return conn


def _create_private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (it copies the mode to -wal/-shm)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    _chmod(path, 0o600)


def _chmod(path: Path, mode: int) -> None:
    # A file system without POSIX modes (or a foreign owner) keeps its own.
    with contextlib.suppress(OSError):
        path.chmod(mode)


@contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[None]:
    """One transaction; writers take the write lock at the start (BEGIN IMMEDIATE).

    Taking it up front means a writer waits (up to the busy timeout) instead of
    failing when another process committed since its snapshot began.
    """
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn SQLite and file-system errors into a `StorageError` a clinician can act on.

    Only the error type is logged: messages could quote stored text.
    """
    try:
        yield
    except StorageError:  # already says what to do (NewerHistoryError included)
        raise
    except sqlite3.Error as exc:
        log.error("case history: could not %s (%s)", action, type(exc).__name__)
        raise StorageError(f"Could not {action}.", hint=_hint_for(exc)) from exc
    except OSError as exc:
        log.error("case history: could not %s (%s)", action, type(exc).__name__)
        raise StorageError(
            f"Could not {action}.",
            hint="Check that the disk is not full and the data folder is writable.",
        ) from exc


def _hint_for(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(_BUSY_CODES):
        return "Another ECG Viewer window is busy with the case history; try again."
    if name.startswith(_CORRUPTION_CODES):
        return "The case history file is damaged; restart ECG Viewer to recover it."
    return "Check that the disk is not full and the data folder is writable."
