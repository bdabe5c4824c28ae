"""The core recorder against a real case history: order, streaming, closing, draining, errors.

No Qt: the recorder is driven the way the window drives it, and its events
are heard on its worker thread. Where a test needs writes to be queued
before the history is ready (text streamed before its question has a row),
the history's opening waits on a gate the test opens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ecgviewer.core.case import Case, SourceInfo, Turn
from ecgviewer.core.errors import StorageError
from ecgviewer.core.paths import HOME_ENV, AppPaths, app_paths
from ecgviewer.core.recorder import CaseRecorder, RecorderEvents, Saved
from ecgviewer.core.storage import CaseHistory, CaseNotFoundError

WAIT_S = 20.0  # the longest a test waits for an event before it fails


class Heard:
    """The recorder's events, collected as they arrive on its worker thread."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = threading.Condition()

    def callbacks(self) -> RecorderEvents:
        names = [item.name for item in fields(RecorderEvents)]
        return RecorderEvents(**{name: partial(self._hear, name) for name in names})

    def _hear(self, name: str, *args: Any) -> None:
        with self._changed:
            self.events.append((name, args))
            self._changed.notify_all()

    def of(self, name: str) -> list[tuple[Any, ...]]:
        with self._changed:
            return [args for heard, args in self.events if heard == name]

    def wait(self, name: str, count: int = 1) -> list[tuple[Any, ...]]:
        """The first `count` events called `name`, once they have come."""
        with self._changed:
            came = self._changed.wait_for(lambda: len(self.of(name)) >= count, timeout=WAIT_S)
        assert came, f"no {name!r} event: heard {[event[0] for event in self.events]}"
        return self.of(name)[:count]

    def first(self, name: str) -> tuple[Any, ...]:
        """The arguments of the first event called `name`, once it has come."""
        return self.wait(name)[0]


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return app_paths().ensure()


@pytest.fixture
def start(paths: AppPaths) -> Iterator[Callable[..., tuple[CaseRecorder, Heard]]]:
    """Start recorders on the test's history; each is closed at the end."""
    started: list[CaseRecorder] = []

    def make(gate: threading.Event | None = None) -> tuple[CaseRecorder, Heard]:
        def open_history(where: AppPaths) -> CaseHistory:
            if gate is not None:
                assert gate.wait(WAIT_S)
            return CaseHistory.open(where)

        heard = Heard()
        started.append(CaseRecorder(paths, heard.callbacks(), open_history=open_history))
        return started[-1], heard

    yield make
    for recorder in started:
        recorder.close()


def new_case(tmp_path: Path, name: str = "scan.png") -> Case:
    scan = tmp_path / name
    scan.write_bytes(f"the bytes of {name}".encode())
    return Case(source=SourceInfo(path=str(scan), name=name))


def stored(paths: AppPaths, case_id: int) -> Case:
    """The case as a later start of the app finds it."""
    with CaseHistory.open(paths) as history:
        return history.load_case(case_id)


def stream(recorder: CaseRecorder, case: Case, question: str, pieces: list[str]) -> Turn:
    """What the reading controller reports while the model streams an answer."""
    turn = Turn(question=question, prompt_preset="rhythm", started_at="2026-01-02T03:04:05+00:00")
    case.thread.append(turn)
    recorder.turn_started(case, turn)
    for piece in pieces:
        turn.answer += piece
        recorder.turn_text(case, turn, piece)
    return turn


def finish(recorder: CaseRecorder, case: Case, turn: Turn, stop_reason: str = "eos") -> None:
    turn.stop_reason = stop_reason  # type: ignore[assignment]
    recorder.turn_finished(case, turn)


def test_text_streamed_before_the_case_is_stored_is_kept_in_order_with_every_change(
    start: Callable[..., tuple[CaseRecorder, Heard]], paths: AppPaths, tmp_path: Path
) -> None:
    gate = threading.Event()  # the history opens only when the test says so
    recorder, heard = start(gate)
    case = new_case(tmp_path)
    recorder.record_opened(case)
    first = stream(recorder, case, "Rate?", ["7", "2", "/min"])  # no case id, no turn row yet
    finish(recorder, case, first)
    stream(recorder, case, "Axis?", ["Nor", "mal"])
    assert heard.events == [] and case.case_id is None
    gate.set()

    _, saved = heard.first("saved")
    assert isinstance(saved, Saved) and case.case_id is None  # the owner applies it
    saved.apply_to(case)
    case.steps = [{"op": "rotate", "degrees": 90}]
    case.study = {"patient_id": "P-7"}
    case.exported_pdfs.append("/reports/p7.pdf")
    case.notes = "Compare with last week"
    assert recorder.record_changed(case)  # the notes wait for flush_notes
    recorder.flush_notes()
    recorder.close()

    again = stored(paths, saved.case_id)
    assert [(t.question, t.answer, t.stop_reason) for t in again.thread] == [
        ("Rate?", "72/min", "eos"),
        ("Axis?", "Normal", "interrupted"),  # still streaming when the recorder closed
    ]
    assert again.steps == [{"op": "rotate", "degrees": 90}]
    assert again.study == {"patient_id": "P-7"}
    assert again.exported_pdfs == ["/reports/p7.pdf"]
    assert again.notes == "Compare with last week"
    assert again.created_at == case.created_at


def test_a_closed_case_is_forgotten_once_its_answer_ends(
    start: Callable[..., tuple[CaseRecorder, Heard]], paths: AppPaths, tmp_path: Path
) -> None:
    recorder, heard = start()
    case = new_case(tmp_path)
    recorder.record_opened(case)
    _, saved = heard.first("saved")
    saved.apply_to(case)
    turn = stream(recorder, case, "Rhythm?", ["Sinus"])
    case.notes = "typed just before closing"
    recorder.record_changed(case)
    recorder.record_closed(case)
    assert recorder.is_watching(case)  # its answer is still streaming
    finish(recorder, case, turn, "cancelled")  # the stop asked when it closed
    assert not recorder.is_watching(case)

    case.notes = "typed after closing"  # no longer recorded
    assert not recorder.record_changed(case)
    recorder.close()
    again = stored(paths, saved.case_id)
    assert again.notes == "typed just before closing"
    assert [(t.answer, t.stop_reason) for t in again.thread] == [("Sinus", "cancelled")]


def test_closing_the_recorder_drains_the_queued_writes(
    start: Callable[..., tuple[CaseRecorder, Heard]], paths: AppPaths, tmp_path: Path
) -> None:
    gate = threading.Event()
    recorder, heard = start(gate)
    cases = [new_case(tmp_path, f"scan-{index}.png") for index in range(5)]
    for index, case in enumerate(cases):
        recorder.record_opened(case)
        turn = stream(recorder, case, f"Question {index}?", [f"{n} " for n in range(200)])
        finish(recorder, case, turn)
        case.notes = f"notes {index}"
        recorder.record_changed(case)
    gate.set()
    recorder.close()  # returns only when every queued write is done

    ids = {args[0].source.name: args[1].case_id for args in heard.of("saved")}
    assert len(ids) == 5
    for index, case in enumerate(cases):
        again = stored(paths, ids[case.source.name])
        assert again.notes == f"notes {index}"
        assert again.thread[0].answer == "".join(f"{n} " for n in range(200))
    recorder.record_opened(new_case(tmp_path, "late.png"))  # after close: ignored
    recorder.search("")
    assert len(heard.of("saved")) == 5 and heard.of("failed") == []


def test_a_storage_error_is_reported_and_the_case_is_not_recorded(
    start: Callable[..., tuple[CaseRecorder, Heard]], paths: AppPaths, tmp_path: Path
) -> None:
    recorder, heard = start()
    case = new_case(tmp_path)
    case.source.sha256 = "0" * 64  # the file changed on disk after it was opened
    recorder.record_opened(case)
    (error,) = heard.first("failed")
    assert isinstance(error, StorageError) and "changed on disk" in error.message
    heard.wait("changed")  # lists are refreshed after a failed save too

    finish(recorder, case, stream(recorder, case, "Rate?", ["72"]))  # skipped, not an error
    case.steps = [{"op": "rotate", "degrees": 180}]
    recorder.record_changed(case)
    recorder.search("")
    query, summaries = heard.first("searched")
    assert (query, summaries) == ("", [])
    assert len(heard.of("failed")) == 1 and heard.of("saved") == []


def test_a_history_that_cannot_open_is_reported_and_nothing_is_written(
    start: Callable[..., tuple[CaseRecorder, Heard]], paths: AppPaths, tmp_path: Path
) -> None:
    paths.database_file.mkdir()  # a folder where the database file should be
    recorder, heard = start()
    (error,) = heard.first("unavailable")
    assert isinstance(error, StorageError)
    recorder.record_opened(new_case(tmp_path))
    recorder.search("")
    recorder.close()
    assert [name for name, _ in heard.events] == ["unavailable"]


def test_search_load_and_delete_of_an_open_case(
    start: Callable[..., tuple[CaseRecorder, Heard]], paths: AppPaths, tmp_path: Path
) -> None:
    recorder, heard = start()
    first, second = new_case(tmp_path, "first.png"), new_case(tmp_path, "second.png")
    for case in (first, second):
        recorder.record_opened(case)
    for case, saved in heard.wait("saved", 2):
        saved.apply_to(case)
    recorder.search("second")
    query, summaries = heard.first("searched")
    assert query == "second"
    assert [summary.case_id for summary in summaries] == [second.case_id]

    recorder.load(int(first.case_id or 0))
    case_id, loaded, scan = heard.first("loaded")
    assert (case_id, loaded.source.name) == (first.case_id, "first.png")
    assert Path(scan).read_bytes() == b"the bytes of first.png"

    recorder.delete(int(first.case_id or 0))
    assert heard.wait("deleted") == [(first.case_id,)]
    first.notes = "written after the delete"  # still open, no longer recorded: nothing happens
    recorder.record_changed(first)
    recorder.flush_notes()
    recorder.load(int(first.case_id or 0))
    case_id, error = heard.first("load_failed")
    assert case_id == first.case_id and isinstance(error, CaseNotFoundError)
    recorder.close()
    assert heard.of("failed") == []
    with CaseHistory.open(paths) as history:
        assert [summary.case_id for summary in history.search()] == [second.case_id]


def test_an_edit_that_swaps_in_a_new_case_value_is_still_recorded(
    start: Callable[..., tuple[CaseRecorder, Heard]], paths: AppPaths, tmp_path: Path
) -> None:
    recorder, heard = start()
    case = new_case(tmp_path)
    recorder.record_opened(case)
    _, saved = heard.first("saved")
    saved.apply_to(case)
    edited = replace(case, steps=[{"op": "crop", "box": [0.1, 0.1, 0.9, 0.9]}])
    recorder.record_changed(edited)
    assert recorder.is_watching(edited) and not recorder.is_watching(case)
    recorder.close()
    assert stored(paths, saved.case_id).steps == edited.steps
