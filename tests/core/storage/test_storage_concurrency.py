"""Two app instances writing the same case history at the same time."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from ecgviewer.core.paths import AppPaths
from ecgviewer.core.storage import BlobStore, CaseHistory

N_CASES = 40
N_DELTAS = 40
SHARED_SCAN = b"scan shared by both workers"  # as in storage_worker.py


def test_two_processes_writing_at_once_lose_nothing(
    paths: AppPaths, tmp_path: Path, start_worker: Callable[..., subprocess.Popen[str]]
) -> None:
    CaseHistory.open(paths).close()  # both workers find an existing database
    go = tmp_path / "go"
    workers = [
        start_worker("write-cases", name, partner, str(N_CASES), str(N_DELTAS), str(go))
        for name, partner in (("alpha", "beta"), ("beta", "alpha"))
    ]
    go.touch()  # start both together
    outputs = [worker.communicate(timeout=300) for worker in workers]

    # Each worker waits half-way for the other's mark, so both wrote at once.
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert out.split() == ["DONE"]
    assert {mark.name for mark in tmp_path.glob("*-halfway")} == {"alpha-halfway", "beta-halfway"}

    conn = sqlite3.connect(paths.database_file)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()

    kept = [index for index in range(N_CASES) if index % 5 != 4]
    with CaseHistory.open(paths) as history:
        assert history.recovered_from is None
        summaries = history.search(limit=1000)
        assert len(summaries) == 2 * len(kept)
        for summary in summaries:
            _check_case(history, summary.case_id)
        assert history.search("alpha-3") and not history.search("alpha-4 question")

    # Odd cases had their own scan: deleted with their case. Even ones share one, still used.
    own_scans = {
        f"{name}-{index}".encode() for name in ("alpha", "beta") for index in kept if index % 2
    }
    blobs = BlobStore(paths.blob_dir)
    stored = {path.read_bytes() for path in paths.blob_dir.glob("??/*")}
    assert stored == {SHARED_SCAN, *own_scans}
    assert blobs.contains(blobs.put(SHARED_SCAN))


def _check_case(history: CaseHistory, case_id: int) -> None:
    case = history.load_case(case_id)
    name, index = case.source.name.split("-")
    assert len(case.thread) == 1
    turn = case.thread[0]
    assert turn.stop_reason == "eos"
    assert turn.question == f"{name} question {index}"
    assert turn.answer == "".join(f"{name}-{index}-{delta} " for delta in range(N_DELTAS))
    assert case.notes == f"notes of {name}-{index}"
    expected_scan = SHARED_SCAN if int(index) % 2 == 0 else f"{name}-{index}".encode()
    assert history.source_path(case_id).read_bytes() == expected_scan
