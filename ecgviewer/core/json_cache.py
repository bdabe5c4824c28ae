"""Small JSON files kept as caches (file hashes, image read times).

A missing, damaged or unwritable file costs only time: reading gives an empty
mapping and a failed write is logged, never raised. Writes are atomic
(`ecgviewer.core.atomic`), so the viewer and a CLI run writing at once never
leave half a file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ecgviewer.core.atomic import write_text_atomically
from ecgviewer.core.errors import StorageError

log = logging.getLogger(__name__)


def read_json_object(file: Path) -> dict[str, Any]:
    """The JSON object in `file`, or {} when it is missing, damaged or not an object."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json_quietly(file: Path, data: dict[str, Any], *, what: str) -> None:
    """Replace `file` with `data`; on failure log "`what` not written" and go on."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(json.dumps(data, indent=1), file, what=what)
    except (OSError, StorageError) as exc:
        cause = exc.__cause__ if isinstance(exc, StorageError) else exc
        log.warning("%s not written: %s", what, type(cause or exc).__name__)
