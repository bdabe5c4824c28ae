"""The main window: case strip, ECG view, Interpretation panel, menus and drops.

A composition: the parts live in their own modules (`case_strip`,
`view_switcher`, `commands`, `model_control`, `window_layout`, ...) and the
window wires them to each other and to the core, and keeps which case is
current. Decoding, preprocessing, model work and exports all run off the GUI
thread (run_task, or the model owner's thread).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ecgviewer import DISCLAIMER
from ecgviewer.core.digital.case_page import DIGITAL_SUFFIXES, one_per_record
from ecgviewer.core.errors import EcgViewerError, InputError, StorageError
from ecgviewer.core.imaging.loading import supported_suffixes
from ecgviewer.core.paths import AppPaths, resources_dir
from ecgviewer.core.settings import ModelSettings, Settings, save_settings
from ecgviewer.core.workspace import OpenCase, open_case
from ecgviewer.gui import commands
from ecgviewer.gui.case_header import CaseHeader
from ecgviewer.gui.case_strip import CaseStripView
from ecgviewer.gui.ecg_view import EcgView
from ecgviewer.gui.edit_bar import EditBar
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.evaluate_dialog import EvaluateDialog
from ecgviewer.gui.exporting import export_pdf, print_case
from ecgviewer.gui.history_panel import HistoryPanel, show_recovery_notice
from ecgviewer.gui.history_recorder import HistoryRecorder
from ecgviewer.gui.interpretation_panel import InterpretationPanel
from ecgviewer.gui.menus import build_menus, fill_recent_menu
from ecgviewer.gui.model_control import ModelControl
from ecgviewer.gui.model_owner import ModelThread
from ecgviewer.gui.open_cases import OpenCases
from ecgviewer.gui.previews import Previews, prepare_previews, with_previews
from ecgviewer.gui.reading import ReadingController
from ecgviewer.gui.tasks import run_task
from ecgviewer.gui.view_switcher import STRAIGHTENED, ViewSwitcherBar
from ecgviewer.gui.window_layout import restore_layout, save_layout, ui_state

log = logging.getLogger(__name__)
MAX_RECENT = 10


class MainWindow(QMainWindow):
    """The ECG Viewer window."""

    case_opened = Signal(object)  # OpenCase newly shown: opened from a file or from the history
    case_changed = Signal(object)  # OpenCase whose steps, notes, study or exported PDFs changed
    case_closed = Signal(object)  # OpenCase taken out of the window

    def __init__(self, paths: AppPaths, settings: Settings) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("ECG Viewer")
        self.setAcceptDrops(True)
        self.paths, self.settings = paths, settings
        self._open = OpenCases()
        self.cases: list[OpenCase] = self._open.cases  # in strip order
        self._current: OpenCase | None = None
        self._view_mode = STRAIGHTENED
        self._evaluate_dialog: EvaluateDialog | None = None
        self._ui_state = ui_state(paths)
        self.model = ModelThread(paths)
        self._build_central()
        self.reading = ReadingController(self.panel, self.model.owner, self)
        self.reading.status_changed.connect(self._model_status.setText)
        self.reading.readiness_changed.connect(self._on_reading_readiness_changed)
        self._build_history()
        self._build_edit_bar()
        self.model_control = ModelControl(
            self.model.owner, paths, settings, parent=self, save_settings=self.save_settings,
            status=self.reading.set_status, current_model=lambda: self.reading.model,
        )  # fmt: skip
        self.model_control.model_changed.connect(self.reading.set_model)
        table = commands.menu_commands(
            self, view=self.view, strip=self.case_list, header=self.case_header, panel=self.panel,
            reading=self.reading, owner=self.model.owner, models=self.model_control,
        )  # fmt: skip
        self.recent_menu: QMenu = build_menus(
            self.menuBar(), table, self.edit_bar.edit_actions(),
            self.history_panel.toggleViewAction(),
        ).recent  # fmt: skip
        self.fill_recent_menu()
        self.statusBar().addPermanentWidget(self._model_status)
        self.statusBar().addWidget(QLabel(f"Research use only - {DISCLAIMER}"))
        restore_layout(self, self.splitter, self._ui_state)
        self.reading.set_model(None)

    # -- layout ------------------------------------------------------------------
    def _build_central(self) -> None:
        self.case_list = CaseStripView()
        self.case_list.currentRowChanged.connect(self._on_case_list_row_changed)
        self.view = EcgView()
        self.placeholder = QLabel("Drop ECG scans, PDFs or recordings here, or use File > Open")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("dropHint")
        switcher = ViewSwitcherBar()
        switcher.view_chosen.connect(self.show_view)
        self.switcher, self.view_buttons, self.view_hint = switcher, switcher.buttons, switcher.hint
        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(0, 0, 0, 0)
        self.case_header = CaseHeader()
        self.case_header.study_edited.connect(self.case_changed)
        column.addWidget(self.case_header)
        column.addWidget(switcher)
        column.addWidget(self.view, 1)
        column.addWidget(self.placeholder, 1)
        self.panel = InterpretationPanel()
        self.panel.notes_edited.connect(self._on_panel_notes_edited)
        self.panel.choose_model_requested.connect(self.show_model_dialog)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.case_list, center, self.panel):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([150, 760, 430])
        self.setCentralWidget(self.splitter)
        self._model_status = QLabel("No model - Choose model...")
        self._model_status.setObjectName("statusModel")
        self._show_placeholder(True)

    def _build_history(self) -> None:
        self.history = HistoryRecorder(self.paths, self.reading, lambda: self.cases, self)
        self.history_panel = HistoryPanel(self.history, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.history_panel)
        self.history_panel.hide()
        self.case_opened.connect(self.history.record_opened)
        self.case_changed.connect(self.history.record_changed)
        self.case_closed.connect(self.history.record_closed)
        self.history.case_reopened.connect(self._on_history_case_reopened)
        self.history.export_requested.connect(self._on_history_export_requested)
        self.history.opened.connect(lambda notice: show_recovery_notice(self, notice))

    def _build_edit_bar(self) -> None:
        self.edit_bar = EditBar(self.view, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.edit_bar)
        self.case_header.turn_requested.connect(self.edit_bar.turn)
        self.edit_bar.edited.connect(self._on_edit_bar_edited)
        self.edit_bar.failed.connect(partial(present_error, self))
        self.edit_bar.editing_left.connect(self.refresh_view)
        self.edit_bar.status.connect(self.statusBar().showMessage)
        self.history.changed.connect(self._on_history_changed)

    def _show_placeholder(self, empty: bool) -> None:
        self.placeholder.setVisible(empty)
        self.view.setVisible(not empty)

    # -- opening files -------------------------------------------------------------
    def choose_files(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in supported_suffixes() + DIGITAL_SUFFIXES)
        start = str(self._ui_state.value("last_folder", str(Path.home())))
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Open ECG scans, PDFs or digital ECGs",
            start,
            f"ECG images, PDFs and recordings ({patterns});;All files (*)",
        )
        self.open_paths([Path(f) for f in files])

    def open_paths(self, paths: list[Path]) -> None:
        """Open each file in the background; broken ones get a message, the rest still open."""
        models = [p for p in paths if p.suffix.lower() == ".gguf"]
        if models:
            self.show_model_dialog(models)
        for folder in (p for p in paths if (p / "config.json").is_file()):
            self.model_control.show_import_dialog(folder)  # a Hugging Face checkpoint
        files = [p for p in paths if p.suffix.lower() != ".gguf" and not p.is_dir()]
        for path in one_per_record(files):  # a WFDB record's .hea and .dat: one case
            self.statusBar().showMessage(f"Opening {path.name}...")
            # decoded, straightened, encoded and made screen-sized on a pool thread
            run_task(self, partial(_open_prepared, path), self._on_case_opened,
                     partial(self._on_open_failed, path))  # fmt: skip
            self._ui_state.setValue("last_folder", str(path.parent))

    def _on_case_opened(self, opened: tuple[OpenCase, Previews]) -> None:
        case, previews = opened
        self._remember_recent(case.case.source.path)
        self.add_case(case, previews)

    def add_case(self, case: OpenCase, previews: Previews | None = None) -> None:
        """Show `case` in the strip and make it current (opened from a file or the history).

        Without `previews` (a case rebuilt from the history) they are made in the
        background and the case is shown once they are ready.
        """
        self._open.add(case, previews)
        if previews is None:  # made on a pool thread; the case shows once they are ready
            ready = partial(self._on_previews_prepared, case)
            run_task(self, partial(prepare_previews, case), ready, partial(present_error, self))
        self.case_list.add_case(case, previews)
        self.statusBar().showMessage(f"Opened {case.case.source.name}", 4000)
        if Path(case.case.source.path).resolve() != sample_path().resolve():
            self.case_opened.emit(case)  # the bundled sample is not a case worth keeping

    def _on_history_case_reopened(self, case: OpenCase) -> None:
        ids = [shown.case.case_id for shown in self.cases]
        if case.case.case_id in ids:  # already open: show it
            self.case_list.setCurrentRow(ids.index(case.case.case_id))
        else:
            self.add_case(case)

    def _on_history_export_requested(self, case: OpenCase) -> None:
        self._on_history_case_reopened(case)
        self.export_current()

    def _on_previews_prepared(self, case: OpenCase, previews: Previews) -> None:
        row = self._open.index(case)
        if row >= 0:
            self._open.set_previews(case, previews)
            self.case_list.show_previews(row, previews)
            if case is self._current:
                self.edit_bar.set_case(case, previews)
                self.refresh_view(keep_view=False)

    def _on_open_failed(self, path: Path, error: BaseException) -> None:
        if not isinstance(error, EcgViewerError):
            error = InputError(f"{path.name} could not be opened ({type(error).__name__}).")
        self.statusBar().showMessage(f"Could not open {path.name}", 6000)
        present_error(self, error, title=f"Cannot open {path.name}")

    def _remember_recent(self, path: str) -> None:
        recent = [path, *[p for p in self.settings.recent_files if p != path]][:MAX_RECENT]
        self.settings.recent_files = recent
        self.fill_recent_menu()

    def fill_recent_menu(self) -> None:
        fill_recent_menu(self.recent_menu, self.settings.recent_files,
                         lambda path: self.open_paths([path]))  # fmt: skip

    # -- drag and drop ---------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- switching cases and views -----------------------------------------------------
    def _on_case_list_row_changed(self, row: int) -> None:
        self._current = self.cases[row] if 0 <= row < len(self.cases) else None
        self.case_header.show_case(self._current)  # saves what was typed for the case left
        self._show_placeholder(self._current is None)
        current = self._current
        self.edit_bar.set_case(current, self._open.previews(current) if current else None)
        self.reading.set_case(current)
        self.refresh_view(keep_view=False)

    def _on_reading_readiness_changed(self) -> None:
        """Case strip: a green dot on the cases whose image is read (they answer at once)."""
        self.case_list.mark_ready([self.reading.is_ready(case) for case in self.cases])

    def current_case(self) -> OpenCase | None:
        return self._current

    def show_view(self, index: int) -> None:
        self._view_mode = index
        self.switcher.choose(index)
        self.edit_bar.cancel_editing()
        self.refresh_view(keep_view=False)

    def refresh_view(self, *, keep_view: bool = True) -> None:
        """Show the current case's chosen view from its prepared, screen-sized previews."""
        case = self._current
        previews = self._open.previews(case) if case is not None else None
        if case is None or previews is None:
            return  # its previews are on their way (_on_previews_prepared)
        shown = previews.views[self._view_mode]
        self.switcher.show_hint(self._view_mode, case, shown.full_size)
        self.case_header.show_suggestion(case)
        self.view.set_image(shown.image, full_size=shown.full_size, keep_view=keep_view)

    def _on_edit_bar_edited(self, before: OpenCase, edited: OpenCase, previews: Previews) -> None:
        """An edit of `before` is ready: its new value takes `before`'s place."""
        after = self._open.swap(before, edited, previews)
        if after is None:
            return  # the case was closed while the edit ran
        if before is self._current:
            self._current = after
            self.edit_bar.set_case(after, previews)
            self.reading.set_case(after, settle=True)
            self.refresh_view()
        self.case_changed.emit(after)  # the history follows the new record by its case id

    def _on_history_changed(self) -> None:
        for case in self._open.adopt_ids():  # swapped in before the history stored the case
            self.case_changed.emit(case)

    def close_current(self) -> None:
        case = self._current
        if case is None:
            return
        if self.reading.busy:
            self.reading.stop()
        row = self._open.index(case)
        self._open.remove(case)
        self.case_list.takeItem(row)
        self.case_closed.emit(case)
        if not self.cases:
            self._on_case_list_row_changed(-1)

    # -- model (ModelControl owns the dialog and the load wiring) ---------------------
    def load_model(self, text: str, mmproj: str, model_settings: ModelSettings) -> None:
        self.model_control.load(text, mmproj, model_settings)

    def show_model_dialog(self, dropped: list[Path] | None = None) -> None:
        self.model_control.show_dialog(dropped)

    def show_evaluate_dialog(self) -> None:
        """Model > Evaluate on a labelled set: one non-modal dialog, raised if already open."""
        dialog = self._evaluate_dialog
        if dialog is None:
            server = self.settings.server.url  # "" = only this computer to run on
            dialog = EvaluateDialog(self.settings.model, self, page_size=self.settings.page_size,
                                    reading=self.reading, server_url=server)  # fmt: skip
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.finished.connect(self._on_evaluate_dialog_finished)
            self._evaluate_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def _on_evaluate_dialog_finished(self, _result: int) -> None:
        self._evaluate_dialog = None

    # -- notes, export, print, about --------------------------------------------------------
    def _on_panel_notes_edited(self, text: str) -> None:
        if self._current is not None:
            self._current.case.notes = text
            self.case_changed.emit(self._current)

    def export_current(self, *, identifiers: bool = True) -> None:
        if self._current is not None:
            self.case_header.flush()
            export_pdf(self, self._current, self.settings.page_size, self._ui_state,
                       identifiers=identifiers, status=self.statusBar().showMessage,
                       recorded=self.case_changed.emit)  # fmt: skip

    def print_current(self) -> None:
        if self._current is not None:
            print_case(self, self._current, self.settings.page_size, self.statusBar().showMessage)

    def show_about(self) -> None:
        commands.show_about(self)

    # -- persistence and shutdown -----------------------------------------------------------
    def save_settings(self) -> None:
        try:
            save_settings(self.paths, self.settings)
        except StorageError as exc:
            log.warning("settings not saved: %s", type(exc.__cause__ or exc).__name__)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop generation, shut the worker down cleanly, remember the layout."""
        save_layout(self, self.splitter, self._ui_state)
        self.case_header.flush()
        self.save_settings()
        self.reading.stop()
        if self._evaluate_dialog is not None:  # stops a run and closes its model worker
            self._evaluate_dialog.shutdown()
        self.model_control.shutdown()  # an import in progress stops and removes its files
        self.model.stop()
        self.history.close()  # writes what is pending; a streaming answer reads "interrupted"
        event.accept()

    def open_sample_if_empty(self) -> None:
        """First start without a model: show the bundled synthetic sample ECG."""
        if sample_path().exists():
            QTimer.singleShot(0, lambda: self.open_paths([sample_path()]))


def _open_prepared(path: Path) -> tuple[OpenCase, Previews]:
    """Decode, straighten, encode and make screen-sized copies (pool thread)."""
    return with_previews(open_case(path))


def sample_path() -> Path:
    """The synthetic sample ECG shipped in resources/ (drawn by imaging/synthetic.py)."""
    return resources_dir() / "samples" / "sample-ecg.png"
