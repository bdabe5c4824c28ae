"""Which image the engine should read next, and when a read of a left case is given up.

The engine does one thing at a time. Reading an image takes about 50 s with
MedGemma-4B on two cores, so work for cases the clinician has left must never
stand between the clinician and the case on screen:

* One slot, not a queue. A newer request replaces the waiting one: selecting a
  case replaces the read-ahead of the case before, and Interpret replaces any
  read-ahead. A waiting answer is only ever replaced by another answer.
* A read that is running for the image that is wanted now is awaited: it is
  the work the answer needs anyway.
* A read running for another image is abandoned (the worker process is
  restarted, the model file being in the page cache) when finishing it would
  take longer than the restart; otherwise it finishes, and is cached for when
  the clinician comes back. llama.cpp's image encoder is one blocking
  computation, so the cancel flag alone would only be seen when it returns.

`ReadSlot` is plain Python and thread-safe: the GUI thread puts requests in,
the model owner's thread takes them and asks, while a read runs, whether to
abandon it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from ecgviewer.core.inference.prefix_cache import MEMORY_ITEMS

PROCESS_START_MS = 250.0
"""A new worker process's start beyond loading the model (measured about 70 ms)."""


def image_key(png: bytes) -> str:
    """The identity of a model-input image: its SHA-256 (the prepared-state key's part)."""
    return hashlib.sha256(png).hexdigest()


@dataclass(frozen=True)
class ReadRequest:
    """Read `png` ahead (no question), or answer `question` about it after `history`."""

    tag: int
    png: bytes
    question: str | None = None
    history: tuple[tuple[str, str], ...] = ()
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", image_key(self.png))

    @property
    def is_answer(self) -> bool:
        return self.question is not None


def worth_abandoning(elapsed_ms: float, estimate_ms: float, restart_ms: float) -> bool:
    """Whether to give up a running read that nobody waits for: restarting is quicker.

    `estimate_ms` is the last measured read (0 when never measured: with
    MedGemma-4B that may be a minute, so it is given up); a read slower than
    last time is left to finish, as its end is near by every measure we have.
    """
    if estimate_ms <= 0:
        return True
    return estimate_ms - elapsed_ms > restart_ms


class ReadSlot:
    """The one request waiting for the engine and the one running. Any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: ReadRequest | None = None
        self._running: ReadRequest | None = None
        self._running_since = 0.0

    def put(self, request: ReadRequest) -> ReadRequest | None:
        """GUI thread: `request` waits next; returns the request it replaced, if any.

        A waiting answer is kept when a read-ahead comes (the read-ahead is then
        the one returned, as dropped).
        """
        with self._lock:
            waiting = self._waiting
            if waiting is not None and waiting.is_answer and not request.is_answer:
                return request
            self._waiting = request
            return waiting

    def drop_answer(self) -> ReadRequest | None:
        """GUI thread (Stop): remove a waiting answer that has not started; returns it."""
        with self._lock:
            waiting = self._waiting
            if waiting is None or not waiting.is_answer:
                return None
            self._waiting = None
            return waiting

    def clear(self) -> None:
        """Closing: whatever waits will not run."""
        with self._lock:
            self._waiting = None

    def take(self, now_ms: float) -> ReadRequest | None:
        """Owner thread: the waiting request, now running since `now_ms`."""
        with self._lock:
            request, self._waiting = self._waiting, None
            self._running, self._running_since = request, now_ms
            return request

    def done(self) -> None:
        """Owner thread: the running request has ended."""
        with self._lock:
            self._running = None

    def should_abandon(self, now_ms: float, estimate_ms: float, restart_ms: float) -> bool:
        """Owner thread, while a read-ahead runs: give it up for the waiting request?"""
        with self._lock:
            running, waiting = self._running, self._waiting
            elapsed = now_ms - self._running_since
        if running is None or waiting is None or running.is_answer:
            return False
        if waiting.key == running.key:
            return False  # the wanted image: awaited, never thrown away
        return worth_abandoning(elapsed, estimate_ms, restart_ms)


class ReadyImages:
    """The images the worker can answer about at once: their prepared state is cached.

    Kept by the runtime on the model thread. The last `MEMORY_ITEMS` are in the
    worker's memory; with the disk cache on, all of them are on disk too and
    survive a restart (its LRU bound, 2 GB by default, holds about 50 MedGemma
    images; older ones may be marked ready after eviction and are read again).
    """

    def __init__(self, on_disk: bool = False) -> None:
        self._keys: list[str] = []
        self._on_disk = on_disk

    def add(self, key: str) -> None:
        if key in self._keys:
            self._keys.remove(key)
        self._keys.append(key)
        if not self._on_disk:
            del self._keys[:-MEMORY_ITEMS]

    def worker_restarted(self) -> None:
        """The worker's memory is gone; what is on disk stays."""
        if not self._on_disk:
            self._keys.clear()

    def keys(self) -> frozenset[str]:
        return frozenset(self._keys)
