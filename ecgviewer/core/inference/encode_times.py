"""How long reading an image took, remembered between sessions for the countdown.

The status line says "Reading image... about n s left". The estimate is the
last measured time this model pair took to read an image on this machine with
the same threads, attention, GPU and repacking settings. Before the first measurement
there is no estimate and the status line counts up instead; nothing is spent
on a warm-up read just to time it (for MedGemma-4B on two cores that would be
a whole minute before the first real image could start).

Only model hashes, settings and milliseconds are stored: nothing about patients.
"""

from __future__ import annotations

from pathlib import Path

from ecgviewer.core.case import DecodingSettings, Provenance
from ecgviewer.core.json_cache import read_json_object, write_json_quietly

MAX_ENTRIES = 32


def read_time_ms(times: object) -> float:
    """Image encode + prompt prefill of a Prepared event's times; 0.0 for a cache hit."""
    if not isinstance(times, dict):
        return 0.0
    encode, prefill = times.get("image_encode_ms"), times.get("prompt_prefill_ms")
    if not isinstance(encode, float) or encode <= 0:
        return 0.0
    return encode + (prefill if isinstance(prefill, float) else 0.0)


def timing_key(provenance: Provenance, decoding: DecodingSettings) -> str:
    """What decides how long a read takes: the pair, threads, GPU, attention and repacking."""
    return (f"{provenance.model.sha256[:16]}-{provenance.mmproj.sha256[:16]}"
            f"-t{decoding.n_threads}-gpu{decoding.n_gpu_layers}-fa{int(decoding.flash_attn)}"
            f"-rp{int(decoding.repack_weights)}")  # fmt: skip


class EncodeTimes:
    """A small JSON file {timing key: ms}; a damaged file or a full disk costs only the hint."""

    def __init__(self, file: Path) -> None:
        self._file = file

    def get(self, key: str) -> float:
        """Milliseconds the last read took, or 0.0 when never measured."""
        value = read_json_object(self._file).get(key, 0.0)
        return float(value) if isinstance(value, int | float) and value > 0 else 0.0

    def record(self, key: str, ms: float) -> None:
        """Remember `ms` for `key`, keeping the newest MAX_ENTRIES."""
        entries = read_json_object(self._file)
        entries.pop(key, None)
        entries[key] = round(ms, 1)  # the newest last; the oldest are dropped
        kept = dict(list(entries.items())[-MAX_ENTRIES:])
        write_json_quietly(self._file, kept, what="image reading time")
