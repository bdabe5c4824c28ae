"""What the viewer tells the inference worker about loading a pair: plain data.

Kept apart from engine.py so the viewer side (runtime, memory estimate,
client) can use it without touching the module that drives llama.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass

BATCH_TOKENS = 256  # measured: less memory than 512, same speed (docs/performance.md)


def batch_tokens(image_tokens: int) -> int:
    """Tokens per batch: an image's tokens attend to each other, so they share one batch."""
    return max(BATCH_TOKENS, image_tokens)


@dataclass(frozen=True)
class LoadSpec:
    """Everything needed to load a pair; plain data, sent to the worker process."""

    text_path: str
    mmproj_path: str
    n_ctx: int = 4096
    n_threads: int = 2
    n_gpu_layers: int = 0
    flash_attn: bool = True
    use_mmap: bool = True  # map the file instead of reading it into private memory
    repack: bool = False  # llama.cpp's CPU weight repacking (see docs/runtime.md)
    n_batch: int = BATCH_TOKENS
    seed: int = 42
    cache_dir: str = ""  # prepared image states on disk ("" = memory only)
    cache_limit_bytes: int = 0
