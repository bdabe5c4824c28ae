"""The report as page images for printing: every page, at the asked resolution."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from ecgviewer.core.errors import ReportError
from ecgviewer.core.report import rasterize, render_report_bytes, report_pages
from tests.core.report.samples import Build, make_case


def page_sizes_in_points(data: bytes) -> list[tuple[float, float]]:
    pages = PdfReader(io.BytesIO(data)).pages
    return [(float(page.mediabox.width), float(page.mediabox.height)) for page in pages]


@pytest.mark.parametrize(("page_size", "dpi"), [("A4", 100), ("Letter", 150)])
def test_each_page_becomes_an_image_of_its_size_at_the_dpi(
    build: Build, page_size: str, dpi: int
) -> None:
    path = build(make_case(), page_size=page_size)
    sizes = page_sizes_in_points(path.read_bytes())
    pages = rasterize(path, dpi)
    assert len(pages) == len(sizes) >= 2
    for image, (width, height) in zip(pages, sizes, strict=True):
        assert image.mode == "RGB"
        assert abs(image.width - width * dpi / 72) <= 1
        assert abs(image.height - height * dpi / 72) <= 1
        darkest = min(image.convert("L").getextrema())
        assert darkest < 80  # text was drawn, not a blank sheet


def test_report_pages_are_the_pdf_pages(
    ecg_image: Image.Image, original_image: Image.Image
) -> None:
    case = make_case()
    data = render_report_bytes(case, ecg_image, original_image, page_size="A4")
    pages = report_pages(case, ecg_image, original_image, page_size="A4", dpi=72)
    assert [img.size for img in pages] == [img.size for img in rasterize(data, 72)]
    short, long = sorted(pages[0].size)  # A4 (page 1 is landscape) at one pixel per point
    assert abs(short - 595.3) <= 1 and abs(long - 841.9) <= 1


def test_a_damaged_pdf_is_a_report_error() -> None:
    with pytest.raises(ReportError, match="could not be prepared for printing"):
        rasterize(b"%PDF-1.7 not really", 72)
