"""Colours, measures and paragraph styles of the report, in one place."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import TableStyle

from ecgviewer.core.report import fonts
from ecgviewer.core.report.pagesize import MM

INK = colors.HexColor("#1b1f24")
MUTED = colors.HexColor("#5a6270")
RULE = colors.HexColor("#c3c9d2")
ACCENT = colors.HexColor("#1f3a5f")
WARNING = colors.HexColor("#a1161b")
WARNING_FILL = colors.HexColor("#fdeceb")
AI_FILL = colors.HexColor("#eef2f8")
AI_BAR = colors.HexColor("#5b7db1")
QUESTION_FILL = colors.HexColor("#f4f4f2")
QUESTION_BAR = colors.HexColor("#9a9a94")
NOTES_FILL = colors.HexColor("#fff7e0")
NOTES_BAR = colors.HexColor("#c8962c")
TABLE_HEAD_FILL = colors.HexColor("#e6eaf0")
LABEL_FILL = colors.HexColor("#f3f5f8")

BODY_SIZE = 9.5
MARGIN = 14 * MM
"""Page margin on every side; header and footer sit inside it."""


@dataclass(frozen=True)
class Styles:
    """The paragraph styles used across the report."""

    title: ParagraphStyle
    meta: ParagraphStyle
    banner: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    caption: ParagraphStyle
    cell: ParagraphStyle
    cell_head: ParagraphStyle
    mono: ParagraphStyle
    panel_label: ParagraphStyle
    warning: ParagraphStyle
    text: ParagraphStyle
    text_heading: ParagraphStyle


def _style(name: str, **overrides: Any) -> ParagraphStyle:
    base: dict[str, Any] = {
        "fontName": fonts.REGULAR,
        "fontSize": BODY_SIZE,
        "leading": BODY_SIZE * 1.35,
        "textColor": INK,
        "alignment": TA_LEFT,
        "splitLongWords": 1,
    }
    base.update(overrides)
    return ParagraphStyle(name, **base)


def _headings() -> dict[str, ParagraphStyle]:
    bold = fonts.BOLD
    return {
        "title": _style("title", fontName=bold, fontSize=14, leading=17, textColor=ACCENT),
        "meta": _style("meta", fontSize=8, leading=10.5, textColor=MUTED, alignment=TA_RIGHT),
        "banner": _style("banner", fontName=bold, fontSize=9.5, leading=12.5, textColor=WARNING),
        "h1": _style(
            "h1", fontName=bold, fontSize=12.5, leading=16, textColor=ACCENT,
            spaceBefore=5 * MM, spaceAfter=1.5 * MM, keepWithNext=1,
        ),
        "h2": _style(
            "h2", fontName=bold, fontSize=10.5, leading=14,
            spaceBefore=4 * MM, spaceAfter=1 * MM, keepWithNext=1,
        ),
        "panel_label": _style(
            "panel_label", fontName=bold, fontSize=8, leading=11, textColor=MUTED
        ),
        "warning": _style(
            "warning", fontName=bold, fontSize=9, leading=12, textColor=WARNING,
            spaceBefore=1 * MM, spaceAfter=1 * MM, keepWithNext=1,
        ),
    }  # fmt: skip


def _texts() -> dict[str, ParagraphStyle]:
    return {
        "body": _style("body", spaceAfter=1.5 * MM),
        "small": _style("small", fontSize=8, leading=10.5, textColor=MUTED),
        "caption": _style("caption", fontSize=7.5, leading=9.5, textColor=MUTED),
        "cell": _style("cell", fontSize=8.5, leading=11),
        "cell_head": _style("cell_head", fontName=fonts.BOLD, fontSize=8, leading=10.5),
        "mono": _style("mono", fontName=fonts.MONO, fontSize=7.5, leading=10),
        "text": _style("text"),
        "text_heading": _style("text_heading", fontName=fonts.BOLD),
    }


@functools.cache
def styles() -> Styles:
    """Build (once) the report's paragraph styles; registers the fonts first."""
    fonts.register_fonts()
    return Styles(**_headings(), **_texts())


def table_style(commands: list[tuple[Any, ...]]) -> TableStyle:
    """A table style whose default font is the report's (reportlab's is Helvetica, not embedded)."""
    fonts.register_fonts()
    return TableStyle([("FONT", (0, 0), (-1, -1), fonts.REGULAR, BODY_SIZE), *commands])
