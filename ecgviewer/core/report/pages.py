"""What every page carries: the running header, the footer disclaimer, "Page n of m"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from ecgviewer import DISCLAIMER, REPORT_FOOTER
from ecgviewer.core.report import fonts
from ecgviewer.core.report.pagesize import MM
from ecgviewer.core.report.styles import MARGIN, MUTED, RULE, WARNING

_SMALL = 7.5
_FOOTER_Y = MARGIN - 7 * MM
_HEADER_GAP = 6 * MM  # from the top margin line up to the header baseline
ECG_PAGE_TOP = 12 * MM
"""Top margin of the landscape ECG page (room for a running header if it runs on)."""


def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text`, cut with an ellipsis so that it fits `width` points."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


@dataclass(frozen=True)
class PageDecor:
    """Draws the header and footer; `running_title` names the case on pages after the first."""

    running_title: str

    def first_page(self, canvas: Canvas, doc: Any) -> None:
        """Page 1 has its own title block; a landscape page after it gets a running header."""
        if doc.page > 1:  # a very long indication pushed the ECG onto a second page
            self._header(canvas, ECG_PAGE_TOP)
        self._footer(canvas)

    def later_page(self, canvas: Canvas, _doc: Any) -> None:
        """Running header with the case and the disclaimer, then the footer."""
        self._header(canvas, MARGIN)
        self._footer(canvas)

    def _header(self, canvas: Canvas, top_margin: float) -> None:
        width, height = canvas._pagesize
        y = height - top_margin + _HEADER_GAP
        canvas.saveState()
        canvas.setFont(fonts.BOLD, _SMALL)
        canvas.setFillColor(WARNING)
        canvas.drawRightString(width - MARGIN, y, DISCLAIMER)
        room = width - 2 * MARGIN - stringWidth(DISCLAIMER, fonts.BOLD, _SMALL) - 8 * MM
        canvas.setFont(fonts.REGULAR, _SMALL)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, y, _fit(self.running_title, fonts.REGULAR, _SMALL, room))
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, y - 2 * MM, width - MARGIN, y - 2 * MM)
        canvas.restoreState()

    def _footer(self, canvas: Canvas) -> None:
        width, _ = canvas._pagesize
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, _FOOTER_Y + 3.5 * MM, width - MARGIN, _FOOTER_Y + 3.5 * MM)
        canvas.setFont(fonts.BOLD, _SMALL)
        canvas.setFillColor(WARNING)
        canvas.drawString(MARGIN, _FOOTER_Y, REPORT_FOOTER)
        canvas.restoreState()


class NumberedCanvas(Canvas):
    """A canvas that holds its pages back until the end to print "Page n of m" on each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's method name
        """Keep the finished page's state instead of writing it now."""
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        """Write every held page with its number, then the file."""
        total = len(self._held_pages)
        for number, state in enumerate(self._held_pages, start=1):
            self.__dict__.update(state)
            self._page_number(number, total)
            super().showPage()
        super().save()

    def _page_number(self, number: int, total: int) -> None:
        width, _ = self._pagesize
        self.saveState()
        self.setFont(fonts.REGULAR, _SMALL)
        self.setFillColor(MUTED)
        self.drawRightString(width - MARGIN, _FOOTER_Y, f"Page {number} of {total}")
        self.restoreState()
