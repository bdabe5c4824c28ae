"""The viewer's side of the inference worker: start it, send requests, stream events.

`InferenceClient` is the one owner of the worker process. Its methods are
called from one thread (the GUI's model-owner thread, or the CLI's main
thread); only `cancel()` may be called from any thread, and it takes effect at
the worker's next token because it writes a shared counter instead of queueing
a message.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from ecgviewer.core.errors import EcgViewerError, EngineCrashError, InputError, ModelError
from ecgviewer.core.inference.spec import LoadSpec
from ecgviewer.core.inference.worker import CancelFlag, run_worker

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Started:
    request_id: int


@dataclass(frozen=True)
class TextDelta:
    request_id: int
    text: str


@dataclass(frozen=True)
class Prepared:
    """The image is encoded and the prompt prefix evaluated."""

    request_id: int
    times: dict[str, Any]


@dataclass(frozen=True)
class Finished:
    request_id: int
    stop_reason: str  # "eos", "length" or "cancelled"
    times: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    request_id: int
    error: EcgViewerError


Event = Started | TextDelta | Prepared | Finished | Failed


class InferenceClient:
    """Starts the worker on demand and talks to it; see the module docstring for threads."""

    def __init__(self, log_dir: str | None = None) -> None:
        self._log_dir = log_dir
        self._context = multiprocessing.get_context("spawn")
        self._cancel_value: Any = None  # made with the first worker: it starts a helper process
        self._flag: CancelFlag | None = None
        self._process: Any = None
        self._conn: Connection | None = None
        self._next_id = 0
        self.load_info: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------
    def _ensure_process(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._discard_process()
        if self._cancel_value is None:
            self._cancel_value = self._context.Value("q", 0)
            self._flag = CancelFlag(self._cancel_value)
        parent, child = self._context.Pipe(duplex=True)
        self._process = self._context.Process(
            target=run_worker,
            args=(child, self._cancel_value, self._log_dir),
            name="ecgviewer-inference",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent
        return parent

    def _discard_process(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._process = None

    @property
    def worker_pid(self) -> int | None:
        return None if self._process is None else int(self._process.pid)

    def close(self) -> None:
        """Stop any request, ask the worker to free the model and exit, then reap it."""
        if self._process is None:
            return
        self.cancel()
        try:
            if self._conn is not None and self._process.is_alive():
                self._conn.send({"op": "shutdown"})
                self._process.join(timeout=10)
        except (BrokenPipeError, OSError):
            pass
        self._discard_process()

    # -- requests ----------------------------------------------------------
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def cancel(self) -> None:
        """Stop the current request at its next token. Safe from any thread."""
        if self._flag is not None:  # no worker yet: nothing to stop
            self._flag.cancel_through(self._next_id)

    def load(self, spec: LoadSpec) -> dict[str, Any]:
        """Load the pair in the worker; blocks; raises ModelError / EngineCrashError."""
        request_id = self._new_id()
        self._ensure_process().send({"op": "load", "id": request_id, "spec": spec})
        for event in self._events(request_id):
            if isinstance(event, Failed):
                raise event.error
            if isinstance(event, Finished) and event.stop_reason == "cancelled":
                raise ModelError("Loading the model was cancelled.")
        return self.load_info

    def prepare(self, png: bytes, key: str = "") -> Iterator[Event]:
        """Encode an image and evaluate the prompt prefix; yields Prepared or Failed.

        `key` names the prepared state for the worker's prefix cache ("" = no reuse).
        """
        request_id = self._new_id()
        self._send({"op": "prepare", "id": request_id, "png": png, "key": key})
        yield from self._events(request_id)

    def ask(
        self, question: str, *, history: Sequence[tuple[str, str]], max_tokens: int,
        temperature: float, seed: int,
    ) -> Iterator[Event]:  # fmt: skip
        """Ask about the prepared image after `history` ((question, answer) pairs).

        Yields Started, TextDelta..., then Finished or Failed.
        """
        request_id = self._new_id()
        message = {
            "op": "ask", "id": request_id, "question": question,
            "history": [(q, a) for q, a in history],
            "max_tokens": max_tokens, "temperature": temperature, "seed": seed,
        }  # fmt: skip
        self._send(message)
        yield Started(request_id)
        yield from self._events(request_id)

    def _send(self, message: dict[str, Any]) -> None:
        if self._process is None or not self._process.is_alive() or self._conn is None:
            raise EngineCrashError(
                "The inference engine is not running.", hint="Load the model again."
            )
        self._conn.send(message)

    def _events(self, request_id: int) -> Iterator[Event]:
        """Read messages for `request_id` until it ends; late messages of old ids are dropped."""
        conn = self._conn
        assert conn is not None
        while True:
            message = self._receive(conn)
            kind, message_id = message[0], message[1]
            if message_id != request_id:
                continue  # a late token of a request that was already given up
            event = self._to_event(kind, message)
            if event is not None:
                yield event
            if kind in ("loaded", "prepared", "finished", "cancelled", "failed"):
                return

    def _receive(self, conn: Connection) -> tuple[Any, ...]:
        while True:
            try:
                if conn.poll(POLL_SECONDS):
                    return tuple(conn.recv())
            except (EOFError, OSError):
                pass
            else:
                if self._process is not None and self._process.is_alive():
                    continue
            return self._crashed()

    def _crashed(self) -> tuple[Any, ...]:
        code = None if self._process is None else self._process.exitcode
        log.error("inference worker stopped (exit code %s)", code)
        self._discard_process()
        raise EngineCrashError(
            "The inference engine stopped unexpectedly"
            + (f" (exit code {code})." if code is not None else "."),
            hint="Your work is safe. Load the model again to continue.",
        )

    def _to_event(self, kind: str, message: tuple[Any, ...]) -> Event | None:  # noqa: PLR0911
        request_id = message[1]
        if kind == "loaded":
            self.load_info = dict(message[2])
            return None
        if kind == "prepared":
            return Prepared(request_id, dict(message[2]))
        if kind == "delta":
            return TextDelta(request_id, str(message[2]))
        if kind == "finished":
            return Finished(request_id, str(message[2]), dict(message[3]))
        if kind == "cancelled":
            return Finished(request_id, "cancelled", dict(message[2]))
        if kind == "failed":
            return Failed(request_id, _rebuild_error(message[2], message[3], message[4]))
        return None


def _rebuild_error(kind: str, text: str, hint: str) -> EcgViewerError:
    if kind == "input":
        return InputError(text, hint=hint)
    if kind == "engine":
        return EngineCrashError(text, hint=hint or "Load the model again to continue.")
    return ModelError(text, hint=hint)
