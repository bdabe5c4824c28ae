"""The core conversation without Qt or a model: recorded runtime events drive it.

The events are what `ModelRuntime.interpret` yields (see tests/model for the same
conversation on the real engine).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecgviewer.core.case import DecodingSettings, ModelIdentity, Provenance, Turn
from ecgviewer.core.conversation import Conversation, answer_record
from ecgviewer.core.errors import EngineCrashError, InputError
from ecgviewer.core.inference.client import Failed, Finished, Prepared, Started, TextDelta
from ecgviewer.core.inference.loaded import LoadedModel
from ecgviewer.core.inference.prompts import PROMPTS_VERSION

TIMES = {"total_ms": 1200.0, "decode_ms": 800.0, "decode_tokens": 9, "first_token_ms": 300.0}


class Clock:
    """Ticks one second per reading, so every stamp is later than the one before."""

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> str:
        self.ticks += 1
        return f"2026-01-01T10:00:{self.ticks:02d}+01:00"


def model() -> LoadedModel:
    identity = ModelIdentity("/m/text.gguf", "a" * 64)
    provenance = Provenance(identity, ModelIdentity("/m/mmproj.gguf", "b" * 64))
    decoding = DecodingSettings(seed=7)
    return LoadedModel(None, provenance, None, 10.0, False, decoding)  # type: ignore[arg-type]


def answer_events(*parts: str, stop: str = "eos") -> Iterator[object]:
    yield Prepared(1, {})
    yield Started(2)
    for part in parts:
        yield TextDelta(2, part)
    yield Finished(2, stop, TIMES)


def feed(conversation: Conversation, events: Iterator[object]) -> None:
    loaded = model()
    for event in events:
        conversation.apply(event, loaded)  # type: ignore[arg-type]


def test_a_turn_records_what_was_asked_when_and_what_answered() -> None:
    clock = Clock()
    conversation = Conversation(clock=clock)
    turn = conversation.start("Rhythm?", "rhythm")
    assert conversation.busy and conversation.active is turn and turn.stop_reason is None
    feed(conversation, answer_events("Sinus ", "rhythm."))
    assert not conversation.busy
    assert conversation.thread == [turn]  # the same object, completed in place
    assert turn.answer == "Sinus rhythm." and turn.stop_reason == "eos"
    assert turn.started_at == "2026-01-01T10:00:01+01:00"  # asked
    assert turn.finished_at == "2026-01-01T10:00:02+01:00"  # answered
    assert turn.prompt_preset == "rhythm" and turn.prompt_version == PROMPTS_VERSION
    assert turn.provenance is not None and turn.provenance.model.sha256 == "a" * 64
    assert turn.decoding is not None and turn.decoding.seed == 7
    assert turn.timings.total_ms == 1200.0 and turn.timings.decode_tokens == 9


def test_the_model_sees_earlier_turns_but_never_a_failed_one() -> None:
    conversation = Conversation(clock=Clock())
    conversation.start("First?")
    feed(conversation, answer_events("One."))
    conversation.start("Second?")
    feed(conversation, iter([Started(3), TextDelta(3, "Half"),
                             Failed(3, EngineCrashError("The engine stopped."))]))  # fmt: skip
    failed = conversation.thread[-1]
    assert failed.stop_reason == "failed" and failed.answer == "Half"  # kept, marked
    assert failed.finished_at  # when it ended
    third = conversation.start("Third?")
    assert conversation.history() == [("First?", "One.")]  # neither the failed turn nor this
    assert conversation.thread[-1] is third and len(conversation.thread) == 3


def test_stop_is_recorded_and_the_answer_ends_cancelled() -> None:
    conversation = Conversation(clock=Clock())
    assert conversation.stop() is False  # nothing to stop
    conversation.start("Axis?")
    feed(conversation, iter([Started(1), TextDelta(1, "Norm")]))
    assert conversation.stop() is True and conversation.stopping
    feed(conversation, iter([Finished(1, "cancelled", TIMES), TextDelta(1, "al")]))
    turn = conversation.thread[0]
    assert turn.stop_reason == "cancelled" and turn.answer == "Norm"  # the late token dropped
    assert not conversation.stopping


def test_regenerate_asks_the_last_question_again_and_new_reading_clears() -> None:
    conversation = Conversation(clock=Clock())
    conversation.start("First?", "rhythm")
    feed(conversation, answer_events("One."))
    old = conversation.thread[0]
    again = conversation.regenerate()
    assert again is not old and again.question == "First?" and again.prompt_preset == "rhythm"
    assert conversation.thread == [again] and conversation.history() == []
    with pytest.raises(InputError):
        conversation.new_reading()  # not while it answers
    feed(conversation, answer_events("Two.", stop="length"))
    assert again.stop_reason == "length"
    conversation.new_reading()
    assert conversation.thread == []
    with pytest.raises(InputError):
        conversation.regenerate()  # nothing to regenerate


def test_one_question_at_a_time_and_never_an_empty_one() -> None:
    conversation = Conversation(clock=Clock())
    with pytest.raises(InputError):
        conversation.start("   ")
    conversation.start("First?")
    with pytest.raises(InputError):
        conversation.start("Second?")
    assert conversation.apply(Prepared(1, {}), None) is None  # nothing to record


def test_the_conversation_owns_the_list_it_is_given() -> None:
    thread = [Turn("Earlier?", "Yes.", "eos", started_at="t0", finished_at="t1")]
    conversation = Conversation(thread, clock=Clock())
    conversation.start("Now?")
    assert thread[-1].question == "Now?"  # the case's own list
    assert conversation.history() == [("Earlier?", "Yes.")]


def test_answer_record_is_pure_and_keeps_the_asked_time() -> None:
    asked = Turn("Q?", "A.", prompt_preset="p", started_at="asked")
    record = answer_record(asked, Finished(1, "eos", TIMES), model(), "ended")
    assert (record.started_at, record.finished_at) == ("asked", "ended")
    assert record.stop_reason == "eos" and record.answer == "A."
    assert asked.stop_reason is None  # the input is not changed
    never = answer_record(asked, None, None, "ended")
    assert never.stop_reason == "failed" and never.provenance is None
