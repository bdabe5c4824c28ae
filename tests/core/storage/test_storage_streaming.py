"""Streamed answers: saved as they arrive, interrupted when their process dies."""

from __future__ import annotations

import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ecgviewer.core.case import Case, Turn
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.storage import CaseHistory
from ecgviewer.core.storage.streaming import FLUSH_DELTAS, AnswerBuffer, Flusher


def stored_answer(database: Path, turn_id: int) -> tuple[str, str | None]:
    """What a separate reader sees on disk: (answer, stop_reason)."""
    conn = sqlite3.connect(database)
    try:
        row = conn.execute(
            "SELECT answer, stop_reason FROM turns WHERE id = ?", (turn_id,)
        ).fetchone()
    finally:
        conn.close()
    return row[0], row[1]


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def read_lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """A process's stdout lines, readable with a timeout (`.get(timeout=...)`)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.fixture
def case_id(history: CaseHistory, make_case: Callable[..., Case]) -> int:
    return history.save_case(make_case(), b"streaming scan")


def test_streamed_answer_is_finished_with_its_final_text(
    history: CaseHistory, case_id: int, make_turn: Callable[..., Turn]
) -> None:
    turn_id = history.begin_turn(case_id, Turn(question="Axis?", prompt_preset="axis"))
    for part in ("Normal ", "axis", " (+60°)."):
        history.append_answer(turn_id, part)

    streaming = history.load_case(case_id).thread[-1]
    assert streaming.stop_reason is None  # live in this instance, not interrupted
    assert streaming.answer == "Normal axis (+60°)."  # including text not yet written

    final = make_turn("Axis?", "Normal axis (+60°).", "eos")
    history.finish_turn(turn_id, final)
    history.append_answer(turn_id, " late token")  # an old request's late token: dropped
    history.flush()

    assert history.load_case(case_id).thread[-1] == final
    assert stored_answer(history.database_file, turn_id) == ("Normal axis (+60°).", "eos")


def test_text_reaches_the_disk_without_an_explicit_flush(
    history: CaseHistory, case_id: int
) -> None:
    turn_id = history.begin_turn(case_id, Turn(question="Rhythm?"))
    history.append_answer(turn_id, "Sinus ")  # one delta: only the 250 ms timer writes it

    wait_for(lambda: stored_answer(history.database_file, turn_id) == ("Sinus ", None))


def test_a_full_batch_wakes_the_flusher() -> None:
    buffer = AnswerBuffer()
    buffer.open_turn(1)
    due = [buffer.append(1, "x") for _ in range(FLUSH_DELTAS)]
    assert due == [False] * (FLUSH_DELTAS - 1) + [True]
    assert buffer.drain() == {1: "x" * FLUSH_DELTAS}

    flushed = threading.Event()
    flusher = Flusher(flushed.set, interval_s=3600.0)  # the timer alone would never fire
    flusher.start()
    try:
        flusher.wake()
        assert flushed.wait(20.0)
    finally:
        flusher.stop()


def test_a_failed_write_keeps_the_text_for_the_next_one() -> None:
    buffer = AnswerBuffer()
    buffer.open_turn(1)
    buffer.append(1, "first ")
    batch = buffer.drain()
    buffer.append(1, "second")
    buffer.restore(batch)
    assert buffer.drain() == {1: "first second"}


def test_a_live_answer_in_another_instance_is_not_marked_interrupted(
    paths: AppPaths, history: CaseHistory, case_id: int
) -> None:
    turn_id = history.begin_turn(case_id, Turn(question="QT?"))
    history.append_answer(turn_id, "QTc 4")
    history.flush()

    with CaseHistory.open(paths) as second:  # a second app window
        assert second.load_case(case_id).thread[-1].stop_reason is None
    assert stored_answer(history.database_file, turn_id) == ("QTc 4", None)


def test_an_answer_left_unfinished_reads_as_interrupted(
    paths: AppPaths, case_id: int, history: CaseHistory
) -> None:
    turn_id = history.begin_turn(case_id, Turn(question="QT?"))
    history.append_answer(turn_id, "QTc 4")
    history.close()  # e.g. the window was closed mid-answer

    with CaseHistory.open(paths) as reopened:
        turn = reopened.load_case(case_id).thread[-1]
    assert (turn.answer, turn.stop_reason) == ("QTc 4", "interrupted")
    assert stored_answer(paths.database_file, turn_id) == ("QTc 4", "interrupted")


def test_appending_from_another_thread_while_editing_the_case(
    history: CaseHistory, case_id: int
) -> None:
    turn_id = history.begin_turn(case_id, Turn(question="Long answer?"))
    parts = [f"part{i} " for i in range(2000)]

    def stream() -> None:
        for part in parts:
            history.append_answer(turn_id, part)

    streamer = threading.Thread(target=stream)
    streamer.start()
    for index in range(20):
        history.update_notes(case_id, f"note {index}")
    streamer.join()
    history.flush()

    assert stored_answer(history.database_file, turn_id) == ("".join(parts), None)
    assert history.load_case(case_id).notes == "note 19"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_process_leaves_its_partial_answer_marked_interrupted(
    paths: AppPaths, start_worker: Callable[..., subprocess.Popen[str]]
) -> None:
    worker = start_worker("stream-until-killed")
    lines = read_lines(worker)
    _, case_text, turn_text = lines.get(timeout=60).split()
    assert lines.get(timeout=60) == "READY"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    with CaseHistory.open(paths) as history:
        turn = history.load_case(int(case_text)).thread[0]
    conn = sqlite3.connect(paths.database_file)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()

    assert turn.stop_reason == "interrupted"
    assert not turn.complete
    streamed = turn.answer.split()
    assert len(streamed) >= 100  # READY came only after 100 deltas were on disk
    assert streamed == [f"tok{i}" for i in range(len(streamed))]  # in order, none lost
    assert stored_answer(paths.database_file, int(turn_text))[1] == "interrupted"
