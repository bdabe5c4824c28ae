"""The PDF report of one case: a complete, honest, printable record (no Qt).

Shared by the GUI's "Export PDF" and the CLI's `interpret ... --pdf OUT.pdf`.
"""

from __future__ import annotations

from ecgviewer.core.report.pagesize import PAGE_SIZES, paper_for_locale, resolve_page_size
from ecgviewer.core.report.pdf import render_report_bytes, write_report
from ecgviewer.core.report.raster import rasterize, report_pages

__all__ = [
    "PAGE_SIZES",
    "paper_for_locale",
    "rasterize",
    "render_report_bytes",
    "report_pages",
    "resolve_page_size",
    "write_report",
]
