"""The window's size, place and panel widths, kept in QSettings between sessions.

QSettings holds only this kind of thing (and the last folder used); the
settings proper live in `core.settings`. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

from ecgviewer.core.paths import AppPaths

DEFAULT_SIZE = (1400, 880)


def ui_state(paths: AppPaths) -> QSettings:
    """The window's own QSettings file (window.ini in the config folder)."""
    return QSettings(str(paths.config_dir / "window.ini"), QSettings.Format.IniFormat)


def restore_layout(window: QMainWindow, splitter: QSplitter, state: QSettings) -> None:
    """Put the window and its splitter back as they were; a first start gets the default size."""
    geometry = state.value("geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_SIZE)
    widths = state.value("splitter")
    if widths is not None:
        splitter.restoreState(widths)


def save_layout(window: QMainWindow, splitter: QSplitter, state: QSettings) -> None:
    """Remember the window's geometry and the splitter, written to disk at once."""
    state.setValue("geometry", window.saveGeometry())
    state.setValue("splitter", splitter.saveState())
    state.sync()
