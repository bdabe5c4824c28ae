"""The case history: every case kept in a local SQLite database, nothing lost on a crash.

`CaseHistory` is the API; see its module docstring for which thread may call
what, and docs/history.md for where the data lives and how it is protected.
"""

from __future__ import annotations

from ecgviewer.core.storage.blobs import BlobStore
from ecgviewer.core.storage.errors import CaseNotFoundError, NewerHistoryError
from ecgviewer.core.storage.history import CaseHistory
from ecgviewer.core.storage.schema import SCHEMA_VERSION
from ecgviewer.core.storage.search import CaseSummary

__all__ = [
    "SCHEMA_VERSION",
    "BlobStore",
    "CaseHistory",
    "CaseNotFoundError",
    "CaseSummary",
    "NewerHistoryError",
]
