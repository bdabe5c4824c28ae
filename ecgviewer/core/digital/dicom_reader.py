"""DICOM ECG waveforms: 12-lead and general ECG storage, and other waveform files holding leads.

Carts store the rhythm recording (WaveformOriginality ORIGINAL, usually labelled
"RHYTHM") and often a median beat (DERIVED, "MEDIAN BEAT", sometimes padded with
-32768); only the rhythm group is drawn. Which group and whether it is an ECG is
decided by the channels' sources (lead codes), not by the SOP class alone: a GE
cart writes its 12-lead ECG as Hemodynamic Waveform Storage. Samples are decoded
by `pydicom`; each channel's sensitivity, sensitivity correction factor and
baseline are applied here and the result converted to mV from the channel's
sensitivity units (usually uV).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecgviewer.core.digital.lead_names import standard_lead_name
from ecgviewer.core.digital.record import (
    STANDARD_LEADS,
    DigitalEcgError,
    EcgRecord,
    check_sampling,
    complete_leads,
    flat_leads,
)

TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nv": 1e-6}
DECODABLE = {(8, "SB"), (8, "UB"), (16, "SS"), (16, "US")}
ENCODINGS = {"MB": "8-bit mu-law", "AB": "8-bit A-law", "SL": "32-bit signed",
             "UL": "32-bit unsigned", "SV": "64-bit signed", "UV": "64-bit unsigned",
             "FL": "32-bit float", "FD": "64-bit float"}  # fmt: skip
# SCP-ECG lead numbers (DICOM codes "5.6.3-9-N" and MDC "2:N" share them)
LEAD_CODES = {1: "I", 2: "II", 3: "V1", 4: "V2", 5: "V3", 6: "V4", 7: "V5", 8: "V6", 9: "V7",
              10: "V2R", 11: "V3R", 12: "V4R", 13: "V5R", 14: "V6R", 15: "V7R", 16: "X",
              17: "Y", 18: "Z", 61: "III", 62: "aVR", 63: "aVL", 64: "aVF", 66: "V8",
              67: "V9", 68: "V8R", 69: "V9R"}  # fmt: skip
_ECG_NAMES = set(STANDARD_LEADS) | set(LEAD_CODES.values())


def sniff_dicom(path: Path) -> bool:
    """True for a DICOM file: "DICM" at byte 128, or a bare (preamble-less) data set."""
    try:
        with path.open("rb") as stream:
            head = stream.read(132)
    except OSError:
        return False
    if head[128:132] == b"DICM":
        return True
    if head[:2] not in (b"\x02\x00", b"\x08\x00"):  # a bare data set starts at group 2 or 8
        return False
    try:
        dataset = _pydicom().dcmread(path, force=True, specific_tags=["SOPClassUID"])
    except Exception:  # anything pydicom cannot parse is simply not DICOM
        return False
    return "SOPClassUID" in dataset


def read_dicom(path: Path) -> EcgRecord:
    """The rhythm recording in `path`, leads in mV; DigitalEcgError says what is wrong."""
    dataset = _read_dataset(path)
    sop = str(getattr(dataset.get("SOPClassUID"), "name", "") or "DICOM waveform")
    index = _rhythm_group(dataset, path.name, sop)
    group = dataset.WaveformSequence[index]
    check_sampling(float(group.get("SamplingFrequency") or 0), f"The DICOM ECG {path.name}")
    stored = _leads_in_mv(dataset, index, path.name)
    leads, derived, missing = complete_leads(stored)
    return EcgRecord(
        leads=leads,
        sampling_hz=float(group.SamplingFrequency),
        format=f"DICOM {sop}",
        start=start_of(dataset),
        device=device_of(dataset),
        study=study_of(dataset),
        derived=derived,
        missing=missing,
        flat=flat_leads(leads),
    )


def _pydicom() -> Any:
    import pydicom

    return pydicom


def _read_dataset(path: Path) -> Any:
    pydicom = _pydicom()
    try:
        return pydicom.dcmread(path, force=True)
    except Exception as exc:  # InvalidDicomError, truncated elements, bad lengths...
        raise DigitalEcgError(
            f"{path.name} cannot be read as DICOM ({type(exc).__name__}): the file is damaged "
            "or not a DICOM file."
        ) from exc


def _rhythm_group(dataset: Any, name: str, sop: str) -> int:
    """Index of the rhythm multiplex group with the most ECG leads (then the longest)."""
    groups = list(dataset.get("WaveformSequence") or [])
    if not groups:
        raise DigitalEcgError(
            f"{name} holds no waveform ({sop}): there is no ECG signal in it to draw.",
            hint="Export the ECG from the cart or ECG system as a DICOM ECG waveform.",
        )
    rhythm = [i for i, group in enumerate(groups) if not _is_median(group)]
    if not rhythm:
        raise DigitalEcgError(
            f"{name} holds only a median (averaged) beat, not the rhythm recording; "
            "a 10 s page cannot be drawn from one beat.",
            hint="Export the full rhythm ECG from the cart or ECG system.",
        )
    ecg = [i for i in rhythm if _ecg_channel_count(groups[i])]
    if not ecg:
        raise DigitalEcgError(f"{name} holds waveforms, but none of their channels is an ECG lead.")
    best = max(ecg, key=lambda i: (_ecg_channel_count(groups[i]), _samples(groups[i])))
    _check_encoding(groups[best], name)
    return best


def _is_median(group: Any) -> bool:
    label = str(group.get("MultiplexGroupLabel") or "").upper()
    return "MEDIAN" in label or str(group.get("WaveformOriginality") or "").upper() == "DERIVED"


def _samples(group: Any) -> int:
    return int(group.get("NumberOfWaveformSamples") or 0)


def _ecg_channel_count(group: Any) -> int:
    channels = group.get("ChannelDefinitionSequence") or []
    return sum(_lead_name(channel, 0) in _ECG_NAMES for channel in channels)


def _check_encoding(group: Any, name: str) -> None:
    bits = int(group.get("WaveformBitsAllocated") or 0)
    kind = str(group.get("WaveformSampleInterpretation") or "").strip()
    if (bits, kind) not in DECODABLE:
        what = ENCODINGS.get(kind, f"{bits}-bit {kind or 'unspecified'}")
        raise DigitalEcgError(
            f"{name} stores its waveform as {what} samples (WaveformSampleInterpretation "
            f"{kind or 'missing'}, {bits} bits), which ECG Viewer cannot decode.",
            hint="Export the ECG with 8- or 16-bit linear samples (SS, SB, US or UB).",
        )
    channels, samples = int(group.get("NumberOfWaveformChannels") or 0), _samples(group)
    held = len(group.get("WaveformData") or b"") // max(bits // 8 * channels, 1)
    if not channels or held < samples:
        raise DigitalEcgError(
            f"{name} is cut short: its waveform holds {held} of the {samples} samples per "
            f"channel its header announces ({channels} channels).",
            hint="The file was probably damaged while copying; export it again.",
        )


def _lead_name(channel: Any, column: int) -> str:
    """A channel's lead: from its source code, else its code meaning, else its label."""
    sources = channel.get("ChannelSourceSequence") or []
    source = sources[0] if sources else None
    code = str(source.get("CodeValue", "") if source is not None else "")
    number = code.rsplit("-" if code.startswith("5.6.3-9-") else ":", 1)[-1]
    if code.startswith(("5.6.3-9-", "2:")) and number.isdigit() and int(number) in LEAD_CODES:
        return LEAD_CODES[int(number)]
    meaning = str(source.get("CodeMeaning", "") if source is not None else "")
    label = meaning or str(channel.get("ChannelLabel") or "")
    if not label:
        return f"Channel {column + 1}"
    short = label.strip().removeprefix("Lead ").split(",")[0].split(" (")[0]
    return standard_lead_name(short)


def _leads_in_mv(dataset: Any, index: int, name: str) -> dict[str, np.ndarray]:
    from pydicom.waveforms.numpy_handler import multiplex_array

    raw = multiplex_array(dataset, index, as_raw=True)
    stored: dict[str, np.ndarray] = {}
    channels = dataset.WaveformSequence[index].ChannelDefinitionSequence
    for column, channel in enumerate(channels):
        lead = _lead_name(channel, column)
        key = lead if lead not in stored else f"{lead} ({column + 1})"
        stored[key] = _channel_mv(channel, raw[:, column], lead, name)
    return stored


def _channel_mv(channel: Any, raw: np.ndarray, lead: str, name: str) -> np.ndarray:
    """raw x sensitivity x correction + baseline, in the channel's units, then in mV."""
    if channel.get("ChannelSensitivity") is None:
        raise DigitalEcgError(
            f"Lead {lead} in {name} has no channel sensitivity, so its samples cannot be "
            "converted to millivolts."
        )
    units = channel.get("ChannelSensitivityUnitsSequence") or []
    unit = str(units[0].get("CodeValue", "")) if units else ""
    factor = TO_MV.get(unit.strip().lower())
    if factor is None:
        raise DigitalEcgError(
            f"Lead {lead} in {name} is in {unit or 'no stated unit'}, not a voltage "
            "ECG Viewer knows (V, mV, uV)."
        )
    sensitivity = float(channel.ChannelSensitivity)
    correction = float(channel.get("ChannelSensitivityCorrectionFactor") or 1.0)
    baseline = float(channel.get("ChannelBaseline") or 0.0)
    values = raw.astype(np.float64) * sensitivity * correction + baseline
    return (values * factor).astype(np.float32)


def start_of(dataset: Any) -> str:
    """ISO time of the recording: AcquisitionDateTime, else ContentDate + ContentTime."""
    stamp = _acquired(dataset)
    return stamp.isoformat() if stamp else ""


def device_of(dataset: Any) -> str:
    """Manufacturer and model ("Mortara Instrument, Inc. el250"); "Unknown" left out."""
    parts = [
        str(dataset.get(key) or "").strip() for key in ("Manufacturer", "ManufacturerModelName")
    ]
    return " ".join(part for part in parts if part and part.lower() != "unknown")


def study_of(dataset: Any) -> dict[str, str]:
    """The patient and study fields the file carries, as case.STUDY_FIELDS keys."""
    study = {
        "name": _person(dataset.get("PatientName")),
        "patient_id": str(dataset.get("PatientID") or "").strip(),
        "date_of_birth": _iso_date(str(dataset.get("PatientBirthDate") or "")),
        "sex": {"F": "F", "M": "M", "O": "X"}.get(str(dataset.get("PatientSex") or "").strip(), ""),
        "age": _years(str(dataset.get("PatientAge") or "")),
        "referring_clinician": _person(dataset.get("ReferringPhysicianName")),
    }
    stamp = _acquired(dataset)
    if stamp:
        study["acquisition_date"] = stamp.strftime("%Y-%m-%d %H:%M:%S")
    return {key: value for key, value in study.items() if value}


def _acquired(dataset: Any) -> datetime | None:
    text = str(dataset.get("AcquisitionDateTime") or "").strip()
    if not text:
        text = str(dataset.get("ContentDate") or "") + str(dataset.get("ContentTime") or "")
    digits = text.split(".")[0].split("+")[0].split("-")[0].strip()
    if len(digits) < 8:
        return None
    digits = digits[:14].ljust(14, "0")
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _person(value: Any) -> str:
    """A DICOM person name as "Family, Given" (or the one part it has)."""
    if value is None:
        return ""
    text = str(value).split("=")[0]  # the alphabetic form, not ideographic/phonetic ones
    family, _, rest = text.partition("^")
    given = rest.split("^")[0]
    return ", ".join(part.strip() for part in (family, given) if part.strip())


def _iso_date(text: str) -> str:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat()
    except ValueError:
        return ""


def _years(text: str) -> str:
    """DICOM age "045Y" -> "45"; ages in months, weeks or days are not whole years."""
    text = text.strip().upper()
    if len(text) == 4 and text.endswith("Y") and text[:3].isdigit():
        return str(int(text[:3]))
    return ""
