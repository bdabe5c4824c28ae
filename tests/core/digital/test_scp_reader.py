"""SCP-ECG: the shared Welch Allyn files decoded sample for sample as libbiosig decodes them,
hand-built files (default and custom Huffman tables, no Huffman, first and second differences)
decoded to the samples they were built from, and damaged or foreign files refused clearly."""

from __future__ import annotations

import binascii
import hashlib
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.digital.readers import read_record
from ecgviewer.core.digital.record import DigitalEcgError
from ecgviewer.core.digital.scp_reader import read_scp, sniff_scp
from ecgviewer.core.study import checked_study

AVM_NV = 3750  # all three shared files: 3.75 uV per stored unit
# Reference: `save2gdf -CSV FILE.SCP OUT.csv` (libbiosig 2.5, Debian biosig-tools), the uV
# columns divided by 3.75 -> int16, sample-major in the file's lead order, SHA-256.
# file -> (stored leads, SHA-256 of biosig's counts, biosig's first sample of each lead)
SHARED = {
    "welchallyn_ECG_20060620_ANON000002_v3r_v7.SCP": (
        ["I", "II", "V3R", "V1", "V2", "V4", "V6", "V7"],
        "a0c6132164c48996560f1452d0c54d0fc65263e0e3a496147596167d0e5bde3b",
        [19, 15, 14, 81, 92, 48, 23, 13],
    ),
    "welchallyn_ECG_20070321_ANON000004.SCP": (
        ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"],
        "ddb653faff25a97c64cd82efab2035290a5d1000a767c53be0996914e2863ea5",
        [5, -11, 22, -15, -6, -26, -22, -27],
    ),
    "welchallyn_ECG_20170504_163507_123456789.SCP": (
        ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"],
        "84f0d59925d24340392e7f1f2c4fac61bdc5c5f33bcf7dd7e096c8bfd91f1da6",
        [-12, -29, -5, -12, -24, -31, -22, -15],
    ),
}
DAMAGED = {"welchallyn_ECG_20060620_ANON000002_v3r_v7.SCP": "36",
           "welchallyn_ECG_20070321_ANON000004.SCP": "39"}  # fmt: skip


@pytest.fixture
def scp_folder(shared_samples: Path) -> Path:
    return shared_samples / "digital" / "scp-ecg"


# --- a tiny SCP-ECG writer, from the standard -------------------------------------------


def section(number: int, data: bytes, extra: bytes = b"\0" * 6) -> bytes:
    body = struct.pack("<HIBB", number, 16 + len(data), 20, 20) + extra + data
    return struct.pack("<H", binascii.crc_hqx(body, 0xFFFF)) + body


def record(sections: dict[int, bytes]) -> bytes:
    """Section 0 pointing to `sections` (id -> data), the sections, and the record header."""
    pointer_size = 16 + 10 * (len(sections) + 1)
    index, pointers, bodies = 7 + pointer_size, [(0, pointer_size, 7)], b""
    for number, data in sections.items():
        block = section(number, data)
        pointers.append((number, len(block), index))
        index, bodies = index + len(block), bodies + block
    table = b"".join(struct.pack("<HII", *pointer) for pointer in pointers)
    body = section(0, table, b"SCPECG") + bodies
    length = struct.pack("<I", 6 + len(body))
    return struct.pack("<H", binascii.crc_hqx(length + body, 0xFFFF)) + length + body


def default_code(value: int) -> str:
    """The standard's default Huffman code for `value`."""
    if value == 0:
        return "0"
    if abs(value) <= 8:
        return "1" * abs(value) + "0" + ("1" if value < 0 else "0")
    if -128 <= value <= 127:
        return "1" * 9 + "0" + format(value & 0xFF, "08b")
    return "1" * 10 + format(value & 0xFFFF, "016b")


def packed(bits: str) -> bytes:
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))


def differences(samples: list[int], order: int) -> list[int]:
    values = np.asarray(samples, dtype=np.int64)
    if order == 1:
        values = np.concatenate((values[:1], np.diff(values)))
    elif order == 2:
        values = np.concatenate((values[:2], values[2:] - 2 * values[1:-1] + values[:-2]))
    return [int(value) for value in values]


def default_coded(values: list[int]) -> bytes:
    return packed("".join(default_code(value) for value in values))


def lead_definition(codes: list[int], count: int, flags: int = 0x04) -> bytes:
    spans = b"".join(struct.pack("<IIB", 1, count, code) for code in codes)
    return bytes([len(codes), flags | len(codes) << 3]) + spans


def rhythm(chunks: list[bytes], difference: int, interval: int = 2000, bimodal: int = 0) -> bytes:
    sizes = struct.pack(f"<{len(chunks)}H", *(len(chunk) for chunk in chunks))
    return struct.pack("<HHBB", 5000, interval, difference, bimodal) + sizes + b"".join(chunks)


def header_tags(tags: dict[int, bytes]) -> bytes:
    items = b"".join(struct.pack("<BH", tag, len(value)) + value for tag, value in tags.items())
    return items + struct.pack("<BH", 255, 0)


QRS = [0, 3, -2, 10, 60, 250, 400, -150, -40, 0, 7, 7, -300, 1000, -1000, 5]  # all code sizes
LEADS = {1: QRS, 2: [value // 2 for value in QRS]}  # I and II
Encoder = Callable[[list[int]], bytes]


def built(
    tmp_path: Path,
    *,
    difference: int = 1,
    flags: int = 0x04,
    bimodal: int = 0,
    encode: Encoder = default_coded,
    sections: dict[int, bytes | None] | None = None,
) -> Path:
    """A 2-lead (I, II) file at 500 Hz, 5 uV/unit; default table, first differences unless
    told otherwise. `sections` replaces (or, with None, drops) sections by id."""
    chunks = [encode(differences(samples, difference)) for samples in LEADS.values()]
    tags = {2: b"P-7\0", 8: b"\x02", 25: struct.pack("<HBB", 2021, 3, 9), 26: bytes([14, 5, 0])}
    content: dict[int, bytes | None] = {
        1: header_tags(tags),
        2: struct.pack("<H", 19999),
        3: lead_definition(list(LEADS), len(QRS), flags),
        6: rhythm(chunks, difference, bimodal=bimodal),
    }
    content.update(sections or {})
    path = tmp_path / "built.scp"
    path.write_bytes(record({key: value for key, value in content.items() if value is not None}))
    return path


def counts(leads: dict[str, np.ndarray], names: list[str], nanovolts: int) -> np.ndarray:
    stacked = np.stack([leads[name] for name in names], axis=1).astype(np.float64)
    return np.rint(stacked * 1e6 / nanovolts).astype("<i2")


def section_start(blob: bytes, number: int) -> int:
    """Byte offset of section `number`'s header, from section 0's pointers."""
    for offset in range(22, 6 + struct.unpack_from("<I", blob, 10)[0], 10):
        found, _, index = struct.unpack_from("<HII", blob, offset)
        if found == number:
            return int(index) - 1
    raise AssertionError(f"no section {number}")


# --- the shared Welch Allyn files -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_file_matches_biosig_sample_for_sample(scp_folder: Path, name: str) -> None:
    stored, digest, first = SHARED[name]
    result = read_scp(scp_folder / name)
    assert (result.format, result.sampling_hz, result.samples) == ("SCP-ECG 2.0", 600.0, 6000)
    assert result.duration_s == pytest.approx(10.0)
    assert list(result.leads)[: len(stored)] == stored
    assert result.derived == ("III", "aVR", "aVL", "aVF")
    ours = counts(dict(result.leads), stored, AVM_NV)
    assert ours[0].tolist() == first
    assert hashlib.sha256(ours.tobytes()).hexdigest() == digest
    assert result.device == "Welch Allyn Cardio Control, MDW14"
    assert result.flat == () and result.saturated == ()


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_file_amplitudes_are_plausible_millivolts(scp_folder: Path, name: str) -> None:
    result = read_scp(scp_folder / name)
    stored = SHARED[name][0]
    spans = {lead: float(np.ptp(result.leads[lead])) for lead in stored}
    assert all(0.2 < span < 4.0 for span in spans.values()), spans
    assert sum(0.3 <= span <= 3.0 for span in spans.values()) >= 6, spans  # QRS-sized
    assert all(abs(float(np.median(result.leads[lead]))) < 0.3 for lead in stored)
    one, two = result.leads["I"], result.leads["II"]
    np.testing.assert_allclose(result.leads["III"], two - one, atol=1e-6)
    np.testing.assert_allclose(result.leads["aVR"], -(one + two) / 2, atol=1e-6)


def test_right_sided_and_posterior_leads_keep_their_names(scp_folder: Path) -> None:
    result = read_scp(scp_folder / "welchallyn_ECG_20060620_ANON000002_v3r_v7.SCP")
    assert {"V3R", "V7"} <= set(result.leads)
    assert result.missing == ("V3", "V5")


def test_intact_header_is_proposed(scp_folder: Path) -> None:
    result = read_scp(scp_folder / "welchallyn_ECG_20170504_163507_123456789.SCP")
    assert result.start == "2017-05-04T16:35:07"
    assert result.study == {
        "patient_id": "123456789", "name": "test, test", "date_of_birth": "1912-12-12",
        "acquisition_date": "2017-05-04 16:35:07", "age": "104", "sex": "M",
    }  # fmt: skip
    assert checked_study(dict(result.study)) == result.study
    assert result.notes == () and result.missing == ()


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_header_dates_are_flagged_not_proposed(scp_folder: Path, name: str) -> None:
    result = read_scp(scp_folder / name)
    notes = " ".join(result.notes)
    assert "recording date (53255-01-01)" in notes and "date of birth (27655-01-01)" in notes
    assert "sex code (82)" in notes
    assert result.start == ""
    assert not {"date_of_birth", "acquisition_date", "sex"} & set(result.study)
    assert result.study["age"] == DAMAGED[name]  # tag 4 itself holds a possible age
    assert checked_study(dict(result.study)) == result.study
    assert result.samples == 6000  # the signal is shown all the same


def test_sniffing(scp_folder: Path, tmp_path: Path) -> None:
    assert all(sniff_scp(scp_folder / name) for name in SHARED)
    text = tmp_path / "notes.scp"
    text.write_text("not an ECG, whatever the extension says" * 3)
    assert not sniff_scp(text) and not sniff_scp(tmp_path / "absent.scp")


def test_registered_and_found_by_content(scp_folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.bin"  # no .scp suffix: the sniff reads section 0
    path.write_bytes((scp_folder / "welchallyn_ECG_20070321_ANON000004.SCP").read_bytes())
    assert read_record(path).format == "SCP-ECG 2.0"


# --- hand-built files: the decoder against known samples --------------------------------


@pytest.mark.parametrize("difference", [0, 1, 2])
def test_default_table_decodes_known_samples(tmp_path: Path, difference: int) -> None:
    result = read_scp(built(tmp_path, difference=difference))
    assert result.sampling_hz == 500.0 and result.format == "SCP-ECG 2.0"
    for code, name in ((1, "I"), (2, "II")):
        np.testing.assert_allclose(result.leads[name], np.asarray(LEADS[code]) * 0.005, atol=1e-6)
    assert result.start == "2021-03-09T14:05:00"
    assert result.study == {"patient_id": "P-7", "sex": "F",
                            "acquisition_date": "2021-03-09 14:05:00"}  # fmt: skip


def test_no_huffman_section_means_plain_16_bit_values(tmp_path: Path) -> None:
    def plain(values: list[int]) -> bytes:
        return struct.pack(f"<{len(values)}h", *values)

    result = read_scp(built(tmp_path, difference=2, encode=plain, sections={2: None}))
    np.testing.assert_allclose(result.leads["I"], np.asarray(QRS) * 0.005, atol=1e-6)


def custom_tables() -> tuple[bytes, Encoder]:
    """Section 2 with two tables (a switch each way and an escape in both) and its encoder;
    values 5-9 of each lead are coded with table 2."""
    one = [("0", 1, 1, 0), ("10", 2, 1, 1), ("110", 3, 1, -1), ("1110", 4, 0, 2),
           ("1111", 20, 1, 0)]  # fmt: skip
    two = [("1", 1, 1, 7), ("01", 2, 0, 1), ("00", 18, 1, 0)]
    data = struct.pack("<H", 2)
    for table in (one, two):
        data += struct.pack("<H", len(table))
        for bits, total, mode, value in table:
            reversed_code = int(bits[::-1], 2)  # the first bit sent is stored lowest
            data += struct.pack("<BBBhI", len(bits), total, mode, value, reversed_code)

    def encode(values: list[int]) -> bytes:
        out = ""
        for index, value in enumerate(values):
            out += "1110" if index == 5 else "01" if index == 10 else ""
            if 5 <= index < 10:
                out += "1" if value == 7 else "00" + format(value & 0xFFFF, "016b")
            else:
                small = {0: "0", 1: "10", -1: "110"}
                out += small.get(value, "1111" + format(value & 0xFFFF, "016b"))
        return packed(out)

    return data, encode


def test_custom_huffman_tables_with_switches_and_escapes(tmp_path: Path) -> None:
    tables, encode = custom_tables()
    result = read_scp(built(tmp_path, encode=encode, sections={2: tables}))
    np.testing.assert_allclose(result.leads["I"], np.asarray(QRS) * 0.005, atol=1e-6)
    np.testing.assert_allclose(result.leads["II"], np.asarray(LEADS[2]) * 0.005, atol=1e-6)


def test_leads_recorded_at_different_times_are_blank_outside_their_span(tmp_path: Path) -> None:
    spans = struct.pack("<IIB", 1, 16, 1) + struct.pack("<IIB", 9, 16, 2)
    chunks = [default_coded(differences(QRS, 1)), default_coded(differences(QRS[:8], 1))]
    path = built(tmp_path, sections={3: bytes([2, 0]) + spans, 6: rhythm(chunks, 1)})
    result = read_scp(path)
    assert np.isnan(result.leads["II"][:8]).all()
    np.testing.assert_allclose(result.leads["II"][8:], np.asarray(QRS[:8]) * 0.005, atol=1e-6)
    assert any("not all recorded at the same time" in note for note in result.notes)


# --- damaged, foreign and unsupported files ---------------------------------------------


def test_truncated_file_is_refused(scp_folder: Path, tmp_path: Path) -> None:
    blob = (scp_folder / "welchallyn_ECG_20170504_163507_123456789.SCP").read_bytes()
    path = tmp_path / "cut.SCP"
    path.write_bytes(blob[:12000])
    with pytest.raises(DigitalEcgError, match=r"cut.SCP is truncated: its header says 21,910"):
        read_scp(path)


def test_wrong_crc_in_rhythm_section_is_refused(scp_folder: Path, tmp_path: Path) -> None:
    blob = bytearray((scp_folder / "welchallyn_ECG_20070321_ANON000004.SCP").read_bytes())
    blob[section_start(bytes(blob), 6) + 400] ^= 0x10
    path = tmp_path / "flipped.SCP"
    path.write_bytes(bytes(blob))
    with pytest.raises(DigitalEcgError, match=r"checksum of section 6 \(rhythm data\)"):
        read_scp(path)


def test_wrong_crc_in_header_section_shows_signal_without_fields(
    scp_folder: Path, tmp_path: Path
) -> None:
    blob = bytearray((scp_folder / "welchallyn_ECG_20170504_163507_123456789.SCP").read_bytes())
    blob[section_start(bytes(blob), 1) + 20] ^= 0x01  # inside the last name
    path = tmp_path / "header.SCP"
    path.write_bytes(bytes(blob))
    result = read_scp(path)
    assert result.samples == 6000 and result.study == {} and result.start == ""
    assert result.notes == ("The checksum of section 1 (header) does not match; "
                            "the sections holding the signal check out.",)  # fmt: skip


def test_wrong_record_crc_alone_is_noted(tmp_path: Path) -> None:
    path = built(tmp_path)
    blob = bytearray(path.read_bytes())
    blob[0] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert read_scp(path).notes == (
        "The file's overall checksum does not match; every section's does.",
    )


def test_file_that_is_not_scp_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scan.scp"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(DigitalEcgError, match=r"scan\.scp is not an SCP-ECG file"):
        read_scp(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"flags": 0x05}, "residuals after reference-beat subtraction"),
        ({"bimodal": 1}, "bimodal compression"),
        ({"sections": {6: None}}, r"has no section 6 \(rhythm data\)"),
        ({"sections": {6: rhythm([b"\x00", b"\x00"], 1)}}, "Lead I .* ends after 8 of its 16"),
        ({"sections": {6: rhythm([b"", b""], 1, interval=20000)}}, "50 Hz"),
        ({"sections": {6: rhythm([b"", b""], 4)}}, "difference coding 4"),
        ({"sections": {2: struct.pack("<HHBBBhI", 1, 1, 1, 1, 1, 0, 0)}},
         "Lead I .* bit pattern no Huffman code matches"),
    ],
)  # fmt: skip
def test_unsupported_or_damaged_content_is_refused(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(DigitalEcgError, match=message):
        read_scp(built(tmp_path, **changes))  # type: ignore[arg-type]


def test_pointer_to_the_wrong_section_is_refused(tmp_path: Path) -> None:
    path = built(tmp_path)
    blob = bytearray(path.read_bytes())
    pointer = next(o for o in range(22, 72, 10) if struct.unpack_from("<H", blob, o)[0] == 6)
    struct.pack_into("<I", blob, pointer + 6, section_start(bytes(blob), 3) + 1)
    path.write_bytes(bytes(blob))
    with pytest.raises(DigitalEcgError, match=r"points to section 6 .* but section 3 is there"):
        read_scp(path)
