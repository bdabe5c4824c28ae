"""The inference worker process: owns the engine, answers requests over a pipe.

Started with the multiprocessing "spawn" method (safe in the frozen installer
with `multiprocessing.freeze_support()`), so a crash or abort inside llama.cpp
ends this process only; the viewer reports it and can start a new one.

Messages in (dicts): probe, load, prepare, ask, shutdown. Messages out
(tuples): ("probed", id, machine), ("loaded", id, info), ("prepared", id, times),
("delta", id, text), ("finished", id, stop_reason, times), ("cancelled", id, times),
("failed", id, kind, message, hint). Everything here runs in the worker.

Before each step the worker writes its `Phase` into shared memory, so that
if llama.cpp kills the process the viewer still knows what it was doing.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

from ecgviewer.core.errors import Cancelled, EcgViewerError, ModelError
from ecgviewer.core.inference.chat import Exchange
from ecgviewer.core.inference.crash import Phase

log = logging.getLogger(__name__)


class CancelFlag:
    """Shared counter: every request with an id <= its value is cancelled.

    The GUI sets it directly (a flag, not a queued message), so a stop is seen
    by the worker before its next token even while it is busy generating.
    """

    def __init__(self, value: Any) -> None:
        self._value = value  # multiprocessing.Value("q")

    def cancel_through(self, request_id: int) -> None:
        with self._value.get_lock():
            self._value.value = max(self._value.value, request_id)

    def is_cancelled(self, request_id: int) -> bool:
        return bool(self._value.value >= request_id)


class PhaseBoard:
    """Shared integer: the `Phase` the worker is in; readable after the worker died."""

    def __init__(self, value: Any) -> None:
        self.value = value  # multiprocessing.Value("i"), passed to the worker

    def mark(self, phase: Phase) -> None:
        self.value.value = int(phase)

    def read(self) -> Phase:
        try:
            return Phase(self.value.value)
        except ValueError:
            return Phase.IDLE


def run_worker(conn: Connection, cancel_value: Any, phase_value: Any, log_dir: str | None) -> None:
    """Process entry point: serve requests until "shutdown" or the pipe closes."""
    _setup_worker_logging(log_dir)
    exit_with_parent()
    lower_priority()
    flag = CancelFlag(cancel_value)
    server = _Server(conn, flag, PhaseBoard(phase_value))
    try:
        server.serve()
    finally:
        server.close()


def exit_with_parent() -> None:
    """End this process as soon as the viewer's process is gone, even mid-computation.

    A worker busy inside llama.cpp only sees a closed pipe when it next sends;
    a killed viewer would otherwise leave it running for minutes with gigabytes
    of model in memory.
    """
    import multiprocessing
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def lower_priority() -> None:
    """Run below the window: encoding an image must never make the GUI stutter."""
    try:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            import ctypes

            below_normal = 0x00004000
            kernel = ctypes.windll.kernel32  # type: ignore[attr-defined]
            kernel.SetPriorityClass(kernel.GetCurrentProcess(), below_normal)
        else:
            os.nice(int(os.environ.get("ECGVIEWER_WORKER_NICE", "5")))
    except OSError:
        log.info("could not lower the worker's priority")


def _setup_worker_logging(log_dir: str | None) -> None:
    if not log_dir:
        return
    from pathlib import Path

    from ecgviewer.core.logsetup import configure_logging
    from ecgviewer.core.paths import AppPaths

    folder = Path(log_dir)
    configure_logging(AppPaths(folder, folder, folder, folder))


class DeltaBatch:
    """Coalesces streamed text to at most one message per 30 ms.

    Each message wakes the viewer, which then competes with llama.cpp's threads
    for the CPU; at 40+ tokens/s that cost the worker about 5 % of its decode
    speed. The first piece is sent at once, and at the real model's 14 tokens/s
    every token still goes out on its own.
    """

    INTERVAL = 0.03

    def __init__(self, send: Any) -> None:
        self._send = send
        self._parts: list[str] = []
        self._last = 0.0

    def add(self, text: str) -> None:
        self._parts.append(text)
        now = time.perf_counter()
        if now - self._last >= self.INTERVAL:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self._parts:
            self._send("".join(self._parts))
            self._parts.clear()
        self._last = time.perf_counter() if now is None else now


class _Server:
    def __init__(self, conn: Connection, flag: CancelFlag, board: PhaseBoard) -> None:
        self.conn = conn
        self.flag = flag
        self.board = board
        self.engine: Any = None
        self.current = 0

    def serve(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return
            op = message.get("op")
            if op == "shutdown":
                return
            handler = getattr(self, f"_op_{op}", None)
            if handler is None:
                self._send("failed", message.get("id", 0), "internal", f"unknown op {op!r}", "")
                continue
            handler(message)

    def _send(self, *parts: Any) -> None:
        try:
            self.conn.send(parts)
        except (BrokenPipeError, OSError):  # the viewer went away: nothing to tell
            sys.exit(0)

    def _cancelled(self) -> bool:
        return self.flag.is_cancelled(self.current)

    def _guard(self, request_id: int, action: Any) -> None:
        self.current = request_id
        try:
            action()
        except Cancelled:
            self._answer("cancelled", request_id, {})
        except EcgViewerError as error:
            kind = "model" if isinstance(error, ModelError) else "input"
            self._answer("failed", request_id, kind, error.message, error.hint)
        except Exception as error:  # the process boundary: report, never die of a Python error
            log.exception("engine error")
            self._answer("failed", request_id, "engine", _engine_message(error), "")

    def _answer(self, *parts: Any) -> None:
        """A request's last message: idle first, so the viewer never sees an answer while
        the board still names the step (a death right after would be misreported)."""
        self.board.mark(Phase.IDLE)
        self._send(*parts)

    def _op_probe(self, message: dict[str, Any]) -> None:
        from ecgviewer.core.inference.machine import probe

        self._guard(message["id"], lambda: self._answer("probed", message["id"], asdict(probe())))

    def _op_load(self, message: dict[str, Any]) -> None:
        from ecgviewer.core.inference.engine import Engine

        def load() -> None:
            if self.engine is not None:
                self.engine.close()
                self.engine = None
            self.board.mark(Phase.LOADING)
            engine = Engine(message["spec"], self._cancelled, self.board.mark)
            load_ms = engine.load()
            self.engine = engine
            info = {
                "load_ms": load_ms,
                "gpu_fallback": engine.gpu_fallback,
                "fallback_template": engine.fallback_template,
                "pid": os.getpid(),
                "machine": asdict(engine.machine),
                "repack_applied": engine.repack_applied,
                "buffer_types": engine.buffer_types,
            }
            self._answer("loaded", message["id"], info)

        self._guard(message["id"], load)

    def _op_prepare(self, message: dict[str, Any]) -> None:
        def prepare() -> None:
            times = self._engine().prepare(message["png"], message.get("key", ""))
            self._answer("prepared", message["id"], asdict(times))

        self._guard(message["id"], prepare)

    def _op_ask(self, message: dict[str, Any]) -> None:
        request_id = message["id"]
        batch = DeltaBatch(lambda text: self._send("delta", request_id, text))

        def ask() -> None:
            stop, times = self._engine().ask(
                message["question"],
                history=[Exchange(q, a) for q, a in message["history"]],
                max_tokens=message["max_tokens"],
                temperature=message["temperature"],
                seed=message["seed"],
                emit=batch.add,
            )
            batch.flush()
            self._answer("finished", request_id, stop, asdict(times))

        self._guard(request_id, ask)

    def _engine(self) -> Any:
        if self.engine is None:
            raise ModelError("No model is loaded.", hint="Load a model first.")
        return self.engine

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def _engine_message(error: BaseException) -> str:
    if isinstance(error, MemoryError):
        return "The inference engine ran out of memory."
    return f"The inference engine reported an error: {error}"
