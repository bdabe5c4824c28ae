"""The tensors of a safetensors checkpoint, read one at a time from memory-mapped shards.

`safetensors` opens and validates each shard (a truncated or inconsistent file
is refused there) and reads F16/F32 tensors. It cannot return bf16 tensors to
numpy (numpy has no bfloat16: "data type 'bfloat16' not understood"), so those
are read through a numpy memory map at the byte range the shard's header gives
and widened to float32 by shifting their 16 bits into the high half. One tensor
at a time: the model is never held in memory as a whole.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.core.errors import InputError

_DTYPES = {"BF16": np.dtype("<u2"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4")}
_HEADER_LIMIT = 100 * 1024 * 1024


class CheckpointError(InputError):
    """The folder is not a checkpoint the importer can read (CLI exit 2)."""

    title = "Cannot import this folder"


@dataclass(frozen=True)
class TensorRef:
    """Where one tensor's bytes are: file, name, dtype tag, shape and byte range."""

    file: Path
    name: str
    dtype: str  # "BF16", "F16" or "F32"
    shape: tuple[int, ...]
    start: int  # absolute offset in the file
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1

    def load(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows [start, stop) of the tensor as float32 (a copy; the memory map is released).

        Read in row ranges, the 262,208 x 2560 embedding never needs 2.7 GB at once.
        """
        if self.dtype not in _DTYPES:
            raise CheckpointError(f"Tensor type {self.dtype} in {self.file.name} is not supported.")
        stop = self.rows if stop is None else min(stop, self.rows)
        if self.dtype != "BF16":
            from safetensors import safe_open

            with safe_open(str(self.file), framework="numpy") as shard:
                part = (
                    shard.get_slice(self.name)[start:stop]
                    if self.shape
                    else shard.get_tensor(self.name)
                )
                return np.asarray(part, dtype=np.float32)
        row_items = int(np.prod(self.shape[1:], dtype=np.int64)) if self.shape else 1
        shape = (stop - start, *self.shape[1:]) if self.shape else (1,)
        raw = np.memmap(self.file, dtype=np.uint16, mode="r",
                        offset=self.start + 2 * start * row_items, shape=shape)  # fmt: skip
        data = (raw.astype(np.uint32) << 16).view(np.float32)
        del raw
        return data if self.shape else data.reshape(())


def read_header(file: Path) -> dict[str, TensorRef]:
    """The tensors listed in one .safetensors file, checked against the file's size."""
    _validate(file)
    try:
        size = file.stat().st_size
        with file.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if not 0 < length <= min(_HEADER_LIMIT, size - 8):
                raise CheckpointError(f"{file.name} is not a safetensors file, or it is damaged.")
            header = json.loads(handle.read(length))
    except (OSError, struct.error, ValueError) as exc:
        raise CheckpointError(f"{file.name} cannot be read as a safetensors file.") from exc
    base = 8 + length
    tensors: dict[str, TensorRef] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = (base + int(x) for x in entry["data_offsets"])
        if end > size:
            raise CheckpointError(
                f"{file.name} is truncated: it ends before the tensor {name}.",
                hint="Copy the checkpoint again; the download or copy was incomplete.",
            )
        shape = tuple(int(x) for x in entry["shape"])
        ref = TensorRef(file, name, str(entry["dtype"]), shape, start, end)
        _check_size(ref, name)
        tensors[name] = ref
    return tensors


def _validate(file: Path) -> None:
    """Let safetensors check the shard (header, offsets, length) before anything is read."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="numpy") as shard:
            shard.keys()
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(
            f"{file.name} is not a complete safetensors file.",
            hint="Copy the checkpoint again; the download or copy was incomplete or damaged.",
        ) from exc


def _check_size(ref: TensorRef, name: str) -> None:
    """A tensor whose bytes do not match its dtype (bf16 data labelled f16, say) is refused."""
    itemsize = {"BF16": 2, "F16": 2, "F32": 4}.get(ref.dtype)
    if itemsize is None:
        return  # reported when (if) the tensor is needed
    if ref.nbytes != itemsize * int(np.prod(ref.shape, dtype=np.int64)):
        raise CheckpointError(
            f"The tensor {name} in {ref.file.name} has {ref.nbytes} bytes, which does not fit "
            f"its declared type {ref.dtype} and shape {list(ref.shape)}.",
            hint="The file is damaged or was written with a wrong type label.",
        )


def index_tensors(folder: Path) -> dict[str, TensorRef]:
    """Every tensor of the checkpoint, from the shard index or the single shard."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError("model.safetensors.index.json cannot be read.") from exc
        files = sorted(set(weight_map.values()))
        missing = [name for name in files if not (folder / name).is_file()]
        if missing:
            raise CheckpointError(
                f"The shard index names {len(missing)} file(s) that are not in the folder: "
                f"{', '.join(missing[:3])}.",
                hint="Copy the whole checkpoint folder, with every model-*.safetensors file.",
            )
    else:
        files = sorted(p.name for p in folder.glob("*.safetensors"))
        if not files:
            raise CheckpointError(
                "The folder has no .safetensors files.",
                hint="Choose the folder that holds config.json and model*.safetensors.",
            )
    tensors: dict[str, TensorRef] = {}
    for name in files:
        tensors.update(read_header(folder / name))
    return tensors
