"""Study fields proposed from a cart PDF's text layer, for the user to accept or not.

ECG carts print the patient's name, ID, date of birth, sex and the time of
recording in the page header, and their PDF exports keep that text. This
module reads it with PDFium (read only) and proposes study fields; it never
fills a case by itself: the window shows the proposals with one button to
accept them.

Carts lay the header out in two ways: "Label: value" on one line (GE
CardioSoft, dicom-ecg-plot) and a label with its value printed next to it in
a separate text run (Schiller). Both are handled by looking for known labels
(English and German) and taking the text that follows on the same line,
whichever way the page is turned. A line with a date and a time and no label
is taken as the time of recording; a lone "male"/"weiblich" as the sex; an
age like "75J." or "020Y" as the age.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_CLINICIAN = (
    r"zuw\.?\s*arzt|behand\.?\s*arzt|referring physician|referred by|requested by"
    r"|ordering physician"
)
# study key -> label pattern (case-insensitive; where a label may stand: _LABEL_RES)
LABELS: tuple[tuple[str, str], ...] = (
    ("patient_id", r"patienten[-‑ ]?nr\.?|pat\.?[-‑ ]?id|patient[- ]id|mrn|pid"),
    ("name", r"patientenname|patient name|name"),
    ("date_of_birth", r"geb\.?[-‑ ]?datum|geburtsdatum|date of birth|birth ?date|dob"),
    ("age", r"alter|age"),
    ("sex", r"geschlecht|gender|sex"),
    ("referring_clinician", _CLINICIAN),
    ("acquisition_date", r"ecg date|ekg[- ]datum|acquired|recorded"),
)
# a label opens a run ("Name", "Pat.-ID: 12"), or follows a space with a colon ("... sex: F")
_LABEL_RES = [
    (key, re.compile(rf"(?:^\s*(?:{pattern})\s*[:.]?|(?<=\s)(?:{pattern})\s*:)\s*", re.I))
    for key, pattern in LABELS
]
_ANY_LABEL = re.compile("|".join(rf"^\s*(?:{p})\s*[:.]?\s*$" for _, p in LABELS), re.I)
_SEXES = {"m": "M", "male": "M", "männlich": "M", "mann": "M", "f": "F", "w": "F",
          "female": "F", "weiblich": "F", "frau": "F"}  # fmt: skip
_AGE = re.compile(r"^\s*0*(\d{1,3})\s*(?:j\.?|y|yrs?|years?|jahre)\s*$", re.I)
_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d %b %Y", "%d/%m/%Y", "%d-%b-%Y")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_NOT_A_VALUE = re.compile(r"^(?:seite|page)\b", re.I)  # "Behand. Arzt: Seite 1" has no name
MAX_VALUE_GAP = 100.0  # points between a label and its value on the same line


@dataclass(frozen=True)
class _Run:
    """One run of text on the page and its box (left, bottom, right, top) in points."""

    text: str
    box: tuple[float, float, float, float]

    @property
    def vertical(self) -> bool:
        left, bottom, right, top = self.box
        return (top - bottom) > (right - left)


def propose_from_pdf(path: Path, page: int) -> dict[str, str]:
    """Study fields found in the text of `page` (0-based) of the PDF at `path`; {} on any
    problem (a PDF without text, a damaged one: proposals are a convenience, not a step)."""
    try:
        runs = _text_runs(path, page)
    except Exception as error:  # PDFium raises its own kinds; never stop an open for this
        log.info("no study proposals: %s", type(error).__name__)
        return {}
    return proposals_from_runs(runs)


def _text_runs(path: Path, page: int) -> list[_Run]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        textpage = document[page].get_textpage()
        runs = []
        for index in range(textpage.count_rects()):
            box = textpage.get_rect(index)
            text = textpage.get_text_bounded(*box).replace("\xa0", " ").replace("‑", "-")
            if text.strip():
                runs.append(_Run(text.strip(), box))
        return runs
    finally:
        document.close()


def proposals_from_runs(runs: list[_Run]) -> dict[str, str]:
    """The fields found in `runs`: labelled values first, then unlabelled dates, sex, age."""
    found: dict[str, str] = {}
    for index, run in enumerate(runs):
        for key, label in _LABEL_RES:
            match = label.search(run.text)
            if match is None or key in found:
                continue
            value = run.text[match.end() :].strip() or _next_on_line(run, runs, index)
            normal = _normalise(key, value)
            if normal:
                found[key] = normal
            break
    for text in _joined_dates(runs):
        _unlabelled(text, found)
    return found


def _joined_dates(runs: list[_Run]) -> list[str]:
    """The runs' texts, a bare date joined with a bare time that follows it (CardioSoft prints
    "29.04.2025" and " 8:28:13" as two runs)."""
    texts = [run.text for run in runs]
    for index in range(len(texts) - 1):
        bare_date = _date(texts[index]) and not _TIME.search(texts[index])
        if bare_date and re.fullmatch(r"\s*\d{1,2}:\d{2}(:\d{2})?\s*", texts[index + 1]):
            texts[index] = f"{texts[index]} {texts[index + 1].strip()}"
    return texts


def _next_on_line(label: _Run, runs: list[_Run], index: int) -> str:
    """The nearest run after `label` on its line (either way the text runs), if not a label."""
    axis = 1 if label.vertical else 0  # the coordinate that grows along the line
    lo, hi = (label.box[0], label.box[2]) if label.vertical else (label.box[1], label.box[3])
    best: tuple[float, str] | None = None
    for other in runs[:index] + runs[index + 1 :]:
        olo, ohi = (other.box[0], other.box[2]) if label.vertical else (other.box[1], other.box[3])
        if min(hi, ohi) - max(lo, olo) < 0.5 * min(hi - lo, ohi - olo):
            continue  # not on the same line
        gap = other.box[axis] - label.box[axis + 2]
        if 0 <= gap <= MAX_VALUE_GAP and (best is None or gap < best[0]):
            best = (gap, other.text)
    if best is None or _ANY_LABEL.match(best[1]):
        return ""
    return best[1]


def _unlabelled(text: str, found: dict[str, str]) -> None:
    """A lone sex word, an age, or a date with a time (the recording) not found by label."""
    word = text.strip().lower()
    if "sex" not in found and word in _SEXES and len(word) > 1:
        found["sex"] = _SEXES[word]
    elif "age" not in found and _AGE.match(text):
        found["age"] = _normalise("age", text)
    elif "acquisition_date" not in found and _TIME.search(text):
        when = _date_time(text)
        if when and when[:10] != found.get("date_of_birth"):
            found["acquisition_date"] = when


def _normalise(key: str, value: str) -> str:
    """`value` in the form the study fields use, or "" when it does not fit the field."""
    value = value.strip()
    if not value or _ANY_LABEL.match(value) or _NOT_A_VALUE.match(value):
        return ""
    if key == "sex":
        return _SEXES.get(value.lower().rstrip("."), "")
    if key == "age":
        match = _AGE.match(value) or re.match(r"^\s*0*(\d{1,3})\s*$", value)
        return match.group(1) if match else ""
    if key == "date_of_birth":
        return _date(value)
    if key == "acquisition_date":
        return _date_time(value)
    return value


def _date(text: str) -> str:
    """The first date in `text` as YYYY-MM-DD, or ""."""
    for candidate in re.findall(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2} \w{3} \d{4}", text):
        for form in _DATE_FORMATS:
            try:
                return datetime.strptime(candidate, form).date().isoformat()
            except ValueError:
                continue
    return ""


def _date_time(text: str) -> str:
    """A date with a time in `text` as "YYYY-MM-DD HH:MM[:SS]" (as typed in the form), or ""."""
    day, time = _date(text), _TIME.search(text)
    if not day or time is None:
        return ""
    hours, minutes, seconds = time.groups()
    clock = f"{int(hours):02d}:{minutes}" + (f":{seconds}" if seconds else "")
    return f"{day} {clock}"


def describe(proposals: dict[str, Any]) -> str:
    """A one-line summary of `proposals` for the window ("Name test testmann, ...")."""
    from ecgviewer.core.case import STUDY_FIELDS

    labels = dict(STUDY_FIELDS)
    return ", ".join(f"{labels.get(k, k)} {v}" for k, v in proposals.items())
