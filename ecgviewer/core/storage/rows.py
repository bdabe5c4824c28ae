"""The SQL that writes cases, turns and exported-PDF rows.

Each function runs inside a transaction its caller opened and holds the
connection lock for; none commits on its own.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ecgviewer.core.case import Turn
from ecgviewer.core.storage.codec import turn_values
from ecgviewer.core.storage.errors import CaseNotFoundError


def missing(case_id: int) -> CaseNotFoundError:
    """The error for a case id that is not (or no longer) stored."""
    return CaseNotFoundError(
        f"Case {case_id} is not in the case history.",
        hint="It may have been deleted in another ECG Viewer window.",
    )


def _insert(conn: sqlite3.Connection, table: str, values: dict[str, Any]) -> int:
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    cursor = conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)
    return int(cursor.lastrowid or 0)


def update_row(conn: sqlite3.Connection, table: str, row_id: int, values: dict[str, Any]) -> int:
    """Set columns of one row by id; return how many rows changed (0 or 1)."""
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    cursor = conn.execute(
        f"UPDATE {table} SET {assignments} WHERE id = :_row_id", values | {"_row_id": row_id}
    )
    return cursor.rowcount


def write_case(conn: sqlite3.Connection, case_id: int | None, values: dict[str, Any]) -> int:
    """Insert a case row (no id yet) or update it; return its id."""
    if case_id is None:
        return _insert(conn, "cases", values)
    kept = {name: value for name, value in values.items() if name != "created_at"}
    if update_row(conn, "cases", case_id, kept) == 0:
        raise missing(case_id)
    return case_id


def touch(conn: sqlite3.Connection, case_id: int, now: str) -> None:
    """Set a case's `updated_at`; raise `CaseNotFoundError` if it is gone."""
    if update_row(conn, "cases", case_id, {"updated_at": now}) == 0:
        raise missing(case_id)


def insert_turn(
    conn: sqlite3.Connection, case_id: int, values: dict[str, Any], writer: str | None
) -> int:
    """Add a turn after the case's last one; return its id."""
    position = conn.execute(
        "SELECT coalesce(max(position), -1) + 1 FROM turns WHERE case_id = ?", (case_id,)
    ).fetchone()[0]
    row = values | {"case_id": case_id, "position": position, "writer": writer}
    return _insert(conn, "turns", row)


def append_new_turns(conn: sqlite3.Connection, case_id: int, thread: list[Turn]) -> None:
    """Store the turns of `thread` beyond those already stored (the thread is append-only)."""
    stored = conn.execute("SELECT count(*) FROM turns WHERE case_id = ?", (case_id,)).fetchone()[0]
    for turn in thread[stored:]:
        insert_turn(conn, case_id, turn_values(turn), writer=None)


def add_pdfs(conn: sqlite3.Connection, case_id: int, paths: list[str], now: str) -> None:
    """Record exported PDF paths not yet recorded for the case."""
    rows = conn.execute("SELECT path FROM exported_pdfs WHERE case_id = ?", (case_id,))
    known = {row[0] for row in rows}
    for path in paths:
        if path not in known:
            _insert(conn, "exported_pdfs", {"case_id": case_id, "path": path, "exported_at": now})
            known.add(path)
