"""The real llama.cpp path on the small Gemma 3 pair: load, stream, cancel, crash, reload.

The model's text is meaningless; these tests assert on the pipeline, never on content.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ecgviewer.core.errors import EngineCrashError, ModelError
from ecgviewer.core.inference import memory
from ecgviewer.core.inference.client import Event, Failed, Finished, Prepared, Started, TextDelta
from ecgviewer.core.inference.loaded import LoadedModel, Restarted
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.paths import app_paths
from tests.model.conftest import small_settings
from tests.model.test_crash_recovery import crash_while_writing

pytestmark = pytest.mark.slow


def answer(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def finished(events: list[Event]) -> Finished:
    last = events[-1]
    assert isinstance(last, Finished), f"expected Finished, got {last!r}"
    return last


def test_stream_delivers_tokens_with_timings(runtime: ModelRuntime, ecg_png: bytes) -> None:
    events = list(runtime.interpret(ecg_png, "Analyze this ECG."))
    kinds = [type(e) for e in events]
    assert kinds[0] is Prepared
    assert Started in kinds
    assert sum(1 for e in events if isinstance(e, TextDelta)) >= 5
    end = finished(events)
    assert end.stop_reason in ("eos", "length")
    timings = end.times
    for key in ("model_load_ms", "image_encode_ms", "prompt_prefill_ms", "first_token_ms",
                "decode_ms", "total_ms"):  # fmt: skip
        assert timings[key] is not None and timings[key] > 0, key
    assert timings["decode_tokens"] > 0
    assert timings["tokens_per_second"] > 0
    assert timings["first_token_ms"] <= timings["total_ms"]


def test_provenance_records_the_fallback_template_and_not_ecg(runtime: ModelRuntime) -> None:
    loaded = runtime.loaded
    assert loaded is not None
    assert loaded.provenance.fallback_template is True  # the 270M GGUF has no chat template
    assert loaded.provenance.is_ecg_model is False  # never presented as an ECG reading
    assert len(loaded.provenance.model.sha256) == 64
    assert loaded.facts.mmproj.image_tokens == 16


def test_same_image_is_prepared_once_and_answers_are_deterministic(
    runtime: ModelRuntime, ecg_png: bytes
) -> None:
    first = list(runtime.interpret(ecg_png, "What is the heart rate?"))
    second = list(runtime.interpret(ecg_png, "What is the heart rate?"))
    assert any(isinstance(e, Prepared) for e in first)
    assert not any(isinstance(e, Prepared) for e in second)  # reused, not re-encoded
    assert answer(first) == answer(second)
    assert finished(second).times["image_encode_ms"] == 0.0


def test_each_case_starts_from_a_clean_context(
    runtime: ModelRuntime, text_model: Path, mmproj: Path, ecg_png: bytes, other_png: bytes
) -> None:
    first = answer(list(runtime.interpret(ecg_png, "Describe the image.")))
    list(runtime.interpret(ecg_png, "Anything else?", history=[("Describe the image.", first)]))
    after_other_case = answer(list(runtime.interpret(other_png, "Describe the image.")))
    fresh = ModelRuntime(app_paths())
    try:
        fresh.load(text_model, mmproj, small_settings())
        alone = answer(list(fresh.interpret(other_png, "Describe the image.")))
    finally:
        fresh.close()
    assert after_other_case == alone


def test_follow_up_continues_the_conversation(runtime: ModelRuntime, ecg_png: bytes) -> None:
    first = answer(list(runtime.interpret(ecg_png, "Describe the image.")))
    history = [("Describe the image.", first)]
    follow_up = finished(list(runtime.interpret(ecg_png, "Say it again.", history=history)))
    fresh = finished(list(runtime.interpret(ecg_png, "Say it again.")))
    # the follow-up is asked with the first exchange in its context, the fresh one without
    assert follow_up.times["context_tokens"] > fresh.times["context_tokens"]
    assert follow_up.times["image_encode_ms"] == 0.0  # the image is not read again


def test_a_replayed_branch_equals_the_live_conversation(
    runtime: ModelRuntime, ecg_png: bytes
) -> None:
    first = answer(list(runtime.interpret(ecg_png, "Describe the image.")))
    history = [("Describe the image.", first)]
    live = answer(list(runtime.interpret(ecg_png, "And then?", history=history)))
    list(runtime.interpret(ecg_png, "Something unrelated."))  # KV now holds another branch
    replayed = answer(list(runtime.interpret(ecg_png, "And then?", history=history)))
    assert replayed  # regenerate / reopened case: the same history gives an answer again
    assert live == replayed  # the same conversation, whether continued or replayed


def test_cancel_from_another_thread_stops_at_the_next_token(
    runtime: ModelRuntime, ecg_png: bytes
) -> None:
    list(runtime.prepare(ecg_png))
    deltas_after_cancel = 0
    cancelled = threading.Event()
    events = []
    for event in runtime.interpret(ecg_png, "Write a long essay.", max_tokens=400):
        events.append(event)
        if isinstance(event, TextDelta):
            if cancelled.is_set():
                deltas_after_cancel += 1
            elif len(events) > 4:
                threading.Thread(target=runtime.cancel).start()
                cancelled.set()
    end = finished(events)
    assert end.stop_reason == "cancelled"
    assert deltas_after_cancel <= 2  # tokens already in the pipe when the flag was set
    assert end.times["decode_tokens"] < 400
    # the next request works normally
    assert finished(list(runtime.interpret(ecg_png, "Again."))).stop_reason in ("eos", "length")


def test_killed_worker_gives_a_clear_error_and_is_restarted(
    runtime: ModelRuntime, ecg_png: bytes
) -> None:
    events = crash_while_writing(runtime, ecg_png, signal.SIGKILL)
    failures = [e.error for e in events if isinstance(e, Failed)]
    assert len(failures) == 1 and isinstance(failures[0], EngineCrashError)
    assert str(failures[0]).startswith(
        "The inference engine stopped unexpectedly while writing the answer (killed"
    )
    assert isinstance(events[-1], Restarted)
    assert runtime.loaded is not None  # restarted by itself
    assert finished(list(runtime.interpret(ecg_png, "Hello?"))).stop_reason in ("eos", "length")
    runtime.unload()
    with pytest.raises(ModelError, match="No model is loaded"):  # only when none is
        list(runtime.interpret(ecg_png, "Hello?"))


def test_load_refuses_a_model_that_does_not_fit(
    text_model: Path, mmproj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: 100 * 1024 * 1024)
    engine = ModelRuntime(app_paths().ensure())
    with pytest.raises(ModelError, match=r"needs about .* but only 100 MB is free"):
        engine.load(text_model, mmproj, small_settings())
    assert engine.worker_pid is None  # refused before any process started


def test_worker_exits_when_the_viewer_process_is_killed(tmp_path: Path) -> None:
    """A killed viewer must not leave a worker holding the model in memory."""
    script = tmp_path / "viewer.py"
    script.write_text(
        "import sys, time\n"
        "from ecgviewer.core.inference.runtime import ModelRuntime\n"
        "from ecgviewer.core.paths import app_paths\n"
        "from ecgviewer.core.settings import ModelSettings\n"
        "from tests.support import models\n"
        "if __name__ == '__main__':\n"
        "    r = ModelRuntime(app_paths().ensure())\n"
        "    r.load(models.text_model_path(), models.projector_path(),\n"
        "           ModelSettings(n_ctx=512, n_threads=1))\n"
        "    print(r.worker_pid, flush=True)\n"
        "    time.sleep(600)\n"
    )
    viewer = subprocess.Popen(
        [sys.executable, str(script)], cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert viewer.stdout is not None
    worker = int(viewer.stdout.readline())
    viewer.kill()
    viewer.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.2)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split()[2] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def rss_anon_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_mmap_and_repacking_settings_reach_llama_cpp(
    text_model: Path, mmproj: Path, ecg_png: bytes
) -> None:
    """On every CPU: mmap reaches llama.cpp; repacking does where it is safe, and where
    llama.cpp would use AMX (its Q4_K crash) it is refused and the user is told."""
    answers: dict[tuple[bool, bool], str] = {}
    private: dict[tuple[bool, bool], float] = {}
    loaded: dict[tuple[bool, bool], LoadedModel] = {}
    for mmap, repack in ((True, False), (False, False), (True, True)):
        runtime = ModelRuntime(app_paths().ensure())
        try:
            settings = small_settings(use_mmap=mmap, repack_weights=repack, prefix_cache_mb=0)
            loaded[mmap, repack] = runtime.load(text_model, mmproj, settings)
            answers[mmap, repack] = answer(list(runtime.interpret(ecg_png, "Rate?")))
            assert runtime.worker_pid is not None
            private[mmap, repack] = rss_anon_mb(runtime.worker_pid)
        finally:
            runtime.close()
    assert all(answers.values())
    assert answers[True, False] == answers[False, False]  # same kernels, same answer
    weights_mb = text_model.stat().st_size / 1024**2
    # read into private memory instead of mapped
    assert private[False, False] - private[True, False] > 0.5 * weights_mb
    assert loaded[True, False].decoding.buffer_types == "CPU_Mapped"
    assert loaded[False, False].decoding.buffer_types == "CPU"
    repacked = loaded[True, True]
    if repacked.machine.has_amx:  # llama.cpp reports AMX: the guard keeps repacking off
        assert repacked.notes == (
            "Weight repacking was not applied. Not available on this CPU: llama.cpp's AMX "
            "path crashes with Q4_K weights.",
        )
        assert repacked.decoding.repack_weights is False
        assert repacked.decoding.buffer_types == "CPU_Mapped"
        assert private[True, True] - private[True, False] < 5  # no repacked copies
        assert answers[True, True] == answers[True, False]
    else:
        assert repacked.notes == ()
        assert repacked.decoding.repack_weights is True
        assert "CPU_REPACK" in repacked.decoding.buffer_types
        # the 270M model's layer matrices (not its big embedding table) are repacked: ~12 MB
        assert private[True, True] - private[True, False] > 5


def test_the_image_read_time_is_remembered_for_the_next_session(
    text_model: Path, mmproj: Path, ecg_png: bytes
) -> None:
    first = ModelRuntime(app_paths().ensure())
    try:
        loaded = first.load(text_model, mmproj, small_settings())
        assert loaded.encode_estimate_ms == 0.0  # never read an image with this pair here
        list(first.prepare(ecg_png))
        assert first.loaded is not None and first.loaded.encode_estimate_ms > 0
    finally:
        first.close()
    second = ModelRuntime(app_paths().ensure())
    try:
        again = second.load(text_model, mmproj, small_settings())
        assert again.encode_estimate_ms > 0  # the countdown can start at once
        other = second.load(text_model, mmproj, small_settings(n_threads=1))
        assert other.encode_estimate_ms == 0.0  # another thread count is another measurement
    finally:
        second.close()
