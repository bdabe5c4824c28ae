"""Render one page of an ECG cart's PDF export (GE MUSE, CardioSoft, Schiller ...).

Pages are rendered with PDFium (pypdfium2) on white at 200 dpi by default.
Without an explicit page, the first page that shows an ECG grid is chosen
(probed at 72 dpi); a PDF whose pages show no grid opens on its first page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecgviewer.core.errors import ImageError
from ecgviewer.core.imaging.grid import has_ecg_grid

log = logging.getLogger(__name__)

PDF_DPI = 200
PROBE_DPI = 72
MAX_PROBED_PAGES = 20
_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


@dataclass(frozen=True)
class RenderedPage:
    """A rendered PDF page: RGB pixels, 0-based index and the document's page count."""

    image: Image.Image
    page: int
    page_count: int


def render_pdf(path: Path, page: int | None, dpi: int, max_pixels: int) -> RenderedPage:
    """Render `page` (0-based; None: first page with an ECG grid) of the PDF at `path`."""
    import pypdfium2 as pdfium

    document = _open(path)
    try:
        count = len(document)
        if count == 0:
            raise ImageError(f"The PDF {path.name} has no pages.")
        index = _choose_page(document, page, count, path)
        image = _render(document[index], dpi, max_pixels, path)
    except pdfium.PdfiumError as exc:
        raise ImageError(
            f"A page of the PDF {path.name} could not be drawn; the file may be damaged.",
            hint="Export the ECG again from the cart, or open a scan or screenshot instead.",
        ) from exc
    finally:
        document.close()
    return RenderedPage(image=image, page=index, page_count=count)


def _open(path: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == _PASSWORD_ERROR and _mentions_encryption(path):
            raise ImageError(
                f"The PDF {path.name} is password-protected.",
                hint="Export it again without a password, or print it to a new PDF.",
            ) from exc
        raise ImageError(
            f"The PDF {path.name} could not be read: it has no pages or is damaged.",
            hint="Export the ECG again from the cart, or open a scan or screenshot instead.",
        ) from exc


def _mentions_encryption(path: Path) -> bool:
    try:
        return b"/Encrypt" in path.read_bytes()
    except OSError:
        return False


def _choose_page(document: Any, page: int | None, count: int, path: Path) -> int:
    if page is not None:
        if not 0 <= page < count:
            raise ImageError(
                f"The PDF {path.name} has {count} page{'s' if count != 1 else ''}; "
                f"page {page + 1} does not exist."
            )
        return page
    for index in range(min(count, MAX_PROBED_PAGES)):
        probe = _render(document[index], PROBE_DPI, 10_000_000, path)
        if has_ecg_grid(np.asarray(probe.convert("L"))):
            return index
    log.info("no page of %s shows an ECG grid; using the first page", path.name)
    return 0


def _render(pdf_page: Any, dpi: int, max_pixels: int, path: Path) -> Image.Image:
    width_pt, height_pt = pdf_page.get_size()
    scale = dpi / 72.0
    pixels = (width_pt * scale) * (height_pt * scale)
    if pixels > max_pixels:
        raise ImageError(
            f"A page of {path.name} is too large to draw at {dpi} dpi "
            f"({pixels / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f}).",
            hint="Export the ECG on a normal paper size.",
        )
    bitmap = pdf_page.render(scale=scale, fill_color=(255, 255, 255, 255))
    return bitmap.to_pil().convert("RGB")
