"""The viewer's side of the inference worker: start it, send requests, stream events.

`InferenceClient` is the one owner of the worker process. Its methods are
called from one thread (the GUI's model-owner thread, or the CLI's main
thread); only `cancel()` may be called from any thread, and it takes effect at
the worker's next token because it writes a shared counter instead of queueing
a message.

A watcher thread waits on each worker's process sentinel, so a worker that
dies while nobody is waiting for it (idle, or busy with a request the caller
has not read yet) is reported at once through `on_exit`.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from ecgviewer.core.errors import EcgViewerError, EngineCrashError, InputError, ModelError
from ecgviewer.core.inference.crash import CrashReport, Phase
from ecgviewer.core.inference.spec import LoadSpec
from ecgviewer.core.inference.worker import CancelFlag, PhaseBoard, run_worker

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


@dataclass(frozen=True)
class Abandoned:
    """The caller gave the request up; its worker was stopped with it (start another)."""

    request_id: int


Event = Started | TextDelta | Prepared | Finished | Failed | Abandoned

AbandonCheck = Callable[[], bool]
"""Asked on the caller's thread about every 50 ms while a request runs: give it up now?"""

ExitListener = Callable[[int, CrashReport], None]
"""(worker generation, report): called on the watcher thread when a worker dies unasked."""


class InferenceClient:
    """Starts the worker on demand and talks to it; see the module docstring for threads."""

    def __init__(self, log_dir: str | None = None, on_exit: ExitListener | None = None) -> None:
        self._log_dir = log_dir
        self._on_exit = on_exit
        self._context = multiprocessing.get_context("spawn")
        self._cancel_value: Any = None  # made with the first worker: it starts a helper process
        self._flag: CancelFlag | None = None
        self._board: PhaseBoard | None = None
        self._process: Any = None
        self._conn: Connection | None = None
        self._next_id = 0
        self._generation = 0  # one per worker process started
        self._retired: set[int] = set()  # generations stopped on purpose
        self._reaping = threading.Lock()
        self.load_info: dict[str, Any] = {}
        self._probed: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------
    def _ensure_process(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._discard_process()
        if self._cancel_value is None:
            self._cancel_value = self._context.Value("q", 0)
            self._flag = CancelFlag(self._cancel_value)
        self._board = PhaseBoard(self._context.Value("i", int(Phase.STARTING)))
        self._board.mark(Phase.STARTING)
        parent, child = self._context.Pipe(duplex=True)
        self._process = self._context.Process(
            target=self._worker_target(),
            args=(child, self._cancel_value, self._board.value, self._log_dir),
            name="ecgviewer-inference",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent
        self._generation += 1
        self._watch(self._generation, self._process, self._board)
        return parent

    @staticmethod
    def _worker_target() -> Callable[..., None]:
        """The worker's entry point; tests replace this to slow or break a step inside it."""
        return run_worker

    def _watch(self, generation: int, process: Any, board: PhaseBoard) -> None:
        """Report a worker that dies without being asked to, whatever the caller is doing."""

        def wait() -> None:
            multiprocessing.connection.wait([process.sentinel])
            # under the lock: a death is told once, either here or by the reader (_crashed),
            # and the news is on its way before the reader can report a restart
            with self._reaping:
                process.join(timeout=1)
                if generation in self._retired or self._on_exit is None:
                    return
                self._on_exit(generation, CrashReport(board.read(), process.exitcode))

        threading.Thread(target=wait, name=f"worker-watch-{generation}", daemon=True).start()

    @property
    def generation(self) -> int:
        """The number of the current (or last) worker process."""
        return self._generation

    @property
    def phase(self) -> Phase:
        """What the worker is doing now (or was doing when it died)."""
        return Phase.IDLE if self._board is None else self._board.read()

    def _discard_process(self) -> None:
        self._retired.add(self._generation)
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
        self._retired.add(self._generation)  # asked to go: its exit is not a crash
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

    def probe(self) -> dict[str, Any]:
        """The machine facts llama.cpp reports (machine.MachineFacts fields); blocks."""
        request_id = self._new_id()
        self._ensure_process().send({"op": "probe", "id": request_id})
        for event in self._events(request_id):
            if isinstance(event, Failed):
                raise event.error
        return self._probed

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

    def prepare(
        self, png: bytes, key: str = "", abandon: AbandonCheck | None = None
    ) -> Iterator[Event]:
        """Encode an image and evaluate the prompt prefix; yields Prepared or Failed.

        `key` names the prepared state for the worker's prefix cache ("" = no reuse).
        When `abandon` says so, the worker is stopped mid-read (llama.cpp's image
        encoder cannot be interrupted) and Abandoned is yielded; the next request
        starts a fresh worker, which has to be loaded first.
        """
        request_id = self._new_id()
        self._send({"op": "prepare", "id": request_id, "png": png, "key": key})
        yield from self._events(request_id, abandon)

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
        if self._process is not None and self._conn is not None and not self._process.is_alive():
            self._crashed()  # it died while idle: report it as the crash it was
        if self._process is None or self._conn is None:
            raise EngineCrashError(
                "The inference engine is not running.", hint="Load the model again."
            )
        self._conn.send(message)

    def _events(self, request_id: int, abandon: AbandonCheck | None = None) -> Iterator[Event]:
        """Read messages for `request_id` until it ends; late messages of old ids are dropped."""
        conn = self._conn
        assert conn is not None
        while True:
            message = self._receive(conn, abandon)
            if message is None:  # given up: stopped on purpose, so not reported as a crash
                self._discard_process()
                log.info("image read abandoned: worker stopped")
                yield Abandoned(request_id)
                return
            kind, message_id = message[0], message[1]
            if message_id != request_id:
                continue  # a late token of a request that was already given up
            event = self._to_event(kind, message)
            if event is not None:
                yield event
            if kind in ("probed", "loaded", "prepared", "finished", "cancelled", "failed"):
                return

    def _receive(self, conn: Connection, abandon: AbandonCheck | None) -> tuple[Any, ...] | None:
        """The next message; None when `abandon` gave the request up while waiting."""
        while True:
            try:
                if conn.poll(POLL_SECONDS):
                    return tuple(conn.recv())
            except (EOFError, OSError):
                pass
            else:
                if self._process is not None and self._process.is_alive():
                    if abandon is not None and abandon():
                        return None
                    continue
            return self._crashed()

    def _crashed(self) -> tuple[Any, ...]:
        if self._process is not None:
            with self._reaping:  # the watcher may be reaping it too: one waitpid at a time
                self._process.join(timeout=1)  # the exit code is known once it is reaped
                self._retired.add(self._generation)  # told here: the watcher stays quiet
        code = None if self._process is None else self._process.exitcode
        crash = CrashReport(self.phase, code)
        log.error("inference worker stopped (%s, %s)", crash.phase.name, crash.cause)
        self._discard_process()
        raise EngineCrashError(
            crash.sentence(), hint="Your work is safe. Load the model again to continue.",
            crash=crash,
        )  # fmt: skip

    def _to_event(self, kind: str, message: tuple[Any, ...]) -> Event | None:  # noqa: PLR0911
        request_id = message[1]
        if kind == "loaded":
            self.load_info = dict(message[2])
            return None
        if kind == "probed":
            self._probed = dict(message[2])
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
