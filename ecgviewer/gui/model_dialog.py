"""Model settings: choose the GGUF pair, see its facts, set how it runs, load or unload.

The pair is checked (preflight, SHA-256, manifest, memory estimate) on a pool
thread with the core's plain `check_model_pair`, which needs no model; loading
itself is done by the model owner on its thread, so the window never freezes
and only the model thread talks to the runtime.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.case import Provenance
from ecgviewer.core.errors import EcgViewerError
from ecgviewer.core.inference.crash import SafeConfigs
from ecgviewer.core.inference.integrity import HashCache
from ecgviewer.core.inference.loaded import LoadedModel
from ecgviewer.core.inference.machine import MachineFacts, repack_refusal
from ecgviewer.core.inference.memory import MemoryEstimate, available_memory, gib
from ecgviewer.core.inference.pair_check import check_model_pair
from ecgviewer.core.inference.preflight import PairFacts
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.settings import ModelSettings
from ecgviewer.gui.file_fields import add_gguf_row
from ecgviewer.gui.tasks import run_task

FACT_LINES = 11  # the verdict and every row of facts, so nothing is cut off


class ModelDialog(QDialog):
    """Choose and load a model pair; emits `load_requested` / `unload_requested`."""

    load_requested = Signal(str, str, object)  # text path, mmproj path, ModelSettings
    unload_requested = Signal()

    def __init__(
        self, paths: AppPaths, settings: ModelSettings, parent: QWidget | None = None,
        *, loaded: LoadedModel | None = None,
    ):  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle("Model settings")
        self.setObjectName("modelDialog")
        self.setMinimumWidth(640)
        self._paths = paths
        self._loaded = loaded  # the model loaded when the dialog opened (GUI thread's view)
        self._safe_configs = SafeConfigs(paths.safe_configs_file)
        self._hashes = HashCache(paths.hash_cache_file)  # for this dialog's pool-thread checks
        self._settings = settings
        self._check_serial = 0
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_form())
        self.facts_label = QLabel("Choose the text model and its vision projector (mmproj).")
        self.facts_label.setObjectName("modelFacts")
        self.facts_label.setWordWrap(True)
        self.facts_label.setMinimumHeight(self.fontMetrics().lineSpacing() * FACT_LINES)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        layout.addWidget(self.facts_label)
        layout.addWidget(self.progress)
        layout.addWidget(self._build_buttons())
        self._check()

    def _build_form(self) -> QFormLayout:
        form = QFormLayout()
        self.text_edit = add_gguf_row(
            form, "Text model (GGUF):", self._settings.text_path, self._check
        )
        self.mmproj_edit = add_gguf_row(
            form, "Vision projector (mmproj):", self._settings.mmproj_path, self._check
        )
        for edit in (self.text_edit, self.mmproj_edit):
            edit.editingFinished.connect(self._check)
        self.threads_box = self._spin(1, 256, self._settings.threads(), "CPU threads")
        self.ctx_box = self._spin(512, 131072, self._settings.n_ctx, "tokens of context")
        self.ctx_box.setSingleStep(512)
        self.gpu_box = self._spin(0, 999, self._settings.n_gpu_layers, "0 = CPU only")
        self.max_tokens_box = self._spin(
            16, 8192, self._settings.max_tokens, "new tokens per answer"
        )
        self.flash_box = QCheckBox("Flash attention (faster image reading, less memory)")
        self.flash_box.setChecked(self._settings.flash_attn)
        self.mmap_box = QCheckBox("Map the model file (loads faster; the OS can reclaim it)")
        self.mmap_box.setChecked(self._settings.use_mmap)
        self.repack_box = QCheckBox("Repack weights for this CPU (faster on some CPUs)")
        self.repack_box.setToolTip(
            "With the file mapped, repacked copies need as much memory again as the weights."
        )
        self.repack_box.setChecked(self._settings.repack_weights)
        self.cache_box = self._spin(
            0, 1024 * 1024, self._settings.prefix_cache_mb,
            "Prepared images kept on disk so reopened cases answer at once; 0 = none",
        )  # fmt: skip
        self.cache_box.setSingleStep(256)
        self.cache_box.setSuffix(" MB")
        form.addRow("Threads:", self.threads_box)
        form.addRow("Context length:", self.ctx_box)
        form.addRow("GPU layers:", self.gpu_box)
        form.addRow("Max new tokens:", self.max_tokens_box)
        form.addRow("Image cache on disk:", self.cache_box)
        form.addRow("", self.flash_box)
        form.addRow("", self.mmap_box)
        form.addRow("", self.repack_box)
        self.repack_note = QLabel()
        self.repack_note.setObjectName("repackNote")
        self.repack_note.setWordWrap(True)
        self.repack_note.hide()
        form.addRow("", self.repack_note)
        self.machine_label = QLabel("Asking llama.cpp what this CPU offers...")
        self.machine_label.setObjectName("machineFacts")
        self.machine_label.setWordWrap(True)
        form.addRow("This computer:", self.machine_label)
        form.addRow("", self._build_crash_row())
        self.ctx_box.valueChanged.connect(self._check)
        self.mmap_box.toggled.connect(self._check)
        self.repack_box.toggled.connect(self._check)
        return form

    def _build_crash_row(self) -> QWidget:
        """Pairs that crashed here load in the safe configuration; this forgets that."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        self.crash_label = QLabel()
        self.crash_label.setWordWrap(True)
        self.forget_button = QPushButton("Forget crash settings")
        self.forget_button.setObjectName("forgetCrashSettings")
        self.forget_button.setAutoDefault(False)
        self.forget_button.clicked.connect(self._on_forget_clicked)
        layout.addWidget(self.crash_label, 1)
        layout.addWidget(self.forget_button)
        self._crash_row = row
        self._show_crash_settings()
        return row

    def _show_crash_settings(self) -> None:
        count = self._safe_configs.count()
        pairs = "1 model pair" if count == 1 else f"{count} model pairs"
        self.crash_label.setText(
            f"After crashes, {pairs} load with safe settings on this computer."
        )
        self._crash_row.setVisible(count > 0)

    def _on_forget_clicked(self) -> None:
        self._safe_configs.forget()
        self._show_crash_settings()

    def set_machine(self, machine: MachineFacts) -> None:
        """Show what llama.cpp uses on this CPU, and refuse settings known to crash it."""
        loaded = self._loaded
        text = html.escape(machine.summary(self.threads_box.value()))
        if loaded is not None and loaded.decoding.buffer_types:
            text += f"<br>Weights now in: {html.escape(loaded.decoding.buffer_types)}"
        self.machine_label.setText(text)
        self.machine_label.setToolTip(machine.features)
        refusal = repack_refusal(machine)
        self.repack_box.setEnabled(not refusal)
        self.repack_note.setText(f"{refusal}." if refusal else "")
        self.repack_note.setVisible(bool(refusal))

    @staticmethod
    def _spin(low: int, high: int, value: int, suffix: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        box.setToolTip(suffix)
        return box

    def _build_buttons(self) -> QDialogButtonBox:
        buttons = QDialogButtonBox()
        self.load_button = buttons.addButton("Load", QDialogButtonBox.ButtonRole.AcceptRole)
        self.unload_button = buttons.addButton("Unload", QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.unload_button.clicked.connect(self.unload_requested)
        buttons.rejected.connect(self.reject)
        self.unload_button.setEnabled(self._loaded is not None)
        return buttons

    def set_paths(self, text: str, mmproj: str) -> None:
        """Fill the pickers (used when .gguf files are dropped on the window)."""
        if text:
            self.text_edit.setText(text)
        if mmproj:
            self.mmproj_edit.setText(mmproj)
        self._check()

    def chosen_settings(self) -> ModelSettings:
        settings = ModelSettings(**vars(self._settings))
        settings.text_path = self.text_edit.text().strip()
        settings.mmproj_path = self.mmproj_edit.text().strip()
        settings.n_threads = self.threads_box.value()
        settings.n_ctx = self.ctx_box.value()
        settings.n_gpu_layers = self.gpu_box.value()
        settings.max_tokens = self.max_tokens_box.value()
        settings.flash_attn = self.flash_box.isChecked()
        settings.use_mmap = self.mmap_box.isChecked()
        settings.repack_weights = self.repack_box.isChecked()
        settings.prefix_cache_mb = self.cache_box.value()
        return settings

    # -- checking in the background -------------------------------------------
    def _check(self) -> None:
        settings = self.chosen_settings()
        if not (settings.text_path and settings.mmproj_path):
            self.load_button.setEnabled(False)
            return
        self._check_serial += 1
        serial = self._check_serial
        self.facts_label.setText("Checking the files...")
        self.load_button.setEnabled(False)
        text, mmproj = Path(settings.text_path), Path(settings.mmproj_path)
        run_task(
            self,
            lambda: check_model_pair(text, mmproj, settings, self._paths, hashes=self._hashes),
            lambda result: self._on_check_done(serial, result),
            lambda error: self._on_check_failed(serial, error),
        )

    def _on_check_done(
        self, serial: int, result: tuple[PairFacts, Provenance, MemoryEstimate]
    ) -> None:
        if serial != self._check_serial:
            return  # the user changed the files meanwhile
        facts, provenance, expected = result
        free = available_memory()
        rows = [
            ("Model", html.escape(facts.text.name)),
            ("Known pair", html.escape(provenance.known_pair) or "no (not in the manifest)"),
            ("ECG model", "yes" if provenance.is_ecg_model else
             "<b>no</b> - its output will not be shown as an ECG interpretation"),
            ("Text model", f"{facts.text.quantization}, {gib(facts.text.size_bytes)}, "
             f"context {facts.text.context_length}, sha256 {provenance.model.sha256[:16]}..."),
            ("Projector", f"{facts.mmproj.quantization}, {gib(facts.mmproj.size_bytes)}, "
             f"{facts.mmproj.image_size} px, {facts.mmproj.image_tokens} image tokens, "
             f"sha256 {provenance.mmproj.sha256[:16]}..."),
            ("Chat template", "built-in Gemma 3 fallback" if provenance.fallback_template
             else "from the GGUF"),
            ("Expected memory", f"about {gib(expected.total)}"
             + (f" of {gib(free)} free" if free else "")),
            ("Made of", f"weights {gib(expected.weights)}, projector {gib(expected.projector)}, "
             f"context {gib(expected.kv_cache)}, working memory {gib(expected.overhead)}"),
        ]  # fmt: skip
        table = "".join(f"<tr><td><b>{k}:</b>&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
        self.facts_label.setText(
            f"<span style='color:#1a7f37'>The pair can be loaded.</span><table>{table}</table>"
        )
        self.load_button.setEnabled(True)

    def _on_check_failed(self, serial: int, error: BaseException) -> None:
        if serial != self._check_serial:
            return
        message = (
            str(error) if isinstance(error, EcgViewerError) else f"Unexpected problem: {error}"
        )
        self.facts_label.setText(f"<span style='color:#b3261e'>{html.escape(message)}</span>")
        self.load_button.setEnabled(False)

    # -- loading -----------------------------------------------------------------
    def _on_load_clicked(self) -> None:
        settings = self.chosen_settings()
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.load_button.setEnabled(False)
        self.load_requested.emit(settings.text_path, settings.mmproj_path, settings)

    def show_progress(self, stage: str, fraction: float) -> None:
        self.progress.setVisible(True)
        self.progress.setFormat(f"{stage.capitalize()} %p%")
        self.progress.setValue(round(fraction * 100))

    def load_finished(self, ok: bool) -> None:
        self.progress.setVisible(False)
        self.load_button.setEnabled(True)
        self.unload_button.setEnabled(ok or self._loaded is not None)
        if ok:
            self.accept()
