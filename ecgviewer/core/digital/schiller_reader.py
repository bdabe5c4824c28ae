"""Schiller SEMA XML (<com.xiriuz.sema.xml.schillerEDI.SchillerEDI>, AT-series carts via SEMA).

The rhythm is the <wavedata> of type ECG_RHYTHMS (ECG_AVERAGES is the median
beat): one <channel> per lead, all twelve stored, samples as comma-separated
integers (datastype COMMASEPARATE) times <yres><unitperbit> in <units> (UV, 1.0
in the one file seen). The sampling rate is <samplerate><value> with
<exponent> 1: in that file 500 with exponent 1 is 500 Hz, which its own
annotations confirm (QRS_OFF - QRS_ON = 73 samples, QRS = 146 ms; the averaged
beat's R amplitude 770 counts = R_AMPL 0.77 mV). Anything else (another data
type, exponent or unit) is refused with the file's SEMA version rather than guessed.
"""

from __future__ import annotations

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
from ecgviewer.core.digital.xml_document import parse_xml, xml_root
from ecgviewer.core.digital.xml_fields import (
    checked_fields,
    iso_date,
    iso_datetime,
    person_name,
    recorded_at,
    saturated_leads,
    sex_code,
    with_derived,
)

ROOT = "com.xiriuz.sema.xml.schillerEDI.SchillerEDI"
RHYTHM = "ECG_RHYTHMS"
TO_MV = {"UV": 1e-3, "MV": 1.0}
KNOWN_EXPONENTS = ("1",)
INT16_MAX = 32767


def sniff_schiller(path: Path) -> bool:
    """True for a Schiller SEMA XML file."""
    root = xml_root(path)
    return root is not None and root.name == ROOT


def read_schiller(path: Path) -> EcgRecord:
    """The rhythm of a Schiller SEMA XML file in mV."""
    root = parse_xml(path, "Schiller SEMA")
    kind = f"Schiller SEMA XML {_text(root, 'examdescript/aquiringdevice/software/version')}"
    kind = kind.strip()
    wavedata = _rhythm(root, path, kind)
    rate = _sampling_hz(wavedata, path, kind)
    check_sampling(rate, f"The rhythm of {path.name} ({kind})")
    stored, clipped, notes = _stored_leads(wavedata, path, kind)
    leads, derived, missing = complete_leads(stored)
    start = _start(root)
    study, study_notes = checked_fields(_study_fields(root))
    if start:
        study["acquisition_date"] = recorded_at(start)
    return EcgRecord(
        leads=leads, sampling_hz=rate, format=kind, start=start, device=_device(root),
        study=study, derived=derived, missing=missing, flat=flat_leads(leads),
        saturated=with_derived(clipped, derived), notes=notes + study_notes,
    )  # fmt: skip


def _text(element: Element | None, path: str) -> str:
    found = None if element is None else element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _rhythm(root: Element, path: Path, kind: str) -> Element:
    wavedata = root.findall("eventdata/event/wavedata")
    for candidate in wavedata:
        if _text(candidate, "type").upper() == RHYTHM:
            return candidate
    found = ", ".join(_text(w, "type") or "untyped" for w in wavedata) or "none"
    raise DigitalEcgError(
        f"{path.name} ({kind}) holds no rhythm (ECG_RHYTHMS) waveform; found: {found}. "
        "An averaged beat alone cannot be drawn as a 10 s ECG."
    )


def _sampling_hz(wavedata: Element, path: Path, kind: str) -> float:
    exponent = _text(wavedata, "resolution/samplerate/exponent")
    value = _text(wavedata, "resolution/samplerate/value")
    try:
        rate = float(value)
    except ValueError:
        rate = 0.0
    if exponent not in KNOWN_EXPONENTS or rate <= 0:
        raise DigitalEcgError(
            f"{path.name} ({kind}) gives its sampling rate as value {value or '?'} with "
            f"exponent {exponent or '?'}; ECG Viewer has only seen exponent 1 (the value in Hz) "
            "and will not guess what this one means."
        )
    return rate


def _stored_leads(
    wavedata: Element, path: Path, kind: str
) -> tuple[dict[str, np.ndarray], tuple[str, ...], tuple[str, ...]]:
    """The channels in mV, those at the int16 limit, and notes."""
    units = _text(wavedata, "resolution/yres/units").upper()
    per_bit = _float(_text(wavedata, "resolution/yres/unitperbit"))
    if units not in TO_MV or per_bit <= 0:
        raise DigitalEcgError(
            f"{path.name} ({kind}) gives its amplitude as {per_bit:g} {units or '?'} per count, "
            "which ECG Viewer cannot turn into millivolts."
        )
    leads: dict[str, np.ndarray] = {}
    clipped: list[str] = []
    for channel in wavedata.findall("channel"):
        name = standard_lead_name(_text(channel, "name"))
        counts = _channel_counts(channel, name, path, kind)
        leads[name] = (counts * per_bit * TO_MV[units]).astype(np.float32)
        if saturated_leads({name: counts}, INT16_MAX):
            clipped.append(name)
    if not leads:
        raise DigitalEcgError(f"The rhythm of {path.name} ({kind}) holds no channels.")
    length = min(len(values) for values in leads.values())
    notes: tuple[str, ...] = ()
    if any(len(values) != length for values in leads.values()):
        notes = (f"Channels of different lengths were cut to the shortest ({length} samples).",)
    return {name: values[:length] for name, values in leads.items()}, tuple(clipped), notes


def _channel_counts(channel: Element, name: str, path: Path, kind: str) -> np.ndarray:
    datastype = _text(channel, "datastype").upper()
    if datastype != "COMMASEPARATE":
        raise DigitalEcgError(
            f"Lead {name} of {path.name} ({kind}) is stored as {datastype or 'an unnamed type'}; "
            "ECG Viewer reads Schiller channels written as comma-separated numbers only."
        )
    text = _text(channel, "data")
    try:
        counts = np.array([int(item) for item in text.split(",") if item.strip()], np.float64)
    except ValueError as error:
        raise DigitalEcgError(
            f"Lead {name} of {path.name} ({kind}) holds values that are not whole numbers."
        ) from error
    expected = _text(channel, "samplecount")
    if expected.isdigit() and int(expected) != len(counts):
        raise DigitalEcgError(
            f"Lead {name} of {path.name} holds {len(counts)} samples where the file says "
            f"{expected}: the file is damaged or cut short."
        )
    return counts


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _start(root: Element) -> str:
    date = _text(root, "examdescript/startdatetime/date")
    time = _text(root, "examdescript/startdatetime/time")[:6]  # HHMMSS then milliseconds
    return iso_datetime(f"{date}{time}", ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"))


def _device(root: Element) -> str:
    device = root.find("examdescript/aquiringdevice")
    hardware = " ".join(
        part for part in (_text(device, "hardware/vendor"), _text(device, "hardware/model")) if part
    )
    software = " ".join(
        part
        for part in (_text(device, "software/model"), _text(device, "software/version"))
        if part
    )
    return ", ".join(part for part in (hardware, software) if part)


def _study_fields(root: Element) -> dict[str, str]:
    patient = root.find("patdata")
    birth = _text(patient, "birthdate")
    referring = root.find("examdescript/idu/referring_user")
    return {
        "patient_id": _text(patient, "id"),
        "name": person_name(_text(patient, "lastname"), _text(patient, "firstname")),
        "date_of_birth": iso_date(birth, ("%Y%m%d", "%Y-%m-%d")) if birth else "",
        "sex": sex_code(_text(patient, "gender")),
        "referring_clinician": _text(referring, "name"),
    }
