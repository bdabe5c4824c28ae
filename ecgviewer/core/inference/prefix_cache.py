"""Prepared image states, kept so an image is encoded once.

A "prefix" is llama.cpp's KV state after the image and the prompt up to the
question, with the text around it. The last two live in memory; more are kept
on disk in the per-user cache folder (never in the case database), bounded in
size, least recently used evicted first. Keys come from the model files'
hashes, the exact model-input pixels, the chat template and the attention mode,
so a prefix is only reused by the computation that would have produced it.

Used inside the inference worker process only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ecgviewer.core.atomic import write_atomically
from ecgviewer.core.errors import StorageError

log = logging.getLogger(__name__)

# The current image and the one before (about 40 MB each for MedGemma-4B); older ones
# come back from disk in well under a second.
MEMORY_ITEMS = 2
_ABANDONED_AFTER_S = 600  # older temporary files belong to no write still running
_MAGIC = b"ECGVPFX2\n"  # 2: sliding-window KV kept small (swa_full off), batch 256


@dataclass(frozen=True)
class Prefix:
    """One prepared image: KV state bytes and the prompt text around the question."""

    state: bytes
    tokens: int
    text: str  # prompt text before the question (holds the media marker)
    after: str  # template text after the question
    image_tokens: int = 0


def prefix_key(*parts: str) -> str:
    """A file-name-safe key from the things that determine a prefix."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class PrefixCache:
    """LRU in memory, bounded LRU on disk (disk optional: folder None or limit 0)."""

    def __init__(self, folder: Path | None, limit_bytes: int) -> None:
        self._memory: OrderedDict[str, Prefix] = OrderedDict()
        self._folder = folder if folder and limit_bytes > 0 else None
        self._limit = limit_bytes

    def get(self, key: str) -> Prefix | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        prefix = self._read(key)
        if prefix is not None:
            self._remember(key, prefix)
        return prefix

    def put(self, key: str, prefix: Prefix) -> None:
        self._remember(key, prefix)
        self._write(key, prefix)

    def _remember(self, key: str, prefix: Prefix) -> None:
        self._memory[key] = prefix
        self._memory.move_to_end(key)
        while len(self._memory) > MEMORY_ITEMS:
            self._memory.popitem(last=False)

    # -- disk -------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        assert self._folder is not None
        return self._folder / f"{key}.prefix"

    def _read(self, key: str) -> Prefix | None:
        if self._folder is None:
            return None
        path = self._path(key)
        try:
            with path.open("rb") as handle:
                if handle.read(len(_MAGIC)) != _MAGIC:
                    return None
                meta = json.loads(handle.readline())
                state = handle.read()
            os.utime(path)  # most recently used
        except (OSError, ValueError):
            return None
        if len(state) != meta.get("size"):
            return None  # a truncated file from a crash: ignore it
        return Prefix(state, int(meta["tokens"]), str(meta["text"]), str(meta["after"]),
                      int(meta.get("image_tokens", 0)))  # fmt: skip

    def _write(self, key: str, prefix: Prefix) -> None:
        if self._folder is None or len(prefix.state) > self._limit:
            return
        meta = {"size": len(prefix.state), "tokens": prefix.tokens, "text": prefix.text,
                "after": prefix.after, "image_tokens": prefix.image_tokens}  # fmt: skip
        data = _MAGIC + json.dumps(meta).encode("utf-8") + b"\n" + prefix.state
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            # not durable: a file lost in a power cut only costs a re-encode
            write_atomically(data, self._path(key), what="the prefix cache", durable=False)
            self._evict()
        except (OSError, StorageError) as exc:  # a full disk only costs a re-encode later
            log.warning("prefix not cached: %s", type(exc.__cause__ or exc).__name__)

    def _evict(self) -> None:
        assert self._folder is not None
        _remove_abandoned(self._folder)
        files = sorted(self._folder.glob("*.prefix"), key=lambda f: f.stat().st_mtime)
        total = sum(f.stat().st_size for f in files)
        while files and total > self._limit:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)


def _remove_abandoned(folder: Path) -> None:
    """Temporary files of writes cut short (the worker is killed when a read is abandoned)."""
    for leftover in folder.glob(".*.prefix.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > _ABANDONED_AFTER_S:
                leftover.unlink()
