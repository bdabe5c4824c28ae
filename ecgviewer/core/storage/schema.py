"""The case history's tables, and the migrations that build and upgrade them.

The schema version is SQLite's `PRAGMA user_version`. `MIGRATIONS[n]` takes a
database from version n to n + 1; a new database (version 0) runs all of them,
so every migration is exercised by every fresh install. Never edit a released
migration: append a new one.

Version 1: cases and turns.
Version 2: the PDFs exported from a case, which process is streaming a turn
(so a second window can tell a live answer from an interrupted one), and the
indexes for blob reference counts and turn order.
Version 3: when each answer ended (`turns.finished_at`; `started_at` is when the
question was asked).
"""

from __future__ import annotations

import sqlite3

from ecgviewer.core.storage.errors import NewerHistoryError

_V1: tuple[str, ...] = (
    """CREATE TABLE cases (
        id INTEGER PRIMARY KEY,
        source_sha256 TEXT NOT NULL,
        source_path TEXT NOT NULL DEFAULT '',
        source_name TEXT NOT NULL DEFAULT '',
        source_page INTEGER NOT NULL DEFAULT 0,
        source_page_count INTEGER NOT NULL DEFAULT 1,
        source_format TEXT NOT NULL DEFAULT '',
        steps_json TEXT NOT NULL DEFAULT '[]',
        notes TEXT NOT NULL DEFAULT '',
        study_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL DEFAULT '',
        stop_reason TEXT,
        prompt_preset TEXT NOT NULL DEFAULT '',
        prompt_version TEXT NOT NULL DEFAULT '',
        started_at TEXT NOT NULL DEFAULT '',
        timings_json TEXT NOT NULL DEFAULT '{}',
        provenance_json TEXT,
        decoding_json TEXT,
        UNIQUE (case_id, position)
    )""",
)

_V2: tuple[str, ...] = (
    """CREATE TABLE exported_pdfs (
        id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        exported_at TEXT NOT NULL
    )""",
    "CREATE INDEX exported_pdfs_by_case ON exported_pdfs(case_id)",
    "ALTER TABLE turns ADD COLUMN writer TEXT",
    "CREATE INDEX turns_streaming ON turns(writer) WHERE stop_reason IS NULL",
    "CREATE INDEX cases_by_source ON cases(source_sha256)",
)

_V3: tuple[str, ...] = ("ALTER TABLE turns ADD COLUMN finished_at TEXT NOT NULL DEFAULT ''",)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3)
"""`MIGRATIONS[n]` upgrades version n to n + 1."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this code writes."""

REQUIRED_TABLES: dict[int, frozenset[str]] = {
    0: frozenset(),
    1: frozenset({"cases", "turns"}),
    2: frozenset({"cases", "turns", "exported_pdfs"}),
    3: frozenset({"cases", "turns", "exported_pdfs"}),
}
"""Tables that must exist at each version; anything less means a damaged file."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's `user_version`."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def refuse_newer(version: int) -> None:
    """Raise `NewerHistoryError` when `version` is newer than this code knows."""
    if version > SCHEMA_VERSION:
        raise NewerHistoryError(
            "This case history was written by a newer version of ECG Viewer "
            f"(history version {version}, this app knows up to {SCHEMA_VERSION}).",
            hint="Update the app; your data has not been changed.",
        )


def has_expected_tables(conn: sqlite3.Connection, version: int) -> bool:
    """Whether the tables that `version` promises are all there."""
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if version == 0:
        # An empty file is a new database; tables without a version are not ours.
        return not names
    return REQUIRED_TABLES[version] <= names


def migrate(conn: sqlite3.Connection) -> int | None:
    """Bring the database to `SCHEMA_VERSION` in one write transaction.

    Returns the version it was upgraded from, or None when nothing was done.
    Safe with two processes opening an old database at once: the version is
    read again after the write lock is taken.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        start = schema_version(conn)
        refuse_newer(start)
        for version in range(start, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
        if start != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return None if start == SCHEMA_VERSION else start
