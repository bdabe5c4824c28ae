"""Searching the case history from the History panel's one search box."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from ecgviewer.core.case import Case, Turn
from ecgviewer.core.storage import CaseHistory


@pytest.fixture
def ids(history: CaseHistory, make_case: Callable[..., Case]) -> dict[str, int]:
    """Three cases with distinct names, patients, dates, threads and notes."""
    first = make_case("ward3-morning.png", "P-0042")
    first.created_at = "2026-11-02T08:15:00+01:00"
    second = make_case("ER_scan.pdf", "P-0977")
    second.created_at = "2026-12-24T23:59:00+01:00"
    second.notes = "Hyperkalaemia suspected."
    second.study["name"] = "Øystein Åberg"
    third = make_case("clinic.png", "P-1200")
    third.created_at = "2025-11-30T10:00:00+01:00"
    third.thread = []
    third.notes = ""
    return {
        "first": history.save_case(first, b"first scan"),
        "second": history.save_case(second, b"second scan"),
        "third": history.save_case(third, b"third scan"),
    }


def found(history: CaseHistory, query: str) -> set[int]:
    return {summary.case_id for summary in history.search(query)}


def test_blank_query_lists_every_case_most_recently_updated_first(
    history: CaseHistory, ids: dict[str, int]
) -> None:
    assert [s.case_id for s in history.search()] == [ids["third"], ids["second"], ids["first"]]
    conn = sqlite3.connect(history.database_file)  # updated_at has one-second resolution
    with conn:
        for name, stamp in (
            ("first", "2026-12-01"),
            ("second", "2026-10-01"),
            ("third", "2026-11"),
        ):
            conn.execute("UPDATE cases SET updated_at = ? WHERE id = ?", (stamp, ids[name]))
    conn.close()

    summaries = history.search("  ")

    assert [s.case_id for s in summaries] == [ids["first"], ids["third"], ids["second"]]
    top = summaries[0]
    assert (top.source_name, top.patient_id, top.turn_count, top.exported_count) == (
        "ward3-morning.png",
        "P-0042",
        2,
        1,
    )
    assert top.study["name"] == "Zoë Müller"
    assert len(history.search(limit=2)) == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ward3", {"first"}),  # file name
        ("er_SCAN", {"second"}),  # file name, any case
        ("p-0977", {"second"}),  # patient ID
        ("øystein", {"second"}),  # a study field, non-ASCII any case
        ("2026-11", {"first"}),  # created in November 2026
        ("2026", {"first", "second"}),
        ("hyperkalaemia", {"second"}),  # notes
        ("V5–V6", {"first", "second"}),  # answer text
        ("rhythm?", {"first", "second"}),  # question text
        ("ST P-0042", {"first"}),  # every word must match
        ("ST P-1200", set()),
        ("100%", set()),  # no SQL wildcards
        ("nothing-like-this", set()),
    ],
)
def test_search_matches_every_field_a_clinician_remembers(
    history: CaseHistory, ids: dict[str, int], query: str, expected: set[str]
) -> None:
    assert found(history, query) == {ids[name] for name in expected}


def test_a_streamed_answer_is_searchable_before_it_finishes(
    history: CaseHistory, ids: dict[str, int]
) -> None:
    turn_id = history.begin_turn(ids["third"], Turn(question="Rhythm?"))
    history.append_answer(turn_id, "Atrial fibrillation")
    history.flush()

    assert found(history, "fibrillation") == {ids["third"]}
