"""Storage errors the GUI may want to tell apart from other storage problems."""

from __future__ import annotations

from ecgviewer.core.errors import StorageError


class NewerHistoryError(StorageError):
    """The case history was written by a newer ECG Viewer; it is left untouched."""

    title = "Case history from a newer version"


class CaseNotFoundError(StorageError):
    """The case is not in the history (deleted, possibly by another window)."""

    title = "Case not found"
