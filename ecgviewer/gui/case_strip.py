"""The case strip: the column of open cases, one thumbnail and name each, in opening order.

A green dot marks the cases whose image the model has already read
(`ready_marks`). The strip only shows; which case is current, and what the
window does when it changes, stay with the window (`currentRowChanged`).
GUI thread only.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.previews import Previews
from ecgviewer.gui.qtimage import thumbnail
from ecgviewer.gui.ready_marks import mark_ready

THUMBNAIL_PX = 110


class CaseStripView(QListWidget):
    """One item per open case, with its thumbnail once its previews are ready."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("caseList")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.TopToBottom)
        self.setWrapping(False)
        self.setMovement(QListWidget.Movement.Static)
        self.setIconSize(QSize(120, 90))
        self.setGridSize(QSize(136, 122))
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(150)
        self.setMaximumWidth(220)

    def add_case(self, case: OpenCase, previews: Previews | None) -> None:
        """Append `case` (its thumbnail now, or later with `show_previews`) and select it."""
        item = QListWidgetItem(case.case.source.name)
        item.setToolTip(case.case.source.path)
        if previews is not None:
            item.setIcon(thumbnail(previews.thumbnail, THUMBNAIL_PX))
        self.addItem(item)
        self.setCurrentRow(self.count() - 1)

    def show_previews(self, row: int, previews: Previews) -> None:
        """The thumbnail of the case at `row`, made in the background, is ready."""
        item = self.item(row)
        if item is not None:
            item.setIcon(thumbnail(previews.thumbnail, THUMBNAIL_PX))

    def mark_ready(self, ready: Sequence[bool]) -> None:
        """A green dot on each case whose image is read (`ready` is per row)."""
        for row, is_ready in enumerate(ready):
            item = self.item(row)
            if item is not None:  # None only while a case is being added or closed
                mark_ready(item, is_ready)

    def step(self, step: int) -> None:
        """Select the next (`step` 1) or previous (-1) case, wrapping around."""
        if self.count():
            self.setCurrentRow((self.currentRow() + step) % self.count())
