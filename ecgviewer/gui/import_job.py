"""One model import in the background, reported on the GUI thread.

`ImportJob` hands the core's `import_checkpoint` (the same steps as
`ecgviewer models import`) to `run_task`; its stage progress is relayed to the
GUI thread by a queued signal. Cancel is a flag the core polls between tensors
and while its llama.cpp children run (they are killed at once).
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal

from ecgviewer.core.modelimport.importer import ImportRequest, import_checkpoint
from ecgviewer.gui.tasks import run_task


def eta_text(stage_elapsed_s: float, fraction: float) -> str:
    """ "about 3 min left" for the running stage, from its own pace; "" until it can tell."""
    if fraction <= 0.02 or stage_elapsed_s < 2:
        return ""
    left = stage_elapsed_s * (1 - fraction) / fraction
    if left < 60:
        return f"about {max(1, round(left))} s left"
    return f"about {round(left / 60)} min left"


class ImportJob(QObject):
    """Runs one import off the GUI thread; see the module docstring."""

    progressed = Signal(str, float)  # stage, fraction of that stage
    finished = Signal(object)  # ImportResult
    failed = Signal(object)  # BaseException (Cancelled when the user stopped it)

    def __init__(self, request: ImportRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._request = request
        self._stop = threading.Event()
        self.started_at = 0.0

    def start(self) -> None:
        """GUI thread: start the import."""
        self.started_at = time.monotonic()
        run_task(self, self._work, self.finished.emit, self.failed.emit)

    def cancel(self) -> None:
        """Any thread: stop as soon as the core looks (between tensors, or by killing a child)."""
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def _work(self) -> object:  # a pool thread
        return import_checkpoint(self._request, self.progressed.emit, self._stop.is_set)
