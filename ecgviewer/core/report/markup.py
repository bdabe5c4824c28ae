"""Plain text (questions, model answers, notes) turned into reportlab paragraphs.

Text is printed verbatim: every character the user or the model wrote stays,
including Markdown marks such as "**", "#" and "- ". Only the layout follows
them, so that a long answer stays readable: one paragraph per line, lines that
start with "#" in bold, list items with a hanging indent, leading spaces as
indentation and blank lines as vertical space.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, Paragraph, Spacer

from ecgviewer.core.report.fonts import printable

_LIST_ITEM = re.compile(r"^(?:[-*+\u2022]|\d{1,3}[.)])\s+")
_SPACE_RUN = re.compile(r" {2,}")
_INDENT_STEP = 3.0  # points of indent per leading space
_MAX_INDENT_SPACES = 16
_HANGING = 10.0  # points a list item's continuation lines are indented


def inline(text: str, *, mono: bool = False) -> str:
    """Make `text` safe as reportlab paragraph markup (one line, escaped, printable)."""
    return escape(printable(text, mono=mono)).replace("\n", "<br/>")


def _line_style(line: str, base: ParagraphStyle, heading: ParagraphStyle) -> ParagraphStyle:
    stripped = line.lstrip(" ")
    spaces = min(len(line) - len(stripped), _MAX_INDENT_SPACES)
    indent = base.leftIndent + spaces * _INDENT_STEP
    if stripped.startswith("#"):
        return ParagraphStyle(f"{heading.name}+", parent=heading, leftIndent=indent)
    if _LIST_ITEM.match(stripped):
        return ParagraphStyle(
            f"{base.name}+li",
            parent=base,
            leftIndent=indent + _HANGING,
            firstLineIndent=-_HANGING,
        )
    if spaces:
        return ParagraphStyle(f"{base.name}+{spaces}", parent=base, leftIndent=indent)
    return base


def verbatim(text: str, base: ParagraphStyle, heading: ParagraphStyle) -> list[Flowable]:
    """One flowable per line of `text`, so long text can break across pages anywhere."""
    flowables: list[Flowable] = []
    for line in printable(text).rstrip("\n").split("\n"):
        if not line.strip():
            flowables.append(Spacer(1, base.leading * 0.6))
            continue
        style = _line_style(line, base, heading)
        flowables.append(Paragraph(_keep_spaces(escape(line.strip(" "))), style))
    return flowables


def _keep_spaces(markup: str) -> str:
    """Keep runs of spaces inside a line (paragraphs would collapse them to one)."""
    return _SPACE_RUN.sub(lambda run: " " + "&nbsp;" * (len(run.group()) - 1), markup)
