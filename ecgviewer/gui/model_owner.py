"""The one owner of the model connection in the GUI: a QObject on its own QThread.

`ModelOwner` holds the core `ModelRuntime`. Its slots run on the owner thread
(requests arrive as queued signals from the GUI thread); its signals are
delivered back on the GUI thread. `cancel()` is the exception: it is called
directly from the GUI thread and only sets the runtime's shared stop flag, so a
Stop is honoured at the next token even while the owner thread is busy.

Requests go through one slot (core/inference/read_ahead.py), not Qt's queue:
`prepare_requested` and `interpret_requested` are handled directly on the GUI
thread, where a newer request replaces the waiting one, and a queued wake-up
lets the owner thread run whatever waits when it is free. While a read ahead
runs, the owner thread asks the slot every 50 ms whether to give it up for a
request about another image (`read_abandoned`; the worker is restarted).

When the worker dies, `engine_stopped` is emitted from the runtime's watcher
thread at once, whatever the owner thread is doing; the owner thread then
lets the runtime restart it (`restarted`) or say that it will not (`failed`).

With an inference server configured, `server_requested` swaps the local runtime
for a `RemoteRuntime` (core/inference/remote.py) on the owner thread: the same
requests and events, answered by the server; `loaded` / `load_failed` report
the connection as they report a local load. Loading a local pair swaps back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from ecgviewer.core.errors import EcgViewerError, ModelError
from ecgviewer.core.inference.client import (
    Abandoned,
    Failed,
    Finished,
    Prepared,
    Started,
    TextDelta,
)
from ecgviewer.core.inference.crash import CrashReport
from ecgviewer.core.inference.loaded import Restarted
from ecgviewer.core.inference.machine import MachineFacts, cpu_name
from ecgviewer.core.inference.read_ahead import ReadRequest, ReadSlot
from ecgviewer.core.inference.remote import RemoteRuntime
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.inference.server_config import ServerConfig
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.settings import ModelSettings

log = logging.getLogger(__name__)


class ModelOwner(QObject):
    """Owns the ModelRuntime; lives on the model thread."""

    load_progress = Signal(str, float)
    loaded = Signal(object)  # LoadedModel
    load_failed = Signal(object)  # EcgViewerError
    unloaded = Signal()
    prepared = Signal(int, object)  # request tag, times ({} when it was prepared already)
    read_abandoned = Signal(int)  # tag of a read ahead given up for another image
    ready_images = Signal(object)  # frozenset of image keys answered at once
    started = Signal(int)
    text_arrived = Signal(int, str)
    finished = Signal(int, object)  # tag, Finished
    failed = Signal(int, object)  # tag, EcgViewerError
    engine_stopped = Signal(object)  # CrashReport; emitted on the watcher thread
    restarted = Signal(object, str)  # LoadedModel, one-sentence note
    machine_probed = Signal(object)  # MachineFacts

    # requests from the GUI thread (queued to the owner thread)
    load_requested = Signal(str, str, object)
    server_requested = Signal(object, object)  # ServerConfig, ModelSettings (its decoding)
    unload_requested = Signal()
    # (these two are handled on the GUI thread: they only fill the slot and wake the owner)
    interpret_requested = Signal(int, bytes, str, object)  # tag, png, question, history
    prepare_requested = Signal(int, bytes)  # tag, png: read ahead
    probe_requested = Signal()
    _recover_requested = Signal()  # from the watcher thread
    _wake = Signal()  # a request waits in the slot

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self._paths = paths
        self._runtime: ModelRuntime | RemoteRuntime = self._local_runtime()
        self._slot = ReadSlot()
        direct = Qt.ConnectionType.DirectConnection
        self.load_requested.connect(self._on_load_requested)
        self.server_requested.connect(self._on_server_requested)
        self.unload_requested.connect(self._on_unload_requested)
        self.interpret_requested.connect(self._on_interpret_requested, direct)
        self.prepare_requested.connect(self._on_prepare_requested, direct)
        self._wake.connect(self._on_wake)
        self.probe_requested.connect(self._on_probe_requested)
        self._recover_requested.connect(self._on_recover_requested)

    def _local_runtime(self) -> ModelRuntime:
        return ModelRuntime(self._paths, on_engine_exit=self._on_runtime_engine_exit)

    @property
    def runtime(self) -> ModelRuntime | RemoteRuntime:
        """The runtime, for this owner's thread (and tests that look at its worker); the GUI
        thread never calls it: it sends requests and reads the signals."""
        return self._runtime

    def cancel(self) -> None:
        """GUI thread: Stop. An answer still waiting ends at once; a running one at its
        next token."""
        dropped = self._slot.drop_answer()
        if dropped is None:
            self._runtime.cancel()
        else:
            self.finished.emit(dropped.tag, Finished(0, "cancelled", {}))

    def stop_all(self) -> None:
        """GUI thread (closing): nothing waiting runs, and the running request stops."""
        self._slot.clear()
        self._runtime.cancel()

    def _on_runtime_engine_exit(self, crash: CrashReport) -> None:
        """Watcher thread: tell the window now; the owner thread restarts the engine next."""
        self.engine_stopped.emit(crash)
        self._recover_requested.emit()

    @Slot()
    def _on_recover_requested(self) -> None:
        for event in self._runtime.recover():
            self._relay(0, event)
        self._tell_ready()

    @Slot()
    def _on_probe_requested(self) -> None:
        runtime = self._runtime
        if isinstance(runtime, RemoteRuntime):  # this CPU does not read: its name is enough
            self.machine_probed.emit(MachineFacts(cpu=cpu_name()))
            return
        try:
            self.machine_probed.emit(runtime.probe())
        except EcgViewerError as error:  # the dialog still shows the CPU's name
            log.warning("machine probe failed: %s", type(error).__name__)
            self.machine_probed.emit(MachineFacts(cpu=cpu_name()))

    @Slot(object, object)
    def _on_server_requested(self, config: ServerConfig, settings: ModelSettings) -> None:
        """Owner thread: read on the server from now on (the local model is unloaded)."""
        self._runtime.close()
        remote = RemoteRuntime(config, self._paths, settings)
        self._runtime = remote
        self._load(remote.connect, "The server could not be used")

    def _local(self) -> ModelRuntime:
        """Owner thread: the local runtime, made again when a server was used."""
        if isinstance(self._runtime, RemoteRuntime):
            self._runtime.close()
            self._runtime = self._local_runtime()
        return self._runtime

    @Slot(str, str, object)
    def _on_load_requested(self, text: str, mmproj: str, settings: ModelSettings) -> None:
        runtime = self._local()
        self._load(
            lambda: runtime.load(Path(text), Path(mmproj), settings, self.load_progress.emit),
            "The model could not be loaded",
        )

    def _load(self, make: Callable[[], object], failure: str) -> None:
        """Load a local pair or connect to a server; the news goes out as signals."""
        try:
            model = make()
        except EcgViewerError as error:
            self.load_failed.emit(error)
        except Exception as error:  # unexpected: still a message, never a crash
            log.exception("loading or connecting failed")
            self.load_failed.emit(ModelError(f"{failure} ({error})."))
        else:
            self.loaded.emit(model)
        self._tell_ready()

    @Slot()
    def _on_unload_requested(self) -> None:
        self._runtime.unload()
        self.unloaded.emit()
        self._tell_ready()

    # -- requests: one slot, the newest wins -------------------------------------
    @Slot(int, bytes)
    def _on_prepare_requested(self, tag: int, png: bytes) -> None:
        """GUI thread: read `png` ahead; replaces a read ahead that has not started."""
        self._slot.put(ReadRequest(tag, png))
        self._wake.emit()

    @Slot(int, bytes, str, object)
    def _on_interpret_requested(
        self, tag: int, png: bytes, question: str, history: list[tuple[str, str]]
    ) -> None:
        """GUI thread: answer next; a read of another image gives way (see read_ahead.py)."""
        self._slot.put(ReadRequest(tag, png, question, tuple(history)))
        self._wake.emit()

    @Slot()
    def _on_wake(self) -> None:
        """Owner thread: run the request waiting in the slot, if it is still there."""
        request = self._slot.take(_now_ms())
        if request is None:
            return  # a newer request took its place, and an earlier wake-up ran it
        try:
            if request.question is not None:
                self._answer(request.tag, request.png, request.question, list(request.history))
            elif self._runtime.loaded is not None:
                self._read_ahead(request.tag, request.png)
        finally:
            self._slot.done()
        self._tell_ready()

    def _read_ahead(self, tag: int, png: bytes) -> None:
        told = False
        try:
            for event in self._runtime.prepare(png, self._should_abandon):
                told = told or isinstance(event, Prepared | Abandoned | Failed)
                self._relay(tag, event)
        except EcgViewerError as error:
            self.failed.emit(tag, error)
            return
        if not told:
            self.prepared.emit(tag, {})  # it was the image prepared last: nothing to read

    def _should_abandon(self) -> bool:
        """Owner thread, every 50 ms while a read ahead runs."""
        loaded = self._runtime.loaded
        estimate = loaded.encode_estimate_ms if loaded is not None else 0.0
        return self._slot.should_abandon(_now_ms(), estimate, self._runtime.restart_estimate_ms)

    def _answer(self, tag: int, png: bytes, question: str, history: list[tuple[str, str]]) -> None:
        try:
            for event in self._runtime.interpret(png, question, history=history):
                self._relay(tag, event)
        except EcgViewerError as error:
            self.failed.emit(tag, error)
        except Exception as error:
            log.exception("interpretation failed")
            self.failed.emit(tag, ModelError(f"The interpretation failed ({error})."))

    def _tell_ready(self) -> None:
        self.ready_images.emit(self._runtime.ready.keys())

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
        elif isinstance(event, Abandoned):
            self.read_abandoned.emit(tag)

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
        self.owner.stop_all()
        if self.thread.isRunning():
            self.thread.quit()
            self.thread.wait(30_000)
        self.owner.shutdown()  # the thread has ended: safe to call from here


def _now_ms() -> float:
    return time.monotonic() * 1000.0
