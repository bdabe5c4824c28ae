"""What the readers of a conversation need from a model backend: the local runtime
(`runtime.ModelRuntime`) or an inference server (`remote.RemoteRuntime`).

`answering.ask` and `Conversation` are written against these protocols, so the
CLI, the evaluation and the window's model owner drive either backend the same
way. Threads: as for `ModelRuntime` (one model thread; `cancel()` from any).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from ecgviewer.core.case import DecodingSettings, Provenance
from ecgviewer.core.inference.loaded import RuntimeEvent


class AnsweringModel(Protocol):
    """The model that answers: a loaded local pair (`LoadedModel`) or a served one."""

    @property
    def provenance(self) -> Provenance: ...

    @property
    def decoding(self) -> DecodingSettings: ...

    @property
    def notes(self) -> tuple[str, ...]: ...

    @property
    def display_name(self) -> str: ...


class ReadingBackend(Protocol):
    """Streams answers about an image; the events are `client.Event`s (and `Restarted`)."""

    @property
    def loaded(self) -> AnsweringModel | None: ...

    def interpret(
        self, png: bytes, question: str, *, history: Sequence[tuple[str, str]] = (),
        max_tokens: int | None = None,
    ) -> Iterator[RuntimeEvent]: ...  # fmt: skip

    def cancel(self) -> None: ...

    def close(self) -> None: ...
