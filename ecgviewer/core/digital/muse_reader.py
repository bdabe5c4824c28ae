"""GE MUSE resting ECG XML (<RestingECG>, MUSE 7 to 9, from MAC carts).

No maintained Python library reads these, so this module does, with defusedxml
(MUSE writes a DOCTYPE naming restecg.dtd: allowed; entities are not). A file
holds a median beat and a rhythm <Waveform>; the rhythm is read. Each
<LeadData> is base64 of little-endian int16 samples, times
LeadAmplitudeUnitsPerBit (4.88 µV in every file seen); the sampling rate is
SampleBase × 10^SampleExponent. MUSE stores I, II and V1-V6 only: III, aVR,
aVL and aVF are derived. A lead whose LeadDataCRC32 (when not 0) does not match
its bytes, or whose byte count is not the one the file states, is refused.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from pathlib import Path
from xml.etree.ElementTree import Element

import numpy as np

from ecgviewer.core.digital.lead_names import standard_lead_name
from ecgviewer.core.digital.record import (
    DigitalEcgError,
    EcgRecord,
    check_sampling,
    complete_leads,
    flat_leads,
)
from ecgviewer.core.digital.xml_document import find_text, parse_xml, xml_root
from ecgviewer.core.digital.xml_fields import (
    SATURATED_MIN_SAMPLES,
    checked_fields,
    iso_date,
    iso_datetime,
    person_name,
    recorded_at,
    sex_code,
    whole_years,
    with_derived,
)

UNITS_TO_MV = {"MICROVOLTS": 1e-3, "MILLIVOLTS": 1.0}
INT16_MAX, INT16_MIN = 32767, -32768
MUSE_DATE = "%m-%d-%Y"


def sniff_muse(path: Path) -> bool:
    """True for a GE MUSE XML file (root element <RestingECG>, no namespace)."""
    root = xml_root(path)
    return root is not None and root.name == "RestingECG" and not root.namespace


def read_muse(path: Path) -> EcgRecord:
    """The rhythm waveform of a MUSE XML file in mV, with the four derived limb leads."""
    root = parse_xml(path, "GE MUSE")
    kind = f"GE MUSE XML {find_text(root, 'MuseInfo/MuseVersion')}".strip()
    waveform = _rhythm_waveform(root, path, kind)
    rate = _sampling_hz(waveform)
    check_sampling(rate, f"The rhythm of {path.name} ({kind})")
    stored, clipped, notes = _stored_leads(waveform, path)
    leads, derived, missing = complete_leads(stored)
    study, study_notes = checked_fields(_study_fields(root))
    start = _start(root)
    if start:
        study["acquisition_date"] = recorded_at(start)
    return EcgRecord(
        leads=leads, sampling_hz=rate, format=kind, start=start, device=_device(root),
        study=study, derived=derived, missing=missing, flat=flat_leads(leads),
        saturated=with_derived(clipped, derived),
        notes=notes + study_notes,
    )  # fmt: skip


def _rhythm_waveform(root: Element, path: Path, kind: str) -> Element:
    waveforms = root.findall("Waveform")
    for waveform in waveforms:
        if find_text(waveform, "WaveformType").lower() == "rhythm":
            return waveform
    found = ", ".join(find_text(w, "WaveformType") or "unnamed" for w in waveforms) or "none"
    raise DigitalEcgError(
        f"{path.name} ({kind}) holds no rhythm waveform (waveforms found: {found}); a median "
        "beat alone cannot be drawn as a 10 s ECG. Export the full resting ECG from MUSE."
    )


def _sampling_hz(waveform: Element) -> float:
    try:
        base = float(find_text(waveform, "SampleBase"))
        exponent = int(find_text(waveform, "SampleExponent") or "0")
    except ValueError:
        return 0.0
    return base * 10.0**exponent


def _stored_leads(
    waveform: Element, path: Path
) -> tuple[dict[str, np.ndarray], tuple[str, ...], tuple[str, ...]]:
    """The stored leads in mV, those that reach the int16 limits, and notes."""
    leads: dict[str, np.ndarray] = {}
    clipped: list[str] = []
    for lead_data in waveform.findall("LeadData"):
        name = standard_lead_name(find_text(lead_data, "LeadID"))
        counts = _counts(lead_data, name, path)
        leads[name] = (counts * _mv_per_count(lead_data, name, path)).astype(np.float32)
        if np.count_nonzero((counts >= INT16_MAX) | (counts <= INT16_MIN)) >= SATURATED_MIN_SAMPLES:
            clipped.append(name)
    if not leads:
        raise DigitalEcgError(f"The rhythm waveform of {path.name} holds no leads.")
    length = min(len(values) for values in leads.values())
    notes: tuple[str, ...] = ()
    if any(len(values) != length for values in leads.values()):
        notes = (f"Leads of different lengths were cut to the shortest ({length} samples).",)
    return {name: values[:length] for name, values in leads.items()}, tuple(clipped), notes


def _counts(lead_data: Element, name: str, path: Path) -> np.ndarray:
    """One lead's int16 samples, checked against the byte count and CRC-32 the file gives."""
    try:
        raw = base64.b64decode(find_text(lead_data, "WaveFormData"), validate=False)
    except (binascii.Error, ValueError) as error:
        raise DigitalEcgError(f"Lead {name} of {path.name} is not valid base64.") from error
    size = find_text(lead_data, "LeadSampleSize") or "2"
    expected = find_text(lead_data, "LeadByteCountTotal")
    crc = find_text(lead_data, "LeadDataCRC32") or "0"
    if size != "2":
        raise DigitalEcgError(
            f"Lead {name} of {path.name} uses {size}-byte samples; ECG Viewer reads MUSE's "
            "2-byte (int16) samples only."
        )
    if (expected and int(expected) != len(raw)) or len(raw) % 2:
        raise DigitalEcgError(
            f"Lead {name} of {path.name} holds {len(raw)} bytes where the file says "
            f"{expected}: the file is damaged or cut short. Export it again from MUSE."
        )
    if crc not in ("0", "") and int(crc) != zlib.crc32(raw):
        raise DigitalEcgError(
            f"Lead {name} of {path.name} fails its CRC-32 check: the samples are damaged. "
            "Export the ECG again from MUSE."
        )
    return np.frombuffer(raw, dtype="<i2").astype(np.float64)


def _mv_per_count(lead_data: Element, name: str, path: Path) -> float:
    units = find_text(lead_data, "LeadAmplitudeUnits").upper() or "MICROVOLTS"
    text = find_text(lead_data, "LeadAmplitudeUnitsPerBit")
    try:
        per_bit = float(text)
    except ValueError:
        per_bit = 0.0
    if units not in UNITS_TO_MV or per_bit <= 0:
        raise DigitalEcgError(
            f"Lead {name} of {path.name} gives its amplitude as {text or '?'} {units} per "
            "count, which ECG Viewer cannot turn into millivolts."
        )
    return per_bit * UNITS_TO_MV[units]


def _start(root: Element) -> str:
    date = find_text(root, "TestDemographics/AcquisitionDate")
    time = find_text(root, "TestDemographics/AcquisitionTime") or "00:00:00"
    return iso_datetime(f"{date} {time}", (f"{MUSE_DATE} %H:%M:%S", f"{MUSE_DATE} %H:%M"))


def _device(root: Element) -> str:
    test = root.find("TestDemographics")
    cart = find_text(test, "AcquisitionDevice")
    software = find_text(test, "AcquisitionSoftwareVersion")
    muse = find_text(root, "MuseInfo/MuseVersion")
    parts = [f"GE {cart}" if cart else "GE cart"]
    if software:
        parts.append(f"software {software}")
    if muse:
        parts.append(f"via MUSE {muse}")
    return ", ".join(parts)


def _study_fields(root: Element) -> dict[str, str]:
    patient = root.find("PatientDemographics")
    test = root.find("TestDemographics")
    birth = find_text(patient, "DateofBirth")
    in_years = find_text(patient, "AgeUnits").upper() in ("", "YEARS")
    clinician = person_name(
        find_text(test, "ReferringMDLastName") or find_text(test, "OrderingMDLastName"),
        find_text(test, "ReferringMDFirstName") or find_text(test, "OrderingMDFirstName"),
    )
    return {
        "patient_id": find_text(patient, "PatientID"),
        "name": person_name(
            find_text(patient, "PatientLastName"), find_text(patient, "PatientFirstName")
        ),
        "date_of_birth": iso_date(birth, (MUSE_DATE,)) if birth else "",
        "age": whole_years(find_text(patient, "PatientAge")) if in_years else "",
        "sex": sex_code(find_text(patient, "Gender")),
        "referring_clinician": clinician,
    }
