"""Batching streamed answer text so it reaches the disk often but cheaply.

`AnswerBuffer.append` only touches memory, so it is safe to call from the
thread that receives tokens (even the GUI thread). A `Flusher` thread writes
what is waiting at least every `FLUSH_INTERVAL_S`, and at once when
`FLUSH_DELTAS` deltas are waiting, so a crash loses at most a quarter of a
second of text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.25
FLUSH_DELTAS = 64


class AnswerBuffer:
    """Text deltas waiting to be written, per open turn id. Thread-safe; never does I/O.

    Only turns opened with `open_turn` take deltas; once `close_turn` is called
    late deltas are dropped, so a finished answer is never appended to.
    """

    def __init__(self, max_deltas: int = FLUSH_DELTAS) -> None:
        self._lock = threading.Lock()
        self._open: set[int] = set()
        self._pending: dict[int, list[str]] = {}
        self._count = 0
        self._max = max_deltas

    def open_turn(self, turn_id: int) -> None:
        """Start taking deltas for a turn."""
        with self._lock:
            self._open.add(turn_id)

    def close_turn(self, turn_id: int) -> None:
        """Stop taking deltas for a turn and forget those still waiting."""
        with self._lock:
            self._open.discard(turn_id)
            self._count -= len(self._pending.pop(turn_id, []))

    def is_open(self, turn_id: int) -> bool:
        """Whether this buffer is streaming the turn."""
        with self._lock:
            return turn_id in self._open

    def append(self, turn_id: int, delta: str) -> bool:
        """Queue a delta (dropped for a turn not open); True when a write is due now."""
        with self._lock:
            if turn_id not in self._open:
                return False
            self._pending.setdefault(turn_id, []).append(delta)
            self._count += 1
            return self._count >= self._max

    def waiting_text(self, turn_id: int) -> str:
        """The text queued for a turn and not yet written."""
        with self._lock:
            return "".join(self._pending.get(turn_id, []))

    def drain(self) -> dict[int, str]:
        """Take everything waiting, joined per turn, leaving the buffer empty."""
        with self._lock:
            batch = {turn_id: "".join(parts) for turn_id, parts in self._pending.items()}
            self._pending.clear()
            self._count = 0
        return batch

    def restore(self, batch: dict[int, str]) -> None:
        """Put a batch that could not be written back in front of newer deltas."""
        with self._lock:
            for turn_id, text in batch.items():
                if turn_id in self._open:
                    self._pending.setdefault(turn_id, []).insert(0, text)
                    self._count += 1


class Flusher:
    """A daemon thread that calls `flush` every interval, or sooner when woken.

    Runs on its own thread; `wake`, `start` and `stop` may be called from any
    thread. Errors from `flush` are logged by type and retried next time (the
    buffer keeps the text), so a full disk does not kill the thread.
    """

    def __init__(self, flush: Callable[[], None], interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._flush = flush
        self._interval = interval_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Start the thread if it is not running yet."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="case-history-flusher", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        """Ask for a write now instead of at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread and wait for it (its last flush included)."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            thread.join()
            self._stopping.clear()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._flush()
            except Exception as exc:  # keep streaming; the text stays buffered
                log.error("case history: background flush failed (%s)", type(exc).__name__)
