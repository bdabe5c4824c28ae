"""Export without identifiers: no study field and no file name anywhere in the PDF."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from pypdf import PdfReader

from ecgviewer.core.report import write_report
from ecgviewer.core.report.deidentify import NOTICE
from tests.core.report.samples import make_case, pages_text, pdftotext

STUDY = {
    "name": "Testperson, Greta",
    "patient_id": "MRN-77123",
    "date_of_birth": "1961-04-23",
    "age": "64",
    "acquisition_date": "2025-06-01 09:41",
    "referring_clinician": "Dr Quirinus Example",
    "indication": "Palpitations after exercise",
    "comment": "Seen in clinic 4B",
}


def flat(text: str) -> str:
    return " ".join(text.split())


def _write(tmp_path: Path, image: Image.Image, *, identifiers: bool) -> Path:
    case = make_case(study=dict(STUDY), notes="Compare with last week's tracing.")
    case.source.name, case.source.path = "greta-testperson.png", "/scans/greta-testperson.png"
    out = tmp_path / ("with.pdf" if identifiers else "without.pdf")
    return write_report(case, image, image, out, page_size="A4", identifiers=identifiers)


def test_page_one_carries_every_study_field(tmp_path: Path, ecg_image: Image.Image) -> None:
    first_page = flat(pages_text(_write(tmp_path, ecg_image, identifiers=True))[0])
    for value in STUDY.values():
        assert value in first_page
    assert NOTICE.split(":")[0] not in first_page


def test_without_identifiers_no_field_or_file_name_is_anywhere(
    tmp_path: Path, ecg_image: Image.Image
) -> None:
    path = _write(tmp_path, ecg_image, identifiers=False)
    everything = flat(pdftotext(path)) + flat(" ".join(pages_text(path)))
    metadata = str(PdfReader(path).metadata)
    for value in [*STUDY.values(), "greta-testperson", "Testperson"]:
        assert value not in everything, value
        assert value not in metadata, value
    assert flat(NOTICE) in flat(pages_text(path)[0])  # said plainly, on page 1
    assert "Compare with last week's tracing." in everything  # notes are kept, as the notice says
