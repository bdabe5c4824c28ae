"""Study fields proposed from a PDF's text layer, and the per-field checks the form shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from ecgviewer.core.study import field_problem
from ecgviewer.core.study_proposals import propose_from_pdf

PDFS = Path(__file__).resolve().parents[2].parent / "shared" / "ecg-samples" / "pdf"


def _cart_pdf(path: Path, *, turned: bool) -> Path:
    """A header laid out like the carts': label and value as separate runs, and inline."""
    canvas = Canvas(str(path), pagesize=landscape(A4))
    if turned:  # text drawn sideways on a portrait page shown turned, as Schiller's export does
        canvas.setPageRotation(90)
        canvas.rotate(90)
        canvas.translate(0, -A4[0])
    lines = [("Name", "Roe, Jane"), ("Pat.-ID", "A-17-0042"), ("Geb.-datum", "03.02.1958"),
             ("Geschlecht", "weiblich"), ("Zuw. Arzt", "")]  # fmt: skip
    for row, (label, value) in enumerate(lines):
        canvas.drawString(40, 560 - 14 * row, label)
        canvas.drawString(120, 560 - 14 * row, value)
    canvas.drawString(300, 560, "12.11.2026")
    canvas.drawString(370, 560, "14:05:09")
    canvas.drawString(300, 546, "Seite 1 von 2")
    canvas.showPage()
    canvas.save()
    return path


@pytest.mark.parametrize("turned", [False, True])
def test_labels_with_values_beside_them_either_way_the_page_is_turned(
    tmp_path: Path, turned: bool
) -> None:
    proposals = propose_from_pdf(_cart_pdf(tmp_path / "cart.pdf", turned=turned), 0)
    assert proposals == {
        "name": "Roe, Jane",
        "patient_id": "A-17-0042",
        "date_of_birth": "1958-02-03",
        "sex": "F",
        "acquisition_date": "2026-11-12 14:05:09",
    }  # the empty "Zuw. Arzt" proposes nothing, and the page number is no clinician


def test_a_pdf_without_text_or_a_broken_one_proposes_nothing(tmp_path: Path) -> None:
    blank = tmp_path / "blank.pdf"
    canvas = Canvas(str(blank))
    canvas.showPage()
    canvas.save()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nothing else")
    assert propose_from_pdf(blank, 0) == {} and propose_from_pdf(broken, 0) == {}


REAL = {  # what each shared cart PDF prints in its header (read off the page)
    "schiller_1282423.pdf": {"name": "test testmann", "patient_id": "1282423",
                             "date_of_birth": "2001-01-01", "age": "20", "sex": "M",
                             "acquisition_date": "2021-02-05 13:39:33"},
    "cardiosoft_testmann.pdf": {"patient_id": "1282423", "sex": "F", "age": "20",
                                "acquisition_date": "2021-02-05 13:36:10"},
    "cardiosoft_3b7b4dc1.pdf": {"patient_id": "1247165", "sex": "M", "age": "75",
                                "acquisition_date": "2025-04-29 08:28:13"},
    "dicom-ecg-plot_mortara_eli250_anonymous_ecg_3x4.pdf": {
        "sex": "F", "date_of_birth": "1971-01-23", "acquisition_date": "2013-01-25 09:54"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_cart_pdfs(name: str) -> None:
    if not (PDFS / name).exists():
        pytest.skip("shared ECG samples are not available here")
    assert propose_from_pdf(PDFS / name, 0) == REAL[name]


@pytest.mark.parametrize(
    ("key", "value", "fits"),
    [("date_of_birth", "1961-04-23", True), ("date_of_birth", "23.04.1961", False),
     ("acquisition_date", "2026-11-29 09:41", True), ("acquisition_date", "yesterday", False),
     ("age", "67", True), ("age", "sixty", False), ("age", "200", False),
     ("sex", "f", True), ("sex", "Q", False), ("name", "anything at all", True)],
)  # fmt: skip
def test_field_problems(key: str, value: str, fits: bool) -> None:
    assert (field_problem(key, value) == "") is fits
