"""Quantize a text GGUF with llama.cpp's own `llama_model_quantize`, in a child process.

The child can be killed at any moment (Cancel) and a crash inside llama.cpp
ends only the child; the caller removes the partial file either way.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

from ecgviewer.core.errors import Cancelled, ModelError

# llama_ftype values (llama.h) for the quantizations offered
FTYPES = {"F16": 1, "Q8_0": 7, "Q4_K_M": 15, "Q5_K_M": 17}
# bits per weight, for the size shown before importing (llama.cpp's own figures)
BITS_PER_WEIGHT = {"F16": 16.0, "Q8_0": 8.5, "Q5_K_M": 5.7, "Q4_K_M": 4.9}


def _quantize_in_child(source: str, target: str, ftype: int, threads: int) -> None:
    import ctypes

    import llama_cpp

    from ecgviewer.core.inference.handler import silence_native_logs

    silence_native_logs()  # llama.cpp lists every tensor on stderr
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    result = llama_cpp.llama_model_quantize(
        source.encode("utf-8"), target.encode("utf-8"), ctypes.byref(params)
    )
    raise SystemExit(0 if result == 0 else 3)


def quantize(
    source: Path, target: Path, quant: str, threads: int, cancelled: Callable[[], bool]
) -> None:
    """Write `target` as `quant` of `source`; raises Cancelled or ModelError."""
    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=_quantize_in_child, args=(str(source), str(target), FTYPES[quant], threads),
        name="ecgviewer-quantize", daemon=True,
    )  # fmt: skip
    child.start()
    while child.is_alive():
        if cancelled():
            child.kill()
            child.join()
            raise Cancelled()
        time.sleep(0.1)
    child.join()
    if child.exitcode != 0:
        raise ModelError(
            f"llama.cpp could not quantize the model to {quant} (exit code {child.exitcode}).",
            hint="Check the free disk space, or choose F16 or Q8_0.",
        )
