"""Quantize a text GGUF with llama.cpp's own `llama_model_quantize`, in a child process.

With an importance matrix (imatrix_file.Imatrix) its per-column means are
handed to llama.cpp through `llama_model_quantize_params.imatrix`, and the
output records it in `quantize.imatrix.*`, as llama-quantize does. llama.cpp
uses the matrix for K-quants (Q4_K_M, Q5_K_M); it ignores it for Q8_0 and F16.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecgviewer.core.modelimport.child import run_in_child
from ecgviewer.core.modelimport.imatrix_file import read_imatrix

# llama_ftype values (llama.h) for the quantizations offered
FTYPES = {"F16": 1, "Q8_0": 7, "Q4_K_M": 15, "Q5_K_M": 17}
# bits per weight, for the size shown before importing (llama.cpp's own figures)
BITS_PER_WEIGHT = {"F16": 16.0, "Q8_0": 8.5, "Q5_K_M": 5.7, "Q4_K_M": 4.9}
USES_IMATRIX = {"Q4_K_M", "Q5_K_M"}
MAX_BUFFER_BYTES = 256 * 1024 * 1024  # llama.cpp ignores an imatrix for Q8_0 and F16


def _imatrix_array(path: str) -> tuple[Any, list[Any]]:
    """A NULL-terminated llama_model_imatrix_data array, and what keeps its memory alive."""
    import llama_cpp
    import numpy as np

    means = read_imatrix(Path(path)).means()
    entries = (llama_cpp.llama_model_imatrix_data * (len(means) + 1))()
    keep: list[Any] = []
    for index, (name, values) in enumerate(means.items()):
        data = np.ascontiguousarray(values, dtype=np.float32)
        keep += [data, name.encode()]
        entries[index].name = keep[-1]
        entries[index].data = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        entries[index].size = data.size
    return entries, keep


def _overrides(source: str, entries: int) -> Any:
    """kv_overrides that record the matrix in the output, NULL-terminated (empty key)."""
    import llama_cpp

    overrides = (llama_cpp.llama_model_kv_override * 3)()
    overrides[0].key = b"quantize.imatrix.file"
    overrides[0].tag = llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR
    text: Any = overrides[0].value
    text.val_str = source.encode()[:127]
    overrides[1].key = b"quantize.imatrix.entries_count"
    overrides[1].tag = llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT
    value: Any = overrides[1].value
    value.val_i64 = entries
    return overrides


def _quantize_in_child(job: dict[str, Any], fraction: Any) -> None:
    """Child process: llama_model_quantize with the job's settings; exit 0 on success."""
    import llama_cpp

    from ecgviewer.core.inference.handler import silence_native_logs

    silence_native_logs()  # llama.cpp lists every tensor on stderr
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = job["ftype"]
    params.nthread = job["threads"]
    # rows are converted in slabs of this size: llama.cpp's default (8 GiB) let the 4B
    # embedding's float32 copy take 3.3 GB; 256 MB keeps quantizing under 1 GB
    params.max_buf_size = MAX_BUFFER_BYTES
    keep: list[Any] = []
    if job["imatrix"]:
        entries, keep = _imatrix_array(job["imatrix"])
        params.imatrix = ctypes.cast(entries, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
        overrides = _overrides(job["label"], len(entries) - 1)
        keep += [entries, overrides]
        params.kv_overrides = ctypes.cast(
            overrides, ctypes.POINTER(llama_cpp.llama_model_kv_override)
        )
    result = llama_cpp.llama_model_quantize(
        job["source"].encode("utf-8"), job["target"].encode("utf-8"), ctypes.byref(params)
    )
    fraction.value = 1.0
    raise SystemExit(0 if result == 0 else 3)


def quantize(
    source: Path, target: Path, quant: str, *, threads: int, cancelled: Callable[[], bool],
    imatrix: Path | None = None, label: str = "",
) -> None:  # fmt: skip
    """Write `target` as `quant` of `source`; raises Cancelled or ModelError."""
    job = {
        "source": str(source), "target": str(target), "ftype": FTYPES[quant], "threads": threads,
        "imatrix": str(imatrix) if imatrix is not None and quant in USES_IMATRIX else "",
        "label": label or "ECG Viewer",
    }  # fmt: skip
    run_in_child(_quantize_in_child, job, what=f"quantizing to {quant}", cancelled=cancelled)
