"""llama.cpp's importance-matrix files, read and written, so users can bring or reuse one.

Two formats, as llama.cpp's `llama-imatrix` writes them:

* GGUF (current): `general.type` = "imatrix", `imatrix.datasets`,
  `imatrix.chunk_count`, `imatrix.chunk_size`, and per weight two F32 tensors:
  `NAME.in_sum2` (the sum of squared activations per input column) and
  `NAME.counts` (how many activation rows were summed).
* legacy `.dat`: int32 entry count; per entry int32 name length, name, int32
  call count, int32 value count, float values (mean squared activation times
  the call count); then int32 chunk count and the dataset name.

`means()` is what `llama_model_quantize` takes: sum / count per column.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgviewer.core.modelimport.shards import CheckpointError


@dataclass
class Imatrix:
    """Squared-activation sums per weight, as collected or read."""

    sums: dict[str, np.ndarray] = field(default_factory=dict)  # float64 per input column
    counts: dict[str, int] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)
    chunks: int = 0
    chunk_size: int = 512

    def add(self, name: str, squares: np.ndarray, rows: int) -> None:
        if name in self.sums:
            self.sums[name] += squares
        else:
            self.sums[name] = squares.astype(np.float64)
        self.counts[name] = self.counts.get(name, 0) + rows

    def means(self) -> dict[str, np.ndarray]:
        return {name: (self.sums[name] / max(1, self.counts[name])).astype(np.float32)
                for name in sorted(self.sums)}  # fmt: skip


def write_imatrix(path: Path, imatrix: Imatrix) -> None:
    """Write the GGUF imatrix format llama.cpp's tools read."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "imatrix")
    writer.add_type("imatrix")
    writer.add_array("imatrix.datasets", imatrix.datasets or ["ECG Viewer calibration"])
    writer.add_uint32("imatrix.chunk_count", imatrix.chunks)
    writer.add_uint32("imatrix.chunk_size", imatrix.chunk_size)
    for name in sorted(imatrix.sums):
        writer.add_tensor(f"{name}.in_sum2", imatrix.sums[name].astype(np.float32)[None, :])
        writer.add_tensor(f"{name}.counts", np.array([[float(imatrix.counts[name])]], np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def read_imatrix(path: Path) -> Imatrix:
    """Read either format; a clear error for anything else."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise CheckpointError(f"The importance matrix {path.name} cannot be read.") from exc
    if magic != b"GGUF":
        return _read_legacy(path)
    try:
        return _read_gguf(path)
    except (ValueError, KeyError, IndexError, OSError) as exc:
        raise CheckpointError(f"The importance matrix {path.name} is damaged.") from exc


def _read_gguf(path: Path) -> Imatrix:
    import gguf

    reader = gguf.GGUFReader(str(path))
    kind = reader.get_field("general.type")
    if kind is None or kind.contents() != "imatrix":
        raise CheckpointError(f"{path.name} is a GGUF file but not an importance matrix.")
    tensors = {t.name: np.array(t.data, dtype=np.float64) for t in reader.tensors}
    result = Imatrix()
    for name, values in tensors.items():
        if name.endswith(".in_sum2"):
            weight = name.removesuffix(".in_sum2")
            result.sums[weight] = values.reshape(-1)
            result.counts[weight] = int(tensors[f"{weight}.counts"].reshape(-1)[0])
    datasets = reader.get_field("imatrix.datasets")
    result.datasets = list(datasets.contents()) if datasets is not None else []
    chunks = reader.get_field("imatrix.chunk_count")
    result.chunks = int(chunks.contents()) if chunks is not None else 0
    return result


def _read_legacy(path: Path) -> Imatrix:
    data = path.read_bytes()
    result, offset = Imatrix(), 0

    def take(fmt: str) -> tuple[int, ...]:
        nonlocal offset
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values

    try:
        (entries,) = take("<i")
        for _ in range(entries):
            (length,) = take("<i")
            name = data[offset : offset + length].decode("utf-8")
            offset += length
            calls, count = take("<ii")
            values = np.frombuffer(data, np.float32, count, offset).astype(np.float64)
            offset += 4 * count
            result.sums[name] = values / max(1, calls)  # back to a mean, counted once
            result.counts[name] = 1
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path.name} is not an importance matrix llama.cpp wrote.") from exc
    return result
