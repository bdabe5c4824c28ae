"""Fixtures for driving the real main window offscreen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import Settings
from ecgviewer.gui.application import create_application
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.tasks import wait_for_tasks


@pytest.fixture
def window(qapp: QApplication, qtbot: object) -> Iterator[MainWindow]:
    create_application([])
    paths = app_paths().ensure()
    win = MainWindow(paths, Settings(disclaimer_acknowledged=True))
    win.resize(1400, 880)
    win.show()
    yield win
    win.close()
    wait_for_tasks()


def drop_files(target: MainWindow, files: list[Path]) -> None:
    """What the window receives when files are dropped on it."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    event = QDropEvent(
        QPointF(300, 300), Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    target.dropEvent(event)
