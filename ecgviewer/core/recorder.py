"""Keeping the cases a user works on in the case history, as they change.

`CaseRecorder` is the history writing policy: it turns what happens to open
cases (opened, edited, annotated, a question asked and its answer streamed,
the thread cut back, closed) into history calls, and it answers searches,
loads and deletes. Every history call runs on one worker thread
(`ThreadPoolExecutor(max_workers=1)`), in the order the events happened: a
question asked before its case's save has finished is stored after it, and
text streamed before the question has its row simply waits in the queue
behind the call that creates the row. `close()` shuts the executor down,
which first runs every queued call, then closes the history.

Threads: the public methods are called from one owner thread (the GUI thread
in the window, the main thread in a script) and only `close()` blocks it.
Results and errors come back through `RecorderEvents` callbacks, which run on
the worker thread; the window's adapter turns them into queued Qt signals.
The recorder never changes a `Case`: a new case's id comes back in `saved`
for the owner to apply (`Saved.apply_to`), a deleted one's in `deleted`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from ecgviewer.core.case import Case, Turn
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.storage import CaseHistory, CaseSummary

__all__ = ["CaseRecorder", "CaseSummary", "RecorderEvents", "Saved"]

log = logging.getLogger(__name__)
Call = Callable[[CaseHistory], object]


def _ignore(*_: object) -> None:
    """The default for an event nobody listens to."""


@dataclass(frozen=True)
class Saved:
    """What the history gave a newly stored case: its id, its times, its scan's hash."""

    case_id: int
    created_at: str
    updated_at: str
    sha256: str

    def apply_to(self, case: Case) -> None:
        """Mark `case` as stored (on the owner's thread)."""
        case.case_id = self.case_id
        case.created_at, case.updated_at = self.created_at, self.updated_at
        case.source.sha256 = self.sha256


@dataclass(frozen=True)
class RecorderEvents:
    """What the recorder reports. Every callback runs on the recorder's worker thread."""

    opened: Callable[[str], None] = _ignore  # ready; its recovery notice ("" when it was healthy)
    unavailable: Callable[[BaseException], None] = _ignore  # could not open: nothing is recorded
    saved: Callable[[Case, Saved], None] = _ignore  # a newly opened case is stored
    changed: Callable[[], None] = _ignore  # cases were added, changed or deleted
    searched: Callable[[str, list[CaseSummary]], None] = _ignore  # query, matching cases
    loaded: Callable[[int, Case, Path], None] = _ignore  # case id, the case as stored, its scan
    load_failed: Callable[[int, BaseException], None] = _ignore  # case id, why
    deleted: Callable[[int], None] = _ignore  # case id
    failed: Callable[[BaseException], None] = _ignore  # a write or a search failed


@dataclass(eq=False)
class _Stored:
    """Where a case is in the history (worker thread): None until saved, and after a delete."""

    case_id: int | None = None


@dataclass(eq=False)
class _Answer:
    """An answer being recorded (worker thread): its turn's row once the question is stored."""

    turn_id: int | None = None


@dataclass(eq=False)
class _Watched:
    """One open case as last queued for writing (owner thread); changes are measured against it."""

    case: Case
    stored: _Stored
    steps: list[dict[str, Any]]
    notes: str
    pdfs: list[str]
    study: dict[str, str]
    notes_waiting: bool = False
    answers: dict[int, tuple[Turn, _Answer]] = field(default_factory=dict)  # by id() of the Turn
    closed: bool = False  # forgotten once its last streaming answer has finished

    @classmethod
    def of(cls, case: Case) -> _Watched:
        return cls(case, _Stored(case.case_id), deepcopy(case.steps), case.notes,
                   list(case.exported_pdfs), dict(case.study))  # fmt: skip


class CaseRecorder:
    """Records open cases in the case history in the order things happen; searches, loads, deletes.

    Per-case state is keyed by the `Case` object's identity (the entry holds
    the case, so the key cannot be reused while it lives) and dropped when the
    case is closed and its last streaming answer has finished.
    """

    def __init__(
        self,
        paths: AppPaths,
        events: RecorderEvents | None = None,
        *,
        open_history: Callable[[AppPaths], CaseHistory] = CaseHistory.open,
    ) -> None:
        self._events = events or RecorderEvents()
        self._watched: dict[int, _Watched] = {}  # owner thread; by id() of the Case it holds
        self._closed = False  # owner thread
        self._history: CaseHistory | None = None  # worker thread
        self._by_id: weakref.WeakValueDictionary[int, _Stored] = weakref.WeakValueDictionary()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="case-history")
        self._executor.submit(self._open, paths, open_history)

    def is_watching(self, case: Case) -> bool:
        """Whether the recorder still keeps state for `case` (owner thread)."""
        return id(case) in self._watched

    # -- the window's cases (owner thread) ------------------------------------------------
    def record_opened(self, case: Case, scan: bytes | None = None) -> None:
        """Store a newly opened case; a case from the history is only watched for changes.

        `scan`: the bytes to keep as the case's scan (a page drawn from a digital
        recording); None keeps the file at `case.source.path`.
        """
        if self._closed:
            return
        if id(case) in self._watched:
            self._watched[id(case)].closed = False
            return
        watched = self._watched[id(case)] = _Watched.of(case)
        if case.case_id is not None:
            self._submit(partial(self._watch, watched.stored))
            return
        # Answers still streaming are stored by turn_started/turn_finished, not here.
        thread = [replace(turn) for turn in case.thread if turn.stop_reason is not None]
        snapshot = replace(case, source=replace(case.source), steps=deepcopy(case.steps),
                           thread=thread, study=dict(case.study),
                           exported_pdfs=list(case.exported_pdfs))  # fmt: skip
        self._submit(partial(self._save, case, snapshot, watched.stored, scan), notify=True)

    def record_changed(self, case: Case) -> bool:
        """Write what changed since last time: steps, study, PDFs. True when notes wait.

        Changed notes are not written at once but by `flush_notes` (the window
        calls it when typing pauses), `record_closed` or `close`.
        """
        watched = self._find(case)
        if watched is None or watched.closed or self._closed:
            return False
        stored = watched.stored
        if case.steps != watched.steps:
            watched.steps = deepcopy(case.steps)
            self._submit(partial(_update_steps, stored, deepcopy(case.steps)))
        if case.study != watched.study:
            watched.study = dict(case.study)
            self._submit(partial(_update_study, stored, dict(case.study)), notify=True)
        new_pdfs = [path for path in case.exported_pdfs if path not in watched.pdfs]
        if new_pdfs:
            watched.pdfs.extend(new_pdfs)
            self._submit(partial(_add_pdfs, stored, new_pdfs), notify=True)
        watched.notes_waiting = watched.notes_waiting or case.notes != watched.notes
        return watched.notes_waiting

    def flush_notes(self) -> None:
        """Write the notes that changed since they were last written."""
        for watched in list(self._watched.values()):
            self._flush_notes_of(watched)

    def record_closed(self, case: Case) -> None:
        """The case was closed: write its waiting notes and forget it once its answers end."""
        watched = self._watched.get(id(case))
        if watched is not None:
            self._flush_notes_of(watched)
            watched.closed = True
            self._forget_if_done(watched)

    # -- questions and streamed answers (owner thread) ---------------------------------------
    def turn_started(self, case: Case, turn: Turn) -> None:
        """A question was asked; its answer will stream through `turn_text`."""
        watched = self._find(case)
        if watched is None or self._closed:
            return  # not recorded (the bundled sample, say)
        answer = _Answer()
        watched.answers[id(turn)] = (turn, answer)
        question = replace(turn, answer="")  # the text comes through turn_text
        self._submit(partial(_begin_turn, watched.stored, answer, question))

    def turn_text(self, case: Case, turn: Turn, delta: str) -> None:
        """A piece of the answer arrived; queued behind the question's own write."""
        watched = self._find(case)
        entry = watched.answers.get(id(turn)) if watched is not None else None
        if entry is not None and entry[0] is turn:
            self._submit(partial(_append_answer, entry[1], delta))

    def turn_finished(self, case: Case, turn: Turn) -> None:
        """The answer ended (any stop reason): store it as it is now."""
        watched = self._find(case)
        entry = watched.answers.pop(id(turn), None) if watched is not None else None
        if watched is None or entry is None:
            return
        self._submit(partial(_finish_turn, entry[1], replace(turn)), notify=True)
        self._forget_if_done(watched)

    def thread_truncated(self, case: Case, keep: int) -> None:
        """The thread was cut back to its first `keep` turns (regenerate, new reading)."""
        watched = self._find(case)
        if watched is not None:
            self._submit(partial(_truncate_thread, watched.stored, keep), notify=True)

    # -- what the History panel asks for (owner thread) -------------------------------------
    def search(self, query: str) -> None:
        """Search; `searched(query, summaries)` follows."""
        self._submit(partial(self._search, query))

    def load(self, case_id: int) -> None:
        """Load a stored case; `loaded(case_id, case, scan)` or `load_failed` follows."""
        self._submit(partial(self._load, case_id), on_error=partial(self._report_load, case_id))

    def delete(self, case_id: int) -> None:
        """Delete a case (its scan too when no other case uses it); `deleted(case_id)` follows.

        A deleted case that is still open stops being recorded.
        """
        self._submit(partial(self._delete, case_id), notify=True)

    def close(self) -> None:
        """Write every queued call and the waiting notes, then close the history.

        Blocks until the worker is done. An answer still streaming stays
        unfinished and reads as interrupted when the history is next opened.
        """
        if self._closed:
            return
        self.flush_notes()
        self._closed = True
        self._executor.submit(self._close_history)
        self._executor.shutdown(wait=True)  # runs everything queued first
        self._watched.clear()

    # -- owner thread helpers -------------------------------------------------------------
    def _find(self, case: Case) -> _Watched | None:
        watched = self._watched.get(id(case))
        if watched is not None or case.case_id is None:
            return watched
        # The same stored case as a new value (an edit swapped the Case in): follow it.
        for key, old in self._watched.items():
            if not old.closed and old.case.case_id == case.case_id:
                del self._watched[key]
                old.case = case
                self._watched[id(case)] = old
                return old
        return None

    def _flush_notes_of(self, watched: _Watched) -> None:
        if watched.notes_waiting and watched.case.notes != watched.notes:
            watched.notes = watched.case.notes
            self._submit(partial(_update_notes, watched.stored, watched.notes), notify=True)
        watched.notes_waiting = False

    def _forget_if_done(self, watched: _Watched) -> None:
        if watched.closed and not watched.answers:
            self._watched.pop(id(watched.case), None)

    def _submit(
        self, call: Call, *, notify: bool = False,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:  # fmt: skip
        if not self._closed:
            self._executor.submit(self._run, call, notify, on_error)

    # -- worker thread ----------------------------------------------------------------------
    def _open(self, paths: AppPaths, open_history: Callable[[AppPaths], CaseHistory]) -> None:
        try:
            self._history = open_history(paths)
        except Exception as error:
            log.warning("case history: could not open it (%s)", type(error).__name__)
            _report(self._events.unavailable, error)
        else:
            _report(self._events.opened, self._history.recovery_notice)

    def _run(
        self, call: Call, notify: bool, on_error: Callable[[BaseException], None] | None
    ) -> None:
        history = self._history
        if history is None:  # it could not be opened: nothing is recorded
            return
        try:
            call(history)
        except Exception as error:
            log.warning("case history: a call failed (%s)", type(error).__name__)
            _report(on_error or self._events.failed, error)
        if notify:
            _report(self._events.changed)

    def _close_history(self) -> None:
        history, self._history = self._history, None
        if history is not None:
            try:
                history.close()
            except Exception as error:  # at exit there is no one left to tell
                log.warning("case history: closing failed (%s)", type(error).__name__)

    def _save(
        self, case: Case, snapshot: Case, stored: _Stored, scan: bytes | None, history: CaseHistory
    ) -> None:
        case_id = history.save_case(snapshot, Path(snapshot.source.path) if scan is None else scan)
        stored.case_id = case_id
        self._by_id[case_id] = stored
        saved = Saved(case_id, snapshot.created_at, snapshot.updated_at, snapshot.source.sha256)
        _report(self._events.saved, case, saved)

    def _watch(self, stored: _Stored, _: CaseHistory) -> None:
        if stored.case_id is not None:
            self._by_id[stored.case_id] = stored

    def _search(self, query: str, history: CaseHistory) -> None:
        _report(self._events.searched, query, history.search(query))

    def _load(self, case_id: int, history: CaseHistory) -> None:
        case, scan = history.load_case(case_id), history.source_path(case_id)
        _report(self._events.loaded, case_id, case, scan)

    def _report_load(self, case_id: int, error: BaseException) -> None:
        _report(self._events.load_failed, case_id, error)

    def _delete(self, case_id: int, history: CaseHistory) -> None:
        history.delete_case(case_id)
        stored = self._by_id.pop(case_id, None)
        if stored is not None:  # still open: no longer recorded
            stored.case_id = None
        _report(self._events.deleted, case_id)


def _report(callback: Callable[..., None], *args: Any) -> None:
    """Call a listener on the worker thread; its own failure must not stop the queue."""
    try:
        callback(*args)
    except Exception:
        log.exception("case history: a listener failed")


# -- the writes, on the worker thread -----------------------------------------------------------
def _update_steps(stored: _Stored, steps: list[dict[str, Any]], history: CaseHistory) -> None:
    if stored.case_id is not None:  # None: its save failed, or it was deleted
        history.update_steps(stored.case_id, steps)


def _update_study(stored: _Stored, study: dict[str, str], history: CaseHistory) -> None:
    if stored.case_id is not None:
        history.update_study(stored.case_id, study)


def _update_notes(stored: _Stored, notes: str, history: CaseHistory) -> None:
    if stored.case_id is not None:
        history.update_notes(stored.case_id, notes)


def _add_pdfs(stored: _Stored, paths: list[str], history: CaseHistory) -> None:
    if stored.case_id is not None:
        for path in paths:
            history.add_exported_pdf(stored.case_id, path)


def _begin_turn(stored: _Stored, answer: _Answer, question: Turn, history: CaseHistory) -> None:
    if stored.case_id is not None:
        answer.turn_id = history.begin_turn(stored.case_id, question)


def _append_answer(answer: _Answer, delta: str, history: CaseHistory) -> None:
    if answer.turn_id is not None:  # None: its question could not be stored
        history.append_answer(answer.turn_id, delta)


def _finish_turn(answer: _Answer, turn: Turn, history: CaseHistory) -> None:
    if answer.turn_id is not None:
        history.finish_turn(answer.turn_id, turn)


def _truncate_thread(stored: _Stored, keep: int, history: CaseHistory) -> None:
    if stored.case_id is not None:  # a case not in the history has nothing stored
        history.truncate_thread(stored.case_id, keep)
