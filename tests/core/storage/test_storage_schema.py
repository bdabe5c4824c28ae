"""Schema versions: upgrading old databases, refusing newer ones, recovering damaged ones."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from ecgviewer.core.case import Case, SourceInfo
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.storage import SCHEMA_VERSION, BlobStore, CaseHistory, NewerHistoryError
from ecgviewer.core.storage.schema import MIGRATIONS

FIXTURES = Path(__file__).with_name("fixtures")


def build_database(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_a_new_database_runs_every_migration(history: CaseHistory, paths: AppPaths) -> None:
    assert history.upgraded_from == 0
    assert history.recovered_from is None
    assert user_version(paths.database_file) == SCHEMA_VERSION == len(MIGRATIONS) == 3
    conn = sqlite3.connect(paths.database_file)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()

    history.close()
    with CaseHistory.open(paths) as again:
        assert again.upgraded_from is None


def test_a_version_1_database_is_upgraded_with_its_data(paths: AppPaths) -> None:
    build_database(paths.database_file, (FIXTURES / "history_v1.sql").read_text("utf-8"))
    BlobStore(paths.blob_dir).put(b"v1 scan bytes")
    assert user_version(paths.database_file) == 1

    with CaseHistory.open(paths) as history:
        assert history.upgraded_from == 1
        case = history.load_case(1)
        history.add_exported_pdf(1, "/reports/old-ecg.pdf")  # a table v1 did not have
        found = history.search("P-0042 2025-03")
        exported = history.load_case(1).exported_pdfs
        scan = history.source_path(1).read_bytes()

    assert user_version(paths.database_file) == SCHEMA_VERSION
    assert case.source.name == "old-ecg.png"
    assert case.steps == [{"op": "rotate", "degrees": 90}, {"op": "deskew", "angle": 1.25}]
    assert case.study == {"patient_id": "P-0042", "sex": "F"}
    assert [turn.stop_reason for turn in case.thread] == ["eos", "interrupted"]
    assert case.thread[1].answer == "There is 1 mm ST de"
    first = case.thread[0]
    assert first.provenance is not None and first.provenance.model.quantization == "Q4_K_M"
    assert first.decoding is not None and first.decoding.seed == 42
    assert first.timings.first_token_ms == 530.25 and first.timings.decode_tokens == 9
    assert [summary.case_id for summary in found] == [1]
    assert exported == ["/reports/old-ecg.pdf"]
    assert scan == b"v1 scan bytes"


def test_a_newer_database_is_refused_and_left_untouched(paths: AppPaths) -> None:
    build_database(
        paths.database_file,
        "PRAGMA journal_mode = WAL; CREATE TABLE future (x); PRAGMA user_version = 99;",
    )
    database = paths.database_file
    before = (hashlib.sha256(database.read_bytes()).hexdigest(), database.stat().st_mtime_ns)

    with pytest.raises(NewerHistoryError) as raised:
        CaseHistory.open(paths)

    message = str(raised.value)
    assert "newer version of ECG Viewer" in message
    assert "Update the app; your data has not been changed." in message
    after = (hashlib.sha256(database.read_bytes()).hexdigest(), database.stat().st_mtime_ns)
    assert after == before
    assert user_version(database) == 99
    assert not list(database.parent.glob("*.corrupt-*"))


@pytest.mark.parametrize(
    "damage",
    ["not_sqlite", "damaged_pages", "foreign_tables", "missing_tables"],
)
def test_a_damaged_database_is_moved_aside_and_a_fresh_one_started(
    paths: AppPaths, damage: str
) -> None:
    database = paths.database_file
    _damage(paths, damage)
    original = database.read_bytes()

    with CaseHistory.open(paths) as history:
        moved = history.recovered_from
        assert str(moved) in history.recovery_notice
        assert history.search() == []
        case_id = history.save_case(_case(), b"new scan")
        assert history.load_case(case_id).source.name == "new.png"

    assert moved is not None and moved.parent == database.parent
    assert moved.name.startswith("cases.sqlite3.corrupt-")
    assert moved.read_bytes() == original
    with CaseHistory.open(paths) as again:  # no loop: the new file is healthy
        assert again.recovered_from is None
        assert again.recovery_notice == ""
        assert len(again.search()) == 1


def _damage(paths: AppPaths, damage: str) -> None:
    database = paths.database_file
    if damage == "not_sqlite":
        database.parent.mkdir(parents=True)
        database.write_bytes(b"this is not a database\n" * 500)
        database.with_name("cases.sqlite3-wal").write_bytes(b"junk wal")
    elif damage == "foreign_tables":
        build_database(database, "CREATE TABLE somebody_elses (x);")
    elif damage == "missing_tables":
        build_database(database, "CREATE TABLE cases (x); PRAGMA user_version = 2;")
    else:
        with CaseHistory.open(paths) as history:
            for index in range(200):
                history.save_case(_case(), f"scan {index}".encode())
        data = bytearray(database.read_bytes())
        page = 4096
        data[page * 2 : page * 6] = b"\xa5" * (page * 4)  # overwrite b-tree pages
        database.write_bytes(bytes(data))


def _case() -> Case:
    return Case(source=SourceInfo(path="/scans/new.png", name="new.png"), notes="x" * 300)


def test_the_moved_aside_wal_keeps_its_name_pair(paths: AppPaths) -> None:
    _damage(paths, "not_sqlite")
    with CaseHistory.open(paths) as history:
        moved = history.recovered_from
    assert moved is not None
    assert moved.with_name(moved.name + "-wal").read_bytes() == b"junk wal"
