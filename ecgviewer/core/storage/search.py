"""Finding cases: one search box over file name, dates, study fields, thread and notes.

Every word of the query must appear somewhere in the case (file name, notes,
creation time, any study field such as the patient ID or acquisition date, any
question or answer), case-insensitively, as a substring. So "2026-11" finds
cases created (or acquired) in November 2026 and "sinus 0042" finds cases with
both words. The update time is left out: "2026-11" should not find every case
that was merely reopened this month. Matching runs in
Python (`str.casefold`) so non-ASCII names match regardless of case, which
SQLite's LIKE does not do.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

DEFAULT_LIMIT = 200

_COLUMNS = """
    c.id, c.source_name, c.source_page, c.source_page_count, c.created_at, c.updated_at,
    c.study_json,
    (SELECT count(*) FROM turns t WHERE t.case_id = c.id) AS turn_count,
    (SELECT count(*) FROM exported_pdfs e WHERE e.case_id = c.id) AS exported_count
"""

_HAYSTACK = """
    c.source_name || char(10) || c.notes || char(10) || c.created_at || char(10)
    || coalesce((SELECT group_concat(value, char(10)) FROM json_each(c.study_json)), '')
    || char(10)
    || coalesce((SELECT group_concat(t.question || char(10) || t.answer, char(10))
                 FROM turns t WHERE t.case_id = c.id), '')
"""

_ORDER = "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"


@dataclass(frozen=True)
class CaseSummary:
    """One row of the History panel: enough to show and pick a case, no thread text."""

    case_id: int
    source_name: str
    source_page: int
    source_page_count: int
    created_at: str
    updated_at: str
    study: dict[str, str] = field(default_factory=dict)
    turn_count: int = 0
    exported_count: int = 0

    @property
    def patient_id(self) -> str:
        """The study's patient ID, "" when none was entered."""
        return self.study.get("patient_id", "")


def register_functions(conn: sqlite3.Connection) -> None:
    """Add the SQL function the search uses to a connection."""
    conn.create_function("ecg_contains", 2, _contains, deterministic=True)


def _contains(haystack: str | None, needle: str) -> bool:
    return haystack is not None and needle.casefold() in haystack.casefold()


def search_cases(
    conn: sqlite3.Connection, query: str = "", limit: int = DEFAULT_LIMIT
) -> list[CaseSummary]:
    """Cases matching every word of `query` (all cases if blank), most recently updated first."""
    terms = query.split()
    if terms:
        conditions = " AND ".join("ecg_contains(h.text, ?)" for _ in terms)
        sql = (
            f"WITH h0 AS (SELECT c.id AS id, {_HAYSTACK} AS text FROM cases c) "
            f"SELECT {_COLUMNS} FROM cases c JOIN h0 h ON h.id = c.id "
            f"WHERE {conditions} {_ORDER}"
        )
    else:
        sql = f"SELECT {_COLUMNS} FROM cases c {_ORDER}"
    rows = conn.execute(sql, [*terms, limit]).fetchall()
    return [_summary(row) for row in rows]


def _summary(row: sqlite3.Row) -> CaseSummary:
    return CaseSummary(
        case_id=row["id"],
        source_name=row["source_name"],
        source_page=row["source_page"],
        source_page_count=row["source_page_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        study=json.loads(row["study_json"]),
        turn_count=row["turn_count"],
        exported_count=row["exported_count"],
    )
