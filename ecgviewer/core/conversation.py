"""A case's conversation with the model: questions, streamed answers, and their records.

`Conversation` owns one case's thread (`Case.thread`, a list of `Turn`s) and is
the only code that changes it: start a turn, the history the model sees, apply
the runtime's streamed events, finish or fail the turn, stop, regenerate, start
a new reading. The window (gui/reading.py), the CLI (`interpret`, `chat`) and
the evaluation all drive it; none of them touches the thread list directly.

It knows nothing about threads or Qt: it runs on whichever thread its driver
calls it from (the GUI thread in the window, the main thread on the CLI), one
caller at a time. Stopping the model itself is the driver's job (the runtime's
or the model owner's `cancel()`); `stop()` here only records that a stop was
asked, so a status line can say "Stopping...".

Times: a turn's `started_at` is when the question was asked (kept under that
name for the stored history), `finished_at` when its answer ended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import cast

from ecgviewer.core.case import StopReason, Timings, Turn, now_iso
from ecgviewer.core.errors import InputError
from ecgviewer.core.inference.backend import AnsweringModel
from ecgviewer.core.inference.client import Failed, Finished, TextDelta
from ecgviewer.core.inference.loaded import RuntimeEvent
from ecgviewer.core.inference.prompts import PROMPTS_VERSION

Clock = Callable[[], str]
"""Returns the current time as ISO 8601 (`case.now_iso`; tests may pass their own)."""

ENDED_STOP_REASONS: frozenset[str] = frozenset({"eos", "length", "cancelled"})


def answer_record(
    turn: Turn, finished: Finished | None, model: AnsweringModel | None, finished_at: str
) -> Turn:
    """The record of one answer, with everything that produced it (a pure function).

    `turn` holds the question, its preset, the text streamed so far and when it
    was asked; `finished` is the runtime's last event (None: it never finished,
    so the record is "failed"); `model` is the model that answered.
    """
    stop: StopReason = "failed"
    if finished is not None and finished.stop_reason in ENDED_STOP_REASONS:
        stop = cast(StopReason, finished.stop_reason)
    return Turn(
        question=turn.question, answer=turn.answer, stop_reason=stop,
        prompt_preset=turn.prompt_preset, prompt_version=turn.prompt_version or PROMPTS_VERSION,
        started_at=turn.started_at, finished_at=finished_at,
        timings=Timings.from_json(finished.times) if finished else Timings(),
        provenance=model.provenance if model else turn.provenance,
        decoding=model.decoding if model else turn.decoding,
    )  # fmt: skip


class Conversation:
    """One case's thread of questions and answers; see the module docstring."""

    def __init__(self, thread: list[Turn] | None = None, *, clock: Clock = now_iso) -> None:
        self.thread: list[Turn] = thread if thread is not None else []
        self._clock = clock
        self._active: Turn | None = None
        self._stopping = False

    @property
    def active(self) -> Turn | None:
        """The turn whose answer is being streamed, None when idle."""
        return self._active

    @property
    def busy(self) -> bool:
        return self._active is not None

    @property
    def stopping(self) -> bool:
        """A stop was asked for the active turn (its answer ends at the next token)."""
        return self._stopping

    def history(self) -> list[tuple[str, str]]:
        """The earlier (question, answer) pairs the model sees; failed turns are left out."""
        return [
            (turn.question, turn.answer)
            for turn in self.thread
            if turn is not self._active and turn.stop_reason != "failed"
        ]

    def start(self, question: str, preset_key: str = "", version: str = PROMPTS_VERSION) -> Turn:
        """Append a new turn asked now; its answer streams into it. One at a time."""
        if self._active is not None:
            raise InputError("Wait for the answer in progress, or stop it, before asking again.")
        if not question.strip():
            raise InputError("The question is empty.")
        turn = Turn(question=question, prompt_preset=preset_key, prompt_version=version,
                    started_at=self._clock())  # fmt: skip
        self.thread.append(turn)
        self._active, self._stopping = turn, False
        return turn

    def apply(self, event: RuntimeEvent, model: AnsweringModel | None) -> Turn | None:
        """Feed one runtime event; returns the turn it changed (None: nothing changed)."""
        if self._active is None:
            return None  # a late event of an answer that already ended
        if isinstance(event, TextDelta):
            return self.add_text(event.text)
        if isinstance(event, Finished):
            return self.finish(event, model)
        if isinstance(event, Failed):
            return self.fail()
        return None  # Prepared, Started, Restarted: nothing to record in the thread

    def add_text(self, text: str) -> Turn:
        """Append streamed text to the active turn."""
        turn = self._require_active()
        turn.answer += text
        return turn

    def finish(self, finished: Finished, model: AnsweringModel | None) -> Turn:
        """The answer ended (complete, at the token limit, or stopped): record what made it."""
        turn = self._require_active()
        record = answer_record(turn, finished, model, self._clock())
        for item in fields(Turn):  # the same Turn object: listeners hold it
            setattr(turn, item.name, getattr(record, item.name))
        return self._end()

    def fail(self) -> Turn:
        """The answer failed: its partial text is kept, marked "failed" (never shown as whole).

        A failed turn stays in the thread for the clinician to see and is left out
        of the history the model sees next.
        """
        turn = self._require_active()
        turn.stop_reason = "failed"
        turn.finished_at = self._clock()
        return self._end()

    def stop(self) -> bool:
        """Record that a stop was asked; False when no answer is streaming."""
        if self._active is None:
            return False
        self._stopping = True
        return True

    def regenerate(self) -> Turn:
        """Drop the last turn and ask its question again (same preset and version)."""
        if self._active is not None or not self.thread:
            raise InputError("There is no finished answer to regenerate.")
        last = self.thread.pop()
        return self.start(last.question, last.prompt_preset)

    def new_reading(self) -> None:
        """Forget the thread: the next question starts a fresh conversation."""
        if self._active is not None:
            raise InputError("Stop the answer in progress before starting a new reading.")
        self.thread.clear()

    def _require_active(self) -> Turn:
        if self._active is None:
            raise InputError("No answer is in progress.")
        return self._active

    def _end(self) -> Turn:
        turn = self._active
        assert turn is not None
        self._active, self._stopping = None, False
        return turn
