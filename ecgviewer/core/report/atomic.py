"""The report's use of the core's atomic write (`ecgviewer.core.atomic`).

Kept for `core/evaluation/report.py`, which still imports `write_atomic`
from here; new code calls `ecgviewer.core.atomic.write_atomically`.
"""

from __future__ import annotations

from pathlib import Path

from ecgviewer.core.atomic import write_atomically
from ecgviewer.core.errors import ReportError


def write_atomic(data: bytes, target: Path) -> Path:
    """Write a report atomically; `ReportError` with a plain reason when it cannot be."""
    return write_atomically(data, target, what="the report", kind=ReportError)
