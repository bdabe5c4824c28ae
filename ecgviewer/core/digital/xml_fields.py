"""What the vendor XML readers share besides parsing: study fields in the form's own
spelling, and leads that sit at the converter's limit.

Files write dates as 03-25-1996, 19530508 or 2010-01-19 and sex as "Male", "M" or
"MALE"; the study form wants 1996-03-25 and M. A value that still does not fit its
field after conversion is left out and said in the record's notes, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np

from ecgviewer.core.digital.record import LIMB_FROM_I_II
from ecgviewer.core.study import field_problem

_SEXES = {"m": "M", "male": "M", "f": "F", "female": "F"}
SATURATED_MIN_SAMPLES = 2  # one sample at the limit can be a real peak; two is clipping


def iso_date(text: str, formats: Iterable[str]) -> str:
    """`text` as YYYY-MM-DD, trying each strptime format; "" when none fits."""
    parsed = _parse(text, formats)
    return parsed.strftime("%Y-%m-%d") if parsed else ""


def iso_datetime(text: str, formats: Iterable[str]) -> str:
    """`text` as YYYY-MM-DDTHH:MM:SS (ISO 8601), trying each format; "" when none fits."""
    parsed = _parse(text, formats)
    return parsed.isoformat(timespec="seconds") if parsed else ""


def _parse(text: str, formats: Iterable[str]) -> datetime | None:
    for form in formats:
        try:
            return datetime.strptime(text.strip(), form)
        except ValueError:
            continue
    return None


def recorded_at(start: str) -> str:
    """The study form's "Recorded" value (YYYY-MM-DD HH:MM) from an ISO start time."""
    return start[:16].replace("T", " ") if start else ""


def sex_code(text: str) -> str:
    """M or F from the file's spelling; "" for unknown, unspecified and the like."""
    return _SEXES.get(text.strip().lower(), "")


def person_name(last: str, first: str) -> str:
    """ "Last, First" as the study form writes names (either part may be missing)."""
    return ", ".join(part.strip() for part in (last, first) if part and part.strip())


def whole_years(text: str) -> str:
    """An age in whole years as digits ("50", "46.0" -> "46"); "" otherwise."""
    try:
        years = float(text)
    except ValueError:
        return ""
    return str(int(years)) if 0 <= years <= 130 else ""


def checked_fields(fields: Mapping[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """The non-empty `fields` that fit the study form, and a note for each that does not."""
    study: dict[str, str] = {}
    notes: list[str] = []
    for key, raw in fields.items():
        value = raw.strip()
        if not value:
            continue
        problem = field_problem(key, value)
        if problem:
            notes.append(f"Study field left out: {problem}")
        else:
            study[key] = value
    return study, tuple(notes)


def saturated_leads(leads: Mapping[str, np.ndarray], limit_mv: float) -> tuple[str, ...]:
    """Leads with at least two samples at or beyond ±`limit_mv` (the converter's limit)."""
    return tuple(
        name
        for name, values in leads.items()
        if np.count_nonzero(np.abs(values) >= limit_mv) >= SATURATED_MIN_SAMPLES
    )


def with_derived(saturated: tuple[str, ...], derived: tuple[str, ...]) -> tuple[str, ...]:
    """`saturated` plus the limb leads derived from a saturated I or II (clipped as well)."""
    if not {"I", "II"} & set(saturated):
        return saturated
    return saturated + tuple(name for name in derived if name in LIMB_FROM_I_II)
