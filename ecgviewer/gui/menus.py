"""The main window's menus, with the standard roles macOS expects (About, Preferences, Quit).

The menus get an action registry (`commands`: what each item does, by name),
the edit bar's actions and the history panel's toggle; they never see the
window. What they return (`Menus`) is what the window keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

Shortcut = QKeySequence | QKeySequence.StandardKey | str
Key = QKeySequence.StandardKey
Command = Callable[[], object]
VIEW_NAMES = ("original", "straightened", "model input")


@dataclass(frozen=True)
class Menus:
    """What the window keeps of its menus."""

    recent: QMenu  # File > Open Recent, filled by `fill_recent_menu`


def add_action(menu: QMenu, text: str, slot: Command,
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


def build_menus(bar: QMenuBar, commands: Mapping[str, Command], edit_actions: Sequence[QAction],
                history_toggle: QAction) -> Menus:  # fmt: skip
    """File, Edit, View, Model, Settings and Help; `commands` names what each item does."""
    c = commands
    recent = _file_menu(c, bar.addMenu("&File"))
    edit = bar.addMenu("&Edit")
    edit.addActions(list(edit_actions))
    edit.addSeparator()
    add_action(edit, "Patient and &study fields", c["study_fields"], "Ctrl+I")
    add_action(edit, "&Preferences...", c["choose_model"], Key.Preferences,
               QAction.MenuRole.PreferencesRole)  # fmt: skip
    _view_menu(c, bar.addMenu("&View"), history_toggle)
    model = bar.addMenu("&Model")
    add_action(model, "&Choose model...", c["choose_model"], "Ctrl+M")
    add_action(model, "&Interpret", c["interpret"], "Ctrl+Return")
    add_action(model, "&Stop", c["stop"], "Esc")
    add_action(model, "&Unload model", c["unload_model"])
    add_action(model, "&Import from a Hugging Face folder...", c["import_model"])
    model.addSeparator()
    add_action(model, "&Evaluate on a labelled set...", c["evaluate"])
    settings = bar.addMenu("&Settings")
    add_action(settings, "&Inference server...", c["inference_server"])
    help_menu = bar.addMenu("&Help")
    add_action(help_menu, "&About ECG Viewer", c["about"], None, QAction.MenuRole.AboutRole)
    return Menus(recent)


def fill_recent_menu(menu: QMenu, paths: Sequence[str], open_path: Callable[[Path], None]) -> None:
    """File > Open Recent: one item per path, most recent first."""
    menu.clear()
    for path in paths:
        action = menu.addAction(Path(path).name)
        action.setToolTip(path)
        action.triggered.connect(lambda _=False, p=path: open_path(Path(p)))
    menu.setEnabled(bool(paths))


def _file_menu(c: Mapping[str, Command], file: QMenu) -> QMenu:
    add_action(file, "&Open...", c["open"], Key.Open)
    recent = file.addMenu("Open &Recent")
    file.addSeparator()
    add_action(file, "&Export PDF report...", c["export"], "Ctrl+E")
    add_action(file, "Export PDF &without identifiers...", c["export_without_identifiers"],
               "Ctrl+Shift+E")  # fmt: skip
    add_action(file, "&Print...", c["print"], Key.Print)
    add_action(file, "&Close case", c["close_case"], Key.Close)
    file.addSeparator()
    add_action(file, "&Quit", c["quit"], Key.Quit, QAction.MenuRole.QuitRole)
    return recent


def _view_menu(c: Mapping[str, Command], view: QMenu, history_toggle: QAction) -> None:
    add_action(view, "Zoom &in", c["zoom_in"], Key.ZoomIn)
    add_action(view, "Zoom &out", c["zoom_out"], Key.ZoomOut)
    add_action(view, "&Fit to window", c["fit"], "Ctrl+0")
    add_action(view, "&Actual size (1:1)", c["actual_size"], "Ctrl+1")
    view.addSeparator()
    for index, name in enumerate(VIEW_NAMES):
        add_action(view, f"Show {name}", c[f"show_view_{index}"], f"Alt+{index + 1}")
    view.addSeparator()
    add_action(view, "&Next case", c["next_case"], "Ctrl+PgDown")
    add_action(view, "&Previous case", c["previous_case"], "Ctrl+PgUp")
    view.addSeparator()
    view.addAction(history_toggle)  # History, Ctrl+H
