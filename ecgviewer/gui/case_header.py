"""Above the ECG: the case's patient and study fields, the orientation suggestion, and for a
page drawn from a digital recording the recording's facts (rate, length, leads, device,
derived, missing, flat and saturated leads, the reader's notes).

A view of the shown case. It writes what the user types into the case record
(`study_edited` then tells the window to record the change) and asks the window
to turn the page when a suggestion is accepted (`turn_requested`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ecgviewer.core.digital.facts_text import facts_lines, render_step_of
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.study_form import StudyForm
from ecgviewer.gui.suggestion_bar import SuggestionBar


class CaseHeader(QWidget):
    """The study form and the suggestion bar of the shown case."""

    study_edited = Signal(object)  # OpenCase whose study fields changed
    turn_requested = Signal(int)  # quarter turns clockwise

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._case: OpenCase | None = None
        self._kept_as_is: set[int] = set()  # cases whose suggestion the user declined
        self.study_form = StudyForm()
        self.suggestion_bar = SuggestionBar()
        self.notes_label = QLabel()  # what the preprocessing could not do confidently
        self.notes_label.setObjectName("preprocessNotes")
        self.notes_label.setWordWrap(True)
        self.notes_label.hide()
        self.facts_label = QLabel()  # a digital recording: what the file holds
        self.facts_label.setObjectName("recordingFacts")
        self.facts_label.setWordWrap(True)
        self.facts_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.study_form)
        layout.addWidget(self.facts_label)
        layout.addWidget(self.suggestion_bar)
        layout.addWidget(self.notes_label)
        self.study_form.edited.connect(self._on_study_form_edited)
        self.study_form.proposals_settled.connect(self._on_study_form_proposals_settled)
        self.suggestion_bar.accepted.connect(self._on_suggestion_accepted)
        self.suggestion_bar.dismissed.connect(self._on_suggestion_dismissed)

    def show_case(self, case: OpenCase | None) -> None:
        """Show another case (what was typed for the previous one is saved first)."""
        self.study_form.flush()
        self._case = case
        self.setVisible(case is not None)
        if case is not None:
            self.study_form.show_case(case.case.study, case.proposals)
            self.show_suggestion(case)
        self._show_facts(case)

    def show_suggestion(self, case: OpenCase) -> None:
        """The case's orientation suggestion, unless declined, and the preprocessing's notes
        (also after each edit)."""
        self._case = case
        declined = id(case.case) in self._kept_as_is
        self.suggestion_bar.show_suggestion(None if declined else case.image.orientation_suggestion)
        notes = " ".join(case.image.notes)
        if notes:
            notes += " Use Corners to mark the sheet by hand."
        self.notes_label.setText(notes)
        self.notes_label.setVisible(bool(notes))

    def _show_facts(self, case: OpenCase | None) -> None:
        step = render_step_of(case.case.steps) if case is not None else None
        lines = facts_lines(step) if step is not None else []
        if lines:
            lines[0] = f"Drawn from the signal: {lines[0]}"
        self.facts_label.setText("\n".join(lines))
        self.facts_label.setVisible(bool(lines))

    def flush(self) -> None:
        self.study_form.flush()

    def _on_study_form_edited(self, study: dict[str, str]) -> None:
        if self._case is not None and study != self._case.case.study:
            self._case.case.study = study
            self.study_edited.emit(self._case)

    def _on_study_form_proposals_settled(self) -> None:
        if self._case is not None:
            self._case.proposals = {}  # filled in or dismissed: not offered again

    def _on_suggestion_accepted(self, turns_cw: int) -> None:
        self.suggestion_bar.hide()
        self.turn_requested.emit(turns_cw)

    def _on_suggestion_dismissed(self) -> None:
        if self._case is not None:
            self._kept_as_is.add(id(self._case.case))
        self.suggestion_bar.hide()
