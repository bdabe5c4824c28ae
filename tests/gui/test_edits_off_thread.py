"""Edits are new case values swapped in when ready, and large images never reach the GUI
thread at full size: a failed edit changes nothing; a 48-megapixel photo is shown, switched
and listed from screen-sized copies made on a pool thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ecgviewer.core import workspace
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.previews import SCREEN_PX
from tests.gui.conftest import drop_files
from tests.gui.test_main_window import tilted_scan

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
PHOTO = PHOTOS / "p2p_00012_wood_desk_perspective.jpg"


def open_one(window: MainWindow, qtbot: QtBot, path: Path) -> None:
    drop_files(window, [path])
    qtbot.waitUntil(lambda: len(window.cases) == 1 and window.view.has_image(), timeout=60_000)


def test_a_failed_edit_changes_nothing(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_one(window, qtbot, tilted_scan(tmp_path / "scan.png", 3.0))
    case = window.cases[0]
    qtbot.waitUntil(lambda: case.case.case_id is not None)  # stored: its times are final
    steps, updated_at = [dict(step) for step in case.case.steps], case.case.updated_at
    previews, shown = window._open.previews(case), window.view.image_size()

    def broken_encoder(_image: Image.Image) -> bytes:
        raise OSError("disk full")  # the model input cannot be encoded

    monkeypatch.setattr(workspace, "png_bytes", broken_encoder)
    window.findChild(QAction, "edit_right").trigger()  # a quarter turn: rendered, then encoded
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "bugDialog") is not None)  # told
    assert window.cases[0] is case and window.current_case() is case
    assert case.case.steps == steps and case.case.updated_at == updated_at
    assert not any(step.op == "rotate90" for step in case.image.steps)
    assert window._open.previews(case) is previews and window.view.image_size() == shown


def test_a_48_megapixel_photo_is_shown_from_screen_sized_copies_made_off_thread(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    photo = tmp_path / "phone-48mp.jpg"
    with Image.open(PHOTO) as image:
        image.convert("RGB").resize((8400, 5712)).save(photo, quality=90)
    open_one(window, qtbot, photo)
    case = window.cases[0]
    previews = window._open.previews(case)  # what the view and the strip were given
    assert previews is not None
    gui = threading.current_thread().name
    assert all(view.thread != gui for view in previews.views)
    for index in (0, 2, 1):  # view switches
        window.view_buttons.button(index).click()
        full = (case.original, case.result, case.model_input())[index].size
        assert window.view.image_size() == full  # handles and zoom speak in full pixels
        assert max(window.view.shown_pixels()) <= SCREEN_PX  # but a screen-sized copy is shown
    assert case.original.size == (8400, 5712)
    assert max(previews.thumbnail.width(), previews.thumbnail.height()) <= 220
    icon = window.case_list.item(0).icon()
    assert not icon.isNull()
