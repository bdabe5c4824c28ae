"""The window when the inference engine dies: told at once, restarted once, nothing lost.

The worker is killed with SIGSEGV (what llama.cpp's AMX bug sends) at a moment
chosen by the phase the worker publishes; a test-only hook slows the image read
so that moment can be hit.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ecgviewer.core.inference.crash import Phase
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import ModelSettings
from ecgviewer.gui.main_window import MainWindow
from tests.gui.conftest import drop_files
from tests.gui.test_main_window import tilted_scan
from tests.support import models, worker_hooks

pytestmark = pytest.mark.slow


def load(window: MainWindow, qtbot: QtBot, **changes: object) -> None:
    settings = ModelSettings(n_ctx=1024, max_tokens=24, n_threads=2)
    for key, value in changes.items():
        setattr(settings, key, value)
    window.load_model(str(models.text_model_path()), str(models.projector_path()), settings)
    qtbot.waitUntil(window.panel.interpret_button.isEnabled, timeout=60_000)


def kill_worker(window: MainWindow) -> None:
    pid = window.model.owner.runtime.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGSEGV)


def status(window: MainWindow) -> str:
    return window.panel.status_label.text()


def test_a_crash_while_reading_the_image_is_shown_within_a_second_and_the_engine_restarts(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker_hooks.install(monkeypatch, "slow_image_read")
    drop_files(window, [tilted_scan(tmp_path / "scan.png", 3.0)])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    load(window, qtbot)
    runtime = window.model.owner.runtime
    qtbot.waitUntil(lambda: runtime.phase is Phase.READING_IMAGE, timeout=20_000)
    assert "Reading image" in status(window)
    kill_worker(window)
    # the countdown stops and the cause is named within a second, whatever was awaited
    qtbot.waitUntil(
        lambda: (
            "stopped unexpectedly while reading the image (segmentation fault)" in status(window)
        ),
        timeout=1000,
    )
    assert not window.panel.interpret_button.isEnabled()
    qtbot.waitUntil(window.panel.interpret_button.isEnabled, timeout=60_000)  # restarted
    note = window.panel.engine_note.text()
    assert note.endswith("ECG Viewer restarted it.") and window.panel.engine_note.isVisible()
    assert "No model is loaded" not in status(window)
    window.panel.request_interpretation()
    qtbot.waitUntil(lambda: status(window).startswith("Done in"), timeout=60_000)
    assert window.cases[0].case.thread[-1].stop_reason in ("eos", "length")


def test_a_crash_while_writing_keeps_the_partial_answer_marked_incomplete(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    drop_files(window, [tilted_scan(tmp_path / "scan.png", 3.0)])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    load(window, qtbot, max_tokens=400)
    window.panel.question_edit.setPlainText("Write a long essay.")
    window.panel.request_interpretation()
    case = window.cases[0]
    qtbot.waitUntil(lambda: len(case.case.thread[-1].answer) > 10, timeout=60_000)
    kill_worker(window)
    qtbot.waitUntil(
        lambda: (
            "stopped unexpectedly while writing the answer (segmentation fault)" in status(window)
        ),
        timeout=1000,
    )
    turn = case.case.thread[-1]
    qtbot.waitUntil(lambda: turn.stop_reason == "failed", timeout=10_000)  # the owner's news
    assert turn.answer  # kept, marked incomplete
    qtbot.waitUntil(lambda: "Failed - incomplete" in window.panel.thread_view.toPlainText())
    assert window.findChild(QMessageBox, "errorDialog") is None  # no modal dialog per crash
    qtbot.waitUntil(window.panel.interpret_button.isEnabled, timeout=60_000)
    qtbot.waitUntil(lambda: _stored(case.case.case_id) == [("failed", True)], timeout=10_000)
    window.panel.question_edit.setPlainText("Once more, briefly.")
    window.panel.request_interpretation()  # the restarted worker reloads and reads the image
    again = case.case.thread[-1]
    assert again.question == "Once more, briefly."
    qtbot.waitUntil(lambda: len(again.answer) > 10, timeout=180_000)  # it answers again
    window.reading.stop()  # no need to wait for 400 tokens on a loaded machine
    qtbot.waitUntil(lambda: again.stop_reason == "cancelled", timeout=60_000)


def _stored(case_id: object) -> list[tuple[str, bool]]:
    """(stop reason, has text) of each stored turn of the case, from the history database."""
    uri = f"{app_paths().database_file.as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        rows = conn.execute(
            "SELECT stop_reason, answer FROM turns WHERE case_id = ? ORDER BY position",
            (case_id,),
        ).fetchall()
    return [(str(reason), bool(answer)) for reason, answer in rows]


def test_a_refused_setting_is_said_next_to_the_reading(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    """Repacking on: applied where safe; on a CPU where llama.cpp uses AMX, refused and said."""
    drop_files(window, [tilted_scan(tmp_path / "scan.png", 3.0)])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    load(window, qtbot, repack_weights=True)
    machine = window.model.owner.runtime.machine
    assert machine is not None
    note = window.panel.engine_note
    if machine.has_amx:
        assert note.isVisible()
        assert "Weight repacking was not applied" in note.text()
        assert "AMX path crashes with Q4_K weights" in note.text()
    else:
        assert not note.isVisible()
    window.panel.request_interpretation()
    qtbot.waitUntil(lambda: status(window).startswith("Done in"), timeout=60_000)
    decoding = window.cases[0].case.thread[-1].decoding
    assert decoding is not None and decoding.machine and decoding.buffer_types
    assert decoding.repack_weights is not machine.has_amx


def test_a_worker_that_dies_while_idle_is_shown_at_once_and_restarted(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    """Nobody reads the pipe: the process sentinel tells, the owner restarts, Interpret works."""
    drop_files(window, [tilted_scan(tmp_path / "scan.png", 3.0)])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    load(window, qtbot)
    qtbot.waitUntil(lambda: status(window).startswith("Ready"), timeout=30_000)  # image read
    kill_worker(window)
    qtbot.waitUntil(
        lambda: (
            "stopped unexpectedly while waiting for a request (segmentation fault)"
            in status(window)
        ),
        timeout=1000,
    )
    qtbot.waitUntil(lambda: "ECG Viewer restarted it." in window.panel.engine_note.text(),
                    timeout=60_000)  # fmt: skip
    qtbot.waitUntil(window.panel.interpret_button.isEnabled, timeout=60_000)
    window.panel.request_interpretation()
    qtbot.waitUntil(lambda: status(window).startswith("Done in"), timeout=60_000)
