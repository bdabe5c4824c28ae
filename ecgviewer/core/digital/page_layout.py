"""Where everything sits on a rendered page, in pixels (x right, y down).

The geometry follows ECG-Image-Kit's `ecg_plot.py`: the grid starts at the page's
bottom-left corner; with R rows of strips (the rhythm strip counts) each row is
page height / (R + 2) tall, the lowest lead row's baseline 1.5 rows up from the
bottom and the rhythm strip's 0.5 rows + 3 mm up; the columns are centred with a
left gap rounded down to whole 5 mm squares; a 0.2 s calibration pulse opens each
row; each label's text baseline is 7 mm (rhythm strip: 8 mm) below its trace's
(in rows under 23 mm, as 12x1's, 0.3 row, to stay clear of the next row's pulse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ecgviewer.core.digital.render_settings import PAPER_SECONDS, RenderSettings

MM_PER_INCH = 25.4
PULSE_S = 0.2
LABEL_DROP_MM = 7.0
RHYTHM_RAISE_MM = 3.0
RHYTHM_LABEL_DROP_MM = 8.0
MIN_SIDE_MM = 10.0

Point = tuple[float, float]


@dataclass(frozen=True)
class LeadBox:
    """One strip of the page: the lead drawn there, its pixels and its time window."""

    lead: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1: the strip's paper (trace and label)
    baseline_y: float  # pixel row of 0 mV
    x0: float  # pixel column where `start_s` is drawn
    start_s: float  # recording time at the strip's left edge
    seconds: float  # time the strip spans
    label_at: Point  # left end of the label's text baseline

    def x_of(self, seconds: float, px_per_s: float) -> float:
        """Pixel column of recording time `seconds` in this strip."""
        return self.x0 + (seconds - self.start_s) * px_per_s


@dataclass(frozen=True)
class PageLayout:
    """The page size and every strip, pulse and column separator on it."""

    size: tuple[int, int]
    px_per_mm: float
    strips: tuple[LeadBox, ...]  # the layout's leads, row by row
    rhythm: LeadBox | None
    pulses: tuple[Point, ...]  # left end (x, baseline y) of each row's calibration pulse
    separators: tuple[Point, ...]  # (x, baseline y) of the tick between two columns


def column_seconds(settings: RenderSettings, width_mm: float) -> float:
    """Seconds per column: 10 s over the columns, less (in 0.1 s) where a fast speed needs."""
    columns = max(len(row) for row in settings.rows)
    room = width_mm - 2 * MIN_SIDE_MM - PULSE_S * settings.speed_mm_s
    fits = math.floor(room / (settings.speed_mm_s * columns) * 10) / 10
    return min(PAPER_SECONDS / columns, fits)


def layout_page(settings: RenderSettings) -> PageLayout:
    """The page geometry for `settings`."""
    frame = _Frame(settings)
    rows, ups = settings.rows, frame.row_ups()
    strips = tuple(frame.strip(lead, k, up, LABEL_DROP_MM, 1)
                   for row, up in zip(rows, ups, strict=False)
                   for k, lead in enumerate(row))  # fmt: skip
    rhythm = None
    if settings.has_rhythm_strip:
        rhythm = frame.strip(settings.rhythm_lead, 0, ups[-1], RHYTHM_LABEL_DROP_MM, frame.columns)
    px, height = frame.px, frame.height_mm
    separators = tuple(((frame.start_mm + k * frame.column_mm) * px, (height - up) * px)
                       for row, up in zip(rows, ups, strict=False)
                       for k in range(1, len(row)))  # fmt: skip
    return PageLayout(
        size=(round(settings.page_in[0] * settings.dpi), round(settings.page_in[1] * settings.dpi)),
        px_per_mm=px,
        strips=strips,
        rhythm=rhythm,
        pulses=tuple((frame.gap_mm * px, (height - up) * px) for up in ups),
        separators=separators,
    )


class _Frame:
    """The page's rows and columns in millimetres (y measured up from the bottom edge)."""

    def __init__(self, settings: RenderSettings) -> None:
        width_mm, self.height_mm = (side * MM_PER_INCH for side in settings.page_in)
        self.settings, self.px = settings, settings.px_per_mm
        self.row_mm = self.height_mm / (len(settings.rows) + settings.has_rhythm_strip + 2)
        self.column_s = column_seconds(settings, width_mm)
        self.column_mm = self.column_s * settings.speed_mm_s
        self.columns = max(len(row) for row in settings.rows)
        self.gap_mm = math.floor((width_mm - self.columns * self.column_mm) / 2 / 5) * 5
        self.start_mm = self.gap_mm + PULSE_S * settings.speed_mm_s

    def row_ups(self) -> list[float]:
        """Each row's baseline height above the bottom edge, top row first; rhythm last."""
        count = len(self.settings.rows)
        ups = [self.row_mm * (count - index + 0.5) for index in range(count)]
        if self.settings.has_rhythm_strip:
            ups.append(self.row_mm / 2 + RHYTHM_RAISE_MM)
        return ups

    def strip(self, lead: str, column: int, up_mm: float, drop_mm: float, span: int) -> LeadBox:
        """The strip of `lead` in `column`, spanning `span` columns, baseline `up_mm` high."""
        px, half = self.px, self.row_mm / 2
        drop_mm = min(drop_mm, 0.3 * self.row_mm)  # 12x1's 15 mm rows: clear of the next pulse
        x_mm, y_mm = self.start_mm + column * self.column_mm, self.height_mm - up_mm
        box = _pixels((x_mm, y_mm - half, x_mm + span * self.column_mm, y_mm + half), px)
        return LeadBox(lead, box, y_mm * px, x_mm * px, column * self.column_s,
                       span * self.column_s, (x_mm * px, (y_mm + drop_mm) * px))  # fmt: skip


def _pixels(box_mm: tuple[float, float, float, float], px: float) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (round(value * px) for value in box_mm)
    return x0, y0, x1, y1
