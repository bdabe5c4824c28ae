"""Driving a conversation from one thread, for callers without a window.

The CLI (`interpret`, `chat`), the evaluation and the import check call these on
their one model thread: the thread that owns the `ModelRuntime` and reads its
events. The window drives the same `Conversation` from the model owner's
signals instead (gui/reading.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ecgviewer.core.case import Turn
from ecgviewer.core.conversation import Conversation
from ecgviewer.core.errors import EcgViewerError, ModelError
from ecgviewer.core.inference.backend import ReadingBackend
from ecgviewer.core.inference.client import Failed, Finished, TextDelta
from ecgviewer.core.inference.loaded import Restarted

TextListener = Callable[[str], None]


def ask(
    runtime: ReadingBackend,
    conversation: Conversation,
    png: bytes,
    question: str,
    preset_key: str = "",
    *,
    max_tokens: int | None = None,
    on_text: TextListener | None = None,
    on_note: TextListener | None = None,
) -> tuple[Turn, Finished]:
    """Ask `question` about `png` in `conversation` and stream its answer; returns the turn.

    If the engine dies and the runtime restarts it, the question is asked once
    more from the start (`on_note` gets the restart's sentence; the failed turn
    is replaced). Raises the error of a failure that was not followed by a
    restart; the turn then stays in the thread, marked "failed".
    """
    conversation.start(question, preset_key)
    for attempt in range(2):
        finished, failure, restarted = _stream(runtime, conversation, png, max_tokens, on_text)
        if finished is not None:
            return conversation.thread[-1], finished
        if restarted is None or attempt:
            break
        if on_note is not None:
            on_note(restarted.note)
        conversation.regenerate()
    if failure is not None:
        raise failure.error
    raise ModelError("The model stopped without finishing the answer.")


def _stream(
    runtime: ReadingBackend, conversation: Conversation, png: bytes, max_tokens: int | None,
    on_text: TextListener | None,
) -> tuple[Finished | None, Failed | None, Restarted | None]:  # fmt: skip
    """One attempt: (Finished, or the Failed and the Restarted that followed it)."""
    turn = conversation.active
    assert turn is not None
    failure: Failed | None = None
    restarted: Restarted | None = None
    history = conversation.history()
    try:
        for event in runtime.interpret(png, turn.question, history=history, max_tokens=max_tokens):
            conversation.apply(event, runtime.loaded)
            if isinstance(event, TextDelta) and on_text is not None:
                on_text(event.text)
            elif isinstance(event, Finished):
                return event, None, None
            elif isinstance(event, Failed):
                failure = event
            elif isinstance(event, Restarted):
                restarted = event
    except EcgViewerError:
        if conversation.busy:
            conversation.fail()
        raise
    if conversation.busy:
        conversation.fail()
    return None, failure, restarted


def answer_with_one_retry(
    runtime: ReadingBackend,
    png: bytes,
    question: str,
    *,
    max_tokens: int | None = None,
    on_text: TextListener | None = None,
    on_note: TextListener | None = None,
) -> tuple[str, Finished]:
    """One whole answer to a first question (the import check): `ask` in a new conversation."""
    turn, finished = ask(runtime, Conversation(), png, question, max_tokens=max_tokens,
                         on_text=on_text, on_note=on_note)  # fmt: skip
    return turn.answer, finished
