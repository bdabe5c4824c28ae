"""SCP-ECG file structure (EN 1064): the record, its sections, lead definitions, rhythm data.

A record starts with a CRC-CCITT of everything after it (2 bytes) and the record
length (4 bytes). Section 0 follows at byte 6 and points to every other section
(id, length, 1-based byte index). Each section starts with a 16-byte header: CRC
of the rest of the section, id, length (header included), section version,
protocol version and six reserved bytes (section 0 puts "SCPECG" there). All
numbers are little-endian. Section 3 defines the leads, section 6 holds the
rhythm data; the Huffman tables of section 2 are in scp_huffman.py.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

from ecgviewer.core.digital.record import DigitalEcgError

SECTION_HEADER = 16
POINTER_SIZE = 10
# Lead identification codes of section 3 (EN 1064 table of lead codes; 31-60 are
# derived-lead variants and 0 is "unspecified": those keep a descriptive name).
LEAD_NAMES: dict[int, str] = {
    1: "I", 2: "II", 3: "V1", 4: "V2", 5: "V3", 6: "V4", 7: "V5", 8: "V6", 9: "V7",
    10: "V2R", 11: "V3R", 12: "V4R", 13: "V5R", 14: "V6R", 15: "V7R", 16: "X", 17: "Y",
    18: "Z", 19: "CC5", 20: "CM5", 21: "LA", 22: "RA", 23: "LL", 61: "III", 62: "aVR",
    63: "aVL", 64: "aVF", 65: "-aVR", 66: "V8", 67: "V9", 68: "V8R", 69: "V9R", 70: "D",
    71: "A", 72: "J",
}  # fmt: skip
SECTION_NAMES = {0: "pointers", 1: "header", 2: "Huffman tables", 3: "lead definition",
                 4: "QRS locations", 5: "reference beats", 6: "rhythm data"}  # fmt: skip


@dataclass(frozen=True)
class Section:
    """One section's data (after its 16-byte header) and whether its CRC matched."""

    number: int
    data: bytes
    crc_ok: bool
    protocol: int  # protocol version byte: 20 = SCP-ECG 2.0, 13 = 1.3...


@dataclass(frozen=True)
class Container:
    """The sections of one record, by id, and the record's own CRC check."""

    sections: dict[int, Section]
    record_crc_ok: bool


def crc_ccitt(data: bytes) -> int:
    """CRC-CCITT as EN 1064 defines it: polynomial 0x1021, initial value 0xFFFF."""
    return binascii.crc_hqx(data, 0xFFFF)


def looks_like_scp(head: bytes) -> bool:
    """True when `head` (the file's first 32 bytes or more) starts like an SCP-ECG record:
    section 0 at byte 6, either marked "SCPECG" or pointing to itself at index 7."""
    if len(head) < 32:
        return False
    section_id, length = struct.unpack_from("<HI", head, 8)
    first_id, _, first_index = struct.unpack_from("<HII", head, 22)
    marked = head[16:22] == b"SCPECG"
    return (
        section_id == 0
        and length >= SECTION_HEADER + POINTER_SIZE
        and (marked or (first_id == 0 and first_index == 7))
    )


def split_sections(blob: bytes, name: str) -> Container:
    """The record's sections, found through section 0; refuses truncated or foreign files."""
    if not looks_like_scp(blob[:32]):
        raise DigitalEcgError(
            f"{name} is not an SCP-ECG file: it has no section 0 (pointer table) at byte 6."
        )
    length = struct.unpack_from("<I", blob, 2)[0]
    if length > len(blob):
        raise DigitalEcgError(
            f"{name} is truncated: its header says {length:,} bytes, the file has "
            f"{len(blob):,}. Copy or export it again from the cart or archive."
        )
    record_crc_ok = struct.unpack_from("<H", blob, 0)[0] == crc_ccitt(blob[2:length])
    pointers = _section(blob, 6, 0, length, name)
    sections = {0: pointers}
    for offset in range(0, len(pointers.data) - POINTER_SIZE + 1, POINTER_SIZE):
        number, size, index = struct.unpack_from("<HII", pointers.data, offset)
        if number != 0 and size > 0:
            sections[number] = _section(blob, index - 1, number, length, name)
    return Container(sections, record_crc_ok)


def _section(blob: bytes, start: int, number: int, end: int, name: str) -> Section:
    if start < 6 or start + SECTION_HEADER > end:
        raise _truncated(name, number)
    crc, found, size, _, protocol = struct.unpack_from("<HHIBB", blob, start)
    if found != number:
        raise DigitalEcgError(
            f"{name} is damaged: section 0 points to section {number} at byte {start}, "
            f"but section {found} is there."
        )
    if size < SECTION_HEADER or start + size > end:
        raise _truncated(name, number)
    ok = crc == crc_ccitt(blob[start + 2 : start + size])
    return Section(number, blob[start + SECTION_HEADER : start + size], ok, protocol)


def _truncated(name: str, number: int) -> DigitalEcgError:
    what = SECTION_NAMES.get(number, "a vendor section")
    return DigitalEcgError(
        f"{name} is truncated or damaged: section {number} ({what}) lies beyond the end "
        "of the record. Copy or export it again from the cart or archive."
    )


@dataclass(frozen=True)
class LeadSpan:
    """A stored lead: its name and first and last sample (1-based, inclusive)."""

    name: str
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class LeadDefinition:
    """Section 3: the stored leads and whether reference beats were subtracted."""

    leads: tuple[LeadSpan, ...]
    reference_beat_subtracted: bool
    simultaneous: bool


@dataclass(frozen=True)
class RhythmHeader:
    """Section 6's fixed fields and each lead's coded bytes."""

    nanovolts: int  # amplitude value multiplier: nV per stored unit
    interval_us: int  # sample time interval
    difference: int  # 0 none, 1 first differences, 2 second differences
    bimodal: bool
    chunks: tuple[bytes, ...]


def parse_leads(data: bytes) -> LeadDefinition:
    """Section 3's data: lead count, flags, then per lead start, end (uint32) and code (byte)."""
    if len(data) < 2:
        raise DigitalEcgError("Section 3 (lead definition) of this SCP-ECG file is empty.")
    count, flags = data[0], data[1]
    if count == 0 or len(data) < 2 + 9 * count:
        raise DigitalEcgError(
            f"Section 3 of this SCP-ECG file declares {count} leads but holds "
            f"{max(len(data) - 2, 0) // 9}."
        )
    leads, seen = [], set()
    for index in range(count):
        first, last, code = struct.unpack_from("<IIB", data, 2 + 9 * index)
        name = LEAD_NAMES.get(code, f"lead code {code}")
        name = name if name not in seen else f"{name} ({index + 1})"
        seen.add(name)
        if first < 1 or last < first:
            raise DigitalEcgError(
                f"Section 3 of this SCP-ECG file gives lead {name} samples {first} to {last}."
            )
        leads.append(LeadSpan(name, first, last))
    return LeadDefinition(tuple(leads), bool(flags & 0x01), bool(flags & 0x04))


def parse_rhythm(data: bytes, lead_count: int) -> RhythmHeader:
    """Section 6's data: AVM (nV), interval (us), difference, bimodal flag, byte counts."""
    fixed = 6 + 2 * lead_count
    if len(data) < fixed:
        raise DigitalEcgError("Section 6 (rhythm data) of this SCP-ECG file is too short.")
    nanovolts, interval, difference, bimodal = struct.unpack_from("<HHBB", data, 0)
    sizes = struct.unpack_from(f"<{lead_count}H", data, 6)
    if fixed + sum(sizes) > len(data):
        raise DigitalEcgError(
            f"Section 6 (rhythm data) of this SCP-ECG file holds {len(data) - fixed:,} bytes "
            f"of samples but its leads need {sum(sizes):,}: the file is damaged."
        )
    chunks, offset = [], fixed
    for size in sizes:
        chunks.append(data[offset : offset + size])
        offset += size
    return RhythmHeader(nanovolts, interval, difference, bool(bimodal), tuple(chunks))
