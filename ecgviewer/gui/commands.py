"""The window's action registry: what each menu item does, by name (`menus.build_menus`).

Each command goes straight to the part that does it (the view zooms, the
reading stops, the model owner unloads); only what the window itself
coordinates (opening, exporting, switching views) goes through `WindowActions`.
GUI thread only.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Protocol

from PySide6.QtWidgets import QMessageBox, QWidget

from ecgviewer import DISCLAIMER, __version__
from ecgviewer.gui.case_header import CaseHeader
from ecgviewer.gui.case_strip import CaseStripView
from ecgviewer.gui.ecg_view import EcgView
from ecgviewer.gui.interpretation_panel import InterpretationPanel
from ecgviewer.gui.menus import Command
from ecgviewer.gui.model_control import ModelControl
from ecgviewer.gui.model_owner import ModelOwner
from ecgviewer.gui.reading import ReadingController
from ecgviewer.gui.view_switcher import VIEWS


class WindowActions(Protocol):
    """What the window does for its menus."""

    def choose_files(self) -> None: ...
    def export_current(self, *, identifiers: bool = True) -> None: ...
    def print_current(self) -> None: ...
    def close_current(self) -> None: ...
    def close(self) -> bool: ...
    def show_model_dialog(self, dropped: list[Path] | None = None) -> None: ...
    def show_evaluate_dialog(self) -> None: ...
    def show_view(self, index: int) -> None: ...
    def show_about(self) -> None: ...


def menu_commands(
    window: WindowActions, *, view: EcgView, strip: CaseStripView, header: CaseHeader,
    panel: InterpretationPanel, reading: ReadingController, owner: ModelOwner,
    models: ModelControl,
) -> dict[str, Command]:  # fmt: skip
    """The registry the menus are built from."""
    commands: dict[str, Command] = {
        "open": window.choose_files, "export": window.export_current,
        "export_without_identifiers": partial(window.export_current, identifiers=False),
        "print": window.print_current, "close_case": window.close_current, "quit": window.close,
        "study_fields": header.study_form.focus_first,
        "choose_model": window.show_model_dialog, "interpret": panel.request_interpretation,
        "stop": reading.stop, "unload_model": owner.unload_requested.emit,
        "import_model": partial(models.show_import_dialog, None),
        "inference_server": models.show_server_dialog,
        "evaluate": window.show_evaluate_dialog, "about": window.show_about,
        "zoom_in": view.zoom_in, "zoom_out": view.zoom_out, "fit": view.fit,
        "actual_size": view.actual_size, "next_case": partial(strip.step, 1),
        "previous_case": partial(strip.step, -1),
    }  # fmt: skip
    for index in range(len(VIEWS)):
        commands[f"show_view_{index}"] = partial(window.show_view, index)
    return commands


def show_about(parent: QWidget) -> None:
    """Help > About: the version and the research-use notice."""
    QMessageBox.about(
        parent, "About ECG Viewer",
        f"<h3>ECG Viewer {__version__}</h3><p>Offline AI-assisted reading of scanned "
        "12-lead ECGs with a local MedGemma-ECG model.</p>"
        f"<p><b>Research use only.</b> {DISCLAIMER}; not a diagnosis.</p>",
    )  # fmt: skip
