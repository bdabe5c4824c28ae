"""The row of view buttons above the ECG (Original, Straightened, Model input) and its hint.

GUI thread only. The window decides what each view shows; this bar says which
one is chosen (`view_chosen`) and what the shown image is (`show_hint`).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

from ecgviewer.core.digital.facts_text import RENDER_OP
from ecgviewer.core.workspace import OpenCase

VIEWS = ("Original", "Straightened", "Model input")
STRAIGHTENED = 1


class ViewSwitcherBar(QWidget):
    """Checkable buttons, one per view, and a line describing the image shown."""

    view_chosen = Signal(int)  # the index into VIEWS the user clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons = QButtonGroup(self)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for index, name in enumerate(VIEWS):
            button = QToolButton()
            button.setText(name)
            button.setCheckable(True)
            button.setObjectName(f"view{index}")
            self.buttons.addButton(button, index)
            row.addWidget(button)
        self.buttons.button(STRAIGHTENED).setChecked(True)
        self.buttons.idClicked.connect(self.view_chosen)
        row.addStretch(1)
        self.hint = QLabel("")
        self.hint.setObjectName("viewHint")
        row.addWidget(self.hint)

    def choose(self, index: int) -> None:
        """Check the button of view `index` (without emitting `view_chosen`)."""
        self.buttons.button(index).setChecked(True)

    def show_hint(self, index: int, case: OpenCase, full_size: tuple[int, int]) -> None:
        """Say what view `index` of `case` shows; `full_size` is its image's size in pixels."""
        width, height = full_size
        steps = [s.op.replace("_", " ") for s in case.image.steps if s.op != RENDER_OP]
        drawn = len(steps) < len(case.image.steps)
        hints = (
            f"The page drawn from the signal ({width} x {height} px)"
            if drawn
            else f"The scan as decoded ({width} x {height} px)",
            "Straightened: " + ", ".join(steps) if steps else "Already straight: no correction",
            f"Exactly what the model receives ({width} x {height} px)",
        )
        self.hint.setText(hints[index])
