"""Regenerate the README / docs screenshots of the real window (offscreen Qt).

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py [study]

With `study`, only the patient-and-study screens (no model needed): the form
filled in, the case reopened from the history at the next start, page 1 of its
report, and the fields a cart PDF carries offered with one click.

Uses a tilted synthetic ECG (licence-clean) and the small Gemma 3 test model
from the test suite, so the streamed text is meaningless and the panel labels
it as output of a non-ECG model, exactly as a user would see it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from ecgviewer.core.imaging.synthetic import render  # noqa: E402
from ecgviewer.core.paths import app_paths  # noqa: E402
from ecgviewer.core.settings import ModelSettings, Settings  # noqa: E402
from ecgviewer.gui.application import create_application  # noqa: E402
from ecgviewer.gui.main_window import MainWindow  # noqa: E402
from ecgviewer.gui.model_dialog import ModelDialog  # noqa: E402
from tests.support import models  # noqa: E402

OUT = REPO / "docs" / "screenshots"


def wait_until(condition: object, seconds: float) -> None:
    loop = QEventLoop()
    timer = QTimer(interval=50)
    timer.timeout.connect(lambda: condition() and loop.quit())  # type: ignore[operator]
    timer.start()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()


def main() -> int:
    os.environ["ECGVIEWER_HOME"] = tempfile.mkdtemp()
    app = create_application(sys.argv[:1])
    if sys.argv[1:] == ["study"]:
        study_screens()
        return 0
    window = MainWindow(app_paths().ensure(), Settings(disclaimer_acknowledged=True))
    window.resize(1440, 900)
    window.show()
    scan = Path(tempfile.mkdtemp()) / "tilted-ecg-photo.png"
    sheet = render(width_px=1800).image.rotate(5.0, expand=True, fillcolor=(90, 84, 78))
    sheet.save(scan)
    window.open_paths([scan])
    wait_until(lambda: window.cases, 30)
    window.grab().save(str(OUT / "no-model.png"))
    settings = ModelSettings(n_ctx=1024, max_tokens=120, n_threads=2)
    window.load_model(str(models.text_model_path()), str(models.projector_path()), settings)
    wait_until(window.panel.interpret_button.isEnabled, 60)
    window.panel.interpret_button.click()
    wait_until(lambda: window.panel.status_label.text().startswith("Done"), 120)
    window.panel.render_now()
    window.grab().save(str(OUT / "main-window.png"))
    window.show_view(2)
    window.grab().save(str(OUT / "model-input.png"))
    chosen = ModelSettings(text_path=str(models.text_model_path()),
                           mmproj_path=str(models.projector_path()), n_threads=2)  # fmt: skip
    dialog = ModelDialog(window.paths, chosen, window)
    dialog.show()
    wait_until(dialog.load_button.isEnabled, 60)  # the pair is checked, facts and memory shown
    dialog.grab().save(str(OUT / "model-dialog.png"))
    dialog.close()
    engine_restart(window)
    import_screens(window)
    window.close()
    app.processEvents()
    print("\n".join(str(p) for p in sorted(OUT.glob("*.png"))))
    return 0


def engine_restart(window: MainWindow) -> None:
    """The panel after the engine died mid-answer and was restarted (SIGSEGV, as on AMX).

    Uses the quiet projector, so the partial answer is text rather than blank lines.
    """
    import signal

    settings = ModelSettings(n_ctx=1024, max_tokens=400, n_threads=2, repack_weights=True)
    window.load_model(str(models.text_model_path()), str(models.quiet_projector_path()), settings)
    wait_until(window.panel.interpret_button.isEnabled, 60)
    window.panel.question_edit.setPlainText("Describe the rhythm.")
    window.panel.interpret_button.click()
    wait_until(lambda: len(window.cases[0].case.thread[-1].answer) > 20, 60)
    os.kill(window.model.owner.runtime.worker_pid or 0, signal.SIGSEGV)
    wait_until(lambda: "restarted it" in window.panel.engine_note.text(), 60)
    wait_until(lambda: window.panel.status_label.text().startswith("Ready"), 60)
    window.panel.render_now()
    window.grab().save(str(OUT / "engine-restarted.png"))


def import_screens(window: MainWindow) -> None:
    """The import dialog: the survey, a stage in progress, the final report.

    Uses a tiny random checkpoint from the test suite, so the sizes are small and
    the conversion check's text is noise (reported as such).
    """
    from ecgviewer.gui.import_dialog import ImportDialog
    from tests.support.hf_checkpoint import write_checkpoint

    folder = write_checkpoint(Path(tempfile.mkdtemp()) / "tiny-gemma3-test-checkpoint",
                              layout="new", transformers5=True)  # fmt: skip
    dialog = ImportDialog(window.paths, str(folder), window)
    dialog.show()
    wait_until(lambda: "can be imported" in dialog.facts_label.text(), 30)
    dialog.grab().save(str(OUT / "import-dialog.png"))
    dialog.import_button.click()
    wait_until(lambda: "Stage 3 of 5" in dialog.stage_label.text(), 60)
    dialog.grab().save(str(OUT / "import-progress.png"))
    wait_until(lambda: "Imported" in dialog.stage_label.text(), 300)
    dialog.grab().save(str(OUT / "import-report.png"))
    dialog.close()


STUDY = {
    "name": "Roe, Jane",
    "patient_id": "MRN-0042",
    "date_of_birth": "1958-02-03",
    "acquisition_date": "2026-11-29 09:41",
    "referring_clinician": "Dr A. Example",
    "indication": "Palpitations on exertion",
    "comment": "Compare with the ECG of 2025-06",
}


def new_window() -> MainWindow:
    window = MainWindow(app_paths().ensure(), Settings(disclaimer_acknowledged=True))
    window.resize(1440, 900)
    window.show()
    wait_until(lambda: window.history.available, 15)
    return window


def study_screens() -> None:
    """Type the study fields, reopen the case at the next start, print page 1."""
    from PySide6.QtTest import QTest

    window = new_window()
    scan = Path(tempfile.mkdtemp()) / "ecg-2026-11-29-0941.png"
    render(width_px=1800).image.rotate(4.0, expand=True, fillcolor=(90, 84, 78)).save(scan)
    window.open_paths([scan])
    wait_until(lambda: window.cases and window.cases[0].case.case_id, 30)
    form = window.case_header.study_form
    for key, value in STUDY.items():
        QTest.keyClicks(form.edits[key], value)
    form.sex_box.setCurrentIndex(form.sex_box.findData("F"))
    wait_until(lambda: window.cases[0].case.study.get("comment"), 10)
    window.grab().save(str(OUT / "study-form.png"))
    report = Path(tempfile.mkdtemp()) / "report.pdf"
    from ecgviewer.gui.exporting import write_pdf_in_background

    write_pdf_in_background(window, window.cases[0], report, "A4")
    wait_until(report.exists, 60)
    window.close()
    window = new_window()  # the next start: find the case and reopen it
    window.history_panel.toggleViewAction().trigger()
    window.history_panel.search_box.setText("roe")
    wait_until(window.history_panel.case_ids, 10)
    window.history_panel.select_case(window.history_panel.case_ids()[0])
    window.history_panel.reopen_button.click()
    wait_until(lambda: window.cases, 30)
    window.grab().save(str(OUT / "study-reopened.png"))
    page_one(report, OUT / "study-report-page1.png")
    proposal_screen(window)
    window.close()


def page_one(pdf: Path, png: Path) -> None:
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        document[0].render(scale=110 / 72).to_pil().save(png)
    finally:
        document.close()


def proposal_screen(window: MainWindow) -> None:
    """A cart-like PDF whose header names the patient: the window offers the fields."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen.canvas import Canvas

    pdf = Path(tempfile.mkdtemp()) / "cart-export-0815.pdf"
    canvas = Canvas(str(pdf), pagesize=landscape(A4))
    header = [("Name", "Example, Max"), ("Pat.-ID", "0815-4711"), ("Geb.-datum", "03.02.1958"),
              ("Geschlecht", "männlich")]  # fmt: skip
    for row, (label, value) in enumerate(header):
        canvas.drawString(40, 560 - 14 * row, label)
        canvas.drawString(120, 560 - 14 * row, value)
    canvas.drawString(300, 560, "29.11.2026 09:41:07")
    canvas.drawImage(str(sample_page()), 40, 40, width=760, height=460)
    canvas.save()
    window.open_paths([pdf])
    wait_until(lambda: len(window.cases) == 2, 30)
    window.grab().save(str(OUT / "study-proposals.png"))


def sample_page() -> Path:
    path = Path(tempfile.mkdtemp()) / "page.png"
    render(width_px=1600).image.save(path)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
