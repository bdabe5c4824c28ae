"""SHA-256 of model files, computed once and cached, and the manifest of known pairs.

Hashing a 2.5 GB file takes several seconds, so the digest is cached by
(path, size, mtime) in the per-user cache folder; a changed file is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgviewer.core.json_cache import read_json_object, write_json_quietly
from ecgviewer.core.paths import project_models_dir

log = logging.getLogger(__name__)

Progress = Callable[[float], None]
_CHUNK = 8 * 1024 * 1024


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    """Hash `path`, reporting progress in [0, 1] after every 8 MB."""
    size = max(path.stat().st_size, 1)
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(min(done / size, 1.0))
    return digest.hexdigest()


class HashCache:
    """Digests keyed by (absolute path, size, mtime), stored as JSON."""

    def __init__(self, file: Path) -> None:
        self.file = file
        # check_model_pair may run on pool threads (the model dialog starts a new check while
        # an earlier one still hashes); the runtime's own cache is used on the model thread only
        self._lock = threading.Lock()
        self._entries: dict[str, Any] = read_json_object(file)

    def sha256(self, path: Path, progress: Progress | None = None) -> str:
        """Return the cached digest, hashing the file only if it changed."""
        resolved = path.resolve()
        stat = resolved.stat()
        key = str(resolved)
        with self._lock:
            entry = self._entries.get(key)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime") == stat.st_mtime_ns:
            if progress is not None:
                progress(1.0)
            return str(entry["sha256"])
        digest = sha256_file(resolved, progress)
        with self._lock:
            self._entries[key] = {"size": stat.st_size, "mtime": stat.st_mtime_ns, "sha256": digest}
            write_json_quietly(self.file, self._entries, what="hash cache")
        return digest


@dataclass(frozen=True)
class KnownPair:
    """An entry of models/manifest.json."""

    name: str
    text_file: str
    text_sha256: str
    mmproj_file: str
    mmproj_sha256: str
    quantization: str
    source: str
    ecg_model: bool


def load_manifest(path: Path | None = None) -> list[KnownPair]:
    """Read the known-good pairs; a missing or damaged manifest is an empty list."""
    file = path or project_models_dir() / "manifest.json"
    if not file.exists():
        return []  # nothing imported yet, or an install without a manifest
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        pairs = data.get("pairs", [])
        return [
            KnownPair(
                name=str(item["name"]),
                text_file=str(item["text_file"]),
                text_sha256=str(item["text_sha256"]).lower(),
                mmproj_file=str(item.get("mmproj_file", "")),
                mmproj_sha256=str(item.get("mmproj_sha256", "")).lower(),
                quantization=str(item.get("quantization", "")),
                source=str(item.get("source", "")),
                ecg_model=bool(item.get("ecg_model", False)),
            )
            for item in pairs
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("model manifest unreadable: %s", type(exc).__name__)
        return []


def find_known_pair(
    text_sha256: str, mmproj_sha256: str, manifest: list[KnownPair]
) -> KnownPair | None:
    """The manifest entry whose two digests both match, if any."""
    for pair in manifest:
        if pair.text_sha256 == text_sha256.lower() and pair.mmproj_sha256 == mmproj_sha256.lower():
            return pair
    return None
