"""The main window's menus, with the standard roles macOS expects (About, Preferences, Quit)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from ecgviewer.gui.main_window import MainWindow

Shortcut = QKeySequence | QKeySequence.StandardKey | str
Key = QKeySequence.StandardKey
VIEW_NAMES = ("original", "straightened", "model input")


def add_action(menu: QMenu, text: str, slot: Callable[[], object],
               shortcut: Shortcut | None = None,
               role: QAction.MenuRole | None = None) -> QAction:  # fmt: skip
    """Add an action to `menu` (owned by the menu) and connect it."""
    action = QAction(text, menu)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if role is not None:
        action.setMenuRole(role)
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(window: MainWindow) -> None:
    """File, Edit, View, Model and Help."""
    bar = window.menuBar()
    _file_menu(window, bar.addMenu("&File"))
    edit = bar.addMenu("&Edit")
    window.edit_bar.add_actions(edit)
    edit.addSeparator()
    add_action(
        edit, "Patient and &study fields", window.case_header.study_form.focus_first, "Ctrl+I"
    )
    add_action(edit, "&Preferences...", window.show_model_dialog, Key.Preferences,
               QAction.MenuRole.PreferencesRole)  # fmt: skip
    _view_menu(window, bar.addMenu("&View"))
    model = bar.addMenu("&Model")
    add_action(model, "&Choose model...", window.show_model_dialog, "Ctrl+M")
    add_action(model, "&Interpret", window.interpret_from_menu, "Ctrl+Return")
    add_action(model, "&Stop", window.reading.stop, "Esc")
    add_action(model, "&Unload model", window.model.owner.unload_requested.emit)
    add_action(model, "&Import from a Hugging Face folder...",
               lambda: window.model_control.show_import_dialog(None))  # fmt: skip
    model.addSeparator()
    add_action(model, "&Evaluate on a labelled set...", window.show_evaluate_dialog)
    help_menu = bar.addMenu("&Help")
    add_action(help_menu, "&About ECG Viewer", window.show_about, None,
               QAction.MenuRole.AboutRole)  # fmt: skip


def _file_menu(window: MainWindow, file: QMenu) -> None:
    add_action(file, "&Open...", window.choose_files, Key.Open)
    window.recent_menu = file.addMenu("Open &Recent")
    window.fill_recent_menu()
    file.addSeparator()
    window.export_action = add_action(file, "&Export PDF report...", window.export_current,
                                      "Ctrl+E")  # fmt: skip
    add_action(file, "Export PDF &without identifiers...",
               lambda: window.export_current(identifiers=False), "Ctrl+Shift+E")  # fmt: skip
    window.print_action = add_action(file, "&Print...", window.print_current, Key.Print)
    add_action(file, "&Close case", window.close_current, Key.Close)
    file.addSeparator()
    add_action(file, "&Quit", window.close, Key.Quit, QAction.MenuRole.QuitRole)


def _view_menu(window: MainWindow, view: QMenu) -> None:
    add_action(view, "Zoom &in", window.view.zoom_in, Key.ZoomIn)
    add_action(view, "Zoom &out", window.view.zoom_out, Key.ZoomOut)
    add_action(view, "&Fit to window", window.view.fit, "Ctrl+0")
    add_action(view, "&Actual size (1:1)", window.view.actual_size, "Ctrl+1")
    view.addSeparator()
    for index, name in enumerate(VIEW_NAMES):
        add_action(view, f"Show {name}", partial(window.show_view, index), f"Alt+{index + 1}")
    view.addSeparator()
    add_action(view, "&Next case", partial(window.step_case, 1), "Ctrl+PgDown")
    add_action(view, "&Previous case", partial(window.step_case, -1), "Ctrl+PgUp")
    view.addSeparator()
    view.addAction(window.history_panel.toggleViewAction())  # History, Ctrl+H
