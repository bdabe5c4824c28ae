"""A separate process that writes to the case history, for the crash and concurrency tests.

Run as a script (not collected by pytest); ECGVIEWER_HOME says where the history is.

    storage_worker.py stream-until-killed
        Saves a case, begins a turn and streams "tok0 tok1 …" forever without ever
        calling flush(): only the automatic flusher writes. Prints
        "CASE <case_id> <turn_id>" first, then "READY" once at least the first
        READY_AFTER deltas are readable from a second connection.

    storage_worker.py write-cases NAME PARTNER N_CASES N_DELTAS GO_FILE
        Waits for GO_FILE to exist (so two workers start together), then saves
        N_CASES cases (every other one with a scan shared with the other worker),
        streams an answer into each, finishes it, edits notes and deletes every
        fifth case. Half-way it leaves a "NAME-halfway" mark next to GO_FILE and
        waits for PARTNER's, so each worker's second half is written after both
        first halves: the two overlap by construction. Prints "DONE", or exits
        with an error when the partner never got half-way.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from ecgviewer.core.case import Case, SourceInfo, Turn
from ecgviewer.core.paths import app_paths
from ecgviewer.core.storage import CaseHistory

READY_AFTER = 100
PARTNER_WAIT_S = 240.0  # a partner that is not half-way by then has failed
SHARED_SCAN = b"scan shared by both workers"


def token(index: int) -> str:
    """The index-th streamed delta of the crash test."""
    return f"tok{index} "


def stream_until_killed() -> None:
    """Stream forever; the test SIGKILLs this process mid-answer."""
    history = CaseHistory.open()
    case = Case(source=SourceInfo(path="/scans/crash.png", name="crash.png"))
    case_id = history.save_case(case, b"scan of the crash test")
    turn_id = history.begin_turn(case_id, Turn(question="Describe the rhythm."))
    print(f"CASE {case_id} {turn_id}", flush=True)
    expected = "".join(token(i) for i in range(READY_AFTER))
    index = 0
    ready = False
    while True:
        history.append_answer(turn_id, token(index))
        index += 1
        if not ready and index >= READY_AFTER and _stored_answer(turn_id).startswith(expected):
            print("READY", flush=True)
            ready = True
        time.sleep(0.002)


def _stored_answer(turn_id: int) -> str:
    """What another reader sees on disk right now."""
    conn = sqlite3.connect(app_paths().database_file, timeout=5.0)
    try:
        row = conn.execute("SELECT answer FROM turns WHERE id = ?", (turn_id,)).fetchone()
    finally:
        conn.close()
    return str(row[0]) if row else ""


def write_cases(name: str, partner: str, n_cases: int, n_deltas: int, go_file: Path) -> None:
    """Save, stream, finish, edit and delete cases while another worker does the same."""
    _wait_for(go_file)
    with CaseHistory.open() as history:
        for index in range(n_cases):
            if index == n_cases // 2:  # meet the partner half-way
                go_file.with_name(f"{name}-halfway").touch()
                _wait_for(go_file.with_name(f"{partner}-halfway"))
            scan = SHARED_SCAN if index % 2 == 0 else f"{name}-{index}".encode()
            case = Case(
                source=SourceInfo(path=f"/scans/{name}-{index}.png", name=f"{name}-{index}")
            )
            case_id = history.save_case(case, scan)
            turn = Turn(question=f"{name} question {index}")
            turn_id = history.begin_turn(case_id, turn)
            parts = [f"{name}-{index}-{delta} " for delta in range(n_deltas)]
            for number, part in enumerate(parts):
                history.append_answer(turn_id, part)
                if number % 10 == 9:
                    history.flush()
            turn.answer = "".join(parts)
            turn.stop_reason = "eos"
            history.finish_turn(turn_id, turn)
            history.update_notes(case_id, f"notes of {name}-{index}")
            if index % 5 == 4:
                history.delete_case(case_id)
    print("DONE", flush=True)


def _wait_for(mark: Path) -> None:
    """Poll for a file another process creates; fail rather than hang."""
    deadline = time.monotonic() + PARTNER_WAIT_S
    while not mark.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{mark.name} never appeared")
        time.sleep(0.005)


def main(argv: list[str]) -> None:
    """Dispatch to the requested scenario."""
    if argv[0] == "stream-until-killed":
        stream_until_killed()
    elif argv[0] == "write-cases":
        write_cases(argv[1], argv[2], int(argv[3]), int(argv[4]), Path(argv[5]))
    else:
        raise SystemExit(f"unknown scenario {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
