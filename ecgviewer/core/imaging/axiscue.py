"""Whether an ECG's traces run across the image or down it: the axis cue for orient.py.

The printed grid looks the same both ways, so the cue reads the trace ink (traces.py),
from three properties of a trace drawn against time, each of which turns into its
negative when the mask is transposed:

1. **Banding.** A trace spends most of its time near its baseline, so across the traces
   the ink piles up in a few narrow bands (one per row of leads), while along them it
   spreads evenly.
2. **Elongation.** A trace, even broken into beats, is a mark much longer along time than
   across it; the cue is the ink-weighted mean log aspect ratio of the large marks. Thin
   straight pieces (grid fragments) are left out, text is too small to count.
3. **Coverage.** A trace is a function of time: inside each band it has ink in nearly
   every column from its first to its last, whereas across the bands the ink has gaps.

Plus a small prior for the page's long side (ECGs are printed landscape). The sum is
positive when the traces run left to right; on the shared samples the weakest upright
page (a portrait photo of a 6x1 page) scores +0.33 where banding alone gave +0.05.
"""

from __future__ import annotations

import cv2
import numpy as np

from ecgviewer.core.imaging.traces import baselines

LANDSCAPE_PRIOR = 0.1  # added when the image is clearly wider than tall
LANDSCAPE_RATIO = 1.15
LARGE_MARK_PX = 40  # marks at least this long count for elongation (text is smaller)
THIN_MARK_PX = 5  # marks at most this thick are straight grid fragments
MAX_LOG_RATIO = 2.0  # a mark's log aspect ratio is clipped to this
MIN_BAND_COLUMNS = 20  # bands with fewer inked columns do not count for coverage


def axis_score(ink: np.ndarray) -> float:
    """-3..3 or so: how clearly the traces of a 0/1 ink mask run left to right (+)."""
    banded = _banding(ink.sum(axis=1)) - _banding(ink.sum(axis=0))
    covered = _coverage(ink) - _coverage(ink.T)
    return banded + _elongation(ink) + covered + _landscape_prior(ink.shape)


def _landscape_prior(shape: tuple[int, ...]) -> float:
    height, width = shape[:2]
    if width > LANDSCAPE_RATIO * height:
        return LANDSCAPE_PRIOR
    if height > LANDSCAPE_RATIO * width:
        return -LANDSCAPE_PRIOR
    return 0.0


def _banding(profile: np.ndarray) -> float:
    """Share of the ink in the densest fifth of the lines (rows or columns)."""
    smooth = np.sort(np.convolve(profile.astype(np.float64), np.ones(5) / 5, mode="same"))[::-1]
    return float(smooth[: max(1, smooth.size // 5)].sum() / max(smooth.sum(), 1e-9))


def _elongation(ink: np.ndarray) -> float:
    """-1..1: the ink-weighted mean log(width / height) of the large marks, scaled."""
    halved = cv2.dilate(ink, np.ones((2, 2), np.uint8))[::2, ::2]  # bridges 1-pixel gaps
    stats = cv2.connectedComponentsWithStats(np.ascontiguousarray(halved), connectivity=8)[2][1:]
    width, height = stats[:, 2].astype(np.float64), stats[:, 3].astype(np.float64)
    area = stats[:, 4].astype(np.float64)
    large = np.maximum(width, height) >= LARGE_MARK_PX / 2
    large &= np.minimum(width, height) > THIN_MARK_PX / 2
    if not large.any():
        return 0.0
    ratio = np.clip(np.log(width[large] / height[large]), -MAX_LOG_RATIO, MAX_LOG_RATIO)
    return float(ratio @ area[large] / area[large].sum() / MAX_LOG_RATIO)


def _coverage(ink: np.ndarray) -> float:
    """0..1: within each band of rows, the share of columns with ink between the first and
    the last inked column, weighted by the band's inked columns."""
    rows, bounds = baselines(ink)
    covered = counted = 0.0
    for i in range(rows.size):
        inked = np.flatnonzero(ink[bounds[i] : bounds[i + 1]].any(axis=0))
        if inked.size >= MIN_BAND_COLUMNS:
            covered += inked.size * inked.size / (inked[-1] - inked[0] + 1)
            counted += inked.size
    return covered / counted if counted else 0.0
