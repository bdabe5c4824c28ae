"""Saving, reopening, editing and deleting cases."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecgviewer.core.case import Case, SourceInfo, Turn
from ecgviewer.core.errors import StorageError
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.storage import CaseHistory, CaseNotFoundError

SCAN = bytes(range(256)) * 1000 + b"\x00\xff end of a fake PNG"


@pytest.fixture
def scan_file(tmp_path: Path) -> Path:
    path = tmp_path / "ecg-0042.png"
    path.write_bytes(SCAN)
    return path


def test_save_and_reopen_restores_the_case_exactly(
    paths: AppPaths, make_case: Callable[..., Case], scan_file: Path
) -> None:
    case = make_case()
    with CaseHistory.open(paths) as history:
        case_id = history.save_case(case, scan_file)
    assert case.case_id == case_id
    assert case.source.sha256 == hashlib.sha256(SCAN).hexdigest()
    assert case.created_at and case.updated_at

    with CaseHistory.open(paths) as reopened:  # a new process would do the same
        loaded = reopened.load_case(case_id)
        stored_scan = reopened.source_path(case_id).read_bytes()

    assert loaded == case
    assert loaded.thread[1].stop_reason == "length"
    assert loaded.thread[0].provenance == case.thread[0].provenance
    assert stored_scan == SCAN


def test_steps_round_trip_bit_identical_floats(
    history: CaseHistory, make_case: Callable[..., Case], scan_file: Path
) -> None:
    case = make_case()
    steps: list[dict[str, Any]] = [
        {"op": "deskew", "angle": 0.1 + 0.2},
        {
            "op": "scale",
            "factor": 1 / 3,
            "tiny": 5e-324,
            "neg_zero": -0.0,
            "big": 1.7976931348623157e308,
        },
        {"op": "crop", "box": [1, 2, 3, 4], "nested": {"a": [0.5, {"b": None}]}},
    ]
    case.steps = steps
    case_id = history.save_case(case, scan_file)

    loaded = history.load_case(case_id)

    assert loaded.steps == steps
    # Equality treats -0.0 == 0.0; the JSON text proves every float is bit-identical.
    assert json.dumps(loaded.steps) == json.dumps(steps)
    assert math.copysign(1.0, loaded.steps[1]["neg_zero"]) == -1.0


def test_updates_change_only_their_field_and_the_update_time(
    history: CaseHistory, make_case: Callable[..., Case], scan_file: Path
) -> None:
    case = make_case()
    case_id = history.save_case(case, scan_file)
    new_steps = [{"op": "rotate", "degrees": 270}, {"op": "denoise", "strength": 0.75}]

    history.update_notes(case_id, "Rhythm reviewed with cardiology.")
    history.update_study(case_id, {"patient_id": "P-7", "indication": "syncope"})
    history.update_steps(case_id, new_steps)
    history.add_exported_pdf(case_id, Path("/reports/second.pdf"))
    history.add_exported_pdf(case_id, "/reports/second.pdf")  # exported again to the same file

    loaded = history.load_case(case_id)
    assert loaded.notes == "Rhythm reviewed with cardiology."
    assert loaded.study == {"patient_id": "P-7", "indication": "syncope"}
    assert loaded.steps == new_steps
    assert loaded.exported_pdfs == ["/reports/ecg-0042.pdf", "/reports/second.pdf"]
    assert loaded.thread == case.thread
    assert loaded.created_at == case.created_at


def test_saving_a_stored_case_again_appends_only_new_turns(
    history: CaseHistory,
    make_case: Callable[..., Case],
    make_turn: Callable[..., Turn],
    scan_file: Path,
) -> None:
    case = make_case()
    case_id = history.save_case(case, scan_file)
    case.notes = "edited"
    case.thread.append(make_turn("Axis?", "Normal axis."))

    assert history.save_case(case, scan_file) == case_id

    loaded = history.load_case(case_id)
    assert [turn.question for turn in loaded.thread] == [
        "What is the rhythm?",
        "Any ST changes?",
        "Axis?",
    ]
    assert loaded.notes == "edited"
    assert len(history.search()) == 1


def test_regenerate_and_new_reading_forget_the_discarded_turns(
    history: CaseHistory,
    make_case: Callable[..., Case],
    make_turn: Callable[..., Turn],
    scan_file: Path,
) -> None:
    case = make_case()  # two turns
    case_id = history.save_case(case, scan_file)
    history.truncate_thread(case_id, 1)  # Regenerate: the last answer is replaced
    history.begin_turn(case_id, make_turn("Any ST changes?", ""))
    questions = [turn.question for turn in history.load_case(case_id).thread]
    assert questions == ["What is the rhythm?", "Any ST changes?"]
    assert history.load_case(case_id).thread[1].answer == ""  # the new one, not the old

    case.thread = [case.thread[0], make_turn("Any ST changes?", "")]
    case.thread.append(make_turn("Axis?", "Normal axis."))
    history.save_case(case, scan_file)  # appending still lines up with what is stored
    assert len(history.load_case(case_id).thread) == 3

    history.truncate_thread(case_id, 0)  # New reading
    assert history.load_case(case_id).thread == []
    assert history.load_case(case_id).notes == case.notes  # only the conversation goes
    assert len(history.search("rhythm")) == 0  # nor is it found by its old answers


def test_same_scan_is_stored_once_and_kept_until_its_last_case_is_deleted(
    history: CaseHistory, paths: AppPaths, make_case: Callable[..., Case], scan_file: Path
) -> None:
    first = history.save_case(make_case(), scan_file)
    second = history.save_case(make_case(), SCAN)  # same bytes, given as bytes
    other = history.save_case(make_case("other.png"), b"another scan")
    blob = history.source_path(first)
    assert history.source_path(second) == blob
    assert len([p for p in paths.blob_dir.rglob("*") if p.is_file()]) == 2

    history.delete_case(first)
    assert blob.read_bytes() == SCAN  # still used by the second case

    history.delete_case(second)
    assert not blob.exists()
    assert history.source_path(other).read_bytes() == b"another scan"
    assert [summary.case_id for summary in history.search()] == [other]
    with pytest.raises(CaseNotFoundError):
        history.load_case(first)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits only")
def test_stored_files_are_private(
    history: CaseHistory, paths: AppPaths, make_case: Callable[..., Case], scan_file: Path
) -> None:
    case_id = history.save_case(make_case(), scan_file)
    blob = history.source_path(case_id)
    database = paths.database_file

    writers = database.with_name(database.name + ".writers")
    for folder in (paths.data_dir, paths.blob_dir, blob.parent, writers):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    side_files = [database.with_name(database.name + side) for side in ("-wal", "-shm")]
    lease_files = list(writers.iterdir())
    assert len(lease_files) == 1
    for file in (database, *side_files, blob, *lease_files):
        assert file.stat().st_mode & 0o777 == 0o600, file


def test_unknown_case_ids_raise_case_not_found(history: CaseHistory) -> None:
    for action in (
        lambda: history.load_case(99),
        lambda: history.update_notes(99, "x"),
        lambda: history.add_exported_pdf(99, "/r.pdf"),
        lambda: history.begin_turn(99, Turn(question="?")),
        lambda: history.source_path(99),
        lambda: history.delete_case(99),
        lambda: history.truncate_thread(99, 0),
    ):
        with pytest.raises(CaseNotFoundError):
            action()


def test_a_file_changed_since_it_was_opened_is_refused(
    history: CaseHistory, make_case: Callable[..., Case], scan_file: Path
) -> None:
    case = make_case()
    case.source.sha256 = hashlib.sha256(b"what was on screen").hexdigest()

    with pytest.raises(StorageError, match="changed on disk"):
        history.save_case(case, scan_file)
    assert history.search() == []


def test_a_missing_original_file_is_a_storage_error(history: CaseHistory, tmp_path: Path) -> None:
    case = Case(source=SourceInfo(path="gone.png", name="gone.png"))
    with pytest.raises(StorageError, match=r"gone\.png"):
        history.save_case(case, tmp_path / "gone.png")


def test_a_missing_stored_scan_is_reported(
    history: CaseHistory, make_case: Callable[..., Case], scan_file: Path
) -> None:
    case_id = history.save_case(make_case(), scan_file)
    history.source_path(case_id).unlink()

    with pytest.raises(StorageError, match="stored copy of this scan is missing"):
        history.source_path(case_id)
    assert history.load_case(case_id).source.name == "ecg-0042.png"
