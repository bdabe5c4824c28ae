"""One helper for one-shot background jobs (decode, preprocess, export...).

`run_task(parent, op, on_success, on_error)` runs `op()` on Qt's global thread
pool and delivers its result or its exception back on the GUI thread, like
Anki's QueryOp. Jobs get plain data, never widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives on the GUI thread; its signals carry results back there."""

    succeeded = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, op: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._op = op
        self._relay = relay

    def run(self) -> None:  # runs on a pool thread
        try:
            result = self._op()
        except Exception as error:  # delivered to the GUI thread's presenter
            log.info("background task failed: %s", type(error).__name__)
            self._relay.failed.emit(error)
        else:
            self._relay.succeeded.emit(result)


_live: set[_Relay] = set()


def run_task(
    parent: QObject,
    op: Callable[[], Any],
    on_success: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
) -> None:
    """Run `op` off the GUI thread; call `on_success(result)` or `on_error(exc)` on it."""
    relay = _Relay(parent)
    _live.add(relay)

    def done() -> None:
        _live.discard(relay)
        relay.deleteLater()

    relay.succeeded.connect(on_success)
    relay.failed.connect(on_error)
    relay.succeeded.connect(done)
    relay.failed.connect(done)
    QThreadPool.globalInstance().start(_Job(op, relay))


def wait_for_tasks(msecs: int = 10_000) -> bool:
    """Block until background jobs end (used at exit and in tests)."""
    return bool(QThreadPool.globalInstance().waitForDone(msecs))
