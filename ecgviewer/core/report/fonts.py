"""The report's fonts: DejaVu, embedded, and text made safe to print with them.

DejaVu Sans covers Latin, Greek, Cyrillic and many symbols. Characters it
lacks (CJK, emoji, ...) and control characters are replaced by a visible
placeholder, so a name or a model answer can never break the export and the
reader can see that something was not printed. Characters beyond the Basic
Multilingual Plane (emoji, historic scripts) are replaced too, even where
DejaVu has a glyph: reportlab would draw them but put a wrong character in the
PDF's text layer, so copy-paste and search would silently change the text.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from ecgviewer.core.errors import ReportError
from ecgviewer.core.paths import resources_dir

REGULAR = "EcgReportSans"
BOLD = "EcgReportSans-Bold"
MONO = "EcgReportMono"

_FILES: dict[str, str] = {
    REGULAR: "DejaVuSans.ttf",
    BOLD: "DejaVuSans-Bold.ttf",
    MONO: "DejaVuSansMono.ttf",
}

_LAST_BMP = 0xFFFF  # reportlab writes a wrong text layer for characters above this

PLACEHOLDER = "\ufffd"
"""Printed instead of a character the font cannot show (a white question mark in a diamond)."""


def fonts_dir() -> Path:
    """The folder holding the bundled TrueType fonts and their licence."""
    return resources_dir() / "fonts"


@functools.cache
def register_fonts() -> None:
    """Register the bundled fonts with reportlab once per process.

    Raises `ReportError` when a font file is missing or unreadable.
    """
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name, file_name in _FILES.items():
        path = fonts_dir() / file_name
        try:
            pdfmetrics.registerFont(TTFont(name, str(path)))
        except Exception as exc:  # reportlab raises TTFError, OSError, ...
            raise ReportError(
                f"The report font {file_name} is missing or damaged ({path}).",
                hint="Reinstall ECG Viewer.",
            ) from exc
    # <b> in a paragraph switches to the bold face; there is no italic face.
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)


@functools.cache
def _coverage(font_name: str) -> frozenset[int]:
    from reportlab.pdfbase import pdfmetrics

    register_fonts()
    return frozenset(pdfmetrics.getFont(font_name).face.charToGlyph)


@functools.cache
def _text_coverage() -> frozenset[int]:
    return _coverage(REGULAR) & _coverage(BOLD)


def _printable_char(char: str, covered: frozenset[int]) -> str:
    if char == "\n":
        return char
    category = unicodedata.category(char)
    if category in ("Cc", "Cs", "Co", "Cn"):  # controls, lone surrogates, unassigned
        return PLACEHOLDER
    if ord(char) in covered and ord(char) <= _LAST_BMP:
        return char
    return "" if category == "Cf" else PLACEHOLDER  # drop invisible format marks


def printable(text: str, *, mono: bool = False) -> str:
    """Return `text` with every character the report fonts cannot show replaced.

    Line breaks are normalised to "\\n", tabs become four spaces, and text is
    put in Unicode NFC form so that accents print as single glyphs.
    """
    covered = _coverage(MONO) if mono else _text_coverage()
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.expandtabs(4)
    return "".join(_printable_char(char, covered) for char in text)
