"""Confusion-matrix figures drawn with reportlab graphics (no Qt, no matplotlib).

Cells are shaded by their share of the gold row, so a dark diagonal means
agreement whatever the class sizes; the count is printed in each cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.graphics.shapes import Drawing, Group, Rect, String
from reportlab.lib import colors

from ecgviewer.core.evaluation.scores import MetricSet
from ecgviewer.core.report.fonts import BOLD, REGULAR, printable, register_fonts

MAX_SIDE = 12
"""Larger gold-vs-predicted tables keep the most frequent gold answers and pool the rest."""
OTHER = "(other)"
_BLOCK = 86.0  # side of one class's 2x2 block
_GAP = 18.0
_LABEL_CHARS = 16  # longer class names are cut, with "~" marking the cut


def confusion_drawing(metric_set: MetricSet, width: float) -> Drawing | None:
    """The figure for `metric_set`'s confusion table, or None when there is nothing to draw."""
    register_fonts()
    confusion = metric_set.confusion
    if confusion.get("kind") == "per-class" and confusion.get("classes"):
        return _per_class_blocks(confusion["classes"], width)
    labels: list[str] = confusion.get("labels", [])
    if not labels:
        return None
    labels, matrix = pool_matrix(labels, confusion.get("matrix", []), MAX_SIDE)
    return _matrix(labels, matrix, width)


def pool_matrix(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], max_side: int
) -> tuple[list[str], list[list[int]]]:
    """Keep the `max_side - 1` most frequent gold labels and pool the rest into "(other)"."""
    if len(labels) <= max_side:
        return list(labels), [list(row) for row in matrix]
    totals = [sum(row) for row in matrix]
    keep = sorted(sorted(range(len(labels)), key=lambda i: -totals[i])[: max_side - 1])
    position = {index: slot for slot, index in enumerate(keep)}
    other = len(keep)
    pooled = [[0] * (other + 1) for _ in range(other + 1)]
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            pooled[position.get(i, other)][position.get(j, other)] += count
    return [labels[i] for i in keep] + [OTHER], pooled


def _per_class_blocks(classes: dict[str, dict[str, int]], width: float) -> Drawing:
    per_row = max(1, int((width + _GAP) // (_BLOCK + 40 + _GAP)))
    rows = (len(classes) + per_row - 1) // per_row
    block_h = _BLOCK + 28
    drawing = Drawing(width, rows * (block_h + _GAP))
    for index, (label, counts) in enumerate(classes.items()):
        x = (index % per_row) * (_BLOCK + 40 + _GAP) + 36
        y = drawing.height - (index // per_row + 1) * (block_h + _GAP) + _GAP
        _class_block(drawing, x, y, label, counts)
    return drawing


def _class_block(drawing: Drawing, x: float, y: float, label: str, counts: dict[str, int]) -> None:
    cell = _BLOCK / 2
    grid = ((counts["tp"], counts["fn"]), (counts["fp"], counts["tn"]))  # rows: gold +, gold -
    for r, row in enumerate(grid):
        total = sum(row)
        for c, count in enumerate(row):
            share = count / total if total else 0.0
            _cell(drawing, x + c * cell, y + (1 - r) * cell, side=cell, count=count, share=share)
    title = _label(label, x + _BLOCK / 2, y + _BLOCK + 16, anchor="middle", size=8)
    title.fontName = BOLD
    drawing.add(title)
    for c, name in enumerate(("pred +", "pred -")):
        drawing.add(_label(name, x + (c + 0.5) * cell, y + _BLOCK + 4, anchor="middle", size=6))
    for r, name in enumerate(("gold +", "gold -")):
        drawing.add(_label(name, x - 3, y + (1.5 - r) * cell - 2, anchor="end", size=6))


def _matrix(labels: list[str], matrix: list[list[int]], width: float) -> Drawing:
    margin = 80.0
    side = min(width - margin - 10, 22.0 * len(labels) + 40)
    cell = side / len(labels)
    font_size = max(5.0, min(8.0, cell / 3))
    header = min(_LABEL_CHARS, max(len(label) for label in labels)) * font_size * 0.6 + 8
    drawing = Drawing(width, side + header + 14)
    for i, row in enumerate(matrix):
        total = sum(row)
        for j, count in enumerate(row):
            share = count / total if total else 0.0
            x, y = margin + j * cell, side - (i + 1) * cell
            _cell(drawing, x, y, side=cell, count=count, share=share, size=font_size)
        y = side - (i + 0.5) * cell - 2
        drawing.add(_label(labels[i], margin - 4, y, anchor="end", size=font_size))
    for j, label in enumerate(labels):
        column = Group(_label(label, 0, 0, anchor="start", size=font_size))
        column.transform = (0, 1, -1, 0, margin + (j + 0.5) * cell + font_size / 3, side + 4)
        drawing.add(column)
    top = side + header + 4
    drawing.add(_label("predicted", margin + side / 2, top, anchor="middle", size=8))
    drawing.add(_label("gold", 4, top, anchor="start", size=8))
    return drawing


def _label(text: str, x: float, y: float, *, anchor: str, size: float) -> String:
    shown = text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "~"
    return String(x, y, printable(shown), fontName=REGULAR, fontSize=size, textAnchor=anchor)


def _cell(
    drawing: Drawing,
    x: float,
    y: float,
    *,
    side: float,
    count: int,
    share: float,
    size: float = 8.0,
) -> None:
    shade = _shade(share)
    drawing.add(Rect(x, y, side, side, fillColor=shade, strokeColor=colors.white, strokeWidth=0.5))
    ink = colors.white if share > 0.55 else colors.black
    drawing.add(
        String(
            x + side / 2,
            y + side / 2 - size / 3,
            str(count),
            fontName=REGULAR,
            fontSize=size,
            fillColor=ink,
            textAnchor="middle",
        )
    )


def _shade(share: float) -> Any:
    light, dark = (0.94, 0.96, 1.0), (0.08, 0.27, 0.55)
    rgb = [lo + (hi - lo) * min(max(share, 0.0), 1.0) for lo, hi in zip(light, dark, strict=True)]
    return colors.Color(*rgb)
