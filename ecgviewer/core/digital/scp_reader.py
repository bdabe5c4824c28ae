"""SCP-ECG files (EN 1064 / ISO 11073-91064), read from the standard with no third-party reader.

Read: the rhythm data of section 6 (Huffman-coded with the tables of section 2, the
standard's default table, or stored as plain 16-bit numbers when there is no
section 2; no, first- or second-difference coding), the leads of section 3 under
their standard names (extra leads such as V3R or V7 keep theirs), the sampling
interval (rounded to a whole rate when within 0.1 %: Welch Allyn writes 1667 us for
600 Hz), and the header of section 1 (scp_header.py). Limb leads a file does not
store are derived from I and II (record.complete_leads).

Refused, each with its own message: a file that is not SCP-ECG, a truncated one, a
damaged signal section (the CRC-CCITT of section 2, 3 or 6 does not match), a file
without rhythm data, and the two compressions ECG Viewer does not undo: reference-
beat subtraction (section 3 flag; residuals plus the beats of sections 4 and 5) and
bimodal compression (section 6 flag). A CRC mismatch anywhere else (the record as a
whole, section 0, section 1, vendor sections) is noted and the signal shown; a
damaged section 1 proposes no patient or study field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgviewer.core.digital.record import (
    DigitalEcgError,
    EcgRecord,
    check_sampling,
    complete_leads,
    flat_leads,
)
from ecgviewer.core.digital.scp_header import HeaderFacts, read_header
from ecgviewer.core.digital.scp_huffman import (
    HuffmanDecoder,
    parse_tables,
    raw_values,
    undifference,
)
from ecgviewer.core.digital.scp_sections import (
    SECTION_NAMES,
    Container,
    LeadDefinition,
    RhythmHeader,
    looks_like_scp,
    parse_leads,
    parse_rhythm,
    split_sections,
)

FORMAT = "SCP-ECG"
SIGNAL_SECTIONS = (2, 3, 6)  # a CRC mismatch here refuses the file
RATE_TOLERANCE = 0.001  # 1667 us -> 599.88 Hz is a 600 Hz recording


def sniff_scp(path: Path) -> bool:
    """True when `path` starts like an SCP-ECG record (section 0 at byte 6)."""
    try:
        with path.open("rb") as handle:
            return looks_like_scp(handle.read(32))
    except OSError:
        return False


def read_scp(path: Path) -> EcgRecord:
    """The rhythm recording in `path`, leads in mV; DigitalEcgError says what is wrong."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DigitalEcgError(f"The SCP-ECG file {path.name} cannot be read.") from exc
    container = split_sections(blob, path.name)
    notes = _integrity_notes(container, path.name)
    definition = parse_leads(_required(container, 3, path.name))
    rhythm = parse_rhythm(_required(container, 6, path.name), len(definition.leads))
    _refuse_compression(definition, rhythm, path.name)
    sampling_hz = _sampling_hz(rhythm.interval_us, path.name)
    check_sampling(sampling_hz, f"The SCP-ECG file {path.name}")
    stored = _decode(container, definition, rhythm)
    if not definition.simultaneous and len({(s.first, s.last) for s in definition.leads}) > 1:
        notes.append("The leads were not all recorded at the same time: each is drawn over "
                     "its own time span and left blank elsewhere.")  # fmt: skip
    header = _header(container)
    leads, derived, missing = complete_leads(stored)
    return EcgRecord(
        leads=leads,
        sampling_hz=sampling_hz,
        format=_format_name(container),
        start=header.start,
        device=header.device,
        study=header.study,
        derived=derived,
        missing=missing,
        flat=flat_leads(leads),
        notes=(*notes, *header.notes),
    )


def _integrity_notes(container: Container, name: str) -> list[str]:
    """Refuses a damaged signal section; notes any other CRC mismatch."""
    notes = []
    for number, section in sorted(container.sections.items()):
        what = SECTION_NAMES.get(number, "vendor data")
        if section.crc_ok:
            continue
        if number in SIGNAL_SECTIONS:
            raise DigitalEcgError(
                f"{name} is damaged: the checksum of section {number} ({what}) does not "
                "match, so its signal cannot be trusted. Copy or export the ECG again."
            )
        notes.append(f"The checksum of section {number} ({what}) does not match; "
                     "the sections holding the signal check out.")  # fmt: skip
    if not container.record_crc_ok and not notes:
        notes.append("The file's overall checksum does not match; every section's does.")
    return notes


def _required(container: Container, number: int, name: str) -> bytes:
    if number not in container.sections:
        raise DigitalEcgError(
            f"{name} has no section {number} ({SECTION_NAMES[number]}): it holds no rhythm "
            "recording ECG Viewer can draw (a file of median beats or measurements only?)."
        )
    return container.sections[number].data


def _refuse_compression(definition: LeadDefinition, rhythm: RhythmHeader, name: str) -> None:
    """Compressions not undone here; and coding values the standard does not define."""
    remedy = "Export the ECG from the cart without high compression, or as DICOM or XML."
    if definition.reference_beat_subtracted:
        raise DigitalEcgError(
            f"{name} stores its rhythm as residuals after reference-beat subtraction "
            "(SCP-ECG sections 4 and 5); ECG Viewer does not rebuild such signals yet.",
            hint=remedy,
        )
    if rhythm.bimodal:
        raise DigitalEcgError(
            f"{name} uses SCP-ECG bimodal compression (decimated samples outside the QRS); "
            "ECG Viewer does not rebuild such signals yet.",
            hint=remedy,
        )
    if rhythm.difference not in (0, 1, 2) or rhythm.nanovolts == 0:
        raise DigitalEcgError(
            f"{name} declares difference coding {rhythm.difference} and "
            f"{rhythm.nanovolts} nV per unit in section 6; the standard defines 0-2 and "
            "a non-zero multiplier. The file is damaged or not standard."
        )


def _sampling_hz(interval_us: int, name: str) -> float:
    if interval_us == 0:
        raise DigitalEcgError(f"{name} gives no sample interval in section 6.")
    rate = 1e6 / interval_us
    whole = float(round(rate))
    return whole if abs(rate - whole) <= rate * RATE_TOLERANCE else rate


def _decode(
    container: Container, definition: LeadDefinition, rhythm: RhythmHeader
) -> dict[str, np.ndarray]:
    """Each lead's samples in mV on one time axis (NaN where a lead was not recorded)."""
    tables = container.sections.get(2)
    decoder = HuffmanDecoder(parse_tables(tables.data)) if tables else None
    length = max(span.last for span in definition.leads)
    scale = rhythm.nanovolts / 1e6
    stored: dict[str, np.ndarray] = {}
    for span, chunk in zip(definition.leads, rhythm.chunks, strict=True):
        if decoder:
            values = decoder.decode(chunk, span.count, span.name)
        else:
            values = raw_values(chunk, span.count, span.name)
        lead = np.full(length, np.nan, dtype=np.float32)
        lead[span.first - 1 : span.last] = undifference(values, rhythm.difference) * scale
        stored[span.name] = lead
    return stored


def _header(container: Container) -> HeaderFacts:
    section = container.sections.get(1)
    if section is None or not section.crc_ok:
        return HeaderFacts()  # a damaged header proposes nothing (noted by the CRC check)
    return read_header(section.data)


def _format_name(container: Container) -> str:
    protocol = container.sections[0].protocol
    return f"{FORMAT} {protocol // 10}.{protocol % 10}" if 10 <= protocol < 40 else FORMAT
