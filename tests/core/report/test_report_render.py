"""How the PDF report looks and is made: the ECG image, page sizes, fonts, metadata."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from ecgviewer import REPORT_FOOTER
from ecgviewer.core.report import render_report_bytes
from ecgviewer.core.report.pagesize import MM
from tests.core.report.samples import MMPROJ_SHA, MODEL_SHA, SCAN_SHA, Build, make_case


def render_page(path_or_bytes: object, index: int, scale: float = 1.5) -> np.ndarray:
    document = pdfium.PdfDocument(path_or_bytes)
    try:
        bitmap = document[index].render(scale=scale)
        return np.asarray(bitmap.to_pil().convert("RGB")).astype(np.int16)
    finally:
        document.close()


def pink_mask(pixels: np.ndarray) -> np.ndarray:
    """Pixels in the ECG paper's pink grid (red well above green and blue)."""
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (red > 200) & (red - green > 30) & (red - blue > 30)


def pink_grid_fraction(pixels: np.ndarray) -> float:
    """Share of pixels in the ECG paper's pink."""
    return float(pink_mask(pixels).mean())


def test_the_ecg_on_page_one_is_large_and_not_blank(build: Build) -> None:
    pixels = render_page(str(build(make_case())), 0)
    height, width, _ = pixels.shape
    assert width > height  # landscape
    middle = pixels[height // 4 : height * 3 // 4, width // 5 : width * 4 // 5]
    assert middle.std() > 20  # traces and grid, not an empty box
    assert pink_grid_fraction(middle) > 0.05
    assert pink_grid_fraction(pixels) > 0.04
    pink_columns = np.flatnonzero(pink_mask(pixels).any(axis=0))
    assert pink_columns[-1] - pink_columns[0] > 0.5 * width  # the grid spans half the page


def test_the_ecg_is_embedded_at_full_resolution(build: Build, ecg_image: Image.Image) -> None:
    page = PdfReader(build(make_case())).pages[0]
    sizes = [picture.image.size for picture in page.images if picture.image is not None]
    assert ecg_image.size in sizes


def test_a_very_large_scan_is_capped_at_print_resolution(
    build: Build, ecg_image: Image.Image, original_image: Image.Image
) -> None:
    huge = ecg_image.resize((ecg_image.width * 3, ecg_image.height * 3))
    data = render_report_bytes(make_case(), huge, original_image, page_size="A4")
    page = PdfReader(BytesIO(data)).pages[0]
    widths = [picture.image.size[0] for picture in page.images if picture.image is not None]
    landscape_width_in = 297 / 25.4
    assert max(widths) <= landscape_width_in * 300  # never beyond 300 dpi across the page
    assert max(widths) >= 0.55 * landscape_width_in * 300  # still print quality


@pytest.mark.parametrize(("paper", "portrait"), [("A4", (595, 842)), ("Letter", (612, 792))])
def test_page_sizes_ecg_landscape_then_portrait(
    build: Build, paper: str, portrait: tuple[int, int]
) -> None:
    pages = PdfReader(build(make_case(), page_size=paper)).pages
    sizes = [(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in pages]
    assert sizes[0] == (portrait[1], portrait[0])
    assert all(size == portrait for size in sizes[1:])


def test_auto_page_size_follows_the_locale(build: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    letter = PdfReader(build(make_case(), "us.pdf", page_size="auto")).pages[1]
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    a4 = PdfReader(build(make_case(), "de.pdf", page_size="auto")).pages[1]
    assert round(float(letter.mediabox.height)) == 792
    assert round(float(a4.mediabox.height)) == round(297 * MM)


def test_metadata(build: Build) -> None:
    reader = PdfReader(build(make_case()))
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "ECG report: ecg-0001.png"
    assert meta.author == "ECG Viewer 0.1.0"
    assert meta.creator == "ECG Viewer 0.1.0"
    assert meta.producer is not None and "ECG Viewer 0.1.0" in meta.producer
    assert meta.subject is not None and REPORT_FOOTER in meta.subject
    assert meta.creation_date is not None
    keywords = str(meta.get("/Keywords"))
    for sha256 in (SCAN_SHA, MODEL_SHA, MMPROJ_SHA):
        assert sha256 in keywords


def test_every_font_is_embedded_dejavu(build: Build) -> None:
    reader = PdfReader(build(make_case()))
    names: set[str] = set()
    for page in reader.pages:
        resources = page["/Resources"]
        assert isinstance(resources, DictionaryObject)
        fonts = resources["/Font"]
        assert isinstance(fonts, DictionaryObject)
        for ref in fonts.values():
            font = ref.get_object()
            names.add(str(font["/BaseFont"]))
            assert "/FontFile2" in font["/FontDescriptor"].get_object()  # embedded TrueType
    assert names and all("DejaVuSans" in name for name in names)


def test_render_report_bytes_is_a_pdf(ecg_image: Image.Image, original_image: Image.Image) -> None:
    data = render_report_bytes(make_case(), ecg_image, original_image, page_size="Letter")
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(data) < 8_000_000  # small enough to e-mail


def test_odd_image_modes_print(original_image: Image.Image) -> None:
    grey16 = Image.fromarray((np.arange(600 * 400).reshape(400, 600) % 65535).astype(np.uint16))
    rgba = Image.new("RGBA", (500, 300), (255, 0, 0, 0))
    for straightened in (grey16, rgba, original_image.convert("L"), original_image.convert("P")):
        data = render_report_bytes(make_case(), straightened, rgba, page_size="A4")
        assert data.startswith(b"%PDF-")
