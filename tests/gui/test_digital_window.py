"""Digital recordings in the real window (issue 19): dropped like scans, drawn from the signal,
their facts shown above the page, their study fields proposed, the PDF saying how the page was
made, and a reopened case the same page; a broken record gets the reader's message."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ecgviewer.core.storage import BlobStore
from ecgviewer.gui.exporting import write_pdf_in_background
from ecgviewer.gui.main_window import MainWindow
from tests.gui.conftest import drop_files
from tests.gui.test_history import click, open_scan, panel, start_window, windows

__all__ = ["windows"]  # the fixture, shared with the history tests

DICOM = "digital/dicom/ecgtoolkit_Example.dcm"


def copy_record(shared: Path, folder: Path) -> Path:
    """The PTB-XL record copied into `folder`; its .dat (what the user drops alone)."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".hea", ".dat"):
        shutil.copyfile(shared / "waveforms" / f"ptbxl_00001_lr{suffix}",
                        folder / f"ptbxl_00001_lr{suffix}")  # fmt: skip
    return folder / "ptbxl_00001_lr.dat"


def pdf_text(path: Path) -> str:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext is not installed")
    done = subprocess.run([pdftotext, str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(done.stdout.split())


def test_dicom_and_wfdb_open_with_facts_proposals_and_a_drawn_page_report(
    windows: list[MainWindow], qtbot: QtBot, shared_samples: Path, tmp_path: Path
) -> None:
    window = start_window(qtbot, windows)
    dat = copy_record(shared_samples, tmp_path / "record")
    wfdb_case = open_scan(window, qtbot, dat)  # a .dat dropped alone, its .hea beside it
    facts = window.case_header.facts_label
    assert facts.isVisible()
    assert facts.text().startswith("Drawn from the signal: WFDB · 100 Hz · 10.0 s · 12 leads")
    assert [step["op"] for step in wfdb_case.case.steps] == ["render"]
    assert window.case_header.notes_label.isHidden()  # nothing about corners on a drawn page

    dicom_case = open_scan(window, qtbot, shared_samples / DICOM)
    assert window.current_case() is dicom_case
    assert (
        "DICOM 12-lead ECG Waveform Storage · 500 Hz" in facts.text() and "ELI250" in facts.text()
    )
    form = window.case_header.study_form
    assert form.proposal_bar.isVisible() and "Clark" in form.proposal_label.text()
    assert dicom_case.case.study == {}  # proposed, never filled silently
    click(qtbot, form.fill_button)
    qtbot.waitUntil(lambda: dicom_case.case.study.get("patient_id") == "SBJ-123")
    assert form.edits["name"].text() == "Clark"

    report = tmp_path / "dicom.pdf"
    write_pdf_in_background(window, dicom_case, report, "A4")
    qtbot.waitUntil(lambda: str(report) in dicom_case.case.exported_pdfs, timeout=30_000)
    text = pdf_text(report)
    assert "ECG page drawn from the signal of ecgtoolkit_Example.dcm" in text
    assert "ecgviewer.digital.render v1, layout 3x4+1" in text and "25 mm/s, 10 mm/mV" in text
    assert "Page drawn from the signal, and how" in text

    stored = BlobStore(window.paths.blob_dir).path_for(wfdb_case.case.source.sha256)
    assert stored.read_bytes() == wfdb_case.scan  # the history keeps the drawn page


def test_a_drawn_case_reopens_from_the_history_as_the_same_page(
    windows: list[MainWindow], qtbot: QtBot, shared_samples: Path, tmp_path: Path
) -> None:
    window = start_window(qtbot, windows)
    dat = copy_record(shared_samples, tmp_path / "record")
    case = open_scan(window, qtbot, dat.with_suffix(".hea"))
    pixels, steps, case_id = np.asarray(case.result), case.case.steps, case.case.case_id
    window.close()
    shutil.rmtree(dat.parent)  # the recording is gone; the history has what is needed

    window = start_window(qtbot, windows)
    window.history_panel.toggleViewAction().trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: panel(window).case_ids() == [case_id], timeout=10_000)
    panel(window).select_case(case_id)
    click(qtbot, panel(window).reopen_button)
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    reopened = window.cases[0]
    assert np.array_equal(np.asarray(reopened.result), pixels)
    assert reopened.case.steps == steps
    qtbot.waitUntil(window.case_header.facts_label.isVisible)
    assert "WFDB · 100 Hz" in window.case_header.facts_label.text()


def test_a_header_without_its_data_file_gets_the_readers_message(
    windows: list[MainWindow], qtbot: QtBot, shared_samples: Path, tmp_path: Path
) -> None:
    window = start_window(qtbot, windows)
    header = tmp_path / "ptbxl_00001_lr.hea"
    shutil.copyfile(shared_samples / "waveforms/ptbxl_00001_lr.hea", header)
    drop_files(window, [header])
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None)
    box = window.findChild(QMessageBox, "errorDialog")
    assert "ptbxl_00001_lr.hea" in box.windowTitle()
    assert "needs the data file 00001_lr.dat" in box.text()
    assert "Copy the record's .dat" in box.informativeText()
    assert window.cases == []
