"""The status line while an image is read: a countdown from the last read, else a count up.

The model owner is replaced by an object with the same signals, so the test
decides when a read ends and how long it took; no model is loaded.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from pytestqt.qtbot import QtBot

from ecgviewer.core.case import DecodingSettings, ModelIdentity, Provenance
from ecgviewer.core.inference.client import Finished
from ecgviewer.core.inference.loaded import LoadedModel
from ecgviewer.core.inference.memory import MemoryEstimate
from ecgviewer.core.workspace import open_case
from ecgviewer.gui.interpretation_panel import InterpretationPanel
from ecgviewer.gui.reading import ReadingController
from tests.core.inference.test_memory_and_timing import medgemma_shaped_pair
from tests.gui.test_main_window import tilted_scan


class OwnerSignals(QObject):
    """The model owner's signals, driven by the test."""

    prepared = Signal(int, object)
    started = Signal(int)
    text_arrived = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, object)
    engine_stopped = Signal(object)
    prepare_requested = Signal(int, bytes)
    interpret_requested = Signal(int, bytes, str, object)
    ready_images = Signal(object)


def test_the_countdown_starts_from_the_last_measured_read(qtbot: QtBot, tmp_path: Path) -> None:
    panel = InterpretationPanel()
    qtbot.addWidget(panel)
    owner = OwnerSignals()
    reading = ReadingController(panel, owner, panel)  # type: ignore[arg-type]
    requests: list[int] = []
    owner.prepare_requested.connect(lambda tag, _png: requests.append(tag))
    provenance = Provenance(model=ModelIdentity("/m/text.gguf", "a" * 64),
                            mmproj=ModelIdentity("/m/mmproj.gguf", "b" * 64))  # fmt: skip
    model = LoadedModel(medgemma_shaped_pair(), provenance, MemoryEstimate(0, 0, 0, 0), 0.0,
                        False, DecodingSettings())  # fmt: skip  # never read an image yet
    first = open_case(tilted_scan(tmp_path / "first.png", 2.0))
    second = open_case(tilted_scan(tmp_path / "second.png", 3.0))

    reading.set_model(model)
    reading.set_case(first)
    assert panel.status_label.text() == "Reading image... 0 s so far"  # no guess yet
    owner.prepared.emit(requests[-1], {"image_encode_ms": 40_000.0, "prompt_prefill_ms": 9_000.0})
    assert panel.status_label.text().startswith("Ready")

    reading.set_case(second)  # the next read counts down from the one just measured
    assert panel.status_label.text() == "Reading image... about 49 s left"
    owner.prepared.emit(requests[-1], {"image_encode_ms": 0.0, "extra": {"cached": True}})
    reading.set_case(first)  # a cache hit measured nothing: the estimate stays
    assert panel.status_label.text() == "Reading image... about 49 s left"


def test_an_answer_cut_at_the_token_limit_says_so_in_the_panels_words(
    qtbot: QtBot, tmp_path: Path
) -> None:
    panel = InterpretationPanel()
    qtbot.addWidget(panel)
    owner = OwnerSignals()
    reading = ReadingController(panel, owner, panel)  # type: ignore[arg-type]
    asked: list[int] = []
    owner.interpret_requested.connect(lambda tag, *_rest: asked.append(tag))
    provenance = Provenance(model=ModelIdentity("/m/text.gguf", "a" * 64),
                            mmproj=ModelIdentity("/m/mmproj.gguf", "b" * 64))  # fmt: skip
    model = LoadedModel(medgemma_shaped_pair(), provenance, MemoryEstimate(0, 0, 0, 0), 0.0,
                        False, DecodingSettings())  # fmt: skip
    reading.set_model(model)
    reading.set_case(open_case(tilted_scan(tmp_path / "scan.png", 2.0)))
    reading.ask("Interpret this ECG.")
    owner.started.emit(asked[-1])
    owner.text_arrived.emit(asked[-1], "Sinus rhythm, rate")
    times = {"total_ms": 2_000.0, "decode_ms": 1_000.0, "decode_tokens": 11}
    owner.finished.emit(asked[-1], Finished(asked[-1], "length", times))
    assert panel.status_label.text() == (
        "Done in 2.0 s (10.0 tok/s): reached the token limit - incomplete"
    )
