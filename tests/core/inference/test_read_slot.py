"""The read-ahead slot: one waiting request, the newest wins, and when a running read of
another image is given up (core/inference/read_ahead.py). No Qt, no model."""

from __future__ import annotations

from ecgviewer.core.inference.read_ahead import (
    ReadRequest,
    ReadSlot,
    ReadyImages,
    image_key,
    worth_abandoning,
)

A, B, C = b"image A", b"image B", b"image C"


def test_a_newer_selection_replaces_the_waiting_read_and_only_one_waits() -> None:
    slot = ReadSlot()
    assert slot.put(ReadRequest(1, A)) is None
    dropped = slot.put(ReadRequest(2, B))
    assert dropped is not None and dropped.tag == 1  # case A was left before its read began
    assert slot.put(ReadRequest(3, C)) == ReadRequest(2, B)
    taken = slot.take(0.0)
    assert taken is not None and taken.tag == 3
    assert slot.take(0.0) is None  # the earlier wake-ups find nothing


def test_interpret_replaces_a_waiting_read_but_a_read_never_replaces_an_answer() -> None:
    slot = ReadSlot()
    slot.put(ReadRequest(1, A))
    slot.put(ReadRequest(2, C, "Interpret", ()))
    late = ReadRequest(3, B)
    assert slot.put(late) is late  # dropped: the answer still waits
    taken = slot.take(0.0)
    assert taken is not None and taken.is_answer and taken.tag == 2


def test_stop_drops_an_answer_that_has_not_begun_and_nothing_else() -> None:
    slot = ReadSlot()
    slot.put(ReadRequest(1, A))
    assert slot.drop_answer() is None
    slot.put(ReadRequest(2, A, "Interpret"))
    dropped = slot.drop_answer()
    assert dropped is not None and dropped.tag == 2
    assert slot.take(0.0) is None


def test_a_running_read_of_the_wanted_image_is_awaited_never_abandoned() -> None:
    slot = ReadSlot()
    slot.put(ReadRequest(1, C))
    slot.take(now_ms=0.0)
    slot.put(ReadRequest(2, C, "Interpret"))  # Interpret on the case being read
    assert not slot.should_abandon(now_ms=100.0, estimate_ms=0.0, restart_ms=500.0)


def test_a_running_read_of_a_left_case_is_abandoned_when_restarting_is_quicker() -> None:
    slot = ReadSlot()
    slot.put(ReadRequest(1, A))
    slot.take(now_ms=0.0)
    assert not slot.should_abandon(10.0, 0.0, 500.0)  # nothing else wanted: it goes on
    slot.put(ReadRequest(2, C, "Interpret"))
    # MedGemma-4B on two cores: a read of 54 s, a restart of about 2.3 s
    assert slot.should_abandon(now_ms=5_000.0, estimate_ms=54_000.0, restart_ms=2_300.0)
    assert not slot.should_abandon(now_ms=53_000.0, estimate_ms=54_000.0, restart_ms=2_300.0)
    slot.take(now_ms=53_500.0)
    assert not slot.should_abandon(60_000.0, 54_000.0, 2_300.0)  # an answer is never abandoned
    slot.done()
    assert not slot.should_abandon(60_000.0, 54_000.0, 2_300.0)  # nothing running


def test_worth_abandoning_a_read_never_timed_or_with_much_left() -> None:
    assert worth_abandoning(elapsed_ms=40_000.0, estimate_ms=0.0, restart_ms=2_300.0)
    assert worth_abandoning(elapsed_ms=1_000.0, estimate_ms=54_000.0, restart_ms=2_300.0)
    assert not worth_abandoning(elapsed_ms=52_000.0, estimate_ms=54_000.0, restart_ms=2_300.0)
    assert not worth_abandoning(elapsed_ms=70_000.0, estimate_ms=54_000.0, restart_ms=2_300.0)


def test_ready_images_survive_a_restart_only_on_disk() -> None:
    memory_only = ReadyImages(on_disk=False)
    for png in (A, B, C):
        memory_only.add(image_key(png))
    assert memory_only.keys() == {image_key(B), image_key(C)}  # the worker keeps two
    memory_only.worker_restarted()
    assert memory_only.keys() == frozenset()
    on_disk = ReadyImages(on_disk=True)
    for png in (A, B, C):
        on_disk.add(image_key(png))
    on_disk.worker_restarted()
    assert on_disk.keys() == {image_key(A), image_key(B), image_key(C)}
