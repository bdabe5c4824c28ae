"""Interpretation in the window with the small real model: stream, stop, again, export.

The model's text is meaningless; the tests assert on what the user sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader
from pytestqt.qtbot import QtBot

from ecgviewer.core.settings import ModelSettings
from ecgviewer.gui.exporting import write_pdf_in_background
from ecgviewer.gui.interpretation_panel import NOT_ECG_LABEL
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.reading import reading_status
from tests.gui.conftest import drop_files
from tests.gui.test_history import stored_turns
from tests.gui.test_main_window import tilted_scan
from tests.support import models

pytestmark = pytest.mark.slow


def load_small_model(window: MainWindow, qtbot: QtBot, max_tokens: int) -> None:
    settings = ModelSettings(n_ctx=1024, max_tokens=max_tokens, n_threads=2)
    window.load_model(str(models.text_model_path()), str(models.projector_path()), settings)
    qtbot.waitUntil(window.panel.interpret_button.isEnabled, timeout=60_000)


def test_interpret_stream_stop_again_and_export(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    drop_files(window, [tilted_scan(tmp_path / "scan.png", 4.0)])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    statuses: list[str] = []
    window.reading.status_changed.connect(statuses.append)
    load_small_model(window, qtbot, max_tokens=300)
    # the image is read speculatively as soon as the model is there
    qtbot.waitUntil(lambda: window.panel.status_label.text().startswith("Ready"), timeout=60_000)
    # the GUI thread told each stage while the owner thread loaded and read: progress first,
    # then the read ahead, then ready
    loading = next(i for i, s in enumerate(statuses) if s.startswith(("Loading", "Checking")))
    reading = next(i for i, s in enumerate(statuses) if s.startswith("Reading image..."))
    assert loading < reading < len(statuses) - 1, statuses
    assert statuses[-1].startswith("Ready"), statuses
    assert window.panel.draft_label.text() == NOT_ECG_LABEL  # a test model, not an ECG model
    assert window.settings.model.text_path == str(models.text_model_path())  # shown next time
    assert window.settings.model.mmproj_path == str(models.projector_path())

    events: list[tuple[str, str]] = []  # what the controller told, in order
    window.reading.turn_text.connect(lambda _c, _t, text: events.append(("text", text)))
    window.reading.turn_finished.connect(lambda _c, turn: events.append(("finished", "")))
    window.panel.interpret_button.click()
    assert window.panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: len(window.cases[0].case.thread[0].answer) > 20, timeout=240_000)
    assert "Generating" in window.panel.status_label.text()
    window.panel.stop_button.click()
    qtbot.waitUntil(lambda: window.panel.status_label.text() == "Stopped", timeout=10_000)
    stopped_text = window.cases[0].case.thread[0].answer
    assert events[-1] == ("finished", "")  # the answer shown is all the text told before it
    assert "".join(text for kind, text in events[:-1]) == stopped_text
    assert window.cases[0].case.thread[0].stop_reason == "cancelled"
    assert window.cases[0].case.thread[0].timings.image_encode_ms == 0.0  # prepared before
    window.panel.render_now()
    assert "Stopped by the user - incomplete" in window.panel.thread_text()

    window.panel.question_edit.setPlainText("What is the heart rate?")
    window.panel.interpret_button.click()  # a follow-up in the same thread
    # bounded by max_tokens; generous for a loaded machine (about 10 s when idle)
    done = lambda: window.panel.status_label.text().startswith("Done in")  # noqa: E731
    qtbot.waitUntil(done, timeout=300_000)
    thread = window.cases[0].case.thread
    assert len(thread) == 2 and thread[1].answer
    # a late token of the stopped answer would have come before the follow-up's events
    assert thread[0].answer == stopped_text  # nothing was added after Stop
    assert thread[0].finished_at <= thread[1].started_at <= thread[1].finished_at
    assert thread[1].provenance is not None and len(thread[1].provenance.model.sha256) == 64
    assert thread[1].timings.first_token_ms and thread[1].timings.first_token_ms > 0

    replaced = thread[1]
    window.panel.regenerate_button.click()  # a new answer to the follow-up replaces the old
    qtbot.waitUntil(lambda: not window.reading.busy and done(), timeout=300_000)
    thread = window.cases[0].case.thread
    assert len(thread) == 2 and thread[1] is not replaced
    assert thread[1].question == "What is the heart rate?"
    # the stored conversation is the one on screen, not the discarded answer besides it
    qtbot.waitUntil(lambda: stored_turns(window.cases[0]) == 2, timeout=10_000)

    target = tmp_path / "report.pdf"
    write_pdf_in_background(window, window.cases[0], target, "A4")
    qtbot.waitUntil(lambda: bool(window.cases[0].case.exported_pdfs), timeout=30_000)
    assert target.exists()
    text = "".join(page.extract_text() for page in PdfReader(target).pages)
    assert "What is the heart rate?" in text
    assert str(target) in window.cases[0].case.exported_pdfs


def test_closing_the_window_while_generating_stops_cleanly(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    drop_files(window, [tilted_scan(tmp_path / "scan.png", 0.0)])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    load_small_model(window, qtbot, max_tokens=400)
    window.panel.interpret_button.click()
    qtbot.waitUntil(lambda: len(window.cases[0].case.thread[0].answer) > 5, timeout=240_000)
    pid = window.model.owner.runtime.worker_pid
    assert pid is not None
    window.close()  # returns once the owner thread and the worker are stopped
    assert not window.model.thread.isRunning()
    assert window.model.owner.runtime.worker_pid is None  # the worker process is gone


def test_reading_status_counts_down_only_with_a_measured_estimate() -> None:
    assert reading_status(10.2, 52_000.0) == "Reading image... about 42 s left"
    assert reading_status(3.0, 0.0) == "Reading image... 3 s so far"  # first read: no guess
    assert reading_status(60.0, 52_000.0) == "Reading image... 60 s so far"  # slower than before
