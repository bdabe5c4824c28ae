"""HL7 v3 annotated ECG (aECG, <AnnotatedECG> in urn:hl7-org:v3), the FDA's trial format.

The rhythm is a <series> (code RHYTHM; derived series such as representative
beats sit under <derivation> and are not read). Its <sequenceSet> holds one time
sequence, TIME_ABSOLUTE (GLIST_TS) or TIME_RELATIVE (GLIST_PQ), whose increment
gives the sampling rate, and one sequence per lead, coded MDC_ECG_LEAD_I,
MDC_ECG_LEAD_AVR, ... with its values as SLIST_PQ: value = digit × scale + origin,
in the unit the scale and origin name (µV or mV). Leads the file lacks are derived
from I and II where possible and the rest listed as missing.
"""

from __future__ import annotations

import re
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
    recorded_at,
    saturated_leads,
    sex_code,
    whole_years,
    with_derived,
)

FORMAT = "HL7 aECG"
NAMESPACE = "urn:hl7-org:v3"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
LEAD_PREFIX = "MDC_ECG_LEAD_"
TIME_CODES = ("TIME_ABSOLUTE", "TIME_RELATIVE")
TO_MV = {"uv": 1e-3, "mv": 1.0, "v": 1e3}
TO_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
INT16_MAX = 32767  # digits are int16 counts in every file seen
HL7_TIME = ("%Y%m%d%H%M%S.%f", "%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d")
HL7_TS = re.compile(r"\d{8}(?:\d{4}(?:\d{2}(?:\.\d+)?)?)?")
REPORTED_AGE = "21612-7"  # LOINC
COPYRIGHT = re.compile(r"^\s*\((?:c|©)\)\s*|\s*all rights reserved\.?\s*$", re.I)


def sniff_aecg(path: Path) -> bool:
    """True for an HL7 aECG file (root <AnnotatedECG> in the HL7 v3 namespace)."""
    root = xml_root(path)
    return root is not None and root.name == "AnnotatedECG" and root.namespace == NAMESPACE


def read_aecg(path: Path) -> EcgRecord:
    """The rhythm series of an aECG file in mV, limb leads derived where I and II allow."""
    root = parse_xml(path, FORMAT)
    series = _rhythm_series(root, path)
    sequences = [
        (find(s, "code"), s) for s in find_all(series, "component/sequenceSet/component/sequence")
    ]
    coded = [(code.get("code", ""), s) for code, s in sequences if code is not None]
    rate, time_start = _time_axis(coded, path)
    check_sampling(rate, f"The rhythm of {path.name} ({FORMAT})")
    stored, clipped, notes = _stored_leads(coded, path)
    leads, derived, missing = complete_leads(stored)
    start = time_start or _effective_start(series) or _effective_start(root)
    study, study_notes = checked_fields(_study_fields(root))
    if start:
        study["acquisition_date"] = recorded_at(start)
    return EcgRecord(
        leads=leads, sampling_hz=rate, format=FORMAT, start=start, device=_device(series),
        study=study, derived=derived, missing=missing, flat=flat_leads(leads),
        saturated=with_derived(clipped, derived), notes=notes + study_notes,
    )  # fmt: skip


def _rhythm_series(root: Element, path: Path) -> Element:
    series = find_all(root, "component/series")
    for candidate in series:
        code = find(candidate, "code")
        if code is not None and code.get("code", "").upper() == "RHYTHM":
            return candidate
    if series:
        return series[0]
    raise DigitalEcgError(f"{path.name} ({FORMAT}) holds no waveform series to draw.")


def _time_axis(coded: list[tuple[str, Element]], path: Path) -> tuple[float, str]:
    """(sampling rate, ISO start time or "" for a relative axis) from the time sequence."""
    for code, sequence in coded:
        if code in TIME_CODES:
            value = find(sequence, "value")
            increment = None if value is None else find(value, "increment")
            head = None if value is None else find(value, "head")
            if increment is not None:
                seconds = _quantity(increment, TO_S, 1.0)
                rate = round(1.0 / seconds, 6) if seconds > 0 else 0.0
                start = ""
                if code == "TIME_ABSOLUTE" and head is not None:
                    start = _hl7_time(head.get("value", ""))
                return rate, start
    raise DigitalEcgError(
        f"{path.name} ({FORMAT}) has no time sequence (TIME_ABSOLUTE or TIME_RELATIVE with "
        "an increment), so its sampling rate is unknown."
    )


def _quantity(element: Element, units: dict[str, float], default_unit: float) -> float:
    """`element`'s value attribute in the base unit of `units` (0.0 when unreadable)."""
    unit = element.get("unit", "").strip().lower().replace("µ", "u").replace("μ", "u")
    factor = units.get(unit, default_unit if not unit else 0.0)
    try:
        return float(element.get("value", "")) * factor
    except ValueError:
        return 0.0


def _stored_leads(
    coded: list[tuple[str, Element]], path: Path
) -> tuple[dict[str, np.ndarray], tuple[str, ...], tuple[str, ...]]:
    """The lead sequences in mV, those at the int16 limit, and notes."""
    leads: dict[str, np.ndarray] = {}
    clipped: list[str] = []
    for code, sequence in coded:
        if not code.upper().startswith(LEAD_PREFIX):
            continue
        name = standard_lead_name(code[len(LEAD_PREFIX) :])
        digits, scale, origin = _slist(sequence, name, path)
        leads[name] = (digits * scale + origin).astype(np.float32)
        if saturated_leads({name: digits}, INT16_MAX):
            clipped.append(name)
    if not leads:
        raise DigitalEcgError(f"The rhythm series of {path.name} ({FORMAT}) holds no leads.")
    length = min(len(values) for values in leads.values())
    notes: tuple[str, ...] = ()
    if any(len(values) != length for values in leads.values()):
        notes = (f"Leads of different lengths were cut to the shortest ({length} samples).",)
    return {name: values[:length] for name, values in leads.items()}, tuple(clipped), notes


def _slist(sequence: Element, name: str, path: Path) -> tuple[np.ndarray, float, float]:
    """(digits, scale in mV, origin in mV) of one lead's SLIST_PQ value."""
    value = find(sequence, "value")
    kind = value.get(XSI_TYPE, "") if value is not None else ""
    scale = None if value is None else find(value, "scale")
    origin = None if value is None else find(value, "origin")
    if value is None or kind != "SLIST_PQ" or scale is None:
        raise DigitalEcgError(
            f"Lead {name} of {path.name} stores its values as {kind or 'nothing'}; ECG Viewer "
            "reads aECG leads written as SLIST_PQ (digits with an origin and a scale)."
        )
    scale_mv = _quantity(scale, TO_MV, 0.0)
    origin_mv = _quantity(origin, TO_MV, 0.0) if origin is not None else 0.0
    if scale_mv == 0.0:
        raise DigitalEcgError(
            f"Lead {name} of {path.name} gives its scale as {scale.get('value')!r} "
            f"{scale.get('unit')!r}, which ECG Viewer cannot turn into millivolts."
        )
    try:
        digits = np.array(find_text(value, "digits").split(), dtype=np.float64)
    except ValueError as error:
        raise DigitalEcgError(
            f"Lead {name} of {path.name} holds values that are not numbers."
        ) from error
    return digits, scale_mv, origin_mv


def _effective_start(element: Element) -> str:
    for path in ("effectiveTime/low", "effectiveTime/center"):
        found = find(element, path)
        if found is not None and (start := _hl7_time(found.get("value", ""))):
            return start
    return ""


def _hl7_time(text: str) -> str:
    """An HL7 TS ("20021122091000.000", maybe with a "-0500" zone) as ISO 8601 local time."""
    match = HL7_TS.match(text.strip())
    return iso_datetime(match[0], HL7_TIME) if match else ""


def _device(series: Element) -> str:
    device = find(series, "author/seriesAuthor/manufacturedSeriesDevice")
    maker = COPYRIGHT.sub(
        "", find_text(series, "author/seriesAuthor/manufacturerOrganization/name")
    )
    model = find_text(device, "manufacturerModelName")
    software = find_text(device, "softwareName")
    name = " ".join(part for part in (maker, model) if part)
    return f"{name}, software {software}" if software else name


def _study_fields(root: Element) -> dict[str, str]:
    subject = find(
        root, "componentOf/timepointEvent/componentOf/subjectAssignment/subject/trialSubject"
    )
    person = None if subject is None else find(subject, "subjectDemographicPerson")
    subject_id = find(subject, "id") if subject is not None else None
    birth = find(person, "birthTime") if person is not None else None
    gender = find(person, "administrativeGenderCode") if person is not None else None
    investigator = find_text(root, ".//trialInvestigator/investigatorPerson/name")
    return {
        "patient_id": (subject_id.get("extension", "") if subject_id is not None else "")
        or find_text(person, "PatientID"),
        "name": find_text(person, "name"),
        "date_of_birth": iso_date(birth.get("value", ""), HL7_TIME) if birth is not None else "",
        "age": _reported_age(root),
        "sex": sex_code(gender.get("code", "")) if gender is not None else "",
        "referring_clinician": investigator,
    }


def _reported_age(root: Element) -> str:
    """The age in years from a LOINC "Reported Age" observation (unit "a")."""
    for observation in find_all(root, ".//controlVariable/relatedObservation"):
        code, value = find(observation, "code"), find(observation, "value")
        if (
            code is not None
            and value is not None
            and code.get("code") == REPORTED_AGE
            and value.get("unit", "a") == "a"
        ):
            return whole_years(value.get("value", ""))
    return ""
