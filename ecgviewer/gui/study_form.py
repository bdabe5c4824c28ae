"""The case's patient and study fields: a compact form above the ECG, typed once.

Every field is optional and saved as typed (after a short pause, or when the
field is left), so nothing is lost if the app stops. A value that does not fit
its field (a date that is not a date) is kept as typed and marked, with the
reason in its tooltip; the report prints what was typed. When the opened file
carries study fields (a cart PDF's text layer), a bar above the form lists them
with one button to fill them in: nothing is ever filled in silently.

Keyboard: Ctrl+I (Edit > Patient and study fields) opens the form at the first
field; Tab walks through the fields in reading order.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.case import STUDY_FIELDS
from ecgviewer.core.study import field_problem
from ecgviewer.core.study_proposals import describe

# (key, placeholder, row, column, column span): the grid, in Tab order
_LAYOUT = (
    ("name", "Family name, given name", 0, 0, 3),
    ("patient_id", "Hospital or study number", 0, 3, 1),
    ("sex", "", 0, 4, 1),
    ("date_of_birth", "YYYY-MM-DD", 1, 0, 1),
    ("age", "years", 1, 1, 1),
    ("acquisition_date", "YYYY-MM-DD HH:MM", 1, 2, 1),
    ("referring_clinician", "Name", 1, 3, 2),
    ("indication", "Why the ECG was recorded", 2, 0, 3),
    ("comment", "Free comment", 2, 3, 2),
)
SEX_CHOICES = (("", "-"), ("F", "F - female"), ("M", "M - male"), ("X", "X - other/unknown"))
SAVE_PAUSE_MS = 400


class StudyForm(QWidget):
    """Patient and study fields of the shown case; see the module docstring."""

    edited = Signal(dict)  # the whole study as typed (empty fields left out)
    proposals_settled = Signal()  # the user filled the proposals in or dismissed them

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studyForm")
        self._loading = False
        self._proposals: dict[str, str] = {}
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_PAUSE_MS)
        self._save_timer.timeout.connect(self._save)
        self.edits: dict[str, QLineEdit] = {}
        self.sex_box = QComboBox()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(3)
        layout.addLayout(self._build_header())
        layout.addWidget(self._build_proposal_bar())
        layout.addWidget(self._build_fields())
        self.set_expanded(True)

    # -- construction ------------------------------------------------------------
    def _build_header(self) -> QHBoxLayout:
        self.toggle = QToolButton()
        self.toggle.setObjectName("studyToggle")
        self.toggle.setText("Patient and study")
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setToolTip("Show or hide the patient and study fields (Ctrl+I)")
        self.toggle.toggled.connect(self.set_expanded)
        self.summary = QLabel()
        self.summary.setObjectName("studySummary")
        row = QHBoxLayout()
        row.addWidget(self.toggle)
        row.addWidget(self.summary, 1)
        return row

    def _build_proposal_bar(self) -> QFrame:
        self.proposal_bar = QFrame()
        self.proposal_bar.setObjectName("studyProposals")
        self.proposal_label = QLabel()
        self.proposal_label.setWordWrap(True)
        self.fill_button = QPushButton("Fill in")
        self.fill_button.setObjectName("fillProposals")
        dismiss = QPushButton("Dismiss")
        self.fill_button.clicked.connect(self.accept_proposals)
        dismiss.clicked.connect(self.dismiss_proposals)
        row = QHBoxLayout(self.proposal_bar)
        row.setContentsMargins(6, 3, 6, 3)
        row.addWidget(self.proposal_label, 1)
        row.addWidget(self.fill_button)
        row.addWidget(dismiss)
        self.proposal_bar.hide()
        return self.proposal_bar

    def _build_fields(self) -> QWidget:
        self.fields = QWidget()
        grid = QGridLayout(self.fields)
        grid.setContentsMargins(4, 0, 4, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        labels = dict(STUDY_FIELDS)
        for key, placeholder, row, column, span in _LAYOUT:
            field = self._sex_box() if key == "sex" else self._line_edit(key, placeholder)
            caption = QLabel(labels[key])
            caption.setObjectName("studyCaption")
            caption.setBuddy(field)
            box = QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(caption)
            box.addWidget(field)
            grid.addLayout(box, row, column, 1, span)
        for column in range(5):
            grid.setColumnStretch(column, 1)
        return self.fields

    def _line_edit(self, key: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(f"study_{key}")
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(key in ("indication", "comment"))
        edit.textEdited.connect(lambda _text, k=key: self._on_field_edited(k))
        edit.editingFinished.connect(self.flush)
        self.edits[key] = edit
        return edit

    def _sex_box(self) -> QComboBox:
        self.sex_box.setObjectName("study_sex")
        for value, text in SEX_CHOICES:
            self.sex_box.addItem(text, value)
        self.sex_box.currentIndexChanged.connect(lambda _index: self._on_field_edited("sex"))
        return self.sex_box

    # -- the shown case ------------------------------------------------------------
    def show_case(self, study: dict[str, str], proposals: dict[str, str]) -> None:
        """Show a case's fields (what is pending for the previous case is saved first)."""
        self.flush()
        self._loading = True
        for key, edit in self.edits.items():
            edit.setText(study.get(key, ""))
            self._mark(key)
        index = self.sex_box.findData(study.get("sex", "").upper())
        self.sex_box.setCurrentIndex(max(index, 0))
        self._loading = False
        self._show_proposals(proposals)
        self._update_summary()

    def study(self) -> dict[str, str]:
        """The fields as typed, empty ones left out."""
        study = {key: edit.text().strip() for key, edit in self.edits.items()}
        study["sex"] = str(self.sex_box.currentData() or "")
        order = [key for key, _ in STUDY_FIELDS]
        return {key: study[key] for key in order if study.get(key)}

    def flush(self) -> None:
        """Save now what is waiting for the typing pause."""
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._save()

    def _save(self) -> None:
        self.edited.emit(self.study())

    def _on_field_edited(self, key: str) -> None:
        if self._loading:
            return
        self._mark(key)
        self._update_summary()
        self._save_timer.start()

    def _mark(self, key: str) -> None:
        """Mark a value that does not fit its field; the reason is in the tooltip."""
        edit = self.edits.get(key)
        if edit is None:
            return
        problem = field_problem(key, edit.text())
        edit.setProperty("invalid", bool(problem))
        edit.setToolTip(problem or "")
        edit.style().unpolish(edit)
        edit.style().polish(edit)

    # -- proposals from the file ---------------------------------------------------------
    def _show_proposals(self, proposals: dict[str, str]) -> None:
        current = self.study()
        self._proposals = {k: v for k, v in proposals.items() if current.get(k) != v}
        self.proposal_label.setText(f"In the file: {describe(self._proposals)}.")
        self.proposal_bar.setVisible(bool(self._proposals))

    def accept_proposals(self) -> None:
        """Fill the proposed values in (one click), and save them."""
        study = {**self.study(), **self._proposals}
        self.show_case(study, {})
        self.edited.emit(self.study())
        self.proposals_settled.emit()

    def dismiss_proposals(self) -> None:
        self._show_proposals({})
        self.proposals_settled.emit()

    # -- collapsing and focus -------------------------------------------------------------
    def set_expanded(self, expanded: bool) -> None:
        self.fields.setVisible(expanded)
        self.toggle.setChecked(expanded)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self._update_summary()

    def focus_first(self) -> None:
        """Open the form and put the cursor in the first field (Ctrl+I)."""
        self.set_expanded(True)
        self.edits["name"].setFocus()
        self.edits["name"].selectAll()

    def _update_summary(self) -> None:
        """Collapsed: who and when at a glance. Open: a hint that everything is optional."""
        study = self.study()
        if self.fields.isVisibleTo(self):
            self.summary.setText("All optional; saved as you type, printed on the report.")
            return
        parts = [study.get(k, "") for k in ("name", "patient_id", "sex", "acquisition_date")]
        self.summary.setText(" · ".join(p for p in parts if p) or "No patient details")
