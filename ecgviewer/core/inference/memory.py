"""Will the model fit? An estimate made before loading, against the RAM that is free.

Loading a model that does not fit makes the machine swap until it is unusable;
refusing with a clear message is kinder.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass

from ecgviewer.core.errors import ModelError
from ecgviewer.core.inference.preflight import PairFacts, TextModelFacts
from ecgviewer.core.inference.spec import batch_tokens
from ecgviewer.core.settings import ModelSettings

# Compute buffers (the vision encoder's dominate while it reads an image) and the worker
# process itself: measured 408 MB with benchmarks/bench_memory.py (docs/performance.md).
COMPUTE_OVERHEAD_BYTES = 512 * 1024 * 1024
KV_BYTES_PER_VALUE = 2  # f16 K and V cache
GEMMA3_LAYERS_PER_GLOBAL = 6  # Gemma 3: five sliding-window layers, then one global layer


@dataclass(frozen=True)
class MemoryEstimate:
    """Expected resident memory of the worker, in bytes."""

    weights: int
    projector: int
    kv_cache: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.projector + self.kv_cache + self.overhead


def estimate(pair: PairFacts, settings: ModelSettings) -> MemoryEstimate:
    """Peak resident memory of the worker: weights, projector, KV cache, compute buffers.

    Mapped weights count once; with weight repacking on top of mmap llama.cpp
    keeps a repacked copy beside the mapped file, so they count twice.
    """
    text = pair.text
    copies = 2 if settings.use_mmap and settings.repack_weights else 1
    return MemoryEstimate(
        weights=text.size_bytes * copies,
        projector=pair.mmproj.size_bytes,
        kv_cache=kv_cells(text, settings.n_ctx, batch_tokens(pair.mmproj.image_tokens))
        * kv_bytes_per_cell(text),
        overhead=COMPUTE_OVERHEAD_BYTES,
    )


def kv_bytes_per_cell(text: TextModelFacts) -> int:
    """Bytes of K and V for one token in one layer."""
    return text.head_count_kv * (text.key_length + text.value_length) * KV_BYTES_PER_VALUE


def kv_cells(text: TextModelFacts, n_ctx: int, n_batch: int) -> int:
    """Token cells summed over layers; Gemma 3's sliding-window layers keep only their window."""
    if text.architecture != "gemma3" or text.sliding_window <= 0:
        return text.block_count * n_ctx
    global_layers = text.block_count // GEMMA3_LAYERS_PER_GLOBAL
    window = min(n_ctx, text.sliding_window + n_batch)
    return global_layers * n_ctx + (text.block_count - global_layers) * window


def available_memory() -> int | None:
    """Bytes of RAM available to a new process now, or None if the OS will not say."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/meminfo", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            return None
    if sys.platform == "win32":
        return _windows_available()
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _windows_available() -> int | None:  # pragma: no cover - Windows only
    class Status(ctypes.Structure):
        _fields_ = [
            ("length", ctypes.c_ulong), ("load", ctypes.c_ulong),
            ("total_phys", ctypes.c_ulonglong), ("avail_phys", ctypes.c_ulonglong),
            ("total_page", ctypes.c_ulonglong), ("avail_page", ctypes.c_ulonglong),
            ("total_virtual", ctypes.c_ulonglong), ("avail_virtual", ctypes.c_ulonglong),
            ("avail_ext", ctypes.c_ulonglong),
        ]  # fmt: skip

    status = Status()
    status.length = ctypes.sizeof(Status)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return int(status.avail_phys)


def gib(n_bytes: int) -> str:
    """A size for people: "2.4 GB" or "850 MB"."""
    if n_bytes >= 1024**3:
        return f"{n_bytes / 1024**3:.1f} GB"
    if n_bytes < 1024**2:  # test models and small files
        return f"{max(1, round(n_bytes / 1024))} KB"
    return f"{n_bytes / 1024**2:.0f} MB"


def check_fits(expected: MemoryEstimate, available: int | None) -> None:
    """Raise ModelError when the model would not fit in the RAM available now."""
    if available is None:
        return
    if expected.total > available:
        raise ModelError(
            f"This model needs about {gib(expected.total)} of memory, but only "
            f"{gib(available)} is free.",
            hint="Close other programs, choose a smaller context length or a smaller "
            "quantization (for example Q4_K_M), then load again.",
        )
