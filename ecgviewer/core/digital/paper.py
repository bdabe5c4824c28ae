"""The part of a rendered page that does not depend on the recording, drawn once.

Grid, calibration pulses, column ticks, lead labels, the speed and gain legend and
any header are the same for every record with the same settings, so they are
drawn once per `RenderSettings` and cached; a page then costs a copy and the
traces. Colours and line widths are ECG-Image-Kit's defaults (`ecg_plot.py`,
grid colour 5): major lines (1, 0, 0), minor (0.996, 0.8745, 0.8588), both 0.5 pt
and snapped to pixel centres as matplotlib does; 11 pt DejaVu Sans labels (its
default font); the pulse 1.5x and the column ticks 3x the 0.75 pt trace.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ecgviewer.core.digital.page_layout import PULSE_S, PageLayout, layout_page
from ecgviewer.core.digital.render_settings import RenderSettings
from ecgviewer.core.paths import resources_dir

PAPER = (255, 255, 255)
MAJOR = (255, 0, 0)
MINOR = (254, 223, 219)
INK = (26, 26, 26)  # ECG-Image-Kit draws a random grey of 0-0.2; this is the middle
TEXT = (0, 0, 0)
GRID_PT, TRACE_PT, PULSE_PT, TICK_PT = 0.5, 0.75, 1.125, 2.25
LABEL_PT, NOTE_PT = 11.0, 8.0
TICK_MV = 0.63  # column separator height (8 x 0.002 x 39.37 in ECG-Image-Kit at 200 dpi)
LEGEND_MM = ((50.0, 5.0), (100.0, 5.0))  # (x, up from the bottom) of "25mm/s" and "10mm/mV"
SHIFT = 4  # cv2 fixed-point bits: points are placed to 1/16 px
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def points_px(settings: RenderSettings, points: float) -> float:
    """A size in typographic points as pixels at the page's resolution."""
    return points * settings.dpi / 72


def draw_lines(canvas: np.ndarray, lines: list[np.ndarray], width_px: float) -> None:
    """Anti-aliased ink polylines (continuous pixel coordinates, N x 2) `width_px` wide.

    cv2's anti-aliased lines only come in whole thicknesses, and thickness t lays
    down about 2t - 0.6 px of ink (1.4 px for 1, 3.4 for 2); the missing fraction is
    made up with two more passes a little to the right and a little lower (ECG-Image-
    Kit's 0.75 pt trace is 2.08 px at 200 dpi: one 1.4 px line and two passes 0.48 px off).
    """
    if not lines:
        return
    thick = max(1, math.floor((width_px + 0.6) / 2))
    extra = min(1.0, 0.7 * (width_px - (2 * thick - 0.6)))
    offsets = ((0.0, 0.0), (extra, 0.0), (0.0, extra)) if extra > 0.1 else ((0.0, 0.0),)
    for dx, dy in offsets:
        points = [fixed_point(line[:, 0] + dx, line[:, 1] + dy) for line in lines]
        cv2.polylines(canvas, points, False, INK, thick, cv2.LINE_AA, SHIFT)


def fixed_point(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Continuous pixel coordinates (0 = a pixel's left edge) as cv2 points with SHIFT bits."""
    limit = 1 << 24  # far off the page, yet safe from cv2's fixed-point overflow
    points = np.stack((xs - 0.5, ys - 0.5), axis=-1) * (1 << SHIFT)
    return np.clip(np.rint(points), -limit, limit).astype(np.int32).reshape(-1, 1, 2)


@functools.lru_cache(maxsize=1)
def _font_file() -> str | None:
    path = resources_dir() / "fonts" / "DejaVuSans.ttf"
    return str(path) if path.is_file() else None


@functools.lru_cache(maxsize=8)
def font(settings: RenderSettings, size_pt: float) -> Font:
    """DejaVu Sans (matplotlib's default face) at `size_pt` points on this page."""
    size = max(6, round(points_px(settings, size_pt)))
    file = _font_file()
    return ImageFont.truetype(file, size) if file else ImageFont.load_default(size)


@functools.lru_cache(maxsize=4)
def background(settings: RenderSettings) -> np.ndarray:
    """The page without traces (H x W x 3 uint8, read-only: copy it before drawing)."""
    layout = layout_page(settings)
    canvas = grid(layout.size, layout.px_per_mm, settings)
    _pulses_and_ticks(canvas, layout, settings)
    image = Image.fromarray(canvas)
    _texts(ImageDraw.Draw(image), layout, settings)
    pixels = np.asarray(image).copy()
    pixels.flags.writeable = False
    return pixels


def grid(size: tuple[int, int], px_per_mm: float, settings: RenderSettings) -> np.ndarray:
    """White paper with 1 mm pink and 5 mm red lines from the bottom-left corner.

    A pixel's colour depends only on how much of its column and of its row the
    lines cover, and there are few distinct coverages: the colours are blended for
    each pair of coverage classes and the page is gathered from that small table.
    """
    width, height = size
    line = points_px(settings, GRID_PT)
    across, columns = _coverage_classes(width, px_per_mm, line)
    down, rows = _coverage_classes(height, px_per_mm, line)
    table = np.empty((len(down), len(across), 3), np.float32)
    table[:] = PAPER
    for kind, colour in enumerate((MINOR, MAJOR)):
        alpha = 1 - (1 - across[None, :, kind]) * (1 - down[:, None, kind])
        table += alpha[..., None] * (np.array(colour, np.float32) - table)
    return np.rint(table).astype(np.uint8)[rows[::-1, None], columns[None, :]]


def _coverage_classes(length: int, px_per_mm: float, line: float) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (minor, major) coverages along `length` px, and each pixel's class."""
    cover = np.stack([_cover(length, _centres(length, px_per_mm, major), line)
                      for major in (False, True)], axis=1)  # fmt: skip
    classes, index = np.unique(cover, axis=0, return_inverse=True)
    return classes, index.reshape(-1)


def _centres(length: int, px_per_mm: float, major: bool) -> np.ndarray:
    """Line centres (pixel-centre snapped) of every 1 mm (minor) or 5 mm (major) line."""
    steps = np.arange(0, math.floor(length / px_per_mm) + 1)
    steps = steps[(steps % 5 == 0) == major]
    return np.floor(steps * px_per_mm) + 0.5


def _cover(length: int, centres: np.ndarray, width: float) -> np.ndarray:
    """Share of each of `length` pixels covered by lines `width` px wide at `centres`."""
    cover = np.zeros(length, np.float32)
    reach = math.ceil(width / 2) + 1
    for offset in range(-reach, reach + 1):
        pixels = np.floor(centres).astype(int) + offset
        inside = (pixels >= 0) & (pixels < length)
        left = np.maximum(pixels, centres - width / 2)
        right = np.minimum(pixels + 1, centres + width / 2)
        share = np.clip(right - left, 0, 1)
        np.maximum.at(cover, pixels[inside], share[inside])
    return cover


def _pulses_and_ticks(canvas: np.ndarray, layout: PageLayout, settings: RenderSettings) -> None:
    px = layout.px_per_mm
    high, wide = settings.gain_mm_mv * px, PULSE_S * settings.speed_mm_s * px
    pulses = [np.array([(x, y), (x, y - high), (x + wide, y - high), (x + wide, y)])
              for x, y in layout.pulses]  # fmt: skip
    draw_lines(canvas, pulses, points_px(settings, PULSE_PT))
    half = TICK_MV * settings.gain_mm_mv * px / 2
    ticks = [np.array([(x, y - half), (x, y + half)]) for x, y in layout.separators]
    draw_lines(canvas, ticks, points_px(settings, TICK_PT))


def _texts(draw: ImageDraw.ImageDraw, layout: PageLayout, settings: RenderSettings) -> None:
    label = font(settings, LABEL_PT)
    strips = layout.strips + ((layout.rhythm,) if layout.rhythm else ())
    for strip in strips:
        draw.text(strip.label_at, strip.lead, fill=TEXT, font=label, anchor="ls")
    px, height = layout.px_per_mm, layout.size[1]
    legend = (f"{settings.speed_mm_s:g}mm/s", f"{settings.gain_mm_mv:g}mm/mV")
    for text, (x_mm, up_mm) in zip(legend, LEGEND_MM, strict=True):
        draw.text((x_mm * px, height - up_mm * px), text, fill=TEXT, font=label, anchor="ls")
    for index, line in enumerate(settings.header):
        at = (10 * px, (10 + 6 * index) * px)
        draw.text(at, line, fill=TEXT, font=label, anchor="ls")
