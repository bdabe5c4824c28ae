"""Export PDF and Print: the core report, written off the GUI thread.

The functions get a parent for their dialogs, a status line to write to and a
callback for the case whose record gained a PDF; never the window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QPainter
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QFileDialog, QWidget

from ecgviewer.core.report import report_pages, write_report
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.qtimage import to_qimage
from ecgviewer.gui.tasks import run_task

if TYPE_CHECKING:
    from PIL import Image

Status = Callable[[str, int], None]  # a message and how long to show it (ms, 0: until the next)


def _silent(_message: str, _ms: int) -> None:
    """The status line of a caller that shows none."""


def _unrecorded(_case: OpenCase) -> None:
    """For a caller that records nothing."""


def export_pdf(
    parent: QWidget, case: OpenCase, page_size: str, state: QSettings, *, identifiers: bool,
    status: Status = _silent, recorded: Callable[[OpenCase], None] = _unrecorded,
) -> None:  # fmt: skip
    """Ask where, then write the report in the background. Without identifiers, the suggested
    name does not repeat the scan's file name either (it often is the patient's name)."""
    folder = Path(str(state.value("export_folder", str(Path.home()))))
    if identifiers:
        title, name = "Export PDF report", f"{Path(case.case.source.name).stem}-ecg-report.pdf"
    else:
        title, name = "Export PDF without identifiers", "ecg-report-without-identifiers.pdf"
    chosen, _ = QFileDialog.getSaveFileName(parent, title, str(folder / name), "PDF (*.pdf)")
    if chosen:
        state.setValue("export_folder", str(Path(chosen).parent))
        write_pdf_in_background(parent, case, Path(chosen), page_size, identifiers=identifiers,
                                status=status, recorded=recorded)  # fmt: skip


def write_pdf_in_background(
    parent: QWidget, case: OpenCase, target: Path, page_size: str, *, identifiers: bool = True,
    status: Status = _silent, recorded: Callable[[OpenCase], None] = _unrecorded,
) -> None:  # fmt: skip
    """Write the report of `case` to `target`; its record lists the PDF, then `recorded(case)`."""
    status(f"Writing {target.name}...", 0)

    def done(path: Path) -> None:
        case.case.exported_pdfs.append(str(path))
        recorded(case)  # the case history records the PDF
        message = f"Report written to {path}"
        if not identifiers:
            message += " without the study fields; text printed on the scan itself stays"
        status(message, 12000)

    def write() -> Path:
        return write_report(case.case, case.result, case.original, target, page_size=page_size,
                            identifiers=identifiers)  # fmt: skip

    run_task(parent, write, done, lambda error: present_error(parent, error))


def print_case(parent: QWidget, case: OpenCase, page_size: str, status: Status = _silent) -> None:
    """Print the same pages as the PDF report."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintDialog(printer, parent)
    if dialog.exec() != QPrintDialog.DialogCode.Accepted:
        return
    dpi = min(printer.resolution(), 300)

    def render() -> list[Image.Image]:
        return report_pages(case.case, case.result, case.original, page_size=page_size, dpi=dpi)

    def paint(pages: list[Image.Image]) -> None:
        painter = QPainter(printer)
        for index, page in enumerate(pages):
            if index:
                printer.newPage()
            image = to_qimage(page)
            area = painter.viewport()
            fitted = image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            painter.drawImage(QRect(area.topLeft(), fitted), image)
        painter.end()
        status("Sent to the printer", 5000)

    run_task(parent, render, paint, lambda error: present_error(parent, error))
