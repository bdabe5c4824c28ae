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
