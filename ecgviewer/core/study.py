"""Study fields (who the ECG belongs to) from the command line or a JSON file, checked.

The keys are those of `case.STUDY_FIELDS`, the same the window stores and the
report prints, and the same `interpret --json` prints as its `study` object,
so that object can be fed back with `--study FILE.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from ecgviewer.core.case import STUDY_FIELDS
from ecgviewer.core.errors import InputError

SEXES = ("F", "M", "X")


def read_study_file(path: Path) -> dict[str, str]:
    """The study object in `path`; unknown keys are refused with the list of known ones."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"The study file {path} does not exist.") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"The study file {path.name} is not readable JSON.") from exc
    if not isinstance(data, dict):
        raise InputError(f"The study file {path.name} must hold one JSON object.")
    known = [key for key, _ in STUDY_FIELDS]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputError(
            f"The study file has unknown fields: {', '.join(unknown)}.",
            hint=f"Known fields: {', '.join(known)}.",
        )
    return {key: str(value) for key, value in data.items() if value not in (None, "")}


def checked_study(study: dict[str, str]) -> dict[str, str]:
    """`study` with its values trimmed and checked: dates, the time of recording, age, sex."""
    result = {key: value.strip() for key, value in study.items() if value and value.strip()}
    if "sex" in result:
        result["sex"] = result["sex"].upper()
    for key, value in result.items():
        problem = field_problem(key, value)
        if problem:
            raise InputError(problem)
    return result


def field_problem(key: str, value: str) -> str:
    """Why `value` does not fit the study field `key`, or "" when it does (or is empty).
    The window shows this next to a field; the CLI refuses the value."""
    value = value.strip()
    if not value:
        return ""
    if key == "date_of_birth" and not _parses(date.fromisoformat, value):
        return f"The date of birth {value!r} is not a date like 1961-04-23."
    if key == "acquisition_date" and not _parses(datetime.fromisoformat, value):
        return f"The recording time {value!r} is not a date and time like 2026-11-29 09:41."
    if key == "age" and not (value.isdigit() and int(value) <= 130):
        return f"The age {value!r} is not a number of years like 67."
    if key == "sex" and value.upper() not in SEXES:
        return f"Sex must be one of {', '.join(SEXES)}."
    return ""


def _parses(parse: Callable[[str], object], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True
