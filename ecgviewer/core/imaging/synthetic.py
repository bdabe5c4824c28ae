"""A synthetic 12-lead ECG on pink grid paper, drawn entirely by this code.

It is licence-clean (no patient, no third-party image) and serves as the
bundled sample shown on first start and as ground truth for preprocessing
tests. Layout: the usual 3x4 grid of leads (2.5 s each) plus a 10 s lead II
rhythm strip, at 25 mm/s and 10 mm/mV, with a printed header.

Run `python -m ecgviewer.core.imaging.synthetic OUT.png` to write one.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MM_PER_INCH = 25.4
LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))

# Relative wave amplitudes (mV) per lead: P, Q, R, S, T.
_WAVES: dict[str, tuple[float, float, float, float, float]] = {
    "I": (0.10, -0.05, 0.80, -0.10, 0.25),
    "II": (0.15, -0.08, 1.20, -0.15, 0.35),
    "III": (0.06, -0.04, 0.50, -0.10, 0.12),
    "aVR": (-0.12, 0.05, -0.90, 0.10, -0.28),
    "aVL": (0.04, -0.04, 0.35, -0.05, 0.10),
    "aVF": (0.10, -0.06, 0.85, -0.12, 0.22),
    "V1": (0.08, 0.00, 0.30, -1.00, -0.10),
    "V2": (0.10, 0.00, 0.60, -1.30, 0.40),
    "V3": (0.10, -0.05, 1.00, -0.80, 0.45),
    "V4": (0.10, -0.08, 1.50, -0.40, 0.40),
    "V5": (0.10, -0.10, 1.30, -0.20, 0.30),
    "V6": (0.10, -0.08, 1.00, -0.10, 0.25),
}

PAPER = (255, 246, 244)
MINOR = (248, 200, 196)
MAJOR = (236, 132, 128)
INK = (20, 20, 28)


@dataclass(frozen=True)
class SyntheticEcg:
    """A rendered sample and the facts a test can check against."""

    image: Image.Image
    dpi: int
    heart_rate: int
    grid_box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the printed grid


def beat(t: np.ndarray, waves: tuple[float, float, float, float, float]) -> np.ndarray:
    """One PQRST complex (mV) at times `t` seconds after the beat's start."""
    p, q, r, s, tw = waves
    shape = (
        (p, 0.10, 0.025),
        (q, 0.205, 0.010),
        (r, 0.225, 0.011),
        (s, 0.245, 0.011),
        (tw, 0.45, 0.045),
    )
    return sum(a * np.exp(-((t - mu) ** 2) / (2 * sd**2)) for a, mu, sd in shape)  # type: ignore[return-value]


def lead_signal(lead: str, seconds: np.ndarray, heart_rate: int) -> np.ndarray:
    period = 60.0 / heart_rate
    phase = np.mod(seconds + 0.3, period)
    return beat(phase, _WAVES[lead])


def render(width_px: int = 2200, dpi: int | None = None, heart_rate: int = 72) -> SyntheticEcg:
    """Draw a whole landscape US-Letter sheet `width_px` wide (dpi follows from the width)."""
    dpi = dpi or round(width_px / 11)
    scale = 2  # draw at twice the size, then downsample: smooth traces without AA support
    px_mm = dpi / MM_PER_INCH * scale
    width = width_px * scale
    height = round(width * 8.5 / 11)
    image = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(image)
    x0, y0 = round(12 * px_mm), round(38 * px_mm)
    cols_mm, rows_mm = 250, 160
    x1, y1 = x0 + round(cols_mm * px_mm), y0 + round(rows_mm * px_mm)
    _grid(draw, (x0, y0, x1, y1), px_mm, scale)
    _header(draw, px_mm, heart_rate, scale)
    _traces(draw, (x0, y0), px_mm, heart_rate, scale)
    small = image.resize((width_px, round(height / scale)), Image.Resampling.LANCZOS)
    box = (x0 // scale, y0 // scale, x1 // scale, y1 // scale)
    return SyntheticEcg(image=small, dpi=dpi, heart_rate=heart_rate, grid_box=box)


def _grid(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], px_mm: float, scale: int
) -> None:
    x0, y0, x1, y1 = box
    for major in (False, True):
        step = 5 if major else 1
        color, width = (MAJOR, 2 * scale) if major else (MINOR, scale)
        for i in range(0, math.floor((x1 - x0) / px_mm) + 1, step):
            x = round(x0 + i * px_mm)
            draw.line([(x, y0), (x, y1)], fill=color, width=width)
        for j in range(0, math.floor((y1 - y0) / px_mm) + 1, step):
            y = round(y0 + j * px_mm)
            draw.line([(x0, y), (x1, y)], fill=color, width=width)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        return ImageFont.load_default()


def _header(draw: ImageDraw.ImageDraw, px_mm: float, heart_rate: int, scale: int) -> None:
    big, small = _font(round(5 * px_mm)), _font(round(3.4 * px_mm))
    left = round(12 * px_mm)
    draw.text((left, round(6 * px_mm)), "SYNTHETIC SAMPLE ECG - not a patient", fill=INK, font=big)
    facts = (
        f"Vent. rate {heart_rate} BPM    PR int 160 ms    QRS dur 88 ms    "
        "QT/QTc 380/414 ms    P-R-T axes 54 48 41"
    )
    draw.text((left, round(16 * px_mm)), facts, fill=INK, font=small)
    draw.text(
        (left, round(24 * px_mm)),
        "Drawn by ECG Viewer for demonstration.  25 mm/s  10 mm/mV  150 Hz",
        fill=INK,
        font=small,
    )


def _traces(
    draw: ImageDraw.ImageDraw, origin: tuple[int, int], px_mm: float, heart_rate: int, scale: int
) -> None:
    x0, y0 = origin
    label_font = _font(round(4 * px_mm))
    row_mm = 40
    col_mm = 62.5
    samples = np.arange(0, 2.5, 1 / 500)
    for row, leads in enumerate(LAYOUT):
        baseline = y0 + (row + 0.55) * row_mm * px_mm
        for col, lead in enumerate(leads):
            start = col * 2.5
            mv = lead_signal(lead, samples + start, heart_rate)
            xs = x0 + (col * col_mm + samples * 25) * px_mm
            _polyline(draw, xs, baseline - mv * 10 * px_mm, scale)
            draw.text((xs[0] + px_mm, baseline - 14 * px_mm), lead, fill=INK, font=label_font)
    rhythm = np.arange(0, 10, 1 / 500)
    baseline = y0 + 3.55 * row_mm * px_mm
    mv = lead_signal("II", rhythm, heart_rate)
    _polyline(draw, x0 + rhythm * 25 * px_mm, baseline - mv * 10 * px_mm, scale)
    draw.text((x0 + px_mm, baseline - 14 * px_mm), "II", fill=INK, font=label_font)


def _polyline(draw: ImageDraw.ImageDraw, xs: np.ndarray, ys: np.ndarray, scale: int) -> None:
    points = list(zip(xs.round().tolist(), ys.round().tolist(), strict=True))
    draw.line(points, fill=INK, width=2 * scale, joint="curve")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path("sample-ecg.png")
    render().image.save(out, optimize=True)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
