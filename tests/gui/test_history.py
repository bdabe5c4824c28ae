"""The case history in the real window: recorded as you work, found, reopened exactly, deleted.

No model is needed: a streamed answer is played through the reading
controller's own signals, as the model owner's tokens would drive them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from ecgviewer.core.case import Turn, now_iso
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import Settings
from ecgviewer.core.storage import BlobStore
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.application import create_application
from ecgviewer.gui.exporting import write_pdf_in_background
from ecgviewer.gui.history_panel import HistoryPanel
from ecgviewer.gui.history_recorder import HistoryRecorder
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.tasks import wait_for_tasks
from tests.gui.conftest import drop_files
from tests.gui.test_main_window import tilted_scan


@pytest.fixture
def windows(qapp: object) -> Iterator[list[MainWindow]]:
    """Windows made with `start_window`, closed at the end whatever happened."""
    made: list[MainWindow] = []
    yield made
    for window in made:
        if window.isVisible():
            window.close()
    wait_for_tasks()


def start_window(qtbot: QtBot, made: list[MainWindow]) -> MainWindow:
    """A fresh window on the same ECGVIEWER_HOME, as at the next start of the app."""
    create_application([])
    window = MainWindow(app_paths().ensure(), Settings(disclaimer_acknowledged=True))
    made.append(window)
    window.resize(1400, 880)
    window.show()
    qtbot.waitUntil(lambda: recorder(window).available, timeout=15_000)
    return window


def recorder(window: MainWindow) -> HistoryRecorder:
    return window.history  # type: ignore[attr-defined, no-any-return]


def panel(window: MainWindow) -> HistoryPanel:
    return window.history_panel  # type: ignore[attr-defined, no-any-return]


def open_scan(window: MainWindow, qtbot: QtBot, path: Path) -> OpenCase:
    count = len(window.cases)
    drop_files(window, [path])
    qtbot.waitUntil(lambda: len(window.cases) == count + 1, timeout=20_000)
    case = window.cases[-1]
    qtbot.waitUntil(lambda: case.case.case_id is not None, timeout=10_000)
    return case


def stream_answer(window: MainWindow, case: OpenCase, question: str, pieces: list[str]) -> Turn:
    """What the reading controller emits while the model streams an answer."""
    turn = Turn(question=question, prompt_preset="rhythm", started_at=now_iso())
    case.case.thread.append(turn)
    window.reading.turn_started.emit(case, turn)
    for piece in pieces:
        turn.answer += piece
        window.reading.turn_text.emit(case, turn, piece)
    return turn


def search(window: MainWindow, qtbot: QtBot, text: str) -> list[int]:
    """Type into the History search box like a user; the ids listed once the search is back."""
    box = panel(window).search_box
    with qtbot.waitSignal(recorder(window).searched, timeout=10_000,
                          check_params_cb=lambda query, _: query == text):  # fmt: skip
        box.clear()
        qtbot.keyClicks(box, text)
    return panel(window).case_ids()


def wait_listed(window: MainWindow, qtbot: QtBot, text: str, expected: list[int]) -> None:
    box = panel(window).search_box
    if box.text() != text:
        box.setText(text)
    qtbot.waitUntil(lambda: panel(window).case_ids() == expected, timeout=10_000)


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@dataclass
class Worked:
    """What the first session left, to be found again after the restart."""

    case: OpenCase
    pixels: np.ndarray
    steps: list[dict[str, object]]
    notes: str
    report: Path


def work_on_a_case(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> Worked:
    """Open, edit, annotate, ask, export; then start a second answer and leave it streaming."""
    open_scan(window, qtbot, tilted_scan(tmp_path / "tilted-0815.png", 4.0))
    window.edit_bar.angle_box.setValue(3.5)  # a manual edit: the steps change
    window.edit_bar.angle_box.editingFinished.emit()
    qtbot.waitUntil(lambda: any(s.op == "deskew" and s.params["angle_deg"] == 3.5
                                for s in window.cases[0].image.steps), timeout=20_000)  # fmt: skip
    case = window.cases[0]
    qtbot.keyClicks(window.panel.notes_edit, "Compare with last week's tracing")
    form = window.case_header.study_form  # typed like a user, in the real form
    qtbot.keyClicks(form.edits["patient_id"], "P-0815")
    qtbot.keyClick(form.sex_box, Qt.Key.Key_Down)  # "-" -> "F - female"
    qtbot.waitUntil(lambda: case.case.study == {"patient_id": "P-0815", "sex": "F"})
    finished = stream_answer(window, case, "What is the rhythm?", ["Sinus ", "rhythm, ", "72/min."])
    finished.stop_reason = "eos"
    window.reading.turn_finished.emit(case, finished)
    report = tmp_path / "report.pdf"
    write_pdf_in_background(window, case, report, "A4")
    qtbot.waitUntil(lambda: str(report) in case.case.exported_pdfs, timeout=30_000)
    window.case_changed.emit(case)  # type: ignore[attr-defined]  # what exporting.py emits
    stream_answer(window, case, "Any ST changes?", ["No clear ", "ST dev"])
    qtbot.waitUntil(lambda: _stored_answer(case, 1) == "No clear ST dev", timeout=10_000)
    pixels = np.asarray(case.result).copy()
    return Worked(case, pixels, case.case.steps, case.case.notes, report)


def test_a_case_is_kept_found_reopened_exactly_and_deleted(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked = work_on_a_case(start_window(qtbot, windows), qtbot, tmp_path)
    windows[0].close()  # mid-answer: the cut-off answer must survive, marked interrupted
    wait_for_tasks()
    assert worked.case.case.thread[1].stop_reason is None

    window = start_window(qtbot, windows)
    window.history_panel.toggleViewAction().trigger()  # type: ignore[attr-defined]
    assert panel(window).isVisible()
    case_id = worked.case.case.case_id
    assert search(window, qtbot, "tilted-08") == [case_id]  # file name
    assert search(window, qtbot, "last week") == [case_id]  # notes
    assert search(window, qtbot, "p-0815") == [case_id]  # patient ID
    assert search(window, qtbot, "sinus 72/min") == [case_id]  # the answer's words
    assert search(window, qtbot, worked.case.case.created_at[:7]) == [case_id]  # the month
    assert search(window, qtbot, "atrial flutter") == []
    assert "No case matches" in panel(window).status_label.text()
    assert search(window, qtbot, "") == [case_id]
    row = panel(window).table.topLevelItem(0)
    assert row is not None
    assert [row.text(column) for column in (0, 2, 3, 4)] == ["tilted-0815.png", "P-0815", "2", "1"]

    panel(window).select_case(case_id)
    click(qtbot, panel(window).reopen_button)
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    check_reopened(window, qtbot, worked)
    check_export_again_and_delete(window, qtbot, tmp_path, monkeypatch)


def check_reopened(window: MainWindow, qtbot: QtBot, worked: Worked) -> None:
    reopened = window.cases[0]
    assert window.current_case() is reopened
    assert np.array_equal(np.asarray(reopened.result), worked.pixels)
    assert reopened.case.steps == worked.steps
    assert reopened.case.notes == worked.notes == window.panel.notes_edit.toPlainText()
    assert [(t.question, t.answer, t.stop_reason) for t in reopened.case.thread] == [
        ("What is the rhythm?", "Sinus rhythm, 72/min.", "eos"),
        ("Any ST changes?", "No clear ST dev", "interrupted"),
    ]
    qtbot.waitUntil(lambda: "Interrupted - incomplete" in window.panel.thread_text())
    assert "Sinus rhythm, 72/min." in window.panel.thread_text()
    assert reopened.case.exported_pdfs == [str(worked.report)]
    assert reopened.case.study == {"patient_id": "P-0815", "sex": "F"}
    form = window.case_header.study_form
    assert form.edits["patient_id"].text() == "P-0815" and form.sex_box.currentData() == "F"


def check_export_again_and_delete(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = window.cases[0].case.case_id
    blob = BlobStore(window.paths.blob_dir).path_for(window.cases[0].case.source.sha256)
    again = tmp_path / "again.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(again), ""))
    window.close_current()
    with qtbot.waitSignal(recorder(window).export_requested, timeout=20_000) as exported:
        click(qtbot, panel(window).export_button)
    assert exported.args[0].case.case_id == case_id
    qtbot.waitUntil(again.exists, timeout=30_000)
    assert len(window.cases) == 1 and window.cases[0].case.case_id == case_id

    assert blob.exists()
    window.close_current()
    click(qtbot, panel(window).delete_button)
    qtbot.waitUntil(lambda: _dialog(window, "historyDeleteDialog") is not None)
    box = _dialog(window, "historyDeleteDialog")
    click(qtbot, next(b for b in box.findChildren(QPushButton) if b.text() == "Delete"))
    wait_listed(window, qtbot, "", [])
    assert search(window, qtbot, "tilted") == []
    assert not blob.exists()


def test_an_answer_begun_before_its_case_is_saved_is_stored_after_it_in_order(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path
) -> None:
    window = start_window(qtbot, windows)
    turns: list[Turn] = []

    def ask_at_once(case: OpenCase) -> None:  # runs while the case's save is still queued
        assert case.case.case_id is None
        first = stream_answer(window, case, "Rate?", ["7", "2", "/min"])
        first.stop_reason = "eos"
        window.reading.turn_finished.emit(case, first)
        turns.extend([first, stream_answer(window, case, "Axis?", ["Nor", "mal"])])

    window.case_opened.connect(ask_at_once)  # type: ignore[attr-defined]
    drop_files(window, [tilted_scan(tmp_path / "quick.png", 0.0)])
    qtbot.waitUntil(lambda: len(turns) == 2, timeout=20_000)
    case = window.cases[0]
    qtbot.waitUntil(lambda: _stored_answer(case, 1) == "Normal", timeout=10_000)
    turns[1].answer += " axis"
    turns[1].stop_reason = "length"
    window.reading.turn_finished.emit(case, turns[1])
    window.close()
    wait_for_tasks()

    window = start_window(qtbot, windows)
    panel(window).show()
    wait_listed(window, qtbot, "normal axis", [case.case.case_id])
    recorder(window).reopen(int(case.case.case_id or 0))
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    assert [(t.question, t.answer, t.stop_reason) for t in window.cases[0].case.thread] == [
        ("Rate?", "72/min", "eos"),
        ("Axis?", "Normal axis", "length"),
    ]


def test_a_new_reading_leaves_no_discarded_answer_in_the_history(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path
) -> None:
    window = start_window(qtbot, windows)
    case = open_scan(window, qtbot, tilted_scan(tmp_path / "again.png", 0.0))
    window.reading.set_case(case)
    first = stream_answer(window, case, "Rate?", ["72", "/min"])
    first.stop_reason = "eos"
    window.reading.turn_finished.emit(case, first)
    qtbot.waitUntil(lambda: _stored_answer(case, 0) == "72/min", timeout=10_000)
    window.panel.new_reading_requested.emit()  # what the New reading button sends
    assert case.case.thread == []
    qtbot.waitUntil(lambda: stored_turns(case) == 0, timeout=10_000)
    second = stream_answer(window, case, "Axis?", ["Normal"])
    second.stop_reason = "eos"
    window.reading.turn_finished.emit(case, second)
    qtbot.waitUntil(lambda: _stored_answer(case, 0) == "Normal", timeout=10_000)
    window.close()
    wait_for_tasks()

    window = start_window(qtbot, windows)
    recorder(window).reopen(int(case.case.case_id or 0))
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    assert [(t.question, t.answer) for t in window.cases[0].case.thread] == [("Axis?", "Normal")]


def test_deleting_keeps_a_scan_until_its_last_case_goes(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path
) -> None:
    window = start_window(qtbot, windows)
    scan = tilted_scan(tmp_path / "shared.png", 2.0)
    first = open_scan(window, qtbot, scan).case
    second = open_scan(window, qtbot, scan).case
    assert first.case_id != second.case_id and first.source.sha256 == second.source.sha256
    blob = BlobStore(window.paths.blob_dir).path_for(first.source.sha256)
    panel(window).show()
    wait_listed(window, qtbot, "", [second.case_id, first.case_id])

    recorder(window).delete(int(first.case_id or 0))
    wait_listed(window, qtbot, "", [second.case_id])
    assert first.case_id is None  # still open, no longer recorded
    assert blob.exists()
    recorder(window).delete(int(second.case_id or 0))
    wait_listed(window, qtbot, "", [])
    assert not blob.exists()


def test_a_damaged_history_is_moved_aside_and_the_app_keeps_working(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path
) -> None:
    database = app_paths().ensure().database_file
    database.write_bytes(b"this is not a database " * 100)

    window = start_window(qtbot, windows)
    notice = recorder(window).recovery_notice
    moved = next(database.parent.glob("cases.sqlite3.corrupt-*"))
    assert str(moved) in notice
    assert moved.read_bytes() == b"this is not a database " * 100
    qtbot.waitUntil(lambda: _dialog(window, "historyRecoveryDialog") is not None)
    assert str(moved) in _dialog(window, "historyRecoveryDialog").text()

    case = open_scan(window, qtbot, tilted_scan(tmp_path / "after.png", 1.0))
    panel(window).show()
    wait_listed(window, qtbot, "after", [case.case.case_id])
    window.close()
    wait_for_tasks()
    window = start_window(qtbot, windows)  # no loop: the new history is healthy
    assert recorder(window).recovery_notice == ""
    assert len(list(database.parent.glob("cases.sqlite3.corrupt-*"))) == 1


def _stored_answer(case: OpenCase, position: int) -> str:
    """What another reader of the database sees now: the streamed text written so far."""
    uri = f"{app_paths().database_file.as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        row = conn.execute(
            "SELECT answer FROM turns WHERE case_id = ? AND position = ?",
            (case.case.case_id, position),
        ).fetchone()
    return str(row[0]) if row else ""


def stored_turns(case: OpenCase) -> int:
    uri = f"{app_paths().database_file.as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        query = "SELECT count(*) FROM turns WHERE case_id = ?"
        return int(conn.execute(query, (case.case.case_id,)).fetchone()[0])


def _dialog(window: MainWindow, name: str) -> QMessageBox:
    return window.findChild(QMessageBox, name)  # type: ignore[return-value]
