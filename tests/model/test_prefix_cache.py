"""Prepared images are reused: in memory while the worker lives, on disk across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgviewer.core.inference.client import Prepared
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.paths import app_paths
from tests.model.conftest import small_settings
from tests.model.test_runtime import answer

pytestmark = pytest.mark.slow


def prepared(events: list[object]) -> Prepared:
    found = [e for e in events if isinstance(e, Prepared)]
    assert len(found) == 1
    return found[0]


def test_switching_back_to_a_case_restores_its_image_without_encoding(
    runtime: ModelRuntime, ecg_png: bytes, other_png: bytes
) -> None:
    first = list(runtime.interpret(ecg_png, "Describe the image."))
    assert not prepared(first).times["extra"].get("cached")
    list(runtime.interpret(other_png, "Describe the image."))
    again = list(runtime.interpret(ecg_png, "Describe the image."))
    assert prepared(again).times["extra"].get("cached") is True
    assert prepared(again).times["image_encode_ms"] == 0.0
    assert answer(again) == answer(first)  # the restored state is the same state


def test_a_new_worker_reuses_the_prepared_image_from_disk(
    text_model: Path, mmproj: Path, ecg_png: bytes
) -> None:
    paths = app_paths().ensure()
    answers = []
    for attempt in range(2):
        engine = ModelRuntime(paths)
        try:
            engine.load(text_model, mmproj, small_settings())
            events = list(engine.interpret(ecg_png, "Describe the image."))
        finally:
            engine.close()
        assert bool(prepared(events).times["extra"].get("cached")) == (attempt == 1)
        answers.append(answer(events))
    assert answers[0] == answers[1]
    assert list(paths.prefix_cache_dir.glob("*.prefix"))  # kept in the cache folder


def test_returning_to_an_image_restores_that_images_state(
    text_model: Path, mmproj: Path, ecg_png: bytes, other_png: bytes
) -> None:
    """A -> B -> A (A from the cache): the KV cache must hold A's prefix, not B's."""
    from ecgviewer.core.inference.engine import Engine
    from ecgviewer.core.inference.handler import read_kv_state
    from ecgviewer.core.inference.spec import LoadSpec

    engine = Engine(LoadSpec(str(text_model), str(mmproj), n_ctx=1024, n_threads=2), lambda: False)
    engine.load()
    try:
        engine.prepare(ecg_png, "a")
        state_a = read_kv_state(engine._llama._ctx.ctx)
        engine.prepare(other_png, "b")
        assert read_kv_state(engine._llama._ctx.ctx) != state_a
        times = engine.prepare(ecg_png, "a")
        assert times.extra.get("cached") is True
        assert read_kv_state(engine._llama._ctx.ctx) == state_a
    finally:
        engine.close()
