"""The window's side of the case history: the core recorder's events as Qt signals.

The writing policy (what changed, in what order, streamed text, closing a
case) is `core.recorder.CaseRecorder`. `HistoryRecorder` connects the
window's and the reading controller's signals to it, waits for a pause in
typing before notes are written, and carries the recorder's results, which
arrive on its worker thread, back to the GUI thread as queued signals.
Reopening rebuilds the stored case's image in the background.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, SignalInstance
from PySide6.QtWidgets import QWidget

from ecgviewer.core.case import Case, Turn
from ecgviewer.core.errors import Cancelled, EcgViewerError
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.recorder import CaseRecorder, RecorderEvents, Saved
from ecgviewer.core.reopening import rebuild_open_case
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.reading import ReadingController
from ecgviewer.gui.tasks import run_task

NOTES_DELAY_MS = 1000  # notes are written once typing pauses this long


class _Relay(QObject):
    """Lives on the GUI thread; the recorder's callbacks (worker thread) emit its signals."""

    opened = Signal(str)
    unavailable = Signal(object)
    saved = Signal(object, object)
    changed = Signal()
    searched = Signal(str, object)
    loaded = Signal(object, object, object)
    load_failed = Signal(object, object)
    deleted = Signal(object)
    failed = Signal(object)

    def events(self) -> RecorderEvents:
        return RecorderEvents(
            opened=self.opened.emit, unavailable=self.unavailable.emit, saved=self.saved.emit,
            changed=self.changed.emit, searched=self.searched.emit, loaded=self.loaded.emit,
            load_failed=self.load_failed.emit, deleted=self.deleted.emit, failed=self.failed.emit,
        )  # fmt: skip


class HistoryRecorder(QObject):
    """Records the window's cases in the case history; searches, reopens, deletes.

    Public methods run on the GUI thread and so do its signals. `open_cases`
    returns the window's open cases, so a case that is already open is shown
    rather than loaded twice, and a deleted one stops being recorded.
    """

    opened = Signal(str)  # the history is ready; its recovery notice ("" if it was healthy)
    unavailable = Signal(str)  # the history could not be opened: why
    changed = Signal()  # cases were added, changed or deleted
    searched = Signal(str, object)  # query, list[CaseSummary]
    case_reopened = Signal(object)  # OpenCase, to be shown in the window
    export_requested = Signal(object)  # OpenCase, to be shown and exported again
    case_deleted = Signal(int)  # case id

    def __init__(
        self,
        paths: AppPaths,
        reading: ReadingController,
        open_cases: Callable[[], Sequence[OpenCase]],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._window, self._open_cases = parent, open_cases
        self._ready = self._closed = False
        self._notice = ""
        self._reopening: dict[int, bool] = {}  # case id -> export it once shown
        self._relay = _Relay(self)
        self._connect_relay()
        self._core = CaseRecorder(paths, self._relay.events())
        self._notes_timer = QTimer(self, singleShot=True, interval=NOTES_DELAY_MS)
        self._notes_timer.timeout.connect(self._on_notes_timer_timeout)
        reading.turn_started.connect(self._on_reading_turn_started)
        reading.turn_text.connect(self._on_reading_turn_text)
        reading.turn_finished.connect(self._on_reading_turn_finished)
        reading.thread_truncated.connect(self._on_reading_thread_truncated)

    def _connect_relay(self) -> None:
        queued, relay = Qt.ConnectionType.QueuedConnection, self._relay
        relay.opened.connect(self._on_core_opened, queued)
        relay.unavailable.connect(self._on_core_unavailable, queued)
        relay.saved.connect(self._on_core_saved, queued)
        relay.changed.connect(self._on_core_changed, queued)
        relay.searched.connect(self._on_core_searched, queued)
        relay.loaded.connect(self._on_core_loaded, queued)
        relay.load_failed.connect(self._on_core_load_failed, queued)
        relay.deleted.connect(self._on_core_deleted, queued)
        relay.failed.connect(self._on_core_failed, queued)

    # -- state ---------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """True once the history is open (and until `close`)."""
        return self._ready and not self._closed

    @property
    def recovery_notice(self) -> str:
        """What to tell the user after a damaged history was moved aside ("" if not)."""
        return self._notice if self.available else ""

    def is_open(self, case_id: int) -> bool:
        """Whether the case is open in the window."""
        return any(case.case.case_id == case_id for case in self._open_cases())

    def close(self) -> None:
        """Write everything pending (notes still waiting too), then close the history.

        Blocks until the queued writes are done; called when the window closes.
        """
        if not self._closed:
            self._closed = True
            self._notes_timer.stop()
            self._core.close()

    # -- the window's cases ----------------------------------------------------------------
    def record_opened(self, case: OpenCase) -> None:
        """Store a newly opened case; a case from the history is only watched for changes."""
        self._core.record_opened(case.case, case.scan)

    def record_changed(self, case: OpenCase) -> None:
        """Write what changed; notes once typing pauses."""
        if self._core.record_changed(case.case):
            self._notes_timer.start()  # typing again restarts the wait

    def record_closed(self, case: OpenCase) -> None:
        """The case left the window: its notes are written and the recorder forgets it."""
        self._core.record_closed(case.case)

    def _on_notes_timer_timeout(self) -> None:
        self._core.flush_notes()

    def _on_reading_turn_started(self, case: OpenCase, turn: Turn) -> None:
        self._core.turn_started(case.case, turn)

    def _on_reading_turn_text(self, case: OpenCase, turn: Turn, delta: str) -> None:
        self._core.turn_text(case.case, turn, delta)

    def _on_reading_turn_finished(self, case: OpenCase, turn: Turn) -> None:
        self._core.turn_finished(case.case, turn)

    def _on_reading_thread_truncated(self, case: OpenCase, keep: int) -> None:
        self._core.thread_truncated(case.case, keep)

    # -- what the History panel asks for -----------------------------------------------------
    def search(self, query: str) -> None:
        """Search in the background; `searched(query, summaries)` follows."""
        self._core.search(query)

    def reopen(self, case_id: int, *, export: bool = False) -> None:
        """Show a stored case (already open, or loaded in the background) and maybe export it."""
        existing = next((c for c in self._open_cases() if c.case.case_id == case_id), None)
        if existing is not None:
            (self.export_requested if export else self.case_reopened).emit(existing)
        elif case_id not in self._reopening:
            self._reopening[case_id] = export
            self._core.load(case_id)

    def delete(self, case_id: int) -> None:
        """Delete a case (and its stored scan when no other case uses it) in the background."""
        self._core.delete(case_id)

    # -- the recorder's results, delivered here on the GUI thread -------------------------------
    def _on_core_opened(self, notice: str) -> None:
        if not self._closed:
            self._ready, self._notice = True, notice
            self.opened.emit(notice)

    def _on_core_unavailable(self, error: BaseException) -> None:
        if self._closed or isinstance(error, Cancelled):
            return
        reason = error.message if isinstance(error, EcgViewerError) else type(error).__name__
        self.unavailable.emit(reason)
        present_error(self._window, error)

    def _on_core_saved(self, case: Case, saved: Saved) -> None:
        saved.apply_to(case)

    def _on_core_changed(self) -> None:
        if not self._closed:
            self.changed.emit()

    def _on_core_searched(self, query: str, summaries: object) -> None:
        if not self._closed:
            self.searched.emit(query, summaries)

    def _on_core_loaded(self, case_id: int, case: Case, scan: Path) -> None:
        signal = self.export_requested if self._reopening.get(case_id) else self.case_reopened
        run_task(self, partial(rebuild_open_case, case, scan),
                 partial(self._on_rebuilt, case_id, signal),
                 partial(self._on_core_load_failed, case_id))  # fmt: skip

    def _on_rebuilt(self, case_id: int, signal: SignalInstance, case: OpenCase) -> None:
        self._reopening.pop(case_id, None)
        if not self._closed:
            signal.emit(case)

    def _on_core_load_failed(self, case_id: int, error: BaseException) -> None:
        self._reopening.pop(case_id, None)
        self._on_core_failed(error)

    def _on_core_deleted(self, case_id: int) -> None:
        for case in self._open_cases():
            if case.case.case_id == case_id:  # still open: no longer recorded
                case.case.case_id = None
        if not self._closed:
            self.case_deleted.emit(case_id)

    def _on_core_failed(self, error: BaseException) -> None:
        if not self._closed:
            present_error(self._window, error)
