"""Draw a digital recording as a standard 12-lead paper page: the case's image.

The page copies ECG-Image-Kit's defaults, the generator the model's training
images were very probably drawn with: US Letter landscape at 200 dpi
(2200 x 1700 px), three rows of four 2.5 s columns (I, aVR, V1, V4 / II, aVL, V2,
V5 / III, aVF, V3, V6), time-shifted as a cart prints them (column k shows
seconds 2.5k to 2.5(k + 1)), a 10 s lead II rhythm strip, 25 mm/s, 10 mm/mV, a
red grid, a 1 mV calibration pulse opening each row, "25mm/s 10mm/mV" printed,
a thin near-black trace and no header. 6x2 and 12x1 layouts, speed and gain are
settings. Leads the record lacks keep their label and a "not recorded" note;
NaN samples leave gaps; a short record draws what there is.

    page = render_page(record)          # RenderedPage
    page.image.save("page.png")         # PIL RGB
    page.boxes["V1"].box                # (x0, y0, x1, y1) pixels of V1's strip
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ecgviewer.core.digital.page_layout import LeadBox, PageLayout, layout_page
from ecgviewer.core.digital.paper import (
    NOTE_PT,
    TEXT,
    TRACE_PT,
    background,
    draw_lines,
    font,
    points_px,
)
from ecgviewer.core.digital.record import DigitalEcgError, EcgRecord
from ecgviewer.core.digital.render_settings import LAYOUTS, RenderSettings

__all__ = ["LAYOUTS", "LeadBox", "RenderSettings", "RenderedPage", "render_page"]

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class RenderedPage:
    """A drawn page, its settings and where each lead is (for tests and the GUI)."""

    image: Image.Image  # RGB, settings.page_in x settings.dpi pixels
    settings: RenderSettings
    layout: PageLayout
    seconds: float  # recording time on the page (less than the layout's when short)
    blank: tuple[str, ...] = field(default=())  # leads left blank: the record lacks them

    @property
    def px_per_mm(self) -> float:
        return self.layout.px_per_mm

    @property
    def boxes(self) -> dict[str, LeadBox]:
        """The layout's leads by name (the rhythm strip is `rhythm`)."""
        return {strip.lead: strip for strip in self.layout.strips}

    @property
    def rhythm(self) -> LeadBox | None:
        return self.layout.rhythm

    def settings_json(self) -> dict[str, Any]:
        """What drew the page, as JSON values: renderer, settings, scale, size, time shown."""
        width, height = self.layout.size
        return {**self.settings.as_json(), "px_per_mm": round(self.px_per_mm, 4),
                "size": [width, height], "seconds": round(self.seconds, 3),
                "blank_leads": list(self.blank)}  # fmt: skip


def render_page(record: EcgRecord, settings: RenderSettings | None = None) -> RenderedPage:
    """Draw `record` on a paper page as `settings` say (ECG-Image-Kit's defaults if None)."""
    settings = settings or RenderSettings()
    if not record.sampling_hz > 0:
        raise DigitalEcgError(f"The {record.format} recording has no usable sampling rate.")
    layout = layout_page(settings)
    canvas = background(settings).copy()
    blank: list[LeadBox] = []
    lines: list[np.ndarray] = []
    for strip in _strips(layout):
        samples = record.leads.get(strip.lead)
        if samples is None:
            blank.append(strip)
            continue
        lines.extend(_polylines(strip, np.asarray(samples), record.sampling_hz, settings))
    draw_lines(canvas, lines, points_px(settings, TRACE_PT))
    image = Image.fromarray(canvas)
    _mark_blank(image, blank, settings)
    shown = max(strip.start_s + strip.seconds for strip in _strips(layout))
    seconds = min(shown, record.duration_s)
    names = tuple(dict.fromkeys(strip.lead for strip in blank))
    return RenderedPage(image, settings, layout, seconds, names)


def _strips(layout: PageLayout) -> tuple[LeadBox, ...]:
    return layout.strips + ((layout.rhythm,) if layout.rhythm else ())


def _polylines(
    strip: LeadBox, samples: np.ndarray, hz: float, settings: RenderSettings
) -> Iterator[np.ndarray]:
    """The strip's samples as pixel polylines (N x 2), one per run of finite values."""
    first = max(0, round(strip.start_s * hz))
    last = min(len(samples), round((strip.start_s + strip.seconds) * hz) + 1)
    if last - first < 1:
        return
    values = samples[first:last].astype(np.float64)
    px = settings.px_per_mm
    xs = strip.x0 + (np.arange(first, last) / hz - strip.start_s) * settings.speed_mm_s * px
    ys = strip.baseline_y - values * settings.gain_mm_mv * px
    points = np.stack((xs, ys), axis=-1)
    for start, stop in _finite_runs(np.isfinite(values)):
        yield points[start:stop]


def _finite_runs(finite: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of True in `finite`."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.astype(np.int8), [0]))))
    yield from zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)


def _mark_blank(image: Image.Image, strips: list[LeadBox], settings: RenderSettings) -> None:
    """A small "not recorded" beside the baseline of each strip with no signal."""
    if not strips:
        return
    draw, note = ImageDraw.Draw(image), font(settings, NOTE_PT)
    for strip in strips:
        at = (strip.x0 + 3 * settings.px_per_mm, strip.baseline_y)
        draw.text(at, NOT_RECORDED, fill=TEXT, font=note, anchor="lm")
