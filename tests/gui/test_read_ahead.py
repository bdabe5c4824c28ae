"""Reading ahead follows the case on screen (issue 17), with the small real model.

Every image read is slowed inside the worker by a test-only hook (the vision
encoder call sleeps, as one blocking computation, like MedGemma's 50 s on two
cores) and logged with its image's hash, so the tests assert on what the worker
really did and in which order, never on wall-clock thresholds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ecgviewer.core.inference.read_ahead import image_key
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.ready_marks import READY_TIP
from tests.gui.conftest import drop_files
from tests.gui.test_main_window import tilted_scan
from tests.gui.test_reading import load_small_model
from tests.support import worker_hooks
from tests.support.worker_hooks import read_log

pytestmark = pytest.mark.slow


class OwnerLog:
    """The model owner's news, in the order the window received it."""

    def __init__(self, window: MainWindow) -> None:
        owner = window.model.owner
        self.events: list[tuple[str, int]] = []
        self.read_keys: dict[int, str] = {}  # read-ahead tag -> image key
        self.answer_tags: list[int] = []
        owner.prepare_requested.connect(self._on_read_requested)
        owner.interpret_requested.connect(lambda tag, *_: self.answer_tags.append(tag))
        owner.prepared.connect(lambda tag, _times: self.events.append(("prepared", tag)))
        owner.read_abandoned.connect(lambda tag: self.events.append(("abandoned", tag)))
        owner.started.connect(lambda tag: self.events.append(("started", tag)))

    def _on_read_requested(self, tag: int, png: bytes) -> None:
        self.read_keys[tag] = image_key(png)

    def tags_of(self, kind: str, key: str) -> list[int]:
        return [t for k, t in self.events if k == kind and self.read_keys.get(t) == key]

    def index(self, kind: str, tag: int) -> int:
        return self.events.index((kind, tag))


def select_and_wait_for_its_read(window: MainWindow, qtbot: QtBot, row: int, log: Path) -> None:
    """The clinician looks at case `row`; its image read starts in the worker."""
    started = len(read_log(log))
    window.case_list.setCurrentRow(row)
    key = image_key(window.cases[row].model_png())
    qtbot.waitUntil(lambda: f"start {key}" in read_log(log)[started:], timeout=60_000)


def answered(window: MainWindow) -> bool:
    return not window.reading.busy and window.panel.status_label.text().startswith("Done in")


@pytest.fixture
def read_log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "reads.log"
    monkeypatch.setenv(worker_hooks.READ_LOG_ENV, str(log))
    worker_hooks.install(monkeypatch, "slow_logged_encoder")
    return log


def test_interpret_on_the_third_case_does_not_wait_for_reads_of_the_first_two(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, read_log_file: Path
) -> None:
    log = read_log_file
    drop_files(window, [tilted_scan(tmp_path / f"case{i}.png", a) for i, a in enumerate((1, 3, 5))])
    qtbot.waitUntil(lambda: len(window.cases) == 3, timeout=60_000)
    keys = [image_key(case.model_png()) for case in window.cases]
    assert len(set(keys)) == 3
    news = OwnerLog(window)
    load_small_model(window, qtbot, max_tokens=8)  # reads the case on screen (the third) ahead
    qtbot.waitUntil(lambda: f"start {keys[2]}" in read_log(log), timeout=60_000)

    select_and_wait_for_its_read(window, qtbot, 0, log)  # the third's read is given up
    select_and_wait_for_its_read(window, qtbot, 1, log)  # and the first's
    at_click = len(read_log(log))
    window.case_list.setCurrentRow(2)
    window.panel.interpret_button.click()
    qtbot.waitUntil(lambda: answered(window), timeout=120_000)

    lines = read_log(log)
    # the worker started reading cases 1 and 2 and never finished either; after Interpret
    # it read the third case's image once, and nothing else
    assert f"done {keys[0]}" not in lines and f"done {keys[1]}" not in lines, lines
    assert lines[at_click:] == [f"start {keys[2]}", f"done {keys[2]}"], lines
    assert not news.tags_of("prepared", keys[0]) and not news.tags_of("prepared", keys[1])
    (answer,) = news.answer_tags
    last_abandoned = news.tags_of("abandoned", keys[1])[-1]
    assert news.index("abandoned", last_abandoned) < news.index("started", answer)
    abandoned = [t for k, t in news.events if k == "abandoned"]
    assert [news.read_keys[t] for t in abandoned] == [keys[2], keys[0], keys[1]]  # as left
    turn = window.cases[2].case.thread[0]
    assert turn.stop_reason in ("eos", "length") and turn.answer
    assert window.reading.is_ready(window.cases[2])
    assert not window.reading.is_ready(window.cases[0])
    assert READY_TIP in window.case_list.item(2).toolTip()
    assert READY_TIP not in window.case_list.item(0).toolTip()
    shot = os.environ.get("ECGVIEWER_TEST_SCREENSHOT")
    if shot:  # for the report: the case strip with its ready mark
        window.case_list.grab().save(shot)


def test_interpret_waits_for_the_read_already_running_for_the_same_case(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, read_log_file: Path
) -> None:
    log = read_log_file
    drop_files(window, [tilted_scan(tmp_path / f"case{i}.png", a) for i, a in enumerate((1, 3))])
    qtbot.waitUntil(lambda: len(window.cases) == 2, timeout=60_000)
    keys = [image_key(case.model_png()) for case in window.cases]
    news = OwnerLog(window)
    load_small_model(window, qtbot, max_tokens=8)
    qtbot.waitUntil(lambda: f"done {keys[1]}" in read_log(log), timeout=60_000)
    qtbot.waitUntil(lambda: window.reading.is_ready(window.cases[1]), timeout=10_000)

    select_and_wait_for_its_read(window, qtbot, 0, log)
    at_click = len(read_log(log))
    window.panel.interpret_button.click()  # while the first case's own image is being read
    qtbot.waitUntil(lambda: answered(window), timeout=120_000)

    # the running read was awaited, not abandoned and not done twice
    assert read_log(log)[at_click:] == [f"done {keys[0]}"]
    assert not [t for k, t in news.events if k == "abandoned"]
    assert news.tags_of("prepared", keys[0])  # the read ahead completed, then the answer began
    assert window.reading.is_ready(window.cases[0]) and window.reading.is_ready(window.cases[1])
