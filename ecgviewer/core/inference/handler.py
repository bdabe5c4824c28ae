"""llama-cpp-python's multimodal handler, adapted, and its native logging silenced.

Used inside the inference worker process only.
"""

from __future__ import annotations

import base64
import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ecgviewer.core.inference.chat import GEMMA3_FALLBACK_TEMPLATE


def make_handler_class() -> type:
    """The MTMDChatHandler subclass the engine uses (llama_cpp is imported only here)."""
    from llama_cpp.llama_chat_format import MTMDChatHandler

    class EcgChatHandler(MTMDChatHandler):
        """MTMDChatHandler that falls back to Gemma 3's template and never fetches a URL."""

        fallback_used = False

        def _get_chat_template(self, llama_model: Any) -> str:
            template = llama_model.metadata.get("tokenizer.chat_template")
            if isinstance(template, str) and template:
                return template
            self.fallback_used = True
            return GEMMA3_FALLBACK_TEMPLATE

        @staticmethod
        def _load_image(image_url: str) -> bytes:
            # Offline by construction: only in-memory images, never a network fetch.
            if not image_url.startswith("data:"):
                raise ValueError("only in-memory (data:) images are accepted")
            return base64.b64decode(image_url.split(",", 1)[1])

    return EcgChatHandler


_SILENT_LOG: Any = None


def silence_native_logs() -> None:
    """Drop llama.cpp / mtmd log lines: mtmd echoes prompt text, which may hold patient data."""
    global _SILENT_LOG  # noqa: PLW0603 - the ctypes callback must outlive every call
    import llama_cpp
    import llama_cpp.mtmd_cpp as mtmd

    if _SILENT_LOG is None:
        _SILENT_LOG = llama_cpp.llama_log_callback(lambda level, text, data: None)
    llama_cpp.llama_log_set(_SILENT_LOG, ctypes.c_void_p(0))
    mtmd.mtmd_log_set(_SILENT_LOG, ctypes.c_void_p(0))
    mtmd.mtmd_helper_log_set(_SILENT_LOG, ctypes.c_void_p(0))


@contextmanager
def load_log() -> Iterator[list[str]]:
    """Collect llama.cpp's "... buffer size" lines while a model loads, then silence it again.

    Only those lines are kept: they name the buffer types that hold the weights
    (mapped, repacked, AMX). While loading, llama.cpp prints no prompt text.
    """
    import llama_cpp

    lines: list[str] = []

    def keep(level: int, text: bytes, data: Any) -> None:
        if b"buffer size" in text:
            lines.append(text.decode("utf-8", errors="replace"))

    callback = llama_cpp.llama_log_callback(keep)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        silence_native_logs()


@contextmanager
def weight_repacking(enabled: bool) -> Iterator[None]:
    """Load models inside this block with llama.cpp's CPU weight repacking on or off.

    `Llama()` has no argument for it: it takes `llama_model_default_params()` and
    sets only some fields, so the default is wrapped while the block runs. Only
    the worker's main thread loads models, so nothing else sees the wrapper.
    """
    import llama_cpp.llama_cpp as native

    original = native.llama_model_default_params

    def params() -> Any:
        result = original()
        result.use_extra_bufts = enabled
        return result

    native.llama_model_default_params = params
    try:
        yield
    finally:
        native.llama_model_default_params = original


def read_kv_state(ctx: Any) -> bytes:
    """Sequence 0's KV state, copied once (slicing a ctypes array would first build a
    list of ints: hundreds of MB and a second of work for MedGemma's 40 MB state)."""
    import llama_cpp

    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
    return ctypes.string_at(buffer, written)


def write_kv_state(ctx: Any, state: bytes) -> bool:
    """Put a state from `read_kv_state` back into sequence 0; False if llama.cpp refuses."""
    import llama_cpp

    data = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
    return bool(llama_cpp.llama_state_seq_set_data(ctx, data, len(state), 0))
