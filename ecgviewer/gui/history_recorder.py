"""Keeping every opened case in the case history while the clinician works.

`HistoryRecorder` lives on the GUI thread. It owns the `CaseHistory` (opened
in the background at start) and turns the window's events into writes: a case
opened, its steps, notes or exported PDFs changed, a question asked and its
answer streamed. Every database call runs off the GUI thread through
`run_task`, one at a time and in the order the events happened, so a question
asked before its case's save has finished is still stored after it. The one
exception is `append_answer`, which only queues text in memory and is called
on the GUI thread as each piece arrives. Errors go to the one presenter.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance
from PySide6.QtWidgets import QWidget

from ecgviewer.core.case import Case, Turn
from ecgviewer.core.errors import Cancelled, EcgViewerError
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.reopening import rebuild_open_case
from ecgviewer.core.storage import CaseHistory, CaseSummary
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.reading import ReadingController
from ecgviewer.gui.tasks import run_task

log = logging.getLogger(__name__)
NOTES_DELAY_MS = 1000  # notes are written once typing pauses this long
Op = Callable[[CaseHistory], Any]


@dataclass(eq=False)
class _Job:
    """One history call; `ran` is set, under the recorder's lock, by whoever runs it."""

    op: Op
    on_done: Callable[[Any], None] | None = None
    on_failed: Callable[[], None] | None = None
    notify: bool = False  # emit `changed` afterwards: lists of cases may be stale
    ran: bool = False


@dataclass(eq=False)
class _Stream:
    """One answer being recorded: its turn id once stored, and text that came before."""

    turn: Turn
    turn_id: int | None = None
    dropped: bool = False  # its case is not in the history: nothing to record
    waiting: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(eq=False)
class _Seen:
    """What has been queued for writing for one case: changes are measured against it."""

    case: Case
    steps: list[dict[str, Any]]
    notes: str
    pdfs: list[str]
    study: dict[str, str]


class HistoryRecorder(QObject):
    """Records the window's cases in the case history; searches, reopens, deletes.

    Public methods run on the GUI thread. `open_cases` returns the window's
    open cases, so a case that is already open is shown rather than loaded
    twice, and a deleted one stops being recorded.
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
        self._window, self._paths, self._open_cases = parent, paths, open_cases
        self._history: CaseHistory | None = None  # set on a pool thread, under _lock
        self._lock = threading.Lock()  # one call at a time; close() takes it to drain the queue
        self._ready = self._failed = self._closed = False
        self._jobs: deque[_Job] = deque()
        self._in_flight: _Job | None = None
        self._seen: dict[int, _Seen] = {}  # by id() of the Case
        self._streams: dict[int, _Stream] = {}  # by id() of the Turn
        self._dirty_notes: dict[int, _Seen] = {}
        self._reopening: set[int] = set()
        self._notes_timer = QTimer(self, singleShot=True, interval=NOTES_DELAY_MS)
        self._notes_timer.timeout.connect(self._on_notes_timer_timeout)
        reading.turn_started.connect(self._on_reading_turn_started)
        reading.turn_text.connect(self._on_reading_turn_text)
        reading.turn_finished.connect(self._on_reading_turn_finished)
        reading.thread_truncated.connect(self._on_reading_thread_truncated)
        run_task(self, self._open_history, self._on_history_opened, self._on_history_failed)

    # -- state --------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """True once the history is open (and until `close`)."""
        return self._ready and not self._closed

    @property
    def recovery_notice(self) -> str:
        """What to tell the user after a damaged history was moved aside ("" if not)."""
        history = self._history
        return history.recovery_notice if history is not None and self._ready else ""

    def is_open(self, case_id: int) -> bool:
        """Whether the case is open in the window."""
        return any(case.case.case_id == case_id for case in self._open_cases())

    # -- opening and closing --------------------------------------------------------
    def _open_history(self) -> str:  # pool thread
        with self._lock:
            if self._closed:
                raise Cancelled()
            self._history = CaseHistory.open(self._paths)
            return self._history.recovery_notice

    def _on_history_opened(self, notice: str) -> None:
        self._ready = True
        self.opened.emit(notice)
        self._pump()

    def _on_history_failed(self, error: BaseException) -> None:
        self._failed = True
        self._jobs.clear()
        if isinstance(error, Cancelled):
            return
        reason = error.message if isinstance(error, EcgViewerError) else type(error).__name__
        self.unavailable.emit(reason)
        present_error(self._window, error)

    def close(self) -> None:
        """Write everything pending (notes still waiting too), then close the history.

        Blocks until the call in progress ends; called when the window closes.
        An answer still streaming stays unfinished and reads as interrupted later.
        """
        if self._closed:
            return
        self._queue_dirty_notes()
        self._closed = True
        self._notes_timer.stop()
        with self._lock:
            history, self._history = self._history, None
            if history is None:
                return
            left = [self._in_flight] if self._in_flight is not None else []
            for job in [*left, *self._jobs]:
                if not job.ran:
                    job.ran = True
                    _run_quietly(job.op, history)
            self._jobs.clear()
            history.close()

    # -- the queue ---------------------------------------------------------------------
    def _submit(self, job: _Job) -> None:
        if not self._failed and not self._closed:
            self._jobs.append(job)
            self._pump()

    def _pump(self) -> None:
        if not self._ready or self._closed or self._in_flight is not None or not self._jobs:
            return
        job = self._in_flight = self._jobs.popleft()
        run_task(self, partial(self._run, job), partial(self._on_job_done, job),
                 partial(self._on_job_failed, job))  # fmt: skip

    def _run(self, job: _Job) -> Any:  # pool thread
        with self._lock:
            if job.ran or self._history is None:  # close() ran it already
                raise Cancelled()
            job.ran = True
            return job.op(self._history)

    def _on_job_done(self, job: _Job, result: Any) -> None:
        self._in_flight = None
        if not self._closed:
            if job.on_done is not None:
                job.on_done(result)
            if job.notify:
                self.changed.emit()
        self._pump()

    def _on_job_failed(self, job: _Job, error: BaseException) -> None:
        self._in_flight = None
        if job.on_failed is not None:
            job.on_failed()
        if not self._closed:
            present_error(self._window, error)
            if job.notify:
                self.changed.emit()
        self._pump()

    # -- recording the window's cases ----------------------------------------------------
    def record_opened(self, case: OpenCase) -> None:
        """Store a newly opened case; a case from the history is only watched for changes."""
        record = case.case
        if id(record) in self._seen:
            return
        self._seen[id(record)] = _Seen(
            record, list(record.steps), record.notes, list(record.exported_pdfs), dict(record.study)
        )
        if record.case_id is None:
            thread = [turn for turn in record.thread if turn.stop_reason is not None]
            self._submit(_Job(partial(_save_case, record, thread), notify=True))

    def record_changed(self, case: OpenCase) -> None:
        """Write what changed since the case was last recorded: steps, study, PDFs, notes."""
        seen = self._seen.get(id(case.case))
        if seen is None:
            return
        record = case.case
        if record.steps != seen.steps:
            seen.steps = list(record.steps)
            self._submit(_Job(partial(_update_steps, record, seen.steps)))
        if record.study != seen.study:
            seen.study = dict(record.study)
            self._submit(_Job(partial(_update_study, record, seen.study), notify=True))
        new_pdfs = [path for path in record.exported_pdfs if path not in seen.pdfs]
        if new_pdfs:
            seen.pdfs.extend(new_pdfs)
            self._submit(_Job(partial(_add_pdfs, record, new_pdfs), notify=True))
        if record.notes != seen.notes:
            self._dirty_notes[id(record)] = seen
            self._notes_timer.start()  # typing again restarts the wait

    def _on_notes_timer_timeout(self) -> None:
        self._queue_dirty_notes()

    def _queue_dirty_notes(self) -> None:
        for seen in self._dirty_notes.values():
            if seen.case.notes != seen.notes:
                seen.notes = seen.case.notes
                self._submit(_Job(partial(_update_notes, seen.case, seen.notes), notify=True))
        self._dirty_notes.clear()

    # -- recording streamed answers ----------------------------------------------------------
    def _on_reading_turn_started(self, case: OpenCase, turn: Turn) -> None:
        stream = self._streams[id(turn)] = _Stream(turn)
        self._submit(_Job(partial(_begin_turn, case.case, stream)))

    def _on_reading_turn_text(self, case: OpenCase, turn: Turn, delta: str) -> None:
        stream = self._streams.get(id(turn))
        history = self._history
        if stream is None or history is None or self._closed:
            return
        with stream.lock:
            if stream.turn_id is None:  # the question is not stored yet
                if not stream.dropped:
                    stream.waiting.append(delta)
                return
        history.append_answer(stream.turn_id, delta)  # memory only: fine on the GUI thread

    def _on_reading_turn_finished(self, case: OpenCase, turn: Turn) -> None:
        stream = self._streams.pop(id(turn), None)
        if stream is not None:
            self._submit(_Job(partial(_finish_turn, stream, replace(turn)), notify=True))

    def _on_reading_thread_truncated(self, case: OpenCase, keep: int) -> None:
        self._submit(_Job(partial(_truncate_thread, case.case, keep), notify=True))

    # -- what the History panel asks for --------------------------------------------------------
    def search(self, query: str) -> None:
        """Search in the background; `searched(query, summaries)` follows."""
        self._submit(_Job(partial(_search, query), partial(self.searched.emit, query)))

    def reopen(self, case_id: int, *, export: bool = False) -> None:
        """Show a stored case (already open, or loaded in the background) and maybe export it."""
        signal = self.export_requested if export else self.case_reopened
        existing = next((c for c in self._open_cases() if c.case.case_id == case_id), None)
        if existing is not None:
            signal.emit(existing)
        elif case_id not in self._reopening:
            self._reopening.add(case_id)
            self._submit(_Job(partial(_load_case, case_id),
                              partial(self._on_case_loaded, case_id, signal),
                              partial(self._reopening.discard, case_id)))  # fmt: skip

    def _on_case_loaded(
        self, case_id: int, signal: SignalInstance, loaded: tuple[Case, Path]
    ) -> None:
        def failed(error: BaseException) -> None:
            self._reopening.discard(case_id)
            present_error(self._window, error)

        def rebuilt(case: OpenCase) -> None:
            self._reopening.discard(case_id)
            if not self._closed:
                signal.emit(case)

        run_task(self, partial(rebuild_open_case, *loaded), rebuilt, failed)

    def delete(self, case_id: int) -> None:
        """Delete a case (and its stored scan when no other case uses it) in the background."""
        self._submit(_Job(partial(_delete_case, case_id),
                          partial(self._on_case_deleted, case_id), notify=True))  # fmt: skip

    def _on_case_deleted(self, case_id: int, _: object) -> None:
        for key, seen in list(self._seen.items()):
            if seen.case.case_id == case_id:  # still open: no longer recorded
                seen.case.case_id = None
                del self._seen[key]
                self._dirty_notes.pop(key, None)
        self.case_deleted.emit(case_id)


# -- the calls, run on the pool thread (the queue runs one at a time, in order) ----------------
def _save_case(case: Case, thread: list[Turn], history: CaseHistory) -> int:
    # Turns being streamed are stored by begin_turn/finish_turn, not here.
    snapshot = replace(case, thread=thread, exported_pdfs=list(case.exported_pdfs))
    case_id = history.save_case(snapshot, Path(case.source.path))
    case.created_at, case.updated_at = snapshot.created_at, snapshot.updated_at
    case.case_id = case_id
    return case_id


def _update_steps(case: Case, steps: list[dict[str, Any]], history: CaseHistory) -> None:
    if case.case_id is not None:  # None: its save failed, or it was deleted
        history.update_steps(case.case_id, steps)


def _update_study(case: Case, study: dict[str, str], history: CaseHistory) -> None:
    if case.case_id is not None:
        history.update_study(case.case_id, study)


def _update_notes(case: Case, notes: str, history: CaseHistory) -> None:
    if case.case_id is not None:
        history.update_notes(case.case_id, notes)


def _add_pdfs(case: Case, paths: list[str], history: CaseHistory) -> None:
    if case.case_id is not None:
        for path in paths:
            history.add_exported_pdf(case.case_id, path)


def _begin_turn(case: Case, stream: _Stream, history: CaseHistory) -> None:
    if case.case_id is None:
        with stream.lock:
            stream.dropped, stream.waiting = True, []
        return
    # The answer so far arrives through `waiting`; storing it here too would double it.
    turn_id = history.begin_turn(case.case_id, replace(stream.turn, answer=""))
    with stream.lock:  # append_answer is memory only, so holding the lock is brief
        if stream.waiting:
            history.append_answer(turn_id, "".join(stream.waiting))
        stream.waiting = []
        stream.turn_id = turn_id


def _finish_turn(stream: _Stream, turn: Turn, history: CaseHistory) -> None:
    if stream.turn_id is not None:
        history.finish_turn(stream.turn_id, turn)


def _truncate_thread(case: Case, keep: int, history: CaseHistory) -> None:
    if case.case_id is not None:  # a case not in the history has nothing stored
        history.truncate_thread(case.case_id, keep)


def _search(query: str, history: CaseHistory) -> list[CaseSummary]:
    return history.search(query)


def _load_case(case_id: int, history: CaseHistory) -> tuple[Case, Path]:
    return history.load_case(case_id), history.source_path(case_id)


def _delete_case(case_id: int, history: CaseHistory) -> None:
    history.delete_case(case_id)


def _run_quietly(op: Op, history: CaseHistory) -> None:
    try:
        op(history)
    except Exception as error:  # at exit there is no one left to tell
        log.warning("case history: a write at exit failed (%s)", type(error).__name__)
