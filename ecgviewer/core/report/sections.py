"""The case parts of the report: title block, banner, study fields, scan and its preprocessing."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from PIL import Image as PILImage
from reportlab.platypus import Flowable, Image, Paragraph, Spacer, Table

from ecgviewer import DISCLAIMER
from ecgviewer.core.case import STUDY_FIELDS, Case, SourceInfo
from ecgviewer.core.digital.facts_text import (
    RENDER_OP,
    drawn_caption,
    facts_lines,
    render_step_of,
    renderer_text,
)
from ecgviewer.core.report.images import thumbnail_jpeg
from ecgviewer.core.report.markup import inline
from ecgviewer.core.report.pagesize import MM
from ecgviewer.core.report.panel import Panel
from ecgviewer.core.report.styles import (
    LABEL_FILL,
    RULE,
    WARNING,
    WARNING_FILL,
    Styles,
    styles,
    table_style,
)

TITLE = "ECG Viewer - AI-assisted ECG reading (research use only)"
SHORT_HASH = 16
_NAME_KEYS = ("op", "name", "step", "operation", "kind", "type", "action")
_SOURCES = {
    "auto": "automatic",
    "manual": "set by hand",
    "signal": "from the signal",
}  # a step's "source" (imaging.steps)
_STACK_STEPS_AFTER = 14  # more steps than this: list them under the thumbnail, not beside it


def short_hash(sha256: str) -> str:
    """The first 16 hex characters of a SHA-256, or "not recorded"."""
    return f"{sha256[:SHORT_HASH]}…" if sha256 else "not recorded"


def title_block(app_version: str, reading_time: str, exported_at: str, width: float) -> Table:
    """Report title on the left; version, reading and export times on the right."""
    st = styles()
    meta = (
        f"Reading: {inline(reading_time)}<br/>"
        f"Exported: {inline(exported_at)} - ECG Viewer {inline(app_version)}"
    )
    table = Table(
        [[Paragraph(TITLE, st.title), Paragraph(meta, st.meta)]],
        colWidths=[width - 90 * MM, 90 * MM],
    )
    table.setStyle(table_style([("VALIGN", (0, 0), (-1, -1), "TOP"), *_no_padding()]))
    return table


def _no_padding() -> list[tuple[Any, ...]]:
    return [
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
    ]


def banner(width: float) -> Table:
    """The research-only warning, boxed in red."""
    text = (
        f"RESEARCH USE ONLY - {DISCLAIMER} - not a diagnosis. "
        "A qualified clinician must read this ECG."
    )
    table = Table([[Paragraph(text, styles().banner)]], colWidths=[width])
    table.setStyle(
        table_style(
            [
                ("BACKGROUND", (0, 0), (-1, -1), WARNING_FILL),
                ("BOX", (0, 0), (-1, -1), 0.8, WARNING),
                ("LEFTPADDING", (0, 0), (-1, -1), 3 * MM),
                ("TOPPADDING", (0, 0), (-1, -1), 1.4 * MM),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.8 * MM),
            ]
        )
    )
    return table


def study_entries(study: dict[str, str]) -> list[tuple[str, str]]:
    """(label, value) of the study fields that were filled in, in display order."""
    labels = dict(STUDY_FIELDS)
    keys = [key for key, _ in STUDY_FIELDS] + sorted(set(study) - set(labels))
    entries = []
    for key in keys:
        value = str(study.get(key) or "").strip()
        if value:
            entries.append((labels.get(key, key.replace("_", " ").capitalize()), value))
    return entries


_FIELD_GAP = "&nbsp;&nbsp;&nbsp;<font color='#c3c9d2'>|</font>&nbsp;&nbsp; "


def _field(label: str, value: str) -> str:
    return f"<font size=7.5 color='#5a6270'>{inline(label)}:</font>&nbsp;{inline(value)}"


_FREE_TEXT = ("Indication", "Comment")


def study_block(study: dict[str, str], width: float) -> list[Flowable]:
    """The filled-in study fields on a tinted strip; nothing at all when none is filled.

    Short fields run on one line (wrapping if needed); the free-text indication
    and comment get a line each. The strip can break across pages, however long
    they are.
    """
    entries = study_entries(study)
    if not entries:
        return []
    st = styles()
    short = [_field(label, value) for label, value in entries if label not in _FREE_TEXT]
    lines = [_FIELD_GAP.join(short)] if short else []
    lines += [_field(label, value) for label, value in entries if label in _FREE_TEXT]
    content: list[Flowable] = []
    for line in lines:
        content += [Paragraph(line, st.cell), Spacer(1, 1 * MM)]
    strip = Panel(content[:-1], LABEL_FILL, LABEL_FILL, padding=2 * MM, bar_width=1)
    return [Spacer(1, 2 * MM), strip]


def scan_description(source: SourceInfo, step_count: int) -> str:
    """Names the scan, its fingerprint and how it was prepared (the ECG's caption)."""
    page = f", page {source.page + 1} of {source.page_count}" if source.page_count > 1 else ""
    kind = f", {source.format}" if source.format else ""
    if step_count:
        steps = f"straightened by {step_count} preprocessing step{'s' if step_count != 1 else ''}"
        steps += " (listed with the original scan)"
    else:
        steps = "as scanned, no preprocessing"
    return f"ECG from {source.name}{page}{kind}, SHA-256 {short_hash(source.sha256)}, {steps}."


def ecg_caption(case: Case) -> str:
    """The caption under page 1's ECG: a scan and its preprocessing, or a page drawn from
    a digital recording, by which renderer and with which settings."""
    drawn = render_step_of(case.steps)
    if drawn is not None:
        return drawn_caption(case.source.name, case.source.format, drawn)
    return scan_description(case.source, len(case.steps))


def _step_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def describe_step(step: dict[str, Any]) -> tuple[str, str]:
    """A preprocessing step (`Step.to_json()`) as (name, "parameter: value, ... - how set").

    >>> describe_step({"op": "deskew", "angle_deg": -3.2, "source": "auto"})
    ('deskew', 'angle_deg: -3.2 - automatic')
    """
    if step.get("op") == RENDER_OP:
        facts = "; ".join(facts_lines(step))
        return "render", f"drawn from the signal by {renderer_text(step)}. Recording: {facts}"
    name_key = next((k for k in _NAME_KEYS if isinstance(step.get(k), str)), None)
    name = str(step[name_key]) if name_key else "step"
    params = {k: v for k, v in step.items() if k not in (name_key, "source")}
    details = ", ".join(f"{k}: {_step_value(v)}" for k, v in params.items())
    if "source" in step:
        source = _SOURCES.get(str(step["source"]), str(step["source"]))
        details = f"{details} - {source}" if details else source
    return name, details


def _steps_flowables(steps: list[dict[str, Any]], st: Styles) -> list[Flowable]:
    if not steps:
        return [Paragraph("None: the ECG is printed as scanned.", st.cell)]
    items: list[Flowable] = []
    for number, step in enumerate(steps, start=1):
        name, details = describe_step(step)
        detail = f" <font color='#5a6270'>({inline(details)})</font>" if details else ""
        items.append(Paragraph(f"{number}. <b>{inline(name)}</b>{detail}", st.cell))
    return items


def original_block(case: Case, original: PILImage.Image, width: float) -> list[Flowable]:
    """Thumbnail of the scan as opened, beside the list of preprocessing steps."""
    st = styles()
    thumb_width = 62 * MM
    scale = min(thumb_width / original.width, 90 * MM / original.height)
    size = (original.width * scale, original.height * scale)
    thumb = Image(BytesIO(thumbnail_jpeg(original)), *size, hAlign="LEFT")
    what = (
        "Page drawn from the signal of"
        if render_step_of(case.steps)
        else "Original scan as opened:"
    )
    caption = Paragraph(inline(f"{what} {case.source.name}"), st.caption)
    heading = Paragraph("Preprocessing steps, in order", st.cell_head)
    steps = [heading, Spacer(1, 1 * MM), *_steps_flowables(case.steps, st)]
    if len(case.steps) > _STACK_STEPS_AFTER:
        return [thumb, Spacer(1, 1 * MM), caption, Spacer(1, 3 * MM), *steps]
    table = Table(
        [[[thumb, Spacer(1, 1 * MM), caption], steps]],
        colWidths=[thumb_width + 6 * MM, width - thumb_width - 6 * MM],
    )
    table.setStyle(
        table_style(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEAFTER", (0, 0), (0, 0), 0.5, RULE),
                *_no_padding(),
                ("LEFTPADDING", (1, 0), (1, 0), 5 * MM),
            ]
        )
    )
    return [table]
