"""SCP-ECG sample decoding: Huffman tables (EN 1064 section 2) and difference coding (section 6).

Written from the standard. A Huffman table is a list of codes; each code has a
prefix (the bits that identify it), an entire length (prefix plus any bits that
follow it), a mode (1: the code stands for a value; 0: switch to table number
`value`) and a base value. When the entire length exceeds the prefix, the bits
after the prefix hold the value itself as a two's-complement number (the
"escape" codes of the default table). Section 2 stores each base code with its
first transmitted bit in the least significant place, hence the bit reversal in
`parse_tables`. Value 19999 in place of the table count means "the default table
of the standard" (`default_table`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ecgviewer.core.digital.record import DigitalEcgError

DEFAULT_TABLE_MARK = 19999
MAX_PREFIX_BITS = 16  # longest prefix the lookup tables are built for (65,536 keys)


@dataclass(frozen=True)
class HuffmanCode:
    """One row of a Huffman table; `bits` is the prefix, first transmitted bit first."""

    bits: str
    total_bits: int
    value: int
    switch: bool = False  # table mode 0: switch to table number `value` (1-based)


HuffmanTable = tuple[HuffmanCode, ...]


def default_table() -> HuffmanTable:
    """The standard's default table: 0 -> "0", +-n (n <= 8) -> n ones, a zero, a sign bit;
    larger values -> nine ones, then 0 + 8 bits or 1 + 16 bits of two's complement."""
    codes = [HuffmanCode("0", 1, 0)]
    for size in range(1, 9):
        ones = "1" * size + "0"
        codes += [HuffmanCode(ones + "0", size + 2, size), HuffmanCode(ones + "1", size + 2, -size)]
    codes += [HuffmanCode("1" * 9 + "0", 18, 0), HuffmanCode("1" * 10, 26, 0)]
    return tuple(codes)


def parse_tables(data: bytes) -> tuple[HuffmanTable, ...]:
    """The tables in section 2's data; the default table when it holds the 19999 mark."""
    count = _unpack("<H", data, 0, "the number of Huffman tables")[0]
    if count == DEFAULT_TABLE_MARK:
        return (default_table(),)
    if count == 0:
        raise DigitalEcgError("Section 2 of this SCP-ECG file declares no Huffman table.")
    tables, offset = [], 2
    for _ in range(count):
        rows = _unpack("<H", data, offset, "a Huffman table's length")[0]
        offset += 2
        table = []
        for _ in range(rows):
            prefix, total, mode, value, code = _unpack("<BBBhI", data, offset, "a Huffman code")
            offset += 9
            reversed_bits = format(code, "032b")[::-1][:prefix]  # first bit sent is bit 0
            table.append(HuffmanCode(reversed_bits, total, value, switch=mode == 0))
        tables.append(_checked(tuple(table)))
    return tuple(tables)


def _unpack(fmt: str, data: bytes, offset: int, what: str) -> tuple[int, ...]:
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error as exc:
        raise DigitalEcgError(f"Section 2 of this SCP-ECG file ends inside {what}.") from exc


def _checked(table: HuffmanTable) -> HuffmanTable:
    for code in table:
        if not 0 < len(code.bits) <= MAX_PREFIX_BITS or code.total_bits < len(code.bits):
            raise DigitalEcgError(
                f"A Huffman code in section 2 has a {len(code.bits)}-bit prefix and "
                f"{code.total_bits} bits in all; ECG Viewer reads prefixes of 1 to "
                f"{MAX_PREFIX_BITS} bits."
            )
    return table


def _lookup(table: HuffmanTable) -> tuple[dict[str, HuffmanCode], int]:
    """Every `width`-bit string mapped to the code it starts with (a prefix-free table)."""
    width = max(len(code.bits) for code in table)
    lookup: dict[str, HuffmanCode] = {}
    for code in table:
        pad = width - len(code.bits)
        for tail in range(1 << pad):
            key = code.bits + (format(tail, f"0{pad}b") if pad else "")
            if key in lookup:
                raise DigitalEcgError(
                    "A Huffman table in section 2 of this SCP-ECG file is ambiguous "
                    f"(code {code.bits} overlaps code {lookup[key].bits})."
                )
            lookup[key] = code
    return lookup, width


class HuffmanDecoder:
    """Decodes one lead's bytes with the file's tables; every lead starts in table 1."""

    def __init__(self, tables: tuple[HuffmanTable, ...]) -> None:
        self._lookups = [_lookup(table) for table in tables]

    def decode(self, data: bytes, count: int, lead: str) -> np.ndarray:
        """The first `count` values coded in `data` (still difference-coded), as int64."""
        size = len(data) * 8
        bits = "".join(format(byte, "08b") for byte in data) + "0" * MAX_PREFIX_BITS
        lookup, width = self._lookups[0]
        values: list[int] = []
        position = 0
        while len(values) < count:
            code = lookup.get(bits[position : position + width])
            if code is None or position + code.total_bits > size:
                raise _bad_lead(lead, len(values), count, position >= size or code is not None)
            if code.switch:
                lookup, width = self._table(code.value, lead)
            else:
                values.append(code.value + _extra(bits, position + len(code.bits), code))
            position += code.total_bits
        return np.asarray(values, dtype=np.int64)

    def _table(self, number: int, lead: str) -> tuple[dict[str, HuffmanCode], int]:
        if not 1 <= number <= len(self._lookups):
            raise DigitalEcgError(
                f"Lead {lead} of this SCP-ECG file switches to Huffman table {number}, "
                f"but section 2 holds {len(self._lookups)}."
            )
        return self._lookups[number - 1]


def _extra(bits: str, start: int, code: HuffmanCode) -> int:
    """The two's-complement number in the bits after an escape code's prefix (0 if none)."""
    size = code.total_bits - len(code.bits)
    if size == 0:
        return 0
    raw = int(bits[start : start + size], 2)
    return raw - (1 << size) if raw >> (size - 1) else raw


def _bad_lead(lead: str, done: int, count: int, truncated: bool) -> DigitalEcgError:
    if truncated:
        return DigitalEcgError(
            f"Lead {lead} of this SCP-ECG file ends after {done} of its {count} samples: "
            "the rhythm data (section 6) is truncated or damaged."
        )
    return DigitalEcgError(
        f"Lead {lead} of this SCP-ECG file holds a bit pattern no Huffman code matches "
        f"(after {done} of {count} samples): the rhythm data (section 6) is damaged."
    )


def raw_values(data: bytes, count: int, lead: str) -> np.ndarray:
    """Values stored without Huffman coding (no section 2): little-endian int16."""
    if len(data) < 2 * count:
        raise _bad_lead(lead, len(data) // 2, count, truncated=True)
    return np.frombuffer(data, dtype="<i2", count=count).astype(np.int64)


def undifference(values: np.ndarray, order: int) -> np.ndarray:
    """Samples from first (order 1) or second (order 2) differences; order 0 is the identity.
    First: x[n] = d[n] + x[n-1]. Second: x[n] = d[n] + 2 x[n-1] - x[n-2]; the first one
    (or two) values are samples themselves."""
    if order == 0 or values.size <= order:
        return values
    if order == 1:
        return np.cumsum(values)
    steps = values[1:].copy()
    steps[0] = values[1] - values[0]  # x1 - x0; after that each step grows by d[n]
    return np.concatenate(([values[0]], values[0] + np.cumsum(np.cumsum(steps))))
