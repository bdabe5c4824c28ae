"""The study form in the real window: typed once, kept, found, reopened, printed, withheld."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from ecgviewer.gui.main_window import MainWindow
from tests.core.report.samples import pages_text
from tests.gui.test_history import click, open_scan, panel, search, start_window, windows
from tests.gui.test_main_window import tilted_scan

__all__ = ["windows"]  # the fixture, shared with the history tests

TYPED = {  # typed into the form, field by field, as a clinician would
    "name": "Testperson, Greta",
    "patient_id": "MRN-77123",
    "date_of_birth": "1961-04-23",
    "acquisition_date": "2026-11-29 09:41",
    "referring_clinician": "Dr Example",
    "indication": "Palpitations",
    "comment": "Clinic 4B",
}
PDFS = Path(__file__).resolve().parents[2].parent / "shared" / "ecg-samples" / "pdf"


def flat(text: str) -> str:
    return " ".join(text.split())


def type_study(window: MainWindow, qtbot: QtBot) -> None:
    form = window.case_header.study_form
    for key, value in TYPED.items():
        qtbot.keyClicks(form.edits[key], value)
    qtbot.keyClick(form.sex_box, Qt.Key.Key_Down)  # "-" -> "F - female"


def export(window: MainWindow, qtbot: QtBot, target: Path, *, identifiers: bool,
           monkeypatch: pytest.MonkeyPatch) -> str:  # fmt: skip
    """File > Export (with or without identifiers); page 1's text."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(target), ""))
    window.export_current(identifiers=identifiers)
    qtbot.waitUntil(target.exists, timeout=30_000)
    return flat(pages_text(target)[0])


def test_typed_fields_are_kept_found_reopened_and_printed_on_page_one(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = start_window(qtbot, windows)
    case = open_scan(window, qtbot, tilted_scan(tmp_path / "ecg-0815.png", 3.0))
    type_study(window, qtbot)
    qtbot.waitUntil(lambda: case.case.study == {**TYPED, "sex": "F"})
    page_one = export(window, qtbot, tmp_path / "with.pdf", identifiers=True,
                      monkeypatch=monkeypatch)  # fmt: skip
    for value in TYPED.values():
        assert value in page_one
    page_one = export(window, qtbot, tmp_path / "without.pdf", identifiers=False,
                      monkeypatch=monkeypatch)  # fmt: skip
    assert not [value for value in TYPED.values() if value in page_one]
    assert "Exported without identifiers" in page_one and "ecg-0815" not in page_one
    window.close()

    window = start_window(qtbot, windows)  # the next start of the app
    window.history_panel.toggleViewAction().trigger()  # type: ignore[attr-defined]
    assert search(window, qtbot, "testperson") == [case.case.case_id]
    panel(window).select_case(case.case.case_id)
    click(qtbot, panel(window).reopen_button)
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    form = window.case_header.study_form
    assert {key: form.edits[key].text() for key in TYPED} == TYPED
    assert form.sex_box.currentData() == "F"
    form.edits["comment"].clear()  # editable later, saved again
    qtbot.keyClicks(form.edits["comment"], "Reviewed")
    qtbot.waitUntil(lambda: window.cases[0].case.study.get("comment") == "Reviewed")


def test_a_value_that_does_not_fit_is_kept_as_typed_and_marked(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path
) -> None:
    window = start_window(qtbot, windows)
    case = open_scan(window, qtbot, tilted_scan(tmp_path / "scan.png", 2.0))
    edit = window.case_header.study_form.edits["date_of_birth"]
    qtbot.keyClicks(edit, "23/04/61")
    qtbot.waitUntil(lambda: case.case.study == {"date_of_birth": "23/04/61"})
    assert edit.property("invalid") is True and "1961-04-23" in edit.toolTip()


def test_fields_a_cart_pdf_carries_are_proposed_and_filled_in_with_one_click(
    windows: list[MainWindow], qtbot: QtBot
) -> None:
    if not (PDFS / "schiller_1282423.pdf").exists():
        pytest.skip("shared ECG samples are not available here")
    window = start_window(qtbot, windows)
    case = open_scan(window, qtbot, PDFS / "schiller_1282423.pdf")
    form = window.case_header.study_form
    assert form.proposal_bar.isVisible() and "test testmann" in form.proposal_label.text()
    assert case.case.study == {} and form.edits["name"].text() == ""  # never filled silently
    click(qtbot, form.fill_button)
    qtbot.waitUntil(lambda: case.case.study.get("patient_id") == "1282423")
    assert form.edits["name"].text() == "test testmann" and form.sex_box.currentData() == "M"
    assert not form.proposal_bar.isVisible()
