"""The "Interpretation" side panel: ask, stop, read the thread, write notes.

A view only: it emits what the user asked for and shows what it is given.
The research-only disclaimer is part of the panel and cannot be hidden.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ecgviewer import DISCLAIMER, DRAFT_LABEL
from ecgviewer.core.case import Turn
from ecgviewer.core.inference.prompts import PRESETS
from ecgviewer.core.labels import NON_ECG_LABEL, stop_label

NO_MODEL_HELP = (
    "<h3>No model is loaded</h3>"
    "<p>Nothing can be interpreted yet. ECG Viewer reads ECGs with a local "
    "<b>MedGemma-ECG</b> model: two GGUF files, the text model and its vision projector "
    "(mmproj). Nothing is downloaded; you bring the files.</p>"
    "<p><b>How to get them:</b> see <code>models/README.md</code> (conversion with "
    "llama.cpp, recommended quantization, where to put the files).</p>"
    "<p><b>Then:</b> Model &gt; Choose model... (Ctrl+M), or drop both .gguf files on this "
    "window.</p>"
)
NOT_ECG_LABEL = NON_ECG_LABEL  # the report's words (core.labels)


class InterpretationPanel(QWidget):
    """Questions in, streamed answers out; see the module docstring."""

    interpret_requested = Signal(str, str)  # question, preset key ("" = free text)
    stop_requested = Signal()
    regenerate_requested = Signal()
    new_reading_requested = Signal()
    notes_edited = Signal(str)
    choose_model_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("interpretationPanel")
        self._turns: list[Turn] = []
        self._is_ecg_model = True
        self._model_ready = False
        self._busy = False
        self._render_timer = QTimer(self, singleShot=True, interval=40)
        self._render_timer.timeout.connect(self._render)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        self._build_header(layout)
        self._build_question(layout)
        self._build_thread(layout)
        self._build_notes(layout)
        self.set_model_ready(False)
        self.set_busy(False)

    # -- construction --------------------------------------------------------
    def _build_header(self, layout: QVBoxLayout) -> None:
        title = QLabel("Interpretation")
        title.setObjectName("panelTitle")
        self.status_label = QLabel("No model - Choose model...")
        self.status_label.setObjectName("modelStatus")
        self.status_label.setWordWrap(True)
        self.status_label.linkActivated.connect(lambda _: self.choose_model_requested.emit())
        self.engine_note = QLabel()
        self.engine_note.setObjectName("engineNote")
        self.engine_note.setWordWrap(True)
        self.engine_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.engine_note.hide()
        self.where_label = QLabel()  # "Reading on HOST" while an inference server answers
        self.where_label.setObjectName("readingWhere")
        self.where_label.hide()
        self.disclaimer = QLabel(
            f"<b>Research use only.</b> {DISCLAIMER}. Not a diagnosis; a clinician must "
            "review every ECG."
        )
        self.disclaimer.setObjectName("disclaimer")
        self.disclaimer.setWordWrap(True)
        self.disclaimer.setTextFormat(Qt.TextFormat.RichText)
        for widget in (title, self.status_label, self.where_label, self.engine_note,
                       self.disclaimer):  # fmt: skip
            layout.addWidget(widget)

    def _build_question(self, layout: QVBoxLayout) -> None:
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("presetBox")
        self.preset_box.addItem("Free question (type below)", "")
        for preset in PRESETS:
            self.preset_box.addItem(preset.text, preset.key)
        self.preset_box.setCurrentIndex(1)
        self.preset_box.currentIndexChanged.connect(self._on_preset_box_changed)
        self.question_edit = QPlainTextEdit()
        self.question_edit.setObjectName("questionEdit")
        self.question_edit.setPlaceholderText("Ask about this ECG (Ctrl+Enter)")
        self.question_edit.setMaximumHeight(72)
        self.question_edit.setPlainText(PRESETS[0].text)
        self.interpret_button = QPushButton("Interpret")
        self.interpret_button.setObjectName("interpretButton")
        self.interpret_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.regenerate_button = QPushButton("Regenerate")
        self.new_button = QPushButton("New reading")
        self.new_button.setToolTip("Clear the conversation and ask about this ECG afresh")
        row = QHBoxLayout()
        for button in (self.interpret_button, self.stop_button, self.regenerate_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.new_button)
        self.interpret_button.clicked.connect(self.request_interpretation)
        self.stop_button.clicked.connect(self.stop_requested)
        self.regenerate_button.clicked.connect(self.regenerate_requested)
        self.new_button.clicked.connect(self.new_reading_requested)
        shortcut = QShortcut(QKeySequence("Ctrl+Return"), self.question_edit)
        shortcut.activated.connect(self.request_interpretation)
        layout.addWidget(self.preset_box)
        layout.addWidget(self.question_edit)
        layout.addLayout(row)

    def _build_thread(self, layout: QVBoxLayout) -> None:
        self.draft_label = QLabel(DRAFT_LABEL)
        self.draft_label.setObjectName("draftLabel")
        self.thread_view = QTextBrowser()
        self.thread_view.setObjectName("threadView")
        self.thread_view.setOpenLinks(False)
        self.thread_view.setPlaceholderText("The model's reading appears here as it is written.")
        layout.addWidget(self.draft_label)
        layout.addWidget(self.thread_view, 3)

    def _build_notes(self, layout: QVBoxLayout) -> None:
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        notes_title = QLabel("Clinician notes (yours, not AI-generated)")
        notes_title.setObjectName("notesTitle")
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setObjectName("notesEdit")
        self.notes_edit.setPlaceholderText(
            "Your own notes on this ECG; kept apart from the AI text."
        )
        self.notes_edit.setMaximumHeight(110)
        self.notes_edit.textChanged.connect(
            lambda: self.notes_edited.emit(self.notes_edit.toPlainText())
        )
        for widget in (line, notes_title, self.notes_edit):
            layout.addWidget(widget)

    # -- user actions ----------------------------------------------------------
    def _on_preset_box_changed(self, index: int) -> None:
        key = self.preset_box.itemData(index)
        if key:
            self.question_edit.setPlainText(self.preset_box.itemText(index))

    def request_interpretation(self) -> None:
        """Ask the typed question (the Interpret button, Ctrl+Enter and Model > Interpret)."""
        question = self.question_edit.toPlainText().strip()
        if not question or not self.interpret_button.isEnabled():
            return
        key = str(self.preset_box.currentData() or "")
        preset_text = self.preset_box.currentText()
        self.interpret_requested.emit(question, key if question == preset_text else "")

    # -- state shown ---------------------------------------------------------
    def set_status(self, text: str) -> None:
        if text.endswith("Choose model..."):
            head = html.escape(text[: -len("Choose model...")])
            self.status_label.setText(f"{head}<a href='choose'>Choose model...</a>")
        else:
            self.status_label.setText(html.escape(text))

    def set_engine_note(self, text: str) -> None:
        """What the engine changed or could not do (a refused setting, a restart); "" hides it."""
        self.engine_note.setText(text)
        self.engine_note.setVisible(bool(text))

    def set_where(self, text: str) -> None:
        """Where readings run ("Reading on gpu-01.cardio.local"); "" (this computer) hides it."""
        self.where_label.setText(html.escape(text))
        self.where_label.setVisible(bool(text))

    def set_model_ready(self, ready: bool) -> None:
        self._model_ready = ready
        self._update_buttons()
        self.render_now()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready, busy = self._model_ready, self._busy
        self.interpret_button.setEnabled(ready and not busy)
        self.regenerate_button.setEnabled(ready and not busy and bool(self._turns))
        self.new_button.setEnabled(not busy and bool(self._turns))
        self.stop_button.setEnabled(busy)
        self.interpret_button.setText("Ask follow-up" if self._turns else "Interpret")

    def set_ecg_model(self, is_ecg_model: bool) -> None:
        self._is_ecg_model = is_ecg_model
        self.draft_label.setText(DRAFT_LABEL if is_ecg_model else NOT_ECG_LABEL)
        self.draft_label.setProperty("warning", not is_ecg_model)
        self.draft_label.style().polish(self.draft_label)

    def show_thread(self, turns: Sequence[Turn]) -> None:
        """Show these turns (the last may still be streaming); re-rendered at most every 40 ms."""
        self._turns = list(turns)
        self._update_buttons()
        if not self._render_timer.isActive():
            self._render_timer.start()

    def render_now(self) -> None:
        self._render_timer.stop()
        self._render()

    def _render(self) -> None:
        bar = self.thread_view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        document = QTextDocument(self.thread_view)
        document.setDefaultFont(self.thread_view.font())
        if not self._turns and not self._model_ready:
            document.setHtml(NO_MODEL_HELP)
        cursor = QTextCursor(document)
        for index, turn in enumerate(self._turns):
            self._render_turn(cursor, index, turn)
        self.thread_view.setDocument(document)
        if at_end:
            bar.setValue(bar.maximum())

    def _render_turn(self, cursor: QTextCursor, index: int, turn: Turn) -> None:
        label = "Question" if index == 0 else "Follow-up"
        if index:
            cursor.insertHtml("<hr/>")
        cursor.insertHtml(f"<p><b>{label}:</b> {html.escape(turn.question)}</p><br/>")
        if turn.answer.strip():
            cursor.insertMarkdown(turn.answer)
        elif turn.stop_reason is None:
            cursor.insertHtml("<p><i>Reading...</i></p>")
        elif turn.answer:
            cursor.insertHtml("<p><i>(The model wrote only blank lines.)</i></p>")
        if turn.stop_reason is not None and not turn.complete:  # streaming shows "Reading..."
            cursor.insertHtml(f"<br/><p><i>[{html.escape(stop_label(turn.stop_reason))}]</i></p>")
        cursor.insertBlock()

    def thread_text(self) -> str:
        return self.thread_view.toPlainText()

    def set_notes(self, text: str) -> None:
        self.notes_edit.blockSignals(True)
        self.notes_edit.setPlainText(text)
        self.notes_edit.blockSignals(False)
