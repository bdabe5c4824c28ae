"""A reader for the header of a GGUF file (the public format llama.cpp uses).

Reads the metadata key/values and the tensor table without touching tensor
data, so a 3 GB file is checked in well under a second, and checks that the
file is long enough to hold every tensor it declares (a truncated download is
caught here, not as an opaque llama.cpp failure).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import gguf

# The format's constants come from the gguf package (llama.cpp's own gguf-py).
GGUF_MAGIC = struct.pack("<I", gguf.GGUF_MAGIC)  # b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = gguf.GGUF_DEFAULT_ALIGNMENT
_MAX_STRING = 1 << 26  # a sane bound: a key or value longer than 64 MB means garbage
_MAX_COUNT = 1 << 28
_KEPT_ARRAY = 1024  # longer arrays (the vocabulary, 262,144 strings) are skipped, not decoded
_CHUNK = 1 << 20

_V = gguf.GGUFValueType
_SCALARS: dict[int, str] = {
    _V.UINT8: "<B", _V.INT8: "<b", _V.UINT16: "<H", _V.INT16: "<h", _V.UINT32: "<I",
    _V.INT32: "<i", _V.FLOAT32: "<f", _V.BOOL: "<?", _V.UINT64: "<Q", _V.INT64: "<q",
    _V.FLOAT64: "<d",
}  # fmt: skip
_STRING, _ARRAY = int(_V.STRING), int(_V.ARRAY)

# ggml tensor type -> (bytes per block, elements per block)
GGML_BLOCK: dict[int, tuple[int, int]] = {
    int(kind): (type_size, block_size)
    for kind, (block_size, type_size) in gguf.GGML_QUANT_SIZES.items()
}
GGML_TYPE_NAMES: dict[int, str] = {int(kind): kind.name for kind in gguf.GGMLQuantizationType}


@dataclass(frozen=True)
class SkippedArray:
    """A long metadata array that was stepped over: nothing here needs its items.

    Decoding Gemma's 262,144 vocabulary strings in Python took over a second,
    holding the interpreter lock in a background thread while the window waited.
    """

    item_kind: int
    count: int


class GgufFormatError(ValueError):
    """The bytes are not a readable GGUF file; `reason` is one of a few fixed kinds."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # "not_gguf", "version", "truncated", "corrupt"


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def n_bytes(self) -> int | None:
        block = GGML_BLOCK.get(self.ggml_type)
        if block is None:
            return None
        count = 1
        for dim in self.shape:
            count *= dim
        return (count // block[1]) * block[0]


@dataclass
class GgufHeader:
    """Metadata and tensor table of one GGUF file."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0
    file_size: int = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))


class _Reader:
    def __init__(self, handle: BinaryIO, size: int) -> None:
        self.handle = handle
        self.size = size

    def take(self, size: int) -> bytes:
        data = self.handle.read(size)
        if len(data) != size:
            raise GgufFormatError("truncated", "the file ends inside its header")
        return data

    def scalar(self, kind: int) -> Any:
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        length = self.scalar(10)
        if length > _MAX_STRING:
            raise GgufFormatError("corrupt", f"a string of {length} bytes in the header")
        return self.take(length).decode("utf-8", errors="replace")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(kind)
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.scalar(4), self.scalar(10)
            if count > _MAX_COUNT:
                raise GgufFormatError("corrupt", f"an array of {count} items in the header")
            if count > _KEPT_ARRAY and item_kind in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[item_kind]))
                return SkippedArray(item_kind, count)
            if count > _KEPT_ARRAY and item_kind == _STRING:
                self.skip_strings(count)
                return SkippedArray(item_kind, count)
            return [self.value(item_kind) for _ in range(count)]
        raise GgufFormatError("corrupt", f"unknown metadata value type {kind}")

    def skip(self, size: int) -> None:
        if self.handle.tell() + size > self.size:
            raise GgufFormatError("truncated", "the file ends inside its header")
        self.handle.seek(size, 1)

    def skip_strings(self, count: int) -> None:
        """Step over `count` length-prefixed strings, reading the file in large chunks."""
        buffer, pos = b"", 0
        while count:
            end = pos + 8
            if end <= len(buffer):
                (length,) = struct.unpack_from("<Q", buffer, pos)
                if length > _MAX_STRING:
                    raise GgufFormatError("corrupt", f"a string of {length} bytes in the header")
                end += length
            if end > len(buffer):  # the next string is not all in the buffer: read on
                more = self.handle.read(max(_CHUNK, end - len(buffer)))
                if not more:
                    raise GgufFormatError("truncated", "the file ends inside its header")
                buffer, pos = buffer[pos:] + more, 0
                continue
            pos, count = end, count - 1
        self.handle.seek(pos - len(buffer), 1)  # give back what was read past the array


def read_header(path: Path) -> GgufHeader:
    """Parse the header of `path`; raises OSError or GgufFormatError."""
    size = path.stat().st_size
    with path.open("rb") as raw:
        reader = _Reader(raw, size)
        if size < 24 or reader.take(4) != GGUF_MAGIC:
            raise GgufFormatError("not_gguf", "the file does not start with the GGUF magic")
        version = reader.scalar(4)
        if version not in SUPPORTED_VERSIONS:
            raise GgufFormatError("version", f"GGUF version {version} is not supported")
        n_tensors, n_kv = reader.scalar(10), reader.scalar(10)
        if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
            raise GgufFormatError("corrupt", "impossible tensor or key counts")
        metadata = {reader.string(): reader.value(reader.scalar(4)) for _ in range(n_kv)}
        tensors = [_tensor(reader) for _ in range(n_tensors)]
        alignment = int(metadata.get("general.alignment", DEFAULT_ALIGNMENT)) or 1
        position = raw.tell()
    data_offset = -(-position // alignment) * alignment
    header = GgufHeader(path, version, metadata, tensors, data_offset, size)
    _check_length(header)
    return header


def _tensor(reader: _Reader) -> TensorInfo:
    name = reader.string()
    n_dims = reader.scalar(4)
    if n_dims > 8:
        raise GgufFormatError("corrupt", f"tensor {name!r} has {n_dims} dimensions")
    shape = tuple(reader.scalar(10) for _ in range(n_dims))
    return TensorInfo(name, shape, reader.scalar(4), reader.scalar(10))


def _check_length(header: GgufHeader) -> None:
    needed = header.data_offset
    for tensor in header.tensors:
        end = header.data_offset + tensor.offset + (tensor.n_bytes or 0)
        needed = max(needed, end)
    if needed > header.file_size:
        missing = needed - header.file_size
        raise GgufFormatError(
            "truncated", f"the file is {missing:,} bytes shorter than its tensors need"
        )


def dominant_tensor_type(header: GgufHeader) -> str:
    """Name of the ggml type holding the most bytes (used when general.file_type is absent)."""
    totals: dict[int, int] = {}
    for tensor in header.tensors:
        totals[tensor.ggml_type] = totals.get(tensor.ggml_type, 0) + (tensor.n_bytes or 0)
    if not totals:
        return ""
    best = max(totals, key=lambda kind: totals[kind])
    return GGML_TYPE_NAMES.get(best, f"type {best}")
