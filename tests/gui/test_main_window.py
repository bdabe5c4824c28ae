"""The real window, driven like a user: open, drop, look, edit, read the messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ecgviewer.core.imaging.synthetic import render
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import Settings
from ecgviewer.gui.application import build_main_window
from ecgviewer.gui.main_window import MainWindow
from tests.gui.conftest import drop_files


def tilted_scan(path: Path, angle: float = 6.0) -> Path:
    sheet = render(width_px=1400).image
    sheet.rotate(angle, expand=True, fillcolor=(255, 255, 255)).save(path)
    return path


def grab_array(widget: object) -> np.ndarray:
    image = widget.grab().toImage()  # type: ignore[attr-defined]
    image = image.convertToFormat(image.Format.Format_RGB888)
    data = np.frombuffer(bytes(image.constBits()), np.uint8)
    return data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]


def test_first_start_shows_the_sample_and_no_model_panel(
    qtbot: QtBot, tmp_path: Path, qapp: object
) -> None:
    win = build_main_window([], app_paths().ensure(), Settings(disclaimer_acknowledged=True))
    win.resize(1400, 880)
    win.show()
    try:
        qtbot.waitUntil(lambda: len(win.cases) == 1, timeout=15_000)
        assert win.cases[0].case.source.name == "sample-ecg.png"
        assert "No model is loaded" in win.panel.thread_text()
        assert "models/README.md" in win.panel.thread_text()
        assert not win.panel.interpret_button.isEnabled()
        shot = tmp_path / "window.png"
        assert win.grab().save(str(shot))
        pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
        assert pixels.std() > 20  # not a blank or single-colour grab
        view = grab_array(win.view)
        pink = (view[:, 0::3] > 200) & (view[:, 1::3] < 225) & (view[:, 2::3] < 225)
        assert pink.mean() > 0.01  # the grid paper of the sample is on screen
    finally:
        win.close()


def test_dropped_scan_is_straightened_and_preview_is_the_model_input(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    drop_files(window, [tilted_scan(tmp_path / "tilted.png")])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    case = window.cases[0]
    deskew = [s for s in case.image.steps if s.op == "deskew"]
    assert deskew and abs(abs(deskew[0].params["angle_deg"]) - 6.0) < 0.5
    assert "deskew" in window.view_hint.text()
    window.view_buttons.button(2).click()
    assert window.view.image_size() == case.model_input().size == (896, 896)
    assert "Exactly what the model receives" in window.view_hint.text()
    window.view_buttons.button(0).click()
    assert window.view.image_size() == case.original.size


def test_broken_file_gets_a_message_and_the_others_still_open(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    good = tilted_scan(tmp_path / "good.png", 0.0)
    drop_files(window, [broken, good])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None)
    box = window.findChild(QMessageBox, "errorDialog")
    assert "broken.png" in box.windowTitle()
    assert box.text()  # a sentence, not a traceback
    assert "Traceback" not in box.text() + box.informativeText()
    assert window.cases[0].case.source.name == "good.png"


def test_edits_are_recorded_and_reach_the_model_input(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    drop_files(window, [tilted_scan(tmp_path / "scan.png", 3.0)])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    before_png = window.cases[0].model_png()

    window.edit_bar.start_crop()
    qtbot.waitUntil(window.view.editing, timeout=20_000)  # the crop preview is made off-thread
    width, height = window.view.image_size()
    window.view.move_handle(0, width * 0.25, height * 0.25)  # drag the top-left corner
    window.edit_bar.apply_editing()
    qtbot.waitUntil(lambda: any(s.op == "crop" and s.source == "manual"
                                for s in window.cases[0].image.steps), timeout=20_000)  # fmt: skip
    cropped = window.cases[0]
    assert cropped.model_png() != before_png
    assert cropped.case.steps == cropped.image.steps_json()  # recorded in the case

    window.edit_bar.angle_box.setValue(1.5)
    window.edit_bar.angle_box.editingFinished.emit()
    qtbot.waitUntil(lambda: any(s.op == "deskew" and s.params["angle_deg"] == 1.5
                                for s in window.cases[0].image.steps), timeout=20_000)  # fmt: skip

    window.edit_bar._actions["original"].trigger()
    qtbot.waitUntil(lambda: not window.cases[0].image.steps, timeout=20_000)
    assert window.cases[0].result.size == window.cases[0].original.size
