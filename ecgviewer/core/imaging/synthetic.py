"""A synthetic 12-lead ECG on red grid paper, drawn entirely by this code.

It is licence-clean (no patient, no third-party image) and serves as the
bundled sample shown on first start and as ground truth for preprocessing
tests. The beats are made here; the page is drawn by the digital renderer
(core.digital.render, the one page drawer): the usual 3x4 grid of leads (2.5 s
each) plus a 10 s lead II rhythm strip, at 25 mm/s and 10 mm/mV, with a
printed header.

Run `python -m ecgviewer.core.imaging.synthetic OUT.png` to write one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ecgviewer.core.digital.record import EcgRecord
from ecgviewer.core.digital.render import RenderedPage, RenderSettings, render_page

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


@dataclass(frozen=True)
class SyntheticEcg:
    """A rendered sample and the facts a test can check against."""

    image: Image.Image
    dpi: int
    heart_rate: int
    page: RenderedPage  # where each lead strip is, the scale and the settings


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


def synthetic_record(heart_rate: int = 72, seconds: float = 10.0, hz: int = 500) -> EcgRecord:
    """The synthetic beats as a 12-lead recording in mV."""
    times = np.arange(0, seconds, 1 / hz)
    leads = {name: lead_signal(name, times, heart_rate).astype(np.float32) for name in _WAVES}
    return EcgRecord(leads=leads, sampling_hz=hz, format="ECG Viewer synthetic sample")


def render(width_px: int = 2200, dpi: int | None = None, heart_rate: int = 72) -> SyntheticEcg:
    """Draw a whole landscape US-Letter sheet `width_px` wide (dpi follows from the width)."""
    dpi = dpi or round(width_px / 11)
    width_in = width_px / dpi
    facts = (
        f"Vent. rate {heart_rate} BPM    PR int 160 ms    QRS dur 88 ms    "
        "QT/QTc 380/414 ms    P-R-T axes 54 48 41"
    )
    header = (
        "SYNTHETIC SAMPLE ECG - not a patient",
        facts,
        "Drawn by ECG Viewer for demonstration.  25 mm/s  10 mm/mV  150 Hz",
    )
    settings = RenderSettings(dpi=dpi, page_in=(width_in, width_in * 8.5 / 11), header=header)
    page = render_page(synthetic_record(heart_rate), settings)
    return SyntheticEcg(image=page.image, dpi=dpi, heart_rate=heart_rate, page=page)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path("sample-ecg.png")
    render().image.save(out, optimize=True)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
