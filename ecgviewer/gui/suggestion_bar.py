"""A one-line suggestion above the ECG with one button to accept it ("turn it right?").

Used for what the preprocessing proposes but was not sure enough to apply by
itself: a page that looks sideways or upside down. Dismissed suggestions stay
dismissed for that case.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ecgviewer.core.imaging.steps import Step

_TURNS = {
    1: ("This page looks sideways: turn it right (clockwise)?", "Turn right"),
    2: ("This page looks upside down: turn it round?", "Turn round"),
    3: ("This page looks sideways: turn it left (counter-clockwise)?", "Turn left"),
}


def turn_question(turns_cw: int) -> tuple[str, str]:
    """The question and the button text for a suggested quarter-turn count (1, 2 or 3)."""
    return _TURNS[turns_cw % 4]


class SuggestionBar(QFrame):
    """Shows an orientation suggestion; `accepted(turns_cw)` or `dismissed()`."""

    accepted = Signal(int)
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("suggestionBar")
        self._turns = 0
        self.label = QLabel()
        self.accept_button = QPushButton()
        self.accept_button.setObjectName("acceptSuggestion")
        dismiss = QPushButton("Keep as is")
        self.accept_button.clicked.connect(lambda: self.accepted.emit(self._turns))
        dismiss.clicked.connect(self.dismissed)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 3, 6, 3)
        row.addWidget(self.label, 1)
        row.addWidget(self.accept_button)
        row.addWidget(dismiss)
        self.hide()

    def show_suggestion(self, step: Step | None) -> None:
        """Show `step` (a rotate90 suggestion) or hide the bar when None."""
        turns = int(step.params.get("turns_cw", 0)) % 4 if step is not None else 0
        self._turns = turns
        if turns:
            question, button = turn_question(turns)
            self.label.setText(question)
            self.accept_button.setText(button)
        self.setVisible(bool(turns))
