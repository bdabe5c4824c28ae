"""The crash-loop guard on the real worker: a SIGSEGV in each phase, two in a row, GPU loads.

The worker is killed with the signal llama.cpp's AMX bug sends (SIGSEGV), at a
moment chosen by reading the phase the worker publishes; hooks from
tests/support/worker_hooks.py slow a step down so the moment can be hit.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecgviewer.core.errors import EngineCrashError
from ecgviewer.core.inference.client import Failed, Finished, Prepared, Started, TextDelta
from ecgviewer.core.inference.crash import CrashReport, Phase
from ecgviewer.core.inference.loaded import Restarted, RuntimeEvent
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.paths import app_paths
from tests.model.conftest import small_settings
from tests.support import worker_hooks

pytestmark = pytest.mark.slow


def kill_in_phase(runtime: ModelRuntime, phase: Phase) -> threading.Thread:
    """Send SIGSEGV to the worker as soon as it reports `phase`."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pid = runtime.worker_pid
            if pid and runtime.phase is phase:
                os.kill(pid, signal.SIGSEGV)
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def crash_while_writing(
    runtime: ModelRuntime, png: bytes, sig: int = signal.SIGSEGV
) -> list[RuntimeEvent]:
    """Ask for a long answer and kill the worker with `sig` once it is writing."""
    events: list[RuntimeEvent] = []
    for event in runtime.interpret(png, "Write a long essay.", max_tokens=400):
        events.append(event)
        if isinstance(event, TextDelta) and runtime.worker_pid and len(events) == 4:
            os.kill(runtime.worker_pid, sig)
    return events


def crash_then_restart(events: list[RuntimeEvent]) -> tuple[EngineCrashError, Restarted]:
    """The last two events after a crash: the immediate failure, then the restart."""
    failed, restarted = events[-2], events[-1]
    assert isinstance(failed, Failed) and isinstance(failed.error, EngineCrashError), events
    assert isinstance(restarted, Restarted), events
    return failed.error, restarted


def answer(events: list[RuntimeEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def answered(events: list[RuntimeEvent]) -> bool:
    last = events[-1]
    return isinstance(last, Finished) and last.stop_reason in ("eos", "length")


@pytest.fixture
def loaded(text_model: Path, mmproj: Path) -> Iterator[ModelRuntime]:
    runtime = ModelRuntime(app_paths().ensure())
    runtime.load(text_model, mmproj, small_settings())
    yield runtime
    runtime.close()


def test_a_segfault_while_reading_the_image_restarts_the_engine_once(
    monkeypatch: pytest.MonkeyPatch, text_model: Path, mmproj: Path, ecg_png: bytes
) -> None:
    worker_hooks.install(monkeypatch, "slow_image_read")
    runtime = ModelRuntime(app_paths().ensure())
    try:
        runtime.load(text_model, mmproj, small_settings())
        first_worker = runtime.worker_pid
        kill_in_phase(runtime, Phase.READING_IMAGE)
        events = list(runtime.prepare(ecg_png))  # the speculative read
        error, restarted = crash_then_restart(events)
        assert error.message == (
            "The inference engine stopped unexpectedly while reading the image "
            "(segmentation fault)."
        )
        assert restarted.note.startswith(error.message)
        assert restarted.note.endswith("ECG Viewer restarted it.")  # it ran safely already
        assert runtime.loaded is restarted.model
        assert runtime.worker_pid not in (None, first_worker)
        assert answered(list(runtime.interpret(ecg_png, "Hello?")))  # the next question works
    finally:
        runtime.close()


def test_a_segfault_while_reading_the_question_restarts_the_engine_once(
    monkeypatch: pytest.MonkeyPatch, text_model: Path, mmproj: Path, ecg_png: bytes
) -> None:
    worker_hooks.install(monkeypatch, "slow_question_prefill")
    runtime = ModelRuntime(app_paths().ensure())
    try:
        runtime.load(text_model, mmproj, small_settings())
        assert any(isinstance(e, Prepared) for e in runtime.prepare(ecg_png))
        kill_in_phase(runtime, Phase.PREFILL)
        events = list(runtime.interpret(ecg_png, "What is the rate?"))
        assert isinstance(events[0], Started)
        error, _ = crash_then_restart(events)
        assert "while reading the prompt (segmentation fault)" in error.message
        assert answered(list(runtime.interpret(ecg_png, "What is the rate?")))
    finally:
        runtime.close()


def test_a_segfault_while_writing_keeps_the_partial_answer_and_the_next_question_works(
    loaded: ModelRuntime, ecg_png: bytes
) -> None:
    events = crash_while_writing(loaded, ecg_png)
    error, restarted = crash_then_restart(events)
    assert "while writing the answer (segmentation fault)" in error.message
    assert answer(events)  # what was streamed before the crash is still there
    assert not any(isinstance(e, Finished) for e in events)  # never reported as complete
    assert restarted.model.decoding.n_gpu_layers == 0
    assert answered(list(loaded.interpret(ecg_png, "Again, briefly.")))


def test_two_crashes_in_a_row_stop_the_retries_with_a_message_that_says_what_to_do(
    loaded: ModelRuntime, ecg_png: bytes
) -> None:
    crash_then_restart(crash_while_writing(loaded, ecg_png))
    second = crash_while_writing(loaded, ecg_png)
    assert not any(isinstance(e, Restarted) for e in second)  # no third attempt
    final = second[-1]
    assert isinstance(final, Failed) and isinstance(final.error, EngineCrashError)
    message = str(final.error)
    assert "stopped unexpectedly again while writing the answer" in message
    assert "segmentation fault, SIGSEGV" in message
    assert "will not restart it again" in message
    assert str(app_paths().log_file) in message
    assert loaded.loaded is None
    assert loaded.worker_pid is None  # no worker left running


def test_a_worker_that_dies_while_idle_is_noticed_at_once_and_restarted(
    text_model: Path, mmproj: Path, ecg_png: bytes
) -> None:
    noticed: list[CrashReport] = []
    seen = threading.Event()

    def on_exit(crash: CrashReport) -> None:  # the watcher thread
        noticed.append(crash)
        seen.set()

    runtime = ModelRuntime(app_paths().ensure(), on_engine_exit=on_exit)
    try:
        runtime.load(text_model, mmproj, small_settings())
        assert runtime.worker_pid is not None
        os.kill(runtime.worker_pid, signal.SIGSEGV)
        assert seen.wait(10)  # nobody was waiting on the pipe: the sentinel told
        assert noticed[0].phase is Phase.IDLE and noticed[0].signal_name == "SIGSEGV"
        events = list(runtime.recover())
        error, restarted = crash_then_restart(events)
        assert "while waiting for a request (segmentation fault)" in error.message
        assert list(runtime.recover()) == []  # dealt with once
        assert restarted.model is runtime.loaded
        assert answered(list(runtime.interpret(ecg_png, "Hello?")))
    finally:
        runtime.close()


def test_a_gpu_load_that_fails_inside_the_worker_falls_back_to_the_cpu(
    monkeypatch: pytest.MonkeyPatch, text_model: Path, mmproj: Path, ecg_png: bytes
) -> None:
    worker_hooks.install(monkeypatch, "gpu_load_fails")
    runtime = ModelRuntime(app_paths().ensure())
    try:
        loaded = runtime.load(text_model, mmproj, small_settings(n_gpu_layers=99))
        assert loaded.gpu_fallback
        assert loaded.decoding.n_gpu_layers == 0  # the record says where it really ran
        assert any("could not be loaded on the GPU" in note for note in loaded.notes)
        assert answered(list(runtime.interpret(ecg_png, "Hello?")))
    finally:
        runtime.close()


def test_a_gpu_load_that_crashes_is_retried_once_without_the_gpu_and_remembered(
    monkeypatch: pytest.MonkeyPatch, text_model: Path, mmproj: Path, ecg_png: bytes
) -> None:
    worker_hooks.install(monkeypatch, "gpu_load_crashes")
    runtime = ModelRuntime(app_paths().ensure())
    try:
        loaded = runtime.load(text_model, mmproj, small_settings(n_gpu_layers=99))
        assert loaded.notes[-1] == (
            "The inference engine stopped unexpectedly while loading the model "
            "(segmentation fault). ECG Viewer restarted it with the GPU off."
        )
        assert loaded.decoding.n_gpu_layers == 0
        assert answered(list(runtime.interpret(ecg_png, "Hello?")))
        assert runtime.safe_configs.count() == 1
        # the next start goes straight to the safe configuration: no second crash
        again = runtime.load(text_model, mmproj, small_settings(n_gpu_layers=99))
        assert "crashed the inference engine on this computer before" in again.notes[-1]
        assert again.decoding.n_gpu_layers == 0
        assert runtime.safe_configs.forget() == 1  # Model settings > Forget crash settings
        assert runtime.safe_configs.count() == 0
    finally:
        runtime.close()


def test_unloading_or_closing_is_not_a_crash(text_model: Path, mmproj: Path) -> None:
    noticed: list[CrashReport] = []
    others = set(threading.enumerate())
    runtime = ModelRuntime(app_paths().ensure(), on_engine_exit=noticed.append)
    runtime.load(text_model, mmproj, small_settings())
    pid = runtime.worker_pid
    runtime.unload()
    runtime.load(text_model, mmproj, small_settings())
    runtime.close()
    # once the watchers of this runtime's two workers have seen them go, no report can come
    watchers = [t for t in threading.enumerate()
                if t not in others and t.name.startswith("worker-watch-")]  # fmt: skip
    for watcher in watchers:
        watcher.join(timeout=60)
        assert not watcher.is_alive(), "a worker watcher is still waiting"
    assert pid is not None and noticed == []
    assert list(runtime.recover()) == []
