"""The report as page images, for printing: the same pages as the PDF, drawn by PDFium.

Printing draws these images on the printer's pages, so what is printed is
exactly what "Export PDF" writes. Pure core (no Qt); safe on a background thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image as PILImage

from ecgviewer.core.case import Case
from ecgviewer.core.errors import ReportError
from ecgviewer.core.report.pdf import render_report_bytes

log = logging.getLogger(__name__)

POINTS_PER_INCH = 72.0


def rasterize(pdf: bytes | Path, dpi: float) -> list[PILImage.Image]:
    """Each page of `pdf` (its bytes or its path) as an RGB image at `dpi`.

    A page of w x h points becomes about w * dpi / 72 x h * dpi / 72 pixels.
    Raises `ReportError` when PDFium cannot open or draw it.
    """
    import pypdfium2 as pdfium

    source = str(pdf) if isinstance(pdf, Path) else pdf
    try:
        document = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as error:
        raise _cannot_draw(error) from error
    try:
        return [
            page.render(scale=dpi / POINTS_PER_INCH).to_pil().convert("RGB") for page in document
        ]
    except pdfium.PdfiumError as error:
        raise _cannot_draw(error) from error
    finally:
        document.close()


def report_pages(
    case: Case,
    straightened: PILImage.Image,
    original: PILImage.Image,
    *,
    page_size: str = "auto",
    dpi: float = 300,
) -> list[PILImage.Image]:
    """The pages of `case`'s PDF report (see `write_report`) as images at `dpi`."""
    data = render_report_bytes(case, straightened, original, page_size=page_size)
    return rasterize(data, dpi)


def _cannot_draw(error: Exception) -> ReportError:
    log.warning("drawing the report's pages failed: %s", type(error).__name__)
    return ReportError(
        "The report's pages could not be prepared for printing.",
        hint="Export the PDF instead and print it from a PDF viewer.",
    )
