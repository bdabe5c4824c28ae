"""The one presenter of errors, and the last-resort exception hook.

Core errors carry a message a clinician can act on; they are shown as such.
Anything else is a bug: it is logged with its traceback and shown in a dialog
with a "Copy details" button, never as a raw traceback in the user's face.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ecgviewer.core.errors import Cancelled, EcgViewerError

log = logging.getLogger(__name__)


def present_error(parent: QWidget | None, error: BaseException, *, title: str = "") -> None:
    """Show `error` to the user (GUI thread only). Cancellations are not errors."""
    if isinstance(error, Cancelled):
        return
    if isinstance(error, EcgViewerError):
        box = QMessageBox(
            QMessageBox.Icon.Warning, title or error.title, error.message, parent=parent
        )
        if error.hint:
            box.setInformativeText(error.hint)
        box.setObjectName("errorDialog")
        box.open()
        return
    _present_bug(parent, type(error), error, error.__traceback__)


def _present_bug(
    parent: QWidget | None,
    kind: type[BaseException],
    error: BaseException,
    tb: TracebackType | None,
) -> None:
    details = "".join(traceback.format_exception(kind, error, tb))
    log.error("unexpected error: %s", kind.__name__, exc_info=(kind, error, tb))
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "Unexpected problem",
        "ECG Viewer hit an unexpected problem. Your open cases are kept; you can go on working.",
        parent=parent,
    )
    box.setInformativeText("If it happens again, copy the details and send them to the developers.")
    box.setDetailedText(details)
    copy = box.addButton("Copy details", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Close)
    copy.clicked.connect(lambda: QApplication.clipboard().setText(details))
    box.setObjectName("bugDialog")
    box.open()


def install_excepthook() -> None:
    """Route uncaught exceptions on the GUI thread to the bug dialog."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        app = QApplication.instance()
        if app is None or QThread.currentThread() is not app.thread():
            # a pool thread, or the app is shutting down: no widget may be made here
            log.error("unexpected error off the GUI thread: %s", kind.__name__,
                      exc_info=(kind, error, tb))  # fmt: skip
            return
        _present_bug(QApplication.activeWindow(), kind, error, tb)

    sys.excepthook = hook
