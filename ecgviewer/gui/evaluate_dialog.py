"""Evaluate the model on a labelled ECG set: the window's face of `ecgviewer eval run`.

Choose a set, a task and a results file, start, watch "n of N, about m min left",
cancel, read the score (the text `ecgviewer eval score` prints) and save the PDF
report. The run happens in `EvaluationRun` (a pool thread and its own model
worker process), so the dialog never blocks the window. See docs/evaluation.md.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.errors import Cancelled, InputError
from ecgviewer.core.evaluation.session import DEFAULT_MAX_TOKENS, run_args, write_report
from ecgviewer.core.evaluation.tasks import TASKS
from ecgviewer.core.evaluation.text_output import format_run_summary
from ecgviewer.core.settings import ModelSettings
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.evaluation_run import EvaluationOutcome, EvaluationRun, progress_text
from ecgviewer.gui.reading import ReadingController
from ecgviewer.gui.tasks import run_task, wait_for_tasks

GGUF_FILTER = "GGUF model files (*.gguf);;All files (*)"
LISTING_FILTER = "Labelled sets (*.csv *.jsonl *.json);;All files (*)"
INFO = (
    "<p>Runs the model over a labelled ECG set and scores it as ECGBench does. Research use "
    "only: benchmark numbers, not a statement about any patient.</p><p>The evaluation loads "
    "the model <b>a second time, in its own process</b>: memory use doubles while the "
    "window's model is loaded too. Start waits while the window is generating an answer.</p>"
)


def default_results_path(dataset: Path) -> Path:
    """`<dataset>-results.jsonl` beside the set (beside the folder, for a folder)."""
    stem = dataset.name if dataset.is_dir() else dataset.stem
    return dataset.with_name(f"{stem}-results.jsonl")


class EvaluateDialog(QDialog):
    """Run, watch, cancel and score an evaluation of the model on a labelled set."""

    def __init__(
        self,
        model: ModelSettings,
        parent: QWidget | None = None,
        *,
        page_size: str = "auto",
        reading: ReadingController | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Evaluate on a labelled set")
        self.setObjectName("evaluateDialog")
        self.setMinimumSize(780, 640)
        self._page_size = page_size
        self._run: EvaluationRun | None = None
        self._close_when_done = False
        self._main_busy = False
        self._output_chosen = False  # the user typed or picked the results file
        self._first_progress: tuple[int, float] | None = None
        self._scored: tuple[Path, str] | None = None  # results file and task of the summary
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_info())
        layout.addLayout(self._build_form(model))
        layout.addLayout(self._build_progress())
        layout.addWidget(self._build_summary(), 1)
        layout.addLayout(self._build_buttons())
        if reading is not None:
            reading.turn_started.connect(self._on_reading_turn_started)
            reading.turn_finished.connect(self._on_reading_turn_finished)
            self._main_busy = reading.busy
        self._update_buttons()

    # -- layout ------------------------------------------------------------------------
    def _build_info(self) -> QLabel:
        self.info_label = QLabel(INFO)
        self.info_label.setObjectName("evaluateInfo")
        self.info_label.setWordWrap(True)
        return self.info_label

    def _build_form(self, model: ModelSettings) -> QFormLayout:
        form = QFormLayout()
        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("folder with images and one listing, or the listing")
        self.dataset_edit.textChanged.connect(self._on_dataset_edit_text_changed)
        file_button, folder_button = _button("File..."), _button("Folder...")
        file_button.clicked.connect(self._on_dataset_file_clicked)
        folder_button.clicked.connect(self._on_dataset_folder_clicked)
        form.addRow("Labelled set:", _row(self.dataset_edit, file_button, folder_button))
        self.task_combo = QComboBox()
        for name, spec in TASKS.items():
            self.task_combo.addItem(f"{spec.title} ({name})", name)
        form.addRow("Task:", self.task_combo)
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("results file (.jsonl)")
        self.output_edit.textEdited.connect(self._on_output_edit_text_edited)
        self.output_edit.textChanged.connect(self._update_buttons)
        output_button = _button("Browse...")
        output_button.clicked.connect(self._on_output_browse_clicked)
        form.addRow("Results file:", _row(self.output_edit, output_button))
        self.text_edit = self._model_row(form, "Text model:", model.text_path)
        self.mmproj_edit = self._model_row(form, "Vision projector:", model.mmproj_path)
        form.addRow("Questions:", self._build_limits())
        self.resume_check = QCheckBox("Resume: keep the answers already in the results file")
        form.addRow("", self.resume_check)
        return form

    def _model_row(self, form: QFormLayout, label: str, value: str) -> QLineEdit:
        edit = QLineEdit(value)
        edit.setPlaceholderText("path to a .gguf file")
        edit.textChanged.connect(self._update_buttons)
        browse = _button("Browse...")
        browse.clicked.connect(lambda: self._browse_model(edit))
        form.addRow(label, _row(edit, browse))
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

    def _build_progress(self) -> QVBoxLayout:
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("")
        self.status_label = QLabel("Choose a labelled set, the task and the results file.")
        self.status_label.setObjectName("evaluateStatus")
        self.status_label.setWordWrap(True)
        column = QVBoxLayout()
        column.addWidget(self.progress_bar)
        column.addWidget(self.status_label)
        return column

    def _build_summary(self) -> QPlainTextEdit:
        self.summary_view = QPlainTextEdit()
        self.summary_view.setObjectName("evaluateSummary")
        self.summary_view.setReadOnly(True)
        self.summary_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.summary_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.summary_view.setPlaceholderText("The score appears here when the run ends.")
        self.summary_view.setMinimumHeight(220)
        return self.summary_view

    def _build_buttons(self) -> QHBoxLayout:
        self.save_report_button = _button("Save PDF report...")
        self.start_button = _button("Start")
        self.cancel_button = _button("Cancel")
        self.close_button = _button("Close")
        self.save_report_button.clicked.connect(self._on_save_report_clicked)
        self.start_button.clicked.connect(self._on_start_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.close_button.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.save_report_button)
        row.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            row.addWidget(button)
        return row

    # -- state ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._run is not None

    def set_main_model_busy(self, busy: bool) -> None:
        """The window's own model is (or no longer is) generating an answer."""
        self._main_busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        filled = all(
            edit.text().strip()
            for edit in (self.dataset_edit, self.output_edit, self.text_edit, self.mmproj_edit)
        )
        running = self.running
        self.start_button.setEnabled(filled and not running and not self._main_busy)
        self.start_button.setToolTip(
            "The window is generating an answer; start when it is done." if self._main_busy else ""
        )
        self.cancel_button.setEnabled(running and not self._run_stopping())
        self.save_report_button.setEnabled(not running and self._scored is not None)

    def _run_stopping(self) -> bool:
        return self._run is not None and self._run.stop_requested

    def _on_reading_turn_started(self, *_: object) -> None:
        self.set_main_model_busy(True)

    def _on_reading_turn_finished(self, *_: object) -> None:
        self.set_main_model_busy(False)

    # -- choosing files ------------------------------------------------------------------
    def _on_dataset_edit_text_changed(self, text: str) -> None:
        if text.strip() and not self._output_chosen:
            self.output_edit.setText(str(default_results_path(Path(text.strip()))))
        self._update_buttons()

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

    def _browse_model(self, edit: QLineEdit) -> None:
        start = edit.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF file", start, GGUF_FILTER)
        if path:
            edit.setText(path)

    # -- running -------------------------------------------------------------------------
    def _on_start_clicked(self) -> None:
        if self.running or self._main_busy:
            return
        out = Path(self.output_edit.text().strip())
        if not self.resume_check.isChecked() and out.exists() and out.stat().st_size > 0:
            present_error(self, InputError(
                f"The results file {out.name} already exists.",
                hint="Tick Resume to continue it, or choose another results file.",
            ))  # fmt: skip
            return
        self._start(out)

    def _start(self, out: Path) -> None:
        args = run_args(
            Path(self.dataset_edit.text().strip()),
            model=Path(self.text_edit.text().strip()),
            mmproj=Path(self.mmproj_edit.text().strip()),
            task=str(self.task_combo.currentData()),
            out=out,
            limit=self.limit_spin.value() or None,
            resume=self.resume_check.isChecked(),
            max_tokens=self.max_tokens_spin.value(),
        )
        run = EvaluationRun(args, self)
        run.progressed.connect(self._on_run_progressed)
        run.finished.connect(self._on_run_finished)
        run.failed.connect(self._on_run_failed)
        self._run, self._first_progress, self._scored = run, None, None
        self.summary_view.clear()
        self.progress_bar.setRange(0, 0)  # busy until the first item count arrives
        self.status_label.setText("Checking the set, then loading the model...")
        self._update_buttons()
        run.start()

    def _on_run_progressed(self, done: int, total: int) -> None:
        if self._first_progress is None:
            self._first_progress = (done, time.monotonic())
        first_done, started = self._first_progress
        text = progress_text(
            done, total, first_done=first_done, elapsed_s=time.monotonic() - started
        )
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setFormat(text)
        self.progress_bar.setValue(done)
        if not self._run_stopping():
            self.status_label.setText("Answering. Cancel keeps the answers given so far.")

    def _on_cancel_clicked(self) -> None:
        if self._run is not None:
            self._run.stop()
            self.status_label.setText("Stopping...")
            self._update_buttons()

    def _on_run_finished(self, outcome: EvaluationOutcome) -> None:
        summary = outcome.summary
        self._finish_run()
        parts = [f"Warning: {warning}" for warning in outcome.warnings]
        parts.append(format_run_summary(summary))
        parts.append(outcome.score_text or outcome.score_problem)
        self.summary_view.setPlainText("\n\n".join(parts))
        if outcome.score_text:
            self._scored = (summary.out_path, outcome.task)
        done = summary.already_done + summary.written
        self.progress_bar.setRange(0, max(summary.total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done} of {summary.total}")
        if summary.cancelled:
            self.status_label.setText(_cancelled_text(summary.written))
            self.resume_check.setChecked(True)
        else:
            self.status_label.setText(f"Done: {done} of {summary.total} answered.")
        self._after_run()

    def _on_run_failed(self, error: BaseException) -> None:
        self._finish_run()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setFormat("")
        if isinstance(error, Cancelled):
            self.status_label.setText(_cancelled_text(0))
        else:
            self.status_label.setText(f"The evaluation stopped: {error}")
            present_error(self, error)
        self._after_run()

    def _finish_run(self) -> None:
        """Forget the run that just ended."""
        if self._run is not None:
            self._run.deleteLater()
        self._run = None

    def _after_run(self) -> None:
        self._update_buttons()
        if self._close_when_done:
            super().reject()

    # -- report --------------------------------------------------------------------------
    def _on_save_report_clicked(self) -> None:
        if self._scored is None:
            return
        start = str(self._scored[0].with_suffix(".pdf"))
        path, _ = QFileDialog.getSaveFileName(self, "Save PDF report", start, "PDF (*.pdf)")
        if path:
            self.save_report(Path(path))

    def save_report(self, out: Path) -> None:
        """Write the PDF report of the last scored run in the background."""
        if self._scored is None:
            return
        results, task = self._scored
        self.status_label.setText("Writing the PDF report...")
        self.save_report_button.setEnabled(False)
        run_task(
            self,
            lambda: write_report(results, task, out, page_size=self._page_size),
            self._on_report_written,
            self._on_report_failed,
        )

    def _on_report_written(self, path: Path) -> None:
        self.status_label.setText(f"Report written: {path}")
        self._update_buttons()

    def _on_report_failed(self, error: BaseException) -> None:
        self.status_label.setText("The report was not written.")
        self._update_buttons()
        present_error(self, error)

    # -- closing -------------------------------------------------------------------------
    def reject(self) -> None:
        """Close, Esc or the window's close box: a running evaluation is stopped first.

        The dialog stays open (never blocking) until the run has closed its model
        worker, then closes itself.
        """
        if self._run is None:
            super().reject()
            return
        self._close_when_done = True
        self._run.stop()
        self.status_label.setText("Stopping the evaluation; this window closes when it has.")
        self._update_buttons()

    def shutdown(self, msecs: int = 30_000) -> None:
        """GUI thread, at application exit only: stop a run and wait for its worker to close."""
        if self._run is not None:
            self._run.stop()
            wait_for_tasks(msecs)


def _cancelled_text(answered: int) -> str:
    items = "item" if answered == 1 else "items"
    return f"Cancelled after {answered} {items}; run again with Resume to continue."


def _button(text: str) -> QPushButton:
    """A button that Enter does not press: Enter in a path field must not open a file dialog."""
    button = QPushButton(text)
    button.setAutoDefault(False)
    return button


def _row(edit: QLineEdit, *buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    for button in buttons:
        row.addWidget(button)
    return row
