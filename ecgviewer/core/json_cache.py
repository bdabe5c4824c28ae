"""Small JSON files kept as caches (file hashes, image read times).

A missing, damaged or unwritable file costs only time: reading gives an empty
mapping and a failed write is logged, never raised. Writes go to a
per-process temporary file that is renamed over the target, so the viewer and
a CLI run writing at once never leave half a file.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

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
    temporary = file.with_suffix(f".{os.getpid()}.tmp")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, file)
    except OSError as exc:
        log.warning("%s not written: %s", what, type(exc).__name__)
        with suppress(OSError):
            temporary.unlink(missing_ok=True)
