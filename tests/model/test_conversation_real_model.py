"""The core conversation on the real engine (small Gemma 3 pair): follow-ups, Stop, history.

Driven as the CLI drives it (`answering.ask` on this thread, the model thread);
the text is meaningless, the tests assert on the thread and its records.
"""

from __future__ import annotations

import pytest

from ecgviewer.core.conversation import Conversation
from ecgviewer.core.inference.answering import ask
from ecgviewer.core.inference.runtime import ModelRuntime

pytestmark = pytest.mark.slow


def test_follow_ups_in_one_conversation_record_asked_and_finished_times(
    runtime: ModelRuntime, ecg_png: bytes
) -> None:
    conversation = Conversation()
    streamed: list[str] = []
    first, _ = ask(runtime, conversation, ecg_png, "Describe the rhythm.", "rhythm",
                   on_text=streamed.append)  # fmt: skip
    assert first.answer and first.answer == "".join(streamed)
    assert conversation.history() == [("Describe the rhythm.", first.answer)]
    second, finished = ask(runtime, conversation, ecg_png, "And the axis?")
    assert conversation.thread == [first, second]
    assert second.answer and second.stop_reason in ("eos", "length")
    assert finished.times["image_encode_ms"] == 0.0  # the same image: not read again
    for turn in (first, second):
        assert turn.started_at <= turn.finished_at
        assert turn.provenance is not None and len(turn.provenance.model.sha256) == 64
        assert turn.decoding is not None and turn.timings.total_ms
    assert first.finished_at <= second.started_at
    assert first.prompt_preset == "rhythm" and second.prompt_preset == ""


def test_a_stopped_answer_is_kept_and_the_conversation_goes_on(
    runtime: ModelRuntime, ecg_png: bytes
) -> None:
    conversation = Conversation()

    def stop_at_first_text(_text: str) -> None:
        conversation.stop()
        runtime.cancel()  # what Ctrl+C does on the CLI

    stopped, _ = ask(runtime, conversation, ecg_png, "Analyze this ECG.",
                     max_tokens=200, on_text=stop_at_first_text)  # fmt: skip
    assert stopped.stop_reason == "cancelled" and stopped.answer
    assert not conversation.busy and not conversation.stopping
    after, _ = ask(runtime, conversation, ecg_png, "Anything else?", max_tokens=8)
    assert after.stop_reason in ("eos", "length")
    assert conversation.history() == [
        ("Analyze this ECG.", stopped.answer),
        ("Anything else?", after.answer),
    ]
