"""The choices of an evaluation run: labelled set, task, results file, where it runs (the
model pair on this computer, or the configured inference server and how many requests
it gets at a time), limits.

`EvaluationForm` only collects paths and numbers and turns them into the core's
`eval run` request (`session.EvalRunRequest`); `EvaluateDialog` runs it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ecgviewer.core.evaluation.session import DEFAULT_MAX_TOKENS, EvalRunRequest
from ecgviewer.core.evaluation.tasks import TASKS
from ecgviewer.core.settings import ModelSettings
from ecgviewer.gui.file_fields import add_gguf_row, button_row, plain_button

LISTING_FILTER = "Labelled sets (*.csv *.jsonl *.json);;All files (*)"


def default_results_path(dataset: Path) -> Path:
    """`<dataset>-results.jsonl` beside the set (beside the folder, for a folder)."""
    stem = dataset.name if dataset.is_dir() else dataset.stem
    return dataset.with_name(f"{stem}-results.jsonl")


class EvaluationForm(QWidget):
    """Set, task, results file, model pair, question limit, token limit and resume."""

    changed = Signal()  # a path was edited: whether the form is complete may have changed

    def __init__(self, model: ModelSettings, parent: QWidget | None = None, *,
                 server_url: str = "") -> None:  # fmt: skip
        super().__init__(parent)
        self._output_chosen = False  # the user typed or picked the results file
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Labelled set:", self._build_dataset_row())
        self.task_combo = QComboBox()
        for name, spec in TASKS.items():
            self.task_combo.addItem(f"{spec.title} ({name})", name)
        form.addRow("Task:", self.task_combo)
        form.addRow("Results file:", self._build_output_row())
        form.addRow("Run on:", self._build_where_row(server_url))
        self.text_edit = self._model_row(form, "Text model:", model.text_path)
        self.mmproj_edit = self._model_row(form, "Vision projector:", model.mmproj_path)
        form.addRow("Questions:", self._build_limits())
        self.resume_check = QCheckBox("Resume: keep the answers already in the results file")
        form.addRow("", self.resume_check)
        self._on_where_combo_changed(self.where_combo.currentIndex())

    def _build_dataset_row(self) -> QHBoxLayout:
        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("folder with images and one listing, or the listing")
        self.dataset_edit.textChanged.connect(self._on_dataset_edit_text_changed)
        file_button, folder_button = plain_button("File..."), plain_button("Folder...")
        file_button.clicked.connect(self._on_dataset_file_clicked)
        folder_button.clicked.connect(self._on_dataset_folder_clicked)
        return button_row(self.dataset_edit, file_button, folder_button)

    def _build_output_row(self) -> QHBoxLayout:
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("results file (.jsonl)")
        self.output_edit.textEdited.connect(self._on_output_edit_text_edited)
        self.output_edit.textChanged.connect(self.changed)
        output_button = plain_button("Browse...")
        output_button.clicked.connect(self._on_output_browse_clicked)
        return button_row(self.output_edit, output_button)

    def _build_where_row(self, server_url: str) -> QHBoxLayout:
        """This computer, or the inference server of Settings > Inference server."""
        self.where_combo = QComboBox()
        self.where_combo.addItem("This computer (the model files below)", "")
        if server_url:
            self.where_combo.addItem(f"Inference server {server_url}", server_url)
            self.where_combo.setCurrentIndex(1)
        self.concurrency_spin = QSpinBox()
        self.concurrency_spin.setRange(1, 64)
        self.concurrency_spin.setValue(4)
        self.concurrency_spin.setToolTip("Questions sent to the server at a time")
        self.where_combo.currentIndexChanged.connect(self._on_where_combo_changed)
        row = QHBoxLayout()
        row.addWidget(self.where_combo, 1)
        row.addWidget(QLabel("Requests at a time:"))
        row.addWidget(self.concurrency_spin)
        return row

    def server_url(self) -> str:
        """The server chosen to answer ("" = this computer)."""
        return str(self.where_combo.currentData() or "")

    def _on_where_combo_changed(self, _index: int) -> None:
        remote = bool(self.server_url())
        self.concurrency_spin.setEnabled(remote)
        for edit in (self.text_edit, self.mmproj_edit):
            edit.setEnabled(not remote)
        self.changed.emit()

    def _model_row(self, form: QFormLayout, label: str, value: str) -> QLineEdit:
        edit = add_gguf_row(form, label, value)
        edit.textChanged.connect(self.changed)
        return edit

    def _build_limits(self) -> QHBoxLayout:
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(0, 10_000_000)
        self.limit_spin.setSpecialValueText("all")
        self.limit_spin.setToolTip("Only the first N questions of the set (0 = all)")
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 8192)
        self.max_tokens_spin.setValue(DEFAULT_MAX_TOKENS)
        self.max_tokens_spin.setToolTip("New tokens per answer (ECGBench: 1,024)")
        row = QHBoxLayout()
        row.addWidget(QLabel("First"))
        row.addWidget(self.limit_spin)
        row.addSpacing(24)
        row.addWidget(QLabel("Max new tokens per answer:"))
        row.addWidget(self.max_tokens_spin)
        row.addStretch(1)
        return row

    # -- reading the choices -------------------------------------------------------------
    def is_complete(self) -> bool:
        """Every path is filled in (whether the files are usable is the run's to say)."""
        edits = [self.dataset_edit, self.output_edit]
        if not self.server_url():  # a server brings its own model
            edits += [self.text_edit, self.mmproj_edit]
        return all(edit.text().strip() for edit in edits)

    def results_path(self) -> Path:
        return Path(self.output_edit.text().strip())

    def run_request(self) -> EvalRunRequest:
        """The choices as the request `ecgviewer eval run` builds from its arguments."""
        return EvalRunRequest(
            dataset=Path(self.dataset_edit.text().strip()),
            model=Path(self.text_edit.text().strip()),
            mmproj=Path(self.mmproj_edit.text().strip()),
            task=str(self.task_combo.currentData()),
            out=self.results_path(),
            limit=self.limit_spin.value() or None,
            resume=self.resume_check.isChecked(),
            max_tokens=self.max_tokens_spin.value(),
            server=self.server_url(),
            concurrency=self.concurrency_spin.value() if self.server_url() else 1,
        )

    # -- choosing files ------------------------------------------------------------------
    def _on_dataset_edit_text_changed(self, text: str) -> None:
        if text.strip() and not self._output_chosen:
            self.output_edit.setText(str(default_results_path(Path(text.strip()))))
        self.changed.emit()

    def _on_dataset_file_clicked(self) -> None:
        start = self.dataset_edit.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a labelled set", start, LISTING_FILTER)
        if path:
            self.dataset_edit.setText(path)

    def _on_dataset_folder_clicked(self) -> None:
        start = self.dataset_edit.text() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Choose the folder of a labelled set", start)
        if path:
            self.dataset_edit.setText(path)

    def _on_output_edit_text_edited(self, _text: str) -> None:
        self._output_chosen = True

    def _on_output_browse_clicked(self) -> None:
        start = self.output_edit.text() or str(Path.home())
        path, _ = QFileDialog.getSaveFileName(
            self, "Results file", start, "Results (*.jsonl);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )  # fmt: skip
        if path:
            self._output_chosen = True
            self.output_edit.setText(path)
