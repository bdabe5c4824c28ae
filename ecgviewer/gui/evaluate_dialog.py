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
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.errors import Cancelled, InputError
from ecgviewer.core.evaluation.session import write_report
from ecgviewer.core.evaluation.text_output import format_run_summary
from ecgviewer.core.settings import ModelSettings
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.evaluation_form import EvaluationForm
from ecgviewer.gui.evaluation_run import EvaluationOutcome, EvaluationRun, progress_text
from ecgviewer.gui.file_fields import plain_button
from ecgviewer.gui.reading import ReadingController
from ecgviewer.gui.tasks import run_task, wait_for_tasks

INFO = (
    "<p>Runs the model over a labelled ECG set and scores it as ECGBench does. Research use "
    "only: benchmark numbers, not a statement about any patient.</p><p>The evaluation loads "
    "the model <b>a second time, in its own process</b>: memory use doubles while the "
    "window's model is loaded too. Start waits while the window is generating an answer.</p>"
)


class EvaluateDialog(QDialog):
    """Run, watch, cancel and score an evaluation of the model on a labelled set."""

    def __init__(
        self,
        model: ModelSettings,
        parent: QWidget | None = None,
        *,
        page_size: str = "auto",
        reading: ReadingController | None = None,
        server_url: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Evaluate on a labelled set")
        self.setObjectName("evaluateDialog")
        self.setMinimumSize(780, 640)
        self._page_size = page_size
        self._run: EvaluationRun | None = None
        self._close_when_done = False
        self._writing_report = False
        self._main_busy = False
        self._first_progress: tuple[int, float] | None = None
        self._scored: tuple[Path, str] | None = None  # results file and task of the summary
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_info())
        self.form = EvaluationForm(model, self, server_url=server_url)
        self.form.changed.connect(self._update_buttons)
        layout.addWidget(self.form)
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
        self.save_report_button = plain_button("Save PDF report...")
        self.start_button = plain_button("Start")
        self.cancel_button = plain_button("Cancel")
        self.close_button = plain_button("Close")
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
        running, ready = self.running, self.form.is_complete()
        self.start_button.setEnabled(ready and not running and not self._main_busy)
        self.start_button.setToolTip(
            "The window is generating an answer; start when it is done." if self._main_busy else ""
        )
        self.cancel_button.setEnabled(running and not self._run_stopping())
        self.save_report_button.setEnabled(
            not running and not self._writing_report and self._scored is not None
        )

    def _run_stopping(self) -> bool:
        return self._run is not None and self._run.stop_requested

    def _on_reading_turn_started(self, *_: object) -> None:
        self.set_main_model_busy(True)

    def _on_reading_turn_finished(self, *_: object) -> None:
        self.set_main_model_busy(False)

    # -- running -------------------------------------------------------------------------
    def _on_start_clicked(self) -> None:
        if self.running or self._main_busy:
            return
        out = self.form.results_path()
        if not self.form.resume_check.isChecked() and out.exists() and out.stat().st_size > 0:
            present_error(self, InputError(
                f"The results file {out.name} already exists.",
                hint="Tick Resume to continue it, or choose another results file.",
            ))  # fmt: skip
            return
        self._start()

    def _start(self) -> None:
        run = EvaluationRun(self.form.run_request(), self)
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
            self.form.resume_check.setChecked(True)
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
            present_error(self.parentWidget() if self._close_when_done else self, error)
        self._after_run()

    def _finish_run(self) -> None:
        """Forget the run that just ended."""
        if self._run is not None:
            self._run.deleteLater()
        self._run = None

    def _after_run(self) -> None:
        self._update_buttons()
        if self._close_when_done and not self._writing_report:
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
        self._writing_report = True
        self._update_buttons()
        run_task(
            self,
            lambda: write_report(results, task, out, page_size=self._page_size),
            self._on_report_written,
            self._on_report_failed,
        )

    def _on_report_written(self, path: Path) -> None:
        self._writing_report = False
        self.status_label.setText(f"Report written: {path}")
        self._after_run()

    def _on_report_failed(self, error: BaseException) -> None:
        self._writing_report = False
        self.status_label.setText("The report was not written.")
        present_error(self, error)
        self._after_run()

    # -- closing -------------------------------------------------------------------------
    def reject(self) -> None:
        """Close, Esc or the window's close box: a running evaluation is stopped first.

        The dialog stays open (never blocking) until the run has closed its model
        worker and a report being written is on disk, then closes itself.
        """
        if self._run is None and not self._writing_report:
            super().reject()
            return
        self._close_when_done = True
        if self._run is not None:
            self._run.stop()
        self.status_label.setText("Finishing; this window closes when the work has stopped.")
        self._update_buttons()

    def shutdown(self, msecs: int = 30_000) -> None:
        """GUI thread, at application exit only: stop a run and wait for its worker to close."""
        if self._run is not None:
            self._run.stop()
        if self._run is not None or self._writing_report:
            wait_for_tasks(msecs)


def _cancelled_text(answered: int) -> str:
    items = "item" if answered == 1 else "items"
    return f"Cancelled after {answered} {items}; run again with Resume to continue."
