"""Model > Import from a Hugging Face folder: what was found, what it costs, stages, the report.

A view over the core: `survey` (instant, config and shard headers only) fills
the facts; `ImportJob` runs `import_checkpoint` off the GUI thread. Cancel works
in every stage and leaves the output folder as it was.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.errors import Cancelled, EcgViewerError
from ecgviewer.core.inference.memory import available_memory, gib
from ecgviewer.core.modelimport.calibrate import DEFAULT_IMAGES
from ecgviewer.core.modelimport.importer import STAGES, ImportRequest, ImportResult
from ecgviewer.core.modelimport.quantize import USES_IMATRIX
from ecgviewer.core.modelimport.survey import Survey, survey
from ecgviewer.core.paths import AppPaths
from ecgviewer.gui.file_fields import add_folder_row, add_gguf_row
from ecgviewer.gui.import_job import ImportJob, eta_text
from ecgviewer.gui.tasks import run_task

QUANTS = (("Q4_K_M", "recommended"), ("Q5_K_M", ""), ("Q8_0", ""), ("F16", "full precision"))
STAGE_WORDS = {"read": "Reading and hashing the checkpoint", "convert": "Converting to GGUF",
               "calibrate": "Calibrating on ECG images and cardiology text",
               "quantize": "Quantizing", "check": "Checking the new model"}  # fmt: skip
GREEN, RED, AMBER = "#1a7f37", "#b3261e", "#8a5a00"


class ImportDialog(QDialog):
    """See the module docstring; emits `imported` with the result when an import succeeds."""

    imported = Signal(object)  # ImportResult

    def __init__(self, paths: AppPaths, folder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Import a model from a Hugging Face folder")
        self.setObjectName("importDialog")
        self.setMinimumWidth(680)
        self._paths = paths
        self._survey: Survey | None = None
        self._serial = 0
        self._job: ImportJob | None = None
        self._stage, self._stage_started = "", 0.0
        layout = QVBoxLayout(self)
        self._form_box = QWidget()
        self._form_box.setLayout(self._build_form(folder))
        layout.addWidget(self._form_box)
        self.facts_label = self._label("Choose the folder that holds config.json, the "
                                       "model*.safetensors files and tokenizer.model.")  # fmt: skip
        self.stage_label = self._label("")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.report_label = self._label("")
        for widget in (self.facts_label, self.stage_label, self.progress, self.report_label):
            layout.addWidget(widget)
        layout.addWidget(self._build_buttons())
        self._show_running(False)
        self._on_settings_changed()
        if folder:
            self._survey_folder()

    @staticmethod
    def _label(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        return label

    def _build_form(self, folder: str) -> QFormLayout:
        form = QFormLayout()
        self.folder_edit = add_folder_row(form, "Checkpoint folder:", folder,
                                          "a Hugging Face Gemma 3 checkpoint",
                                          self._survey_folder)  # fmt: skip
        self.lora_edit = add_folder_row(form, "LoRA adapter (optional):", "",
                                        "a PEFT adapter folder, merged into the checkpoint",
                                        self._survey_folder)  # fmt: skip
        models = str(self._paths.user_models_dir)
        self.out_edit = add_folder_row(form, "Save to:", models, "folder for the new GGUF pair",
                                       self._survey_folder)  # fmt: skip
        for edit in (self.folder_edit, self.lora_edit, self.out_edit):
            edit.editingFinished.connect(self._survey_folder)
        self.quant_box = QComboBox()
        self.imatrix_box = QComboBox()
        self.imatrix_box.addItem(
            "Calibrate on ECG images and cardiology text (recommended)", "auto"
        )
        self.imatrix_box.addItem("None", "none")
        self.imatrix_box.addItem("Use an importance-matrix file...", "file")
        self.images_box = QSpinBox()
        self.images_box.setRange(1, 64)
        self.images_box.setValue(DEFAULT_IMAGES)
        form.addRow("Quantization:", self.quant_box)
        form.addRow("Importance matrix:", self.imatrix_box)
        self.imatrix_edit = add_gguf_row(form, "Importance-matrix file:", "")
        self._imatrix_row = form.rowCount() - 1
        form.addRow("Calibration images:", self.images_box)
        self._form = form
        self._fill_quants()
        for box in (self.quant_box, self.imatrix_box):
            box.currentIndexChanged.connect(self._on_settings_changed)
        self.images_box.valueChanged.connect(self._on_settings_changed)
        return form

    def _build_buttons(self) -> QDialogButtonBox:
        buttons = QDialogButtonBox()
        self.import_button = buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton(
            "Cancel import", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.import_button.clicked.connect(self._on_import_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        return buttons

    # -- what was found ---------------------------------------------------------------
    def _request(self) -> ImportRequest:
        lora = self.lora_edit.text().strip()
        choice = str(self.imatrix_box.currentData())
        imatrix = self.imatrix_edit.text().strip() if choice == "file" else choice
        return ImportRequest(
            Path(self.folder_edit.text().strip()), Path(self.out_edit.text().strip()),
            str(self.quant_box.currentData()), threads=2, lora=Path(lora) if lora else None,
            imatrix=imatrix, calibration_images=self.images_box.value(),
            manifest=self._paths.user_manifest_file,
        )  # fmt: skip

    def _survey_folder(self) -> None:
        request = self._request()
        if not str(request.folder) or str(request.folder) == ".":
            return
        self._serial += 1
        serial = self._serial
        self.facts_label.setText("Looking at the folder...")
        self.import_button.setEnabled(False)
        run_task(self, lambda: survey(request.folder, request.out, request.lora),
                 lambda found: self._on_survey_done(serial, found),
                 lambda error: self._on_survey_failed(serial, error))  # fmt: skip

    def _on_survey_done(self, serial: int, found: Survey) -> None:
        if serial != self._serial:
            return  # the user changed the folder meanwhile
        self._survey = found
        self._fill_quants()
        self._on_settings_changed()

    def _on_survey_failed(self, serial: int, error: BaseException) -> None:
        if serial != self._serial:
            return
        self._survey = None
        text = str(error) if isinstance(error, EcgViewerError) else f"Unexpected problem: {error}"
        self.facts_label.setText(f"<span style='color:{RED}'>{html.escape(text)}</span>")
        self.import_button.setEnabled(False)

    def _fill_quants(self) -> None:
        chosen = self.quant_box.currentData() or "Q4_K_M"
        self.quant_box.blockSignals(True)
        self.quant_box.clear()
        for quant, note in QUANTS:
            size = f" - {gib(self._survey.text_bytes(quant))}" if self._survey else ""
            self.quant_box.addItem(f"{quant}{size}{f' ({note})' if note else ''}", quant)
        self.quant_box.setCurrentIndex(max(0, self.quant_box.findData(chosen)))
        self.quant_box.blockSignals(False)

    def _on_settings_changed(self) -> None:
        quant = str(self.quant_box.currentData())
        uses = quant in USES_IMATRIX
        self.imatrix_box.setEnabled(uses)
        calibrating = uses and self.imatrix_box.currentData() == "auto"
        self.images_box.setEnabled(calibrating)
        file_row = uses and self.imatrix_box.currentData() == "file"
        self._form.setRowVisible(self._imatrix_row, file_row)
        if self._survey is not None:
            self.facts_label.setText(self._facts_html(quant, uses, calibrating))

    def _facts_html(self, quant: str, uses: bool, calibrating: bool) -> str:
        found = self._survey
        assert found is not None
        cp = found.checkpoint
        free_memory = available_memory()
        needed = found.disk_bytes(quant)
        disk_ok = needed <= found.free_bytes
        disk = (f"{gib(needed)} needed, {gib(found.free_bytes)} free"
                + ("" if disk_ok else f" <b style='color:{RED}'>- not enough</b>"))  # fmt: skip
        memory = f"about {gib(found.memory_bytes(quant))}" + (
            f" of {gib(free_memory)} free now" if free_memory else "")  # fmt: skip
        if not uses:
            matrix = "not used: llama.cpp uses an importance matrix only for K-quants"
        elif calibrating:
            minutes = found.calibration_seconds(self.images_box.value()) / 60
            matrix = f"calibrated here, about {max(1, round(minutes))} min on this computer"
        else:
            matrix = str(self.imatrix_box.currentText())
        rows = [
            ("Found", f"{html.escape(found.architecture)}, {cp.text.layers} text blocks, "
             f"{cp.text.hidden} wide; SigLIP {cp.vision.image_size} px"),
            ("Weights", f"{cp.dtype}, {gib(cp.size_bytes)} in {len(cp.shard_files)} file(s), "
             f"{cp.layout} tensor names" + (", transformers 5 config" if cp.transformers5 else "")),
            ("LoRA", html.escape(found.lora) + " (merged while converting)" if found.lora
             else "none (a merged checkpoint)"),
            ("Known model", "the new files are compared with models/manifest.json by SHA-256"),
            ("ECG model", "yes, by its name" if found.looks_like_ecg_model else
             "<b>no</b> - its output will not be shown as an ECG interpretation"),
            ("New files", f"text model {gib(found.text_bytes(quant))}, "
             f"projector {gib(found.projector_bytes())} (F16)"),
            ("Disk", disk), ("Memory to run", memory), ("Importance matrix", matrix),
        ]  # fmt: skip
        table = "".join(f"<tr><td><b>{k}:</b>&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
        verdict = (
            f"<span style='color:{GREEN}'>This checkpoint can be imported.</span>" if disk_ok
            else f"<span style='color:{RED}'>Not enough free disk space.</span>"
        )  # fmt: skip
        self.import_button.setEnabled(disk_ok and self._job is None)
        return f"{verdict}<table>{table}</table>"

    # -- importing --------------------------------------------------------------------
    def _on_import_clicked(self) -> None:
        job = ImportJob(self._request(), self)
        job.progressed.connect(self._on_job_progressed)
        job.finished.connect(self._on_job_finished)
        job.failed.connect(self._on_job_failed)
        self._job = job
        self.report_label.clear()
        self._show_running(True)
        job.start()

    def cancel(self) -> None:
        """Stop the import in progress; the output folder is left as it was."""
        if self._job is not None:
            self._job.cancel()
            self.stage_label.setText("Cancelling...")

    def _on_job_progressed(self, stage: str, fraction: float) -> None:
        if stage != self._stage:
            self._stage, self._stage_started = stage, time.monotonic()
        if self._job is not None and self._job.cancelled:
            return
        number = STAGES.index(stage) + 1
        eta = eta_text(time.monotonic() - self._stage_started, fraction)
        self.stage_label.setText(f"Stage {number} of {len(STAGES)}: {STAGE_WORDS[stage]}"
                                 + (f" - {eta}" if eta else ""))  # fmt: skip
        self.progress.setValue(round(1000 * (number - 1 + fraction) / len(STAGES)))

    def _on_job_finished(self, result: ImportResult) -> None:
        cancelled = self._job is not None and self._job.cancelled
        self._job = None
        self._show_running(False)
        self.stage_label.setText(f"<span style='color:{GREEN}'>Imported. The new pair is "
                                 "loading.</span>")  # fmt: skip
        self.progress.setValue(1000)
        self.report_label.setText(report_html(result))
        self.import_button.setVisible(False)  # done: importing again would meet its own files
        if cancelled:  # Cancel came after the files were in place: keep them, do not load
            self.stage_label.setText("Imported (Cancel came too late to stop it); not loaded.")
            return
        self.imported.emit(result)

    def _on_job_failed(self, error: BaseException) -> None:
        self._job = None
        self._show_running(False)
        self.progress.setValue(0)
        if isinstance(error, Cancelled):
            self.stage_label.setText("Import cancelled. Nothing was written.")
            return
        text = str(error) if isinstance(error, EcgViewerError) else f"Unexpected problem: {error}"
        self.stage_label.setText(f"<span style='color:{RED}'>{html.escape(text)}</span>")

    def _show_running(self, running: bool) -> None:
        self._form_box.setEnabled(not running)  # fields and Browse buttons alike
        if not running:
            self._on_settings_changed()
        self.import_button.setVisible(not running)
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running or self.progress.value() > 0)
        self.import_button.setEnabled(not running and self._survey is not None)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel()  # closing the dialog stops the import: nothing is left half-written
        super().closeEvent(event)

    @property
    def running(self) -> bool:
        return self._job is not None


def report_html(result: ImportResult) -> str:
    """The import report as a clinician reads it: files, checks, numbers."""
    check = result.check or {}
    outcome = check.get("outcome", "not run")
    colour = GREEN if outcome == "ok" else AMBER
    warning = "" if outcome == "ok" else " (a warning: try the model before relying on it)"
    ppl = check.get("perplexity") or {}
    rows = [
        ("Text model", html.escape(result.text_model.name)),
        ("Projector", html.escape(result.mmproj.name)),
        ("Importance matrix", html.escape(result.imatrix)),
        ("Known model", html.escape(result.source.get("known_pair") or "")
         or "no: not in models/manifest.json (listed as imported on this computer)"),
        ("Conversion check", f"<span style='color:{colour}'>{outcome}{warning}</span> - "
         f"{html.escape(str(check.get('text', ''))[:80])!s}"),
    ]  # fmt: skip
    if "ratio" in ppl:
        verdict = "ok" if ppl["ok"] else f"<b style='color:{AMBER}'>above {ppl['limit']:.2f}</b>"
        rows.append(("Perplexity", f"F16 {ppl['f16']:.2f}, {result.quant} {ppl['quantized']:.2f}, "
                     f"ratio {ppl['ratio']:.3f} ({verdict})"))  # fmt: skip
    seconds = sum(result.timings.values()) / 1000
    rows.append(("Time", f"{seconds:.0f} s"))
    table = "".join(f"<tr><td><b>{k}:</b>&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
    note = ("The conversion check is a smoke test of the files on the sample ECG, "
            "not a reading.")  # fmt: skip
    return f"<table>{table}</table><p><i>{note}</i></p>"
