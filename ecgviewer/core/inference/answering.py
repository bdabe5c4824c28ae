"""One whole answer for callers without a window (the CLI, evaluation, the import check)."""

from __future__ import annotations

from collections.abc import Callable

from ecgviewer.core.errors import ModelError
from ecgviewer.core.inference.client import Failed, Finished, TextDelta
from ecgviewer.core.inference.loaded import Restarted
from ecgviewer.core.inference.runtime import ModelRuntime


def answer_with_one_retry(
    runtime: ModelRuntime,
    png: bytes,
    question: str,
    *,
    max_tokens: int | None = None,
    on_text: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> tuple[str, Finished]:
    """One whole answer for callers without a window (CLI, evaluation).

    If the engine dies and the runtime restarts it, the question is asked once
    more from the start (`on_note` gets the restart's sentence; text streamed
    before the crash is dropped). Raises the error of a failure that was not
    followed by a restart.
    """
    for _attempt in range(2):
        parts: list[str] = []
        failure: Failed | None = None
        restarted = False
        for event in runtime.interpret(png, question, max_tokens=max_tokens):
            if isinstance(event, TextDelta):
                parts.append(event.text)
                if on_text is not None:
                    on_text(event.text)
            elif isinstance(event, Finished):
                return "".join(parts), event
            elif isinstance(event, Failed):
                failure = event
            elif isinstance(event, Restarted):
                restarted = True
                if on_note is not None:
                    on_note(event.note)
        if not restarted:
            break
    if failure is not None:
        raise failure.error
    raise ModelError("The model stopped without finishing the answer.")
