"""Typed errors with messages a clinician can act on.

Every error raised on purpose by the core is an `EcgViewerError`. Its message
says what is wrong and what to do; the technical cause is kept in `__cause__`
(and in the log), never shown as a traceback. The GUI has one presenter for
these, the CLI maps them to exit codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecgviewer.core.inference.crash import CrashReport


class EcgViewerError(Exception):
    """Base class: `str(error)` is the user-facing message."""

    exit_code = 1
    title = "Error"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class InputError(EcgViewerError):
    """A file or argument given by the user cannot be used (CLI exit 2)."""

    exit_code = 2
    title = "Cannot open file"


class ImageError(InputError):
    """The image or PDF cannot be decoded or is unsafe to decode."""


class ModelError(EcgViewerError):
    """The model files are missing, mismatched, too big or failed to load (CLI exit 3)."""

    exit_code = 3
    title = "Model problem"


class EngineCrashError(ModelError):
    """The inference worker process died; the model must be reloaded.

    `crash` is the `inference.crash.CrashReport` (phase and exit code) when the
    process was seen to die, None when it was simply not running.
    """

    def __init__(self, message: str, *, hint: str = "", crash: CrashReport | None = None) -> None:
        super().__init__(message, hint=hint)
        self.crash = crash


class StorageError(EcgViewerError):
    """The case database or an output file could not be read or written."""

    title = "Storage problem"


class ReportError(StorageError):
    """A PDF report could not be written."""

    title = "Cannot export report"


class Cancelled(Exception):  # noqa: N818 - a state, not a failure
    """A request was stopped by the user. Not an error: never presented as one."""
