"""The one owner of the model connection in the GUI: a QObject on its own QThread.

`ModelOwner` holds the core `ModelRuntime`. Its slots run on the owner thread
(requests arrive as queued signals from the GUI thread); its signals are
delivered back on the GUI thread. `cancel()` is the exception: it is called
directly from the GUI thread and only sets the runtime's shared stop flag, so a
Stop is honoured at the next token even while the owner thread is busy.

When the worker dies, `engine_stopped` is emitted from the runtime's watcher
thread at once, whatever the owner thread is doing; the owner thread then
lets the runtime restart it (`restarted`) or say that it will not (`failed`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ecgviewer.core.errors import EcgViewerError, ModelError
from ecgviewer.core.inference.client import Failed, Finished, Prepared, Started, TextDelta
from ecgviewer.core.inference.crash import CrashReport
from ecgviewer.core.inference.loaded import LoadedModel, Restarted
from ecgviewer.core.inference.machine import MachineFacts, cpu_name
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.settings import ModelSettings

log = logging.getLogger(__name__)


class ModelOwner(QObject):
    """Owns the ModelRuntime; lives on the model thread."""

    load_progress = Signal(str, float)
    loaded = Signal(object)  # LoadedModel
    load_failed = Signal(object)  # EcgViewerError
    unloaded = Signal()
    prepared = Signal(int, object)  # request tag, times
    started = Signal(int)
    text_arrived = Signal(int, str)
    finished = Signal(int, object)  # tag, Finished
    failed = Signal(int, object)  # tag, EcgViewerError
    engine_stopped = Signal(object)  # CrashReport; emitted on the watcher thread
    restarted = Signal(object, str)  # LoadedModel, one-sentence note
    machine_probed = Signal(object)  # MachineFacts

    # requests from the GUI thread (queued to the owner thread)
    load_requested = Signal(str, str, object)
    unload_requested = Signal()
    interpret_requested = Signal(int, bytes, str, object)  # tag, png, question, history
    prepare_requested = Signal(int, bytes)
    probe_requested = Signal()
    _recover_requested = Signal()  # from the watcher thread

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self._runtime = ModelRuntime(paths, on_engine_exit=self._on_runtime_engine_exit)
        self.load_requested.connect(self._on_load_requested)
        self.unload_requested.connect(self._on_unload_requested)
        self.interpret_requested.connect(self._on_interpret_requested)
        self.prepare_requested.connect(self._on_prepare_requested)
        self.probe_requested.connect(self._on_probe_requested)
        self._recover_requested.connect(self._on_recover_requested)

    @property
    def runtime(self) -> ModelRuntime:
        return self._runtime

    def cancel(self) -> None:
        """GUI thread: stop the current request at its next token."""
        self._runtime.cancel()

    def _on_runtime_engine_exit(self, crash: CrashReport) -> None:
        """Watcher thread: tell the window now; the owner thread restarts the engine next."""
        self.engine_stopped.emit(crash)
        self._recover_requested.emit()

    @Slot()
    def _on_recover_requested(self) -> None:
        for event in self._runtime.recover():
            self._relay(0, event)

    @Slot()
    def _on_probe_requested(self) -> None:
        try:
            self.machine_probed.emit(self._runtime.probe())
        except EcgViewerError as error:  # the dialog still shows the CPU's name
            log.warning("machine probe failed: %s", type(error).__name__)
            self.machine_probed.emit(MachineFacts(cpu=cpu_name()))

    @Slot(str, str, object)
    def _on_load_requested(self, text: str, mmproj: str, settings: ModelSettings) -> None:
        try:
            model: LoadedModel = self._runtime.load(
                Path(text), Path(mmproj), settings, self.load_progress.emit
            )
        except EcgViewerError as error:
            self.load_failed.emit(error)
        except Exception as error:  # unexpected: still a message, never a crash
            log.exception("model load failed")
            self.load_failed.emit(ModelError(f"The model could not be loaded ({error})."))
        else:
            self.loaded.emit(model)

    @Slot()
    def _on_unload_requested(self) -> None:
        self._runtime.unload()
        self.unloaded.emit()

    @Slot(int, bytes)
    def _on_prepare_requested(self, tag: int, png: bytes) -> None:
        if self._runtime.loaded is None:
            return
        try:
            for event in self._runtime.prepare(png):
                self._relay(tag, event)
        except EcgViewerError as error:
            self.failed.emit(tag, error)

    @Slot(int, bytes, str, object)
    def _on_interpret_requested(
        self, tag: int, png: bytes, question: str, history: list[tuple[str, str]]
    ) -> None:
        try:
            for event in self._runtime.interpret(png, question, history=history):
                self._relay(tag, event)
        except EcgViewerError as error:
            self.failed.emit(tag, error)
        except Exception as error:
            log.exception("interpretation failed")
            self.failed.emit(tag, ModelError(f"The interpretation failed ({error})."))

    def _relay(self, tag: int, event: Any) -> None:
        if isinstance(event, Prepared):
            self.prepared.emit(tag, event.times)
        elif isinstance(event, Started):
            self.started.emit(tag)
        elif isinstance(event, TextDelta):
            self.text_arrived.emit(tag, event.text)
        elif isinstance(event, Finished):
            self.finished.emit(tag, event)
        elif isinstance(event, Failed):
            self.failed.emit(tag, event.error)
        elif isinstance(event, Restarted):
            self.restarted.emit(event.model, event.note)

    @Slot()
    def shutdown(self) -> None:
        """Owner thread: stop the worker process cleanly."""
        self._runtime.close()


class ModelThread:
    """Starts the owner on its own QThread and stops both cleanly."""

    def __init__(self, paths: AppPaths) -> None:
        self.thread = QThread()
        self.thread.setObjectName("model-owner")
        self.owner = ModelOwner(paths)
        self.owner.moveToThread(self.thread)
        self.thread.start()

    def stop(self) -> None:
        """GUI thread: cancel generation, close the worker, end the thread."""
        self.owner.cancel()
        if self.thread.isRunning():
            self.thread.quit()
            self.thread.wait(30_000)
        self.owner.shutdown()  # the thread has ended: safe to call from here
