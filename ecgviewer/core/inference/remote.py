"""`RemoteRuntime`: reading on an OpenAI-compatible inference server instead of this computer.

The second backend behind `backend.ReadingBackend`, beside the local
`ModelRuntime`: the same `interpret()` / `prepare()` / `cancel()` / `close()`
and the same events (Started, TextDelta..., then Finished or Failed), so
`answering.ask`, `Conversation`, the CLI, the evaluation and the window's model
owner drive it unchanged. `connect()` plays `load()`'s part: it asks the server
what it serves (server_identity.py) and fixes the provenance every answer records.

Each question sends the whole conversation: the exact model-input PNG as a
`data:image/png;base64,...` part before the first question, the earlier
questions and answers, then the new question (servers cache the prompt).
Decoding is the model card's: greedy (temperature 0), the seed, at most
`max_tokens`, and every penalty a server might default on set to neutral.

Threads: `connect`, `interpret`, `prepare` and `close` on the model thread (the
CLI's main thread, the GUI's model owner thread, or each of an evaluation's
worker threads: requests share nothing but the HTTP client, which is
thread-safe); `cancel()` from any thread. No connection is opened before
`connect()`.
"""

from __future__ import annotations

import base64
import itertools
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgviewer.core.case import DecodingSettings, Provenance, Timings
from ecgviewer.core.errors import ModelError
from ecgviewer.core.inference.client import Failed, Finished, Started, TextDelta
from ecgviewer.core.inference.crash import Phase
from ecgviewer.core.inference.integrity import load_manifest
from ecgviewer.core.inference.loaded import RuntimeEvent
from ecgviewer.core.inference.machine import MachineFacts
from ecgviewer.core.inference.read_ahead import ReadyImages
from ecgviewer.core.inference.remote_stream import ChatStream, make_client
from ecgviewer.core.inference.server_config import ServerConfig, redacted
from ecgviewer.core.inference.server_errors import ServerError, stream_cut
from ecgviewer.core.inference.server_identity import (
    ServedModel,
    ask_served_model,
    served_provenance,
)
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.settings import ModelSettings

log = logging.getLogger(__name__)

NEUTRAL_SAMPLING: dict[str, Any] = {
    "temperature": 0.0,
    "top_p": 1.0,
    "min_p": 0.0,
    "repeat_penalty": 1.0,  # llama_cpp.server defaults to 1.1 even at temperature 0
    "repetition_penalty": 1.0,  # vLLM's name for it
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
}
"""Sent with every request so that no server default changes a greedy answer
(docs/runtime.md, "Settings that change an answer")."""

FINISH_REASONS = {"stop": "eos", "length": "length"}


@dataclass(frozen=True)
class RemoteModel:
    """The model a server serves, as the readers of a conversation see it (`AnsweringModel`)."""

    provenance: Provenance
    decoding: DecodingSettings
    served: ServedModel
    host: str
    notes: tuple[str, ...] = ()
    load_ms: float = 0.0  # the time `connect()` took
    encode_estimate_ms: float = 0.0  # unknown: the countdown counts up
    machine: MachineFacts = field(default_factory=MachineFacts)
    gpu_fallback: bool = False

    @property
    def display_name(self) -> str:
        """The known pair's name, else the served id marked unknown."""
        if self.provenance.known_pair:
            return self.provenance.known_pair
        return f"{self.served.file_name or self.served.model_id} (unknown model)"

    @property
    def where(self) -> str:
        """For the window's status line: "Reading on HOST"."""
        return f"Reading on {self.host}"


class RemoteRuntime:
    """Answers on an inference server; see the module docstring for threads."""

    def __init__(self, config: ServerConfig, paths: AppPaths, settings: ModelSettings,
                 manifest: Path | None = None) -> None:  # fmt: skip
        self._config = config
        self._paths = paths
        self._settings = settings
        self._manifest = manifest
        self._client: Any = None  # httpx.Client, made by connect(): nothing opens before
        self._loaded: RemoteModel | None = None
        self._ids = itertools.count(1)
        self._last_id = 0
        self._cancelled_through = 0
        self.ready = ReadyImages()  # the server reads the image with each question

    @property
    def config(self) -> ServerConfig:
        return self._config

    @property
    def loaded(self) -> RemoteModel | None:
        return self._loaded

    @property
    def phase(self) -> Phase:
        return Phase.IDLE

    @property
    def machine(self) -> MachineFacts | None:
        return None

    @property
    def worker_pid(self) -> int | None:
        return None

    @property
    def restart_estimate_ms(self) -> float:
        return 0.0

    def connect(self) -> RemoteModel:
        """Ask the server what it serves; raises `ServerError` saying what went wrong."""
        start = time.perf_counter()
        if self._client is None:
            self._client = make_client(self._config)
        served = ask_served_model(self._client, self._config)
        known = load_manifest(self._manifest) + load_manifest(self._paths.user_manifest_file)
        provenance = served_provenance(self._config, served, known)
        settings = self._settings
        decoding = DecodingSettings(
            temperature=0.0, seed=settings.seed, max_tokens=settings.max_tokens,
            n_ctx=served.n_ctx, n_threads=0, n_gpu_layers=0,
            machine=f"inference server {redacted(self._config.url)}",
        )  # fmt: skip
        notes = () if provenance.known_pair else (
            f"The server's model {served.model_id} is not a known pair: its hashes are unknown.",
        )  # fmt: skip
        self._loaded = RemoteModel(provenance, decoding, served, self._config.host, notes,
                                   (time.perf_counter() - start) * 1000.0)  # fmt: skip
        log.info("connected to an inference server (known pair: %s)", bool(known))
        return self._loaded

    def prepare(self, png: bytes, abandon: object = None) -> Iterator[RuntimeEvent]:
        """Nothing to do ahead: the image travels with each question."""
        return iter(())

    def recover(self) -> Iterator[RuntimeEvent]:
        """No worker process to restart."""
        return iter(())

    def cancel(self) -> None:
        """Any thread: every request started so far ends at its next event (or at once)."""
        self._cancelled_through = self._last_id

    def unload(self) -> None:
        self._loaded = None

    def close(self) -> None:
        """Forget the model and close the HTTP client's connections."""
        self.cancel()
        self._loaded = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def interpret(self, png: bytes, question: str, *, history: Sequence[tuple[str, str]] = (),
                  max_tokens: int | None = None) -> Iterator[RuntimeEvent]:  # fmt: skip
        """Stream the answer to `question` about `png` after `history` ((question, answer)
        pairs): Started, TextDelta..., then one Finished or one Failed."""
        loaded = self._require_loaded()
        request_id = next(self._ids)
        self._last_id = max(self._last_id, request_id)
        tokens = max_tokens or loaded.decoding.max_tokens
        body = chat_body(loaded.served.model_id, png, question, history,
                         max_tokens=tokens, seed=loaded.decoding.seed)  # fmt: skip
        yield Started(request_id)
        yield from self._stream(request_id, body)

    def _stream(self, request_id: int, body: dict[str, Any]) -> Iterator[RuntimeEvent]:
        clock = AnswerClock()
        stream = ChatStream(self._client, self._config, body)
        finish = ""
        try:
            for chunk in stream.chunks(lambda: request_id <= self._cancelled_through):
                clock.saw(chunk)
                text, reason = _delta(chunk)
                finish = reason or finish
                if text:
                    clock.token()
                    yield TextDelta(request_id, text)
        except ServerError as error:
            yield Failed(request_id, error)
            return
        finally:
            stream.close()
        if request_id <= self._cancelled_through:
            yield Finished(request_id, "cancelled", clock.times())
        elif finish:
            yield Finished(request_id, FINISH_REASONS.get(finish, "eos"), clock.times())
        else:
            yield Failed(request_id, _ended_early(stream))

    def _require_loaded(self) -> RemoteModel:
        if self._loaded is None or self._client is None:
            raise ModelError("Not connected to the inference server.",
                             hint="Connect in Settings > Inference server.")  # fmt: skip
        return self._loaded


def _ended_early(stream: ChatStream) -> ServerError:
    if stream.saw_done:  # llama_cpp.server does this to a stream when another request waits
        return ServerError(
            f"{stream.where} ended the answer early without saying why.", reason="cut",
            hint="The partial answer is kept, marked incomplete. The server may interrupt an "
            "answer when another request arrives (llama_cpp.server: --interrupt_requests false).",
        )  # fmt: skip
    return stream_cut(stream.where)


def _delta(chunk: dict[str, Any]) -> tuple[str, str]:
    """(new text, finish reason) of one streamed chunk; ("", "") for a usage-only chunk."""
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", ""
    delta = choices[0].get("delta") or {}
    text = delta.get("content") if isinstance(delta, dict) else None
    return (text if isinstance(text, str) else ""), str(choices[0].get("finish_reason") or "")


def image_url(png: bytes) -> str:
    """The model-input PNG as a data URL: the exact pixels the local model would see."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def chat_body(model_id: str, png: bytes, question: str, history: Sequence[tuple[str, str]], *,
              max_tokens: int, seed: int) -> dict[str, Any]:  # fmt: skip
    """The request: the conversation (image first in the first user turn, as the local
    prompt has it; questions stripped as chat.build_messages does) and greedy decoding."""
    messages: list[dict[str, Any]] = []
    for index, (asked, answer) in enumerate([*history, (question, "")]):
        parts: list[dict[str, Any]] = []
        if index == 0:
            parts.append({"type": "image_url", "image_url": {"url": image_url(png)}})
        parts.append({"type": "text", "text": asked.strip()})
        messages.append({"role": "user", "content": parts})
        if index < len(history):
            messages.append({"role": "assistant", "content": answer})
    return {
        "model": model_id, "messages": messages, "stream": True,
        "stream_options": {"include_usage": True}, "max_tokens": max_tokens, "seed": seed,
        **NEUTRAL_SAMPLING,
    }  # fmt: skip


class AnswerClock:
    """The answer's timings: the server's own (llama-server's `timings`, or `usage` token
    counts) where it sends them, otherwise measured here. Model thread."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._first: float | None = None
        self._last: float | None = None
        self._tokens = 0
        self._server: dict[str, Any] = {}
        self._usage: dict[str, Any] = {}

    def saw(self, chunk: dict[str, Any]) -> None:
        if isinstance(chunk.get("timings"), dict):
            self._server = chunk["timings"]
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]

    def token(self) -> None:
        now = time.perf_counter()
        self._first = self._first if self._first is not None else now
        self._last = now
        self._tokens += 1

    def times(self) -> dict[str, Any]:
        """`Timings.to_json()` plus where the numbers came from."""
        ms = lambda at: None if at is None else (at - self._start) * 1000.0  # noqa: E731
        first, last = ms(self._first), ms(self._last)
        timings = Timings(
            first_token_ms=first,
            total_ms=ms(time.perf_counter()),
            decode_ms=None if first is None or last is None else last - first,
            decode_tokens=int(self._usage.get("completion_tokens", self._tokens)),
        )
        source = "client"
        if self._server:
            source = "server"
            timings.prompt_prefill_ms = _number(self._server.get("prompt_ms"))
            timings.decode_ms = _number(self._server.get("predicted_ms"))
            timings.decode_tokens = int(self._server.get("predicted_n", timings.decode_tokens))
        extra = {"timings_source": source, "prompt_tokens": self._usage.get("prompt_tokens")}
        return timings.to_json() | extra


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
