"""Philips SierraECG and PhilipsECG XML (HeartStart MRx, PageWriter Touch and TC, IntelliSpace).

The leads are XLI-compressed and base64-encoded inside <parsedwaveforms>; the
`sierraecg` package decodes them (and rebuilds III, aVR, aVL and aVF, which
the cart stores as residuals) into raw counts. Counts are scaled to mV with the
file's resolution: <resolution> (1.04) or <signalresolution> (1.03) in
µV per count, 5 in every file seen. The file checks that itself: its closing
calibration pulse is 200 counts = 1 mV; a pulse that disagrees is noted.

Carts write 11 s per lead: about 10.1-10.6 s of signal, then zeros and a 1 mV
× 200 ms calibration pulse. The record keeps the first 10 s (the page's rhythm
strip), or the signal before the trailing zeros when that is shorter.

The metadata (patient, times, device) is read here with defusedxml; the files
may be UTF-8 or UTF-16 with a byte-order mark.
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
from ecgviewer.core.digital.xml_document import find, find_all, find_text, parse_xml, xml_root
from ecgviewer.core.digital.xml_fields import (
    checked_fields,
    iso_date,
    iso_datetime,
    person_name,
    recorded_at,
    saturated_leads,
    sex_code,
    whole_years,
)

DOCUMENT_TYPES = ("SierraECG", "PhilipsECG")
VERSIONS = ("1.03", "1.04", "1.04.01", "1.04.02")  # what sierraecg 0.4 decodes
KEEP_S = 10.0
CLIP_COUNTS = 3276  # the MRx clips at ±3276 counts (±16.38 mV at 5 µV/count)
MAX_PULSE_S = 0.5  # the trailing calibration pulse lasts 200 ms
PULSE_UV = 1000.0


def sniff_philips(path: Path) -> bool:
    """True for a Philips ECG XML file (root element <restingecgdata>)."""
    root = xml_root(path)
    return root is not None and root.name == "restingecgdata"


def read_philips(path: Path) -> EcgRecord:
    """The rhythm of a Philips XML file: every lead in mV, the first 10 s."""
    root = parse_xml(path, "Philips")
    kind = _document_kind(root, path)
    counts, labels, rate = _decode(path, kind)
    check_sampling(rate, f"{path.name} ({kind})")
    resolution_uv = _resolution_uv(root, path)
    end, crop_notes = _crop(counts, rate, resolution_uv)
    stored = {
        standard_lead_name(label): (counts[index, :end] * (resolution_uv / 1000.0)).astype(
            np.float32
        )
        for index, label in enumerate(labels)
    }
    leads, derived, missing = complete_leads(stored)
    study, study_notes = checked_fields(_study_fields(root))
    start = _start(root)
    if start and "acquisition_date" not in study:
        study["acquisition_date"] = recorded_at(start)
    return EcgRecord(
        leads=leads, sampling_hz=rate, format=kind, start=start, device=_device(root),
        study=study, derived=derived, missing=missing, flat=flat_leads(leads),
        saturated=saturated_leads(leads, (CLIP_COUNTS - 0.5) * resolution_uv / 1000.0),
        notes=crop_notes + study_notes,
    )  # fmt: skip


def _document_kind(root: Element, path: Path) -> str:
    doc_type = find_text(root, "documentinfo/documenttype")
    version = find_text(root, "documentinfo/documentversion")
    if doc_type not in DOCUMENT_TYPES or version not in VERSIONS:
        raise DigitalEcgError(
            f"{path.name} is Philips ECG XML of type {doc_type or '(none)'}, version "
            f"{version or '(none)'}, which ECG Viewer cannot decode: it reads SierraECG and "
            f"PhilipsECG {', '.join(VERSIONS)}."
        )
    return f"Philips {doc_type} XML {version}"


def _decode(path: Path, kind: str) -> tuple[np.ndarray, list[str], float]:
    """(counts as a leads × samples int32 array, lead labels, sampling rate) by sierraecg."""
    import sierraecg

    try:
        ecg = sierraecg.read_file(str(path))
    except (RuntimeError, ValueError, IndexError, KeyError) as error:
        raise DigitalEcgError(
            f"The waveform of {path.name} ({kind}) cannot be decoded: {error}. The file may be "
            "damaged; export it again from the cart or IntelliSpace ECG."
        ) from error
    if not ecg.leads:
        raise DigitalEcgError(f"{path.name} ({kind}) holds no leads.")
    length = min(len(lead.samples) for lead in ecg.leads)
    counts = np.stack([lead.samples[:length].astype(np.int32) for lead in ecg.leads])
    return counts, [lead.label for lead in ecg.leads], float(ecg.leads[0].sampling_freq)


def _resolution_uv(root: Element, path: Path) -> float:
    """µV per count: the waveform's own attribute (1.04), else the acquisition's (1.03)."""
    waveform = find(root, "waveforms/parsedwaveforms")
    offset = waveform.get("signaloffset", "0") if waveform is not None else "0"
    texts = (
        waveform.get("resolution", "") if waveform is not None else "",
        find_text(root, "dataacquisition/signalcharacteristics/resolution"),
        find_text(root, "dataacquisition/signalcharacteristics/signalresolution"),
    )
    text = next((value for value in texts if value), "")
    try:
        resolution, offset_value = float(text), float(offset or "0")
    except ValueError:
        resolution, offset_value = 0.0, 0.0
    if resolution <= 0 or offset_value != 0:
        raise DigitalEcgError(
            f"{path.name} gives no usable amplitude resolution (resolution {text or 'missing'}, "
            f"signal offset {offset}), so its counts cannot be turned into millivolts."
        )
    return resolution


def _crop(counts: np.ndarray, rate: float, resolution_uv: float) -> tuple[int, tuple[str, ...]]:
    """How many samples to keep, and notes on the crop and on the calibration pulse."""
    signal_end, pulse = _trailing_pulse(counts, rate)
    end = min(round(KEEP_S * rate), signal_end)
    total_s, kept_s = counts.shape[1] / rate, end / rate
    notes = []
    if end < counts.shape[1]:
        why = " (the file ends with zeros and a calibration pulse)" if pulse is not None else ""
        notes.append(f"Kept the first {kept_s:.1f} s of the {total_s:.1f} s stored{why}.")
    if pulse is not None:
        pulse_uv = float(np.median(pulse)) * resolution_uv
        if abs(pulse_uv - PULSE_UV) > 0.05 * PULSE_UV:
            notes.append(
                f"The file's calibration pulse measures {pulse_uv / 1000:.2f} mV, not 1 mV: "
                "amplitudes may be scaled wrongly."
            )
    return end, tuple(notes)


def _trailing_pulse(counts: np.ndarray, rate: float) -> tuple[int, np.ndarray | None]:
    """Where the signal ends, and the calibration pulse after it (None when there is none):
    the last run of non-zero samples, when it is short, identical in every lead, and
    separated from the signal by zeros."""
    active = np.flatnonzero(np.any(counts != 0, axis=0))
    gaps = np.flatnonzero(np.diff(active) > 1)
    if gaps.size == 0:
        return counts.shape[1], None
    first, last = int(active[gaps[-1] + 1]), int(active[-1])
    pulse = counts[:, first : last + 1]
    if (last - first + 1) > MAX_PULSE_S * rate or not np.all(pulse == pulse[0]):
        return counts.shape[1], None
    return int(active[gaps[-1]]) + 1, pulse[0]


def _start(root: Element) -> str:
    acquisition = find(root, "dataacquisition")
    if acquisition is None:
        return ""
    when = f"{acquisition.get('date', '')} {acquisition.get('time', '')}"
    return iso_datetime(when, ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"))


def _device(root: Element) -> str:
    machine = find(root, "dataacquisition/machine")
    if machine is None:
        return ""
    model = (machine.text or "").strip()
    software = machine.get("detaildescription", "").rpartition(":")[2].strip()
    name = f"Philips {model}" if model and not model.lower().startswith("philips") else model
    return f"{name}, software {software}" if software else name


def _study_fields(root: Element) -> dict[str, str]:
    patient = find(root, "patient/generalpatientdata")
    birth = find_text(patient, "age/dateofbirth")
    return {
        "patient_id": find_text(patient, "patientid"),
        "name": person_name(find_text(patient, "name/lastname"),
                            find_text(patient, "name/firstname")),
        "date_of_birth": iso_date(birth, ("%Y-%m-%d",)) if birth else "",
        "age": whole_years(find_text(patient, "age/years")),
        "sex": sex_code(find_text(patient, "sex")),
        "referring_clinician": _clinician(root),
        "indication": find_text(root, "orderinfo/reasonfororder"),
    }  # fmt: skip


def _clinician(root: Element) -> str:
    """The referring or ordering clinician, wherever this version of the format keeps it."""
    for path in (
        "dataacquisition/acquirer/referringclinician",
        "dataacquisition/acquirer/orderingclinician",
        "dataacquisition/acquirer/orderingclinicianname",
        "orderinfo/orderingclinicianname",
    ):
        if name := find_text(root, path):
            return name
    for item in find_all(root, "userdefines/userdefine"):
        label = find_text(item, "label").lower()
        if "ordering" in label or "referring" in label:
            return find_text(item, "value")
    return ""
