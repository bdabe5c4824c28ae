"""SCP-ECG section 1 (patient and acquisition header) as study fields, start time and device.

Section 1 is a list of tags: tag number (1 byte), length (2 bytes), value; tag 255
ends it. Text is NUL-terminated (read as Latin-1). Read here: last and first
name (0, 1), patient id (2), age (4: value + unit), date of birth (5: year, month,
day), sex (8), referral indication (13), acquiring device (14), referring
physician (20), acquisition date (25) and time (26), free text (30). A value that
is not a real date, age or sex code (anonymisers have been seen to write the
year big-endian: 53255-01-01) is never proposed; a note names the field instead.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

Tags = dict[int, list[bytes]]
AGE_UNITS = {1: 1.0, 2: 12.0, 3: 52.18, 4: 365.25, 5: 8766.0}  # per year: years..hours
SEX_CODES = {1: "M", 2: "F"}  # 0 not known and 9 unspecified propose nothing
EARLIEST_YEAR = 1850


@dataclass(frozen=True)
class HeaderFacts:
    """What section 1 says, checked: study fields, start time, device and notes."""

    study: dict[str, str] = field(default_factory=dict)
    start: str = ""
    device: str = ""
    notes: tuple[str, ...] = ()


def parse_tags(data: bytes) -> tuple[Tags, bool]:
    """Section 1's tags (a tag may repeat); False when the list runs past the section."""
    tags: Tags = {}
    offset = 0
    while offset + 3 <= len(data):
        tag, length = struct.unpack_from("<BH", data, offset)
        if tag == 255:
            return tags, True
        if offset + 3 + length > len(data):
            return tags, False
        tags.setdefault(tag, []).append(data[offset + 3 : offset + 3 + length])
        offset += 3 + length
    return tags, True


def read_header(data: bytes) -> HeaderFacts:
    """Study fields, start and device from section 1's data, with notes on damaged fields."""
    tags, complete = parse_tags(data)
    notes: list[str] = [] if complete else ["The header section (section 1) is cut short."]
    recorded = _recorded(tags, notes)
    study = _texts(tags)
    born = _date(tags, 5, "date of birth", notes, latest=recorded.date() if recorded else None)
    if born:
        study["date_of_birth"] = born.isoformat()
    start = ""
    if recorded:  # a date without tag 26 stays a date: no invented midnight
        start = recorded.isoformat() if 26 in tags else recorded.date().isoformat()
        study["acquisition_date"] = start.replace("T", " ")
    study.update(_age(tags, notes, born, recorded))
    study.update(_sex(tags, notes))
    return HeaderFacts(study, start, _device(tags), tuple(notes))


def _text(tags: Tags, tag: int) -> str:
    values = [value.split(b"\0", 1)[0].decode("latin-1").strip() for value in tags.get(tag, [])]
    return "; ".join(value for value in values if value)


def _texts(tags: Tags) -> dict[str, str]:
    last, first = _text(tags, 0), _text(tags, 1)
    fields = {
        "patient_id": _text(tags, 2),
        "name": ", ".join(part for part in (last, first) if part),
        "indication": _text(tags, 13),
        "referring_clinician": _text(tags, 20),
        "comment": _text(tags, 30),
    }
    return {key: value for key, value in fields.items() if value}


def _date(
    tags: Tags, tag: int, what: str, notes: list[str], latest: date | None = None
) -> date | None:
    """The date in `tag` (year uint16, month, day) if it is a real one; else a note."""
    value = tags.get(tag, [b""])[0]
    if len(value) < 4 or value[:4] == b"\0\0\0\0":
        return None
    year, month, day = struct.unpack_from("<HBB", value)
    last = latest or date(date.today().year + 1, 12, 31)
    try:
        found = date(year, month, day)
    except ValueError:
        found = None
    if found is None or not year >= EARLIEST_YEAR or found > last:
        notes.append(
            f"The header's {what} ({year}-{month:02d}-{day:02d}) is not a possible date; "
            "it is not proposed. The signal is not affected."
        )
        return None
    return found


def _recorded(tags: Tags, notes: list[str]) -> datetime | None:
    day = _date(tags, 25, "recording date", notes)
    if day is None:
        return None
    clock = tags.get(26, [b""])[0]
    hour, minute, second = (clock[0], clock[1], clock[2]) if len(clock) >= 3 else (0, 0, 0)
    if hour > 23 or minute > 59 or second > 59:
        notes.append(f"The header's recording time ({hour}:{minute}:{second}) is not possible.")
        hour = minute = second = 0
    return datetime(day.year, day.month, day.day, hour, minute, second)


def _age(
    tags: Tags, notes: list[str], born: date | None, recorded: datetime | None
) -> Mapping[str, str]:
    """The age in whole years when it is possible (0-130) and agrees with the dates."""
    value = tags.get(4, [b""])[0]
    if len(value) < 3:
        return {}
    amount, unit = struct.unpack_from("<HB", value)
    if amount == 0 and unit == 0:
        return {}
    years = int(amount / AGE_UNITS[unit]) if unit in AGE_UNITS else None
    if years is None or years > 130:
        notes.append(f"The header's age ({amount}, unit code {unit}) is not possible; "
                     "it is not proposed.")  # fmt: skip
        return {}
    if born and recorded:
        birthday_ahead = (recorded.month, recorded.day) < (born.month, born.day)
        expected = recorded.year - born.year - birthday_ahead
        if abs(expected - years) > 1:
            notes.append(f"The header's age ({years}) does not match its date of birth "
                         f"({born.isoformat()}); the age is not proposed.")  # fmt: skip
            return {}
    return {"age": str(years)}


def _sex(tags: Tags, notes: list[str]) -> Mapping[str, str]:
    value = tags.get(8, [b""])[0]
    if not value or value[0] in (0, 9):
        return {}
    if value[0] not in SEX_CODES:
        notes.append(f"The header's sex code ({value[0]}) is not one the standard defines; "
                     "it is not proposed.")  # fmt: skip
        return {}
    return {"sex": SEX_CODES[value[0]]}


def _device(tags: Tags) -> str:
    """Tag 14 (acquiring device): manufacturer's trade name (fifth text after byte 36) and
    model description (bytes 8-13)."""
    value = tags.get(14, [b""])[0]
    if len(value) < 36:
        return ""
    model = value[8:14].split(b"\0", 1)[0].decode("latin-1").strip()
    texts = [part.decode("latin-1").strip() for part in value[36:].split(b"\0")]
    trade = texts[4] if len(texts) > 4 else ""
    return ", ".join(part for part in (trade, model) if part)
