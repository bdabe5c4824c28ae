"""Export PDF and Print: the core report, written off the GUI thread."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QPainter
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QFileDialog

from ecgviewer.core.report import report_pages, write_report
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.qtimage import to_qimage
from ecgviewer.gui.tasks import run_task

if TYPE_CHECKING:
    from PIL import Image

    from ecgviewer.gui.main_window import MainWindow


def export_pdf(
    window: MainWindow, case: OpenCase, page_size: str, state: QSettings, *, identifiers: bool
) -> None:
    """Ask where, then write the report in the background. Without identifiers, the suggested
    name does not repeat the scan's file name either (it often is the patient's name)."""
    folder = Path(str(state.value("export_folder", str(Path.home()))))
    if identifiers:
        title, name = "Export PDF report", f"{Path(case.case.source.name).stem}-ecg-report.pdf"
    else:
        title, name = "Export PDF without identifiers", "ecg-report-without-identifiers.pdf"
    chosen, _ = QFileDialog.getSaveFileName(window, title, str(folder / name), "PDF (*.pdf)")
    if chosen:
        state.setValue("export_folder", str(Path(chosen).parent))
        write_pdf_in_background(window, case, Path(chosen), page_size, identifiers=identifiers)


def write_pdf_in_background(
    window: MainWindow, case: OpenCase, target: Path, page_size: str, *, identifiers: bool = True
) -> None:
    window.statusBar().showMessage(f"Writing {target.name}...")

    def done(path: Path) -> None:
        case.case.exported_pdfs.append(str(path))
        window.case_changed.emit(case)  # the case history records the PDF
        message = f"Report written to {path}"
        if not identifiers:
            message += " without the study fields; text printed on the scan itself stays"
        window.statusBar().showMessage(message, 12000)

    def write() -> Path:
        return write_report(case.case, case.result, case.original, target, page_size=page_size,
                            identifiers=identifiers)  # fmt: skip

    run_task(window, write, done, lambda error: present_error(window, error))


def print_case(window: MainWindow, case: OpenCase, page_size: str) -> None:
    """Print the same pages as the PDF report."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintDialog(printer, window)
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
        window.statusBar().showMessage("Sent to the printer", 5000)

    run_task(window, render, paint, lambda error: present_error(window, error))
