"""A PDF report of one scored run: metrics, per-class table, confusion figure, provenance.

Built with reportlab only (no Qt) on the case report's machinery: its embedded
DejaVu fonts (any file name prints), its paper-size rule and its atomic write
(a failed export never leaves half a PDF, and says why in plain words). Every
page says "Research use only": these are benchmark numbers of a research
model, not a clinical result.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ecgviewer import __version__
from ecgviewer.core.atomic import write_atomically
from ecgviewer.core.case import now_iso
from ecgviewer.core.errors import EcgViewerError, ReportError
from ecgviewer.core.evaluation.figures import confusion_drawing
from ecgviewer.core.evaluation.published import PUBLISHED, RANDOM_BASELINE_NOTE
from ecgviewer.core.evaluation.scores import ScoreReport
from ecgviewer.core.evaluation.text_output import metric_rows, per_class_header, per_class_rows
from ecgviewer.core.report.fonts import BOLD, REGULAR, printable, register_fonts
from ecgviewer.core.report.pagesize import resolve_page_size

RESEARCH_BANNER = "Research use only"
BANNER_DETAIL = (
    "Benchmark metrics of a research model on a labelled ECG set. "
    "Not validated for clinical use; not a statement about any patient."
)
_MARGIN = 18 * mm
_GRID = colors.Color(0.75, 0.78, 0.82)
_HEAD = colors.Color(0.90, 0.93, 0.97)


def write_eval_report(
    report: ScoreReport,
    out_path: Path,
    *,
    results_path: Path | None = None,
    provenance: dict[str, Any] | None = None,
    page_size: str = "auto",
) -> Path:
    """Write the PDF for `report` to `out_path` (atomically) and return its absolute path.

    `page_size` is "A4", "Letter" or "auto" (from the system locale, as the case report).
    """
    data = render_eval_report(
        report, results_path=results_path, provenance=provenance, page_size=page_size
    )
    return write_atomically(data, out_path, what="the report", kind=ReportError)


def render_eval_report(
    report: ScoreReport,
    *,
    results_path: Path | None = None,
    provenance: dict[str, Any] | None = None,
    page_size: str = "auto",
) -> bytes:
    """The PDF for `report` as bytes; `ReportError` if it cannot be built."""
    register_fonts()
    _, size = resolve_page_size(page_size)
    width = size[0] - 2 * _MARGIN
    buffer = io.BytesIO()
    try:
        story = build_story(report, results_path=results_path, provenance=provenance, width=width)
        _build_pdf(buffer, story, size=size, title=f"ECG Viewer evaluation - {report.task_title}")
    except EcgViewerError:
        raise
    except Exception as exc:  # reportlab raises many kinds; all mean "no report"
        raise ReportError("The evaluation report could not be built.") from exc
    return buffer.getvalue()


def _build_pdf(
    target: io.BytesIO, story: list[Flowable], *, size: tuple[float, float], title: str
) -> None:
    document = SimpleDocTemplate(
        target,
        pagesize=size,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN + 6 * mm,
        bottomMargin=_MARGIN,
        title=title,
        author=f"ECG Viewer {__version__}",
        subject=f"{RESEARCH_BANNER}: benchmark metrics of a research model",
    )
    document.build(story, onFirstPage=_decorate, onLaterPages=_decorate)


def build_story(
    report: ScoreReport,
    *,
    results_path: Path | None,
    provenance: dict[str, Any] | None,
    width: float,
) -> list[Flowable]:
    """The report's content, in order, for a frame `width` points wide."""
    styles = _styles()
    story: list[Flowable] = [
        Paragraph(text(f"Evaluation: {report.task_title}"), styles["Title"]),
        Paragraph(f"<b>{RESEARCH_BANNER}.</b> {text(BANNER_DETAIL)}", styles["Banner"]),
        Spacer(1, 4 * mm),
    ]
    story += _section(
        "Run", _key_value_table(_run_rows(report, results_path), styles, width), styles
    )
    story += _section("Metrics (%)", _metrics_table(report, width), styles)
    story += _published(report, styles, width)
    story += _section("Per class (%)", _per_class_table(report, width), styles)
    figure = confusion_drawing(report.compatible, width)
    if figure is not None:
        story += _section("Confusion (compatible reading)", figure, styles)
    rows = flatten(provenance or {})
    if rows:
        story += _section("Model provenance", _key_value_table(rows, styles, width), styles)
    if report.notes:
        story += [Paragraph("Notes", styles["Heading2"])]
        story += [Paragraph("- " + text(note), styles["Small"]) for note in report.notes]
    return story


def text(value: str) -> str:
    """`value` made printable with the report fonts and escaped for a Paragraph."""
    return escape(printable(value))


def flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as ("a.b", "value") rows; lists of objects numbered from 1,
    other lists joined with commas."""
    rows: list[tuple[str, str]] = []
    for key, original in data.items():
        name = f"{prefix}{key}"
        value = original
        if isinstance(original, list) and any(isinstance(v, dict) for v in original):
            value = {str(number): v for number, v in enumerate(original, 1)}
        if isinstance(value, dict):
            rows += flatten(value, name + ".")
        elif isinstance(value, list):
            rows.append((name, ", ".join(str(v) for v in value)))
        else:
            rows.append((name, "" if value is None else str(value)))
    return rows


def _styles() -> dict[str, ParagraphStyle]:
    sheet = getSampleStyleSheet()
    body = ParagraphStyle("Body", parent=sheet["BodyText"], fontName=REGULAR)
    return {
        "Title": ParagraphStyle("Title", parent=sheet["Title"], fontName=BOLD),
        "Heading2": ParagraphStyle("Heading2", parent=sheet["Heading2"], fontName=BOLD),
        "Body": body,
        "Small": ParagraphStyle("Small", parent=body, fontSize=8, leading=10),
        "Banner": ParagraphStyle(
            "Banner", parent=body, backColor=colors.Color(1.0, 0.95, 0.85), borderPadding=4
        ),
    }


def _section(title: str, content: Flowable, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    return [
        KeepTogether([Paragraph(text(title), styles["Heading2"]), content]),
        Spacer(1, 3 * mm),
    ]


def _run_rows(report: ScoreReport, results_path: Path | None) -> list[tuple[str, str]]:
    return [
        ("Task", f"{report.task_title} ({report.task})"),
        ("Answers scored", str(report.n_items)),
        ("Results file", str(results_path) if results_path else "-"),
        ("Scored at", now_iso()),
        ("Scored with", f"ECG Viewer {__version__}"),
    ]


def _metrics_table(report: ScoreReport, width: float) -> Table:
    rows = [("Metric", "Compatible (ECGBench)", "Strict"), *metric_rows(report)]
    return _grid(rows, [width * 0.4, width * 0.3, width * 0.3])


def _published(
    report: ScoreReport, styles: dict[str, ParagraphStyle], width: float
) -> list[Flowable]:
    published = PUBLISHED.get(report.task, ())
    if not published:
        return []
    rows: list[Sequence[str]] = [("Subset", "Model", "AUC", "F1", "HL", "Accuracy")]
    for p in published:
        values = (p.macro_auc, p.macro_f1, p.hamming_loss, p.accuracy)
        rows.append((p.subset, p.model, *("-" if v is None else f"{v:.1f}" for v in values)))
    note = "Published ECGBench numbers (PULSE paper), for orientation only."
    if report.task == "ptb-xl-super":
        note += " " + RANDOM_BASELINE_NOTE
    table = _grid(rows, [width * 0.22, width * 0.18] + [width * 0.15] * 4, text_columns=2)
    return [
        *_section("Published results (%)", table, styles),
        Paragraph(text(note), styles["Small"]),
    ]


def _per_class_table(report: ScoreReport, width: float) -> Table:
    header = per_class_header(report)
    rows = [header, *per_class_rows(report)]
    others = len(header) - 1
    return _grid(rows, [width * 0.28] + [width * 0.72 / others] * others)


def _key_value_table(
    rows: list[tuple[str, str]], styles: dict[str, ParagraphStyle], width: float
) -> Table:
    cells = [
        [Paragraph(text(key), styles["Small"]), Paragraph(text(value), styles["Small"])]
        for key, value in rows
    ]
    table = Table(cells, colWidths=[width * 0.3, width * 0.7])
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.4, _GRID), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    return table


def _grid(rows: Sequence[Sequence[str]], widths: list[float], text_columns: int = 1) -> Table:
    cells = [[printable(cell) for cell in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
                ("BACKGROUND", (0, 0), (-1, 0), _HEAD),
                ("FONTNAME", (0, 0), (-1, -1), REGULAR),
                ("FONTNAME", (0, 0), (-1, 0), BOLD),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("ALIGN", (text_columns, 0), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


def _decorate(canvas: Any, document: Any) -> None:
    width, height = document.pagesize
    canvas.saveState()
    canvas.setFont(BOLD, 8)
    canvas.setFillColor(colors.Color(0.6, 0.2, 0.0))
    canvas.drawString(
        _MARGIN, height - _MARGIN, f"{RESEARCH_BANNER} - ECG Viewer evaluation report"
    )
    canvas.setFont(REGULAR, 7)
    canvas.setFillColor(colors.grey)
    footer = f"{RESEARCH_BANNER} - not validated for clinical use - ECG Viewer {__version__}"
    canvas.drawString(_MARGIN, _MARGIN / 2, footer)
    canvas.drawRightString(width - _MARGIN, _MARGIN / 2, f"page {document.page}")
    canvas.restoreState()
