"""A tinted box with a coloured bar on its left that can break across pages.

Used to set the AI text, the questions and the clinician notes apart from each
other at a glance, while letting an answer of any length flow onto the next
page (a table cell cannot).
"""

from __future__ import annotations

from reportlab.lib.colors import Color
from reportlab.platypus import Flowable

from ecgviewer.core.report.pagesize import MM


class Panel(Flowable):
    """Flowables on a tinted background with a coloured bar down the left side."""

    def __init__(
        self,
        content: list[Flowable],
        fill: Color,
        bar: Color,
        *,
        padding: float = 2.5 * MM,
        bar_width: float = 1.2 * MM,
    ) -> None:
        super().__init__()
        self._content = content
        self._fill = fill
        self._bar = bar
        self._padding = padding
        self._bar_width = bar_width
        self._placed: list[tuple[Flowable, float]] = []
        self.width = 0.0
        self.height = 0.0

    def _inner_width(self, avail_width: float) -> float:
        return avail_width - self._bar_width - 2 * self._padding

    def _copy(self, content: list[Flowable]) -> Panel:
        return Panel(
            content, self._fill, self._bar, padding=self._padding, bar_width=self._bar_width
        )

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        """Lay out the content at the frame's width; the height is what it needs."""
        inner = self._inner_width(avail_width)
        self._placed = [(item, item.wrap(inner, avail_height)[1]) for item in self._content]
        self.width = avail_width
        self.height = sum(height for _, height in self._placed) + 2 * self._padding
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        """Cut the panel where the space runs out, splitting a paragraph if needed."""
        inner = self._inner_width(avail_width)
        room = avail_height - 2 * self._padding
        head: list[Flowable] = []
        rest = list(self._content)
        while rest:
            height = rest[0].wrap(inner, room)[1]
            if height <= room:
                head.append(rest.pop(0))
                room -= height
                continue
            parts = rest[0].split(inner, room)
            if len(parts) > 1:
                head.append(parts[0])
                rest[0:1] = parts[1:]
            break
        if not head:
            return []
        return [self._copy(head), self._copy(rest)] if rest else [self._copy(head)]

    def draw(self) -> None:
        """Paint the background and the bar, then the content from the top down."""
        canvas = self.canv
        canvas.saveState()
        canvas.setFillColor(self._fill)
        canvas.rect(0, 0, self.width, self.height, stroke=0, fill=1)
        canvas.setFillColor(self._bar)
        canvas.rect(0, 0, self._bar_width, self.height, stroke=0, fill=1)
        canvas.restoreState()
        x = self._bar_width + self._padding
        y = self.height - self._padding
        for item, height in self._placed:
            y -= height
            item.drawOn(canvas, x, y)
