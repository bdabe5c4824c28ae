"""The History dock: find a stored case, reopen it, export it again or delete it.

A view over `HistoryRecorder`: it asks the recorder to search, reopen and
delete, and shows what comes back. Searching is live (debounced) over file
name, date, study fields, questions, answers and notes.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.recorder import CaseSummary
from ecgviewer.gui.history_recorder import HistoryRecorder

SEARCH_DELAY_MS = 250
COLUMNS = ("File", "Opened", "Patient ID", "Questions", "PDFs", "Last changed")
FILE_COLUMN_MIN, FILE_COLUMN_MAX = 200, 440  # pixels
_CASE_ID = Qt.ItemDataRole.UserRole


def history_shortcut() -> QKeySequence:
    """Ctrl+H; Cmd+Y on macOS, where Cmd+H hides the app (Safari's History is Cmd+Y too)."""
    return QKeySequence("Ctrl+Y" if sys.platform == "darwin" else "Ctrl+H")


def show_recovery_notice(parent: QWidget, notice: str) -> None:
    """Tell the user, once, that a damaged history was moved aside and where it is."""
    if not notice:
        return
    box = QMessageBox(QMessageBox.Icon.Warning, "Case history replaced", notice, parent=parent)
    box.setInformativeText("Cases you open from now on are kept in the new history.")
    box.setObjectName("historyRecoveryDialog")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()


class HistoryPanel(QDockWidget):
    """Search the case history; reopen, export again or delete the selected case.

    Its `toggleViewAction()` ("History", with the shortcut) belongs in the View menu.
    """

    def __init__(self, recorder: HistoryRecorder, parent: QWidget | None = None) -> None:
        super().__init__("History", parent)
        self.setObjectName("historyPanel")
        self.setAllowedAreas(Qt.DockWidgetArea.AllDockWidgetAreas)
        self._recorder = recorder
        self._items: list[QTreeWidgetItem] = []
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.setWidget(self._build())
        toggle = self.toggleViewAction()
        toggle.setText("&History")
        toggle.setShortcut(history_shortcut())
        toggle.setToolTip("Show or hide every case kept on this computer")
        recorder.opened.connect(self._on_recorder_opened)
        recorder.unavailable.connect(self._on_recorder_unavailable)
        recorder.searched.connect(self._on_recorder_searched)
        recorder.changed.connect(self._on_recorder_changed)
        self.visibilityChanged.connect(self._on_self_visibility_changed)
        self._set_status("Opening the case history..." if not recorder.available else "")
        self._on_table_selection_changed()

    # -- layout ---------------------------------------------------------------------
    def _build(self) -> QWidget:
        self.search_box = QLineEdit()
        self.search_box.setObjectName("historySearch")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setPlaceholderText(
            "Search file name, date (2026-11), patient ID, questions, answers, notes"
        )
        self.search_box.textChanged.connect(self._on_search_box_text_changed)
        self.status_label = QLabel()
        self.status_label.setObjectName("historyStatus")
        self.table = self._build_table()
        self.reopen_button = QPushButton("Reopen")
        self.export_button = QPushButton("Export again...")
        self.delete_button = QPushButton("Delete...")
        for button, name, slot in (
            (self.reopen_button, "historyReopen", self._on_reopen_button_clicked),
            (self.export_button, "historyExport", self._on_export_button_clicked),
            (self.delete_button, "historyDelete", self._on_delete_button_clicked),
        ):
            button.setObjectName(name)
            button.clicked.connect(slot)
        self.reopen_button.setToolTip("Open the case as it was left (Enter or double-click)")
        self.export_button.setToolTip("Open the case and export its PDF report again")
        self.delete_button.setToolTip("Remove the case from this computer (Delete)")
        return self._lay_out()

    def _build_table(self) -> QTreeWidget:
        table = _CaseTableView()
        table.setObjectName("historyTable")
        table.setHeaderLabels(list(COLUMNS))
        for column in (3, 4):
            table.headerItem().setTextAlignment(column, Qt.AlignmentFlag.AlignCenter)
        table.setRootIsDecorated(False)
        table.setUniformRowHeights(True)
        table.setAlternatingRowColors(True)
        table.setAllColumnsShowFocus(True)
        header = table.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)  # set to fit, capped
        for column in range(1, len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        table.itemSelectionChanged.connect(self._on_table_selection_changed)
        table.itemActivated.connect(self._on_table_item_activated)
        delete = QShortcut(QKeySequence.StandardKey.Delete, table)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self._on_delete_button_clicked)
        return table

    def _lay_out(self) -> QWidget:
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self.search_box)
        column.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.status_label, 1)
        for button in (self.reopen_button, self.export_button, self.delete_button):
            row.addWidget(button)
        column.addLayout(row)
        return content

    # -- searching ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Search again for what is in the box (results arrive in the background)."""
        self._search_timer.stop()
        if self._recorder.available:
            self._recorder.search(self.search_box.text())

    def _on_search_box_text_changed(self, _: str) -> None:
        self._search_timer.start()  # another key within the delay restarts the wait

    def _on_recorder_opened(self, _: str) -> None:
        self._set_status("")
        if self.isVisible():
            self.refresh()

    def _on_recorder_unavailable(self, reason: str) -> None:
        self._set_status(f"The case history is not available: {reason}")
        self._on_table_selection_changed()

    def _on_recorder_changed(self) -> None:
        if self.isVisible():
            self._search_timer.start()

    def _on_self_visibility_changed(self, visible: bool) -> None:
        if visible:
            self.refresh()

    def _on_recorder_searched(self, query: str, summaries: list[CaseSummary]) -> None:
        if query != self.search_box.text():
            return  # an older search; the newer one is on its way
        selected = self.selected_case_id()
        self.table.clear()
        self._items = [_row(summary) for summary in summaries]
        self.table.addTopLevelItems(self._items)
        fitted = self.table.sizeHintForColumn(0) + 24
        self.table.header().resizeSection(0, max(FILE_COLUMN_MIN, min(fitted, FILE_COLUMN_MAX)))
        for item in self._items:
            if item.data(0, _CASE_ID) == selected:
                self.table.setCurrentItem(item)
        self._set_status(_count_text(len(summaries), query))
        self._on_table_selection_changed()

    def case_ids(self) -> list[int]:
        """The ids of the cases listed, top to bottom."""
        return [int(item.data(0, _CASE_ID)) for item in self._items]

    def selected_case_id(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(0, _CASE_ID)) if items else None

    def select_case(self, case_id: int) -> None:
        """Select the listed case with this id (no change if it is not listed)."""
        for item in self._items:
            if item.data(0, _CASE_ID) == case_id:
                self.table.setCurrentItem(item)

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)

    # -- actions ------------------------------------------------------------------------------
    def _on_table_selection_changed(self) -> None:
        enabled = self._recorder.available and self.selected_case_id() is not None
        for button in (self.reopen_button, self.export_button, self.delete_button):
            button.setEnabled(enabled)

    def _on_table_item_activated(self, item: QTreeWidgetItem, _: int) -> None:
        self._recorder.reopen(int(item.data(0, _CASE_ID)))

    def _on_reopen_button_clicked(self) -> None:
        case_id = self.selected_case_id()
        if case_id is not None:
            self._recorder.reopen(case_id)

    def _on_export_button_clicked(self) -> None:
        case_id = self.selected_case_id()
        if case_id is not None:
            self._recorder.reopen(case_id, export=True)

    def _on_delete_button_clicked(self) -> None:
        items = self.table.selectedItems()
        if not items or not self._recorder.available:
            return
        case_id, name = int(items[0].data(0, _CASE_ID)), items[0].text(0)
        box = QMessageBox(QMessageBox.Icon.Question, "Delete case",
                          f"Delete {name} from the case history?", parent=self)  # fmt: skip
        box.setObjectName("historyDeleteDialog")
        box.setInformativeText(_delete_details(self._recorder.is_open(case_id)))
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
        box.finished.connect(lambda _: self._on_delete_box_finished(box, delete, case_id))
        box.open()

    def _on_delete_box_finished(self, box: QMessageBox, delete: QPushButton, case_id: int) -> None:
        if box.clickedButton() is delete:
            self._recorder.delete(case_id)
        box.deleteLater()


class _CaseTableView(QTreeWidget):
    """The list of cases; asks for a few rows of height, not a large default, when docked."""

    def sizeHint(self) -> QSize:
        return QSize(640, 140)


def _row(summary: CaseSummary) -> QTreeWidgetItem:
    name = summary.source_name
    if summary.source_page_count > 1:
        name += f" (page {summary.source_page + 1} of {summary.source_page_count})"
    item = QTreeWidgetItem(
        [name, _local_time(summary.created_at), summary.patient_id,
         str(summary.turn_count), str(summary.exported_count), _local_time(summary.updated_at)]
    )  # fmt: skip
    item.setData(0, _CASE_ID, summary.case_id)
    item.setToolTip(0, name)
    for column in (3, 4):
        item.setTextAlignment(column, Qt.AlignmentFlag.AlignCenter)
    return item


def _local_time(stamp: str) -> str:
    """An ISO time such as 2026-11-23T18:01:02+01:00 as 2026-11-23 18:01 (clock time then)."""
    return stamp[:16].replace("T", " ")


def _count_text(count: int, query: str) -> str:
    if count == 0:
        return f"No case matches \u201c{query.strip()}\u201d" if query.strip() else "No cases yet"
    return f"{count} case{'s' if count != 1 else ''}"


def _delete_details(is_open: bool) -> str:
    text = (
        "Its questions, answers and notes are removed, and its stored scan unless another "
        "case uses it. Exported PDF files are kept. This cannot be undone."
    )
    if is_open:
        text += "\n\nIt stays open in this window, but nothing more of it is kept."
    return text
