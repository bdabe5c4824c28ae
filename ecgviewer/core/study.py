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
    """`study` with its values trimmed and checked: dates, the time of recording, the sex."""
    result = {key: value.strip() for key, value in study.items() if value and value.strip()}
    _check_iso(result, "date_of_birth", date.fromisoformat,
               "The date of birth {!r} is not a date like 1961-04-23.")  # fmt: skip
    _check_iso(result, "acquisition_date", datetime.fromisoformat,
               "The recording time {!r} is not a date and time like 2026-11-29T09:41.")  # fmt: skip
    if "sex" in result:
        result["sex"] = result["sex"].upper()
        if result["sex"] not in SEXES:
            raise InputError(f"Sex must be one of {', '.join(SEXES)}.")
    return result


def _check_iso(
    study: dict[str, str], key: str, parse: Callable[[str], object], message: str
) -> None:
    if key in study:
        try:
            parse(study[key])
        except ValueError as exc:
            raise InputError(message.format(study[key])) from exc
