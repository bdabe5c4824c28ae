"""Assemble the PDF report of one case and write it safely.

Page 1 is landscape: title, research-only banner, study fields, and the
straightened ECG as large as the page allows. The following pages are
portrait (easier to read and to file): the original scan with the
preprocessing steps, the questions and answers, the clinician's notes, the
provenance block and an appendix with the full file fingerprints.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image as PILImage
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
)

from ecgviewer import REPORT_FOOTER, __version__
from ecgviewer.core.atomic import write_atomically
from ecgviewer.core.case import Case, now_iso
from ecgviewer.core.digital.facts_text import render_step_of
from ecgviewer.core.errors import ReportError
from ecgviewer.core.report import appendix, deidentify, fonts, provenance, sections, thread
from ecgviewer.core.report.images import CAPTION_HEIGHT, FitImage, jpeg_for_print
from ecgviewer.core.report.pages import ECG_PAGE_TOP, NumberedCanvas, PageDecor
from ecgviewer.core.report.pagesize import MM, resolve_page_size
from ecgviewer.core.report.sections import study_entries
from ecgviewer.core.report.styles import MARGIN, styles

log = logging.getLogger(__name__)

_ECG_MARGINS = (12 * MM, ECG_PAGE_TOP, 14 * MM)  # sides, top, bottom of the landscape page
_MIN_ECG_HEIGHT = 70 * MM
_BUILD_LOCK = threading.Lock()  # reportlab settings are process-wide: one build at a time


@contextlib.contextmanager
def _binary_streams() -> Iterator[None]:
    """Store streams in binary rather than ASCII85 while building.

    reportlab's ASCII85 encoder is pure Python here: it took 80 % of the build
    time and made the file a quarter bigger. Both forms are valid PDF.
    """
    from reportlab import rl_config

    with _BUILD_LOCK:
        saved = rl_config.useA85
        rl_config.useA85 = 0
        try:
            yield
        finally:
            rl_config.useA85 = saved


@dataclass(frozen=True)
class _Layout:
    """Frames of the two page kinds, from the portrait paper size."""

    portrait: tuple[float, float]

    @property
    def landscape(self) -> tuple[float, float]:
        """The paper turned sideways, for the ECG page."""
        return self.portrait[1], self.portrait[0]

    def ecg_frame(self) -> Frame:
        """Where the title, study fields and ECG go on the landscape page."""
        side, top, bottom = _ECG_MARGINS
        width, height = self.landscape
        return _frame("ecg", side, bottom, width - 2 * side, height - top - bottom)

    def text_frame(self) -> Frame:
        """The text area of the portrait pages, inside the header and footer."""
        width, height = self.portrait
        return _frame("text", MARGIN, MARGIN, width - 2 * MARGIN, height - 2 * MARGIN)


def _frame(name: str, x: float, y: float, width: float, height: float) -> Frame:
    return Frame(
        x, y, width, height, id=name, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0
    )


def _reading_time(case: Case, reading_time: str | None) -> str:
    started = next((turn.started_at for turn in case.thread if turn.started_at), "")
    return reading_time or started or case.updated_at or case.created_at or now_iso()


def _case_label(case: Case) -> str:
    """Who or what the report is about, for the running header."""
    fields = dict(study_entries(case.study))
    person = " - ".join(v for v in (fields.get("Name"), fields.get("Patient ID")) if v)
    return person or case.source.name


def _first_page(
    case: Case, straightened: PILImage.Image, frame: Frame, heads: tuple[str, str, str],
    identifiers: bool,
) -> list[Flowable]:  # fmt: skip
    width = frame._width
    jpeg, pixels = jpeg_for_print(straightened, (width, frame._height - CAPTION_HEIGHT))
    caption = sections.ecg_caption(case)
    caption += " Scaled to fit the page: measure with the printed grid, not with a ruler."
    return [
        sections.title_block(*heads, width),
        Spacer(1, 3 * MM),
        sections.banner(width),
        *(sections.study_block(case.study, width) if identifiers else _withheld_notice()),
        Spacer(1, 3 * MM),
        FitImage(jpeg, pixels, caption, _MIN_ECG_HEIGHT),
    ]


def _withheld_notice() -> list[Flowable]:
    return [Spacer(1, 2 * MM), Paragraph(deidentify.NOTICE, styles().caption)]


def _later_pages(case: Case, original: PILImage.Image, width: float) -> list[Flowable]:
    st = styles()
    return [
        Paragraph(_later_heading(case), st.h1),
        *sections.original_block(case, original, width),
        *thread.thread_section(case),
        *thread.notes_section(case.notes),
        *provenance.provenance_section(case, width),
        *appendix.appendix_section(case, width),
    ]


def _later_heading(case: Case) -> str:
    if render_step_of(case.steps) is not None:
        return "Page drawn from the signal, and how"
    return "Original scan and preprocessing"


def _metadata(case: Case, app_version: str) -> dict[str, object]:
    hashes = [f"scan-sha256:{case.source.sha256}"] if case.source.sha256 else []
    for what, _, sha256 in appendix.fingerprints(case)[1:]:
        if not what.startswith(("Model", "Projector")):
            continue  # a digital recording's own files
        kind = "mmproj" if what.startswith("Projector") else "model"
        hashes.append(f"{kind}-sha256:{sha256}")
    app = f"ECG Viewer {app_version}"
    return {
        "title": f"ECG report: {case.source.name}",
        "author": app,
        "subject": f"AI-assisted ECG reading (research use only). {REPORT_FOOTER}.",
        "creator": app,
        "producer": f"{app} (ReportLab PDF library)",
        "keywords": ["ECG", "research use only", REPORT_FOOTER, *hashes],
        "lang": "en",
        "displayDocTitle": 1,
        "initialFontName": fonts.REGULAR,  # no unembedded Helvetica anywhere
    }


def _build(
    case: Case,
    images: tuple[PILImage.Image, PILImage.Image],
    portrait: tuple[float, float],
    app_version: str,
    reading_time: str,
    *,
    identifiers: bool,
) -> bytes:
    layout = _Layout(portrait)
    decor = PageDecor(f"{_case_label(case)} - reading {reading_time}")
    ecg_frame, text_frame = layout.ecg_frame(), layout.text_frame()
    heads = (app_version, reading_time, now_iso())
    story = [
        *_first_page(case, images[0], ecg_frame, heads, identifiers),
        NextPageTemplate("text"),
        PageBreak(),
        *_later_pages(case, images[1], text_frame._width),
    ]
    buffer = BytesIO()
    doc = BaseDocTemplate(buffer, pagesize=portrait, **_metadata(case, app_version))
    doc.addPageTemplates(
        [
            PageTemplate("ecg", [ecg_frame], onPage=decor.first_page, pagesize=layout.landscape),
            PageTemplate("text", [text_frame], onPage=decor.later_page, pagesize=portrait),
        ]
    )
    with _binary_streams():
        doc.build(story, canvasmaker=NumberedCanvas)
    return buffer.getvalue()


def render_report_bytes(
    case: Case,
    straightened: PILImage.Image,
    original: PILImage.Image,
    *,
    page_size: str = "auto",
    app_version: str = __version__,
    reading_time: str | None = None,
    identifiers: bool = True,
) -> bytes:
    """The PDF report of `case` as bytes (see `write_report`). Raises `ReportError`."""
    _, portrait = resolve_page_size(page_size)
    when = _reading_time(case, reading_time)
    if not identifiers:
        case = deidentify.without_identifiers(case)
    try:
        return _build(
            case, (straightened, original), portrait, app_version, when, identifiers=identifiers
        )
    except ReportError:
        raise
    except Exception as error:  # reportlab and Pillow raise many kinds; keep the cause
        log.exception("Building the PDF report failed")
        raise ReportError(
            "The PDF report could not be created.",
            hint="Try again; if it keeps failing, send the log file to the developers.",
        ) from error


def write_report(
    case: Case,
    straightened: PILImage.Image,
    original: PILImage.Image,
    out_path: Path,
    *,
    page_size: str = "auto",
    app_version: str = __version__,
    reading_time: str | None = None,
    identifiers: bool = True,
) -> Path:
    """Write the PDF report of `case` to `out_path` atomically and return its absolute path.

    `straightened` is the preprocessed ECG printed on page 1, `original` the
    scan as opened (a thumbnail on page 2). `page_size` is "A4", "Letter" or
    "auto" (from the system locale, see `pagesize`). `reading_time` (ISO 8601)
    defaults to when the first question was asked. `identifiers=False` leaves the
    study fields and the file name out and says so on page 1 (see
    `deidentify`). Raises `ReportError` with
    a message for the user when the report cannot be built or written; no
    partial file is ever left behind.
    """
    data = render_report_bytes(
        case,
        straightened,
        original,
        page_size=page_size,
        app_version=app_version,
        reading_time=reading_time,
        identifiers=identifiers,
    )
    return write_atomically(data, Path(out_path), what="the report", kind=ReportError)
