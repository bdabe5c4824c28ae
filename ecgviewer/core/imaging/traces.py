"""The ink of an ECG's traces, and which way their deflections point.

Used by the orientation detector (orient.py). The mask keeps thin dark marks
that stand out from the local paper colour (a closing of the gray image),
that are not strongly coloured (the printed grid usually is) and not long
straight lines (grid lines, sheet edges); specks smaller than a few pixels go.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_DARKNESS = 20  # gray levels below the local paper
INK_SHARE = 96  # percentile: at most about 4 % of the page is trace, text or labels
MAX_SATURATION = 110  # of 255: a coloured grid line is not trace
MIN_SPECK_PX = 8
DARK_SHARE = 0.45  # of the darkest marks' darkness: the least a trace mark has
FAINT_SHARE = 0.3  # the same for the faint mask


def trace_ink(rgb: np.ndarray) -> np.ndarray:
    """A 0/1 mask of trace, label and text ink in an RGB image (working scale)."""
    ink = _dark_marks(rgb, DARK_SHARE)
    return _without_specks(ink & (1 - _long_lines(ink)))


def faint_trace_ink(rgb: np.ndarray) -> np.ndarray:
    """Like `trace_ink`, but keeping fainter strokes (thin QRS lines, broken traces) and
    removing grid lines that are broken by a few pixels; for the time cue (timecue.py)."""
    ink = _dark_marks(rgb, FAINT_SHARE)
    return _without_specks(ink & (1 - _long_lines(ink, bridge=7)))


def _dark_marks(rgb: np.ndarray, faint: float) -> np.ndarray:
    """Marks darker than the local paper by a level set from the page's darkest marks."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    darkness = cv2.subtract(cv2.blur(paper, (15, 15)), gray)
    level = max(MIN_DARKNESS, faint * _percentile(darkness, 99.5), _percentile(darkness, INK_SHARE))
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    return ((darkness > level) & (saturation < MAX_SATURATION)).astype(np.uint8)


def _percentile(values: np.ndarray, q: float) -> float:
    """The q-th percentile of 8-bit values, from their histogram (fast on large images)."""
    cumulative = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return float(np.searchsorted(cumulative, q / 100.0 * cumulative[-1]))


def _long_lines(ink: np.ndarray, bridge: int = 0) -> np.ndarray:
    """Straight horizontal or vertical runs over a quarter of the image (grid, edges); with
    `bridge`, vertical runs over a third of it with gaps up to `bridge` pixels."""
    height, width = ink.shape
    across = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, max(15, width // 4)), np.uint8))
    tall = height // 4
    if bridge:
        ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((bridge, 1), np.uint8))
        tall = height // 3
    down = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((max(15, tall), 1), np.uint8))
    return np.asarray(cv2.dilate(np.maximum(across, down), np.ones((3, 3), np.uint8)))


def _without_specks(ink: np.ndarray) -> np.ndarray:
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= MIN_SPECK_PX
    keep[0] = False
    return keep[labels].astype(np.uint8)


def banding(profile: np.ndarray) -> float:
    """Share of the ink in the densest fifth of the lines (rows or columns)."""
    smooth = np.sort(np.convolve(profile.astype(np.float64), np.ones(5) / 5, mode="same"))[::-1]
    return float(smooth[: max(1, smooth.size // 5)].sum() / max(smooth.sum(), 1e-9))


def baselines(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows where horizontal traces sit most of the time, and the strip bounds around them."""
    height = ink.shape[0]
    profile = np.convolve(ink.sum(axis=1).astype(np.float64), np.ones(5) / 5, mode="same")
    rows = _peaks(profile, min_gap=max(5, height // 12))
    if not rows.size:
        return rows, np.array([0, height])
    return rows, np.concatenate([[0], (rows[1:] + rows[:-1]) // 2, [height]])


def _peaks(profile: np.ndarray, min_gap: int) -> np.ndarray:
    """Rows of strong local maxima, at least `min_gap` apart."""
    if profile.max() <= 0:
        return np.array([], dtype=np.int64)
    order = np.argsort(profile)[::-1]
    chosen: list[int] = []
    for row in order:
        if profile[row] < 0.3 * profile[order[0]]:
            break
        if all(abs(int(row) - c) >= min_gap for c in chosen):
            chosen.append(int(row))
    return np.array(sorted(chosen), dtype=np.int64)


def upness(ink: np.ndarray) -> float:
    """-1..1: how clearly the traces' deflections point up (+) rather than down (-).

    Each strip around a baseline votes twice: with the side its tallest deflections
    reach (R waves mostly point up) and with the side where the trace spends its area
    (P and T waves mostly point up). Turning the mask by 180 degrees negates it.
    """
    rows, bounds = baselines(ink)
    votes = []
    for i, row in enumerate(rows):
        strip = ink[bounds[i] : bounds[i + 1]]
        votes.append(_reach_vote(strip, int(row - bounds[i])) + 2 * _area_vote(strip))
    return float(np.clip(np.mean(votes) / 2, -1, 1)) if votes else 0.0


def _reach_vote(strip: np.ndarray, baseline: int) -> float:
    """How much further the tallest deflections reach above the baseline than below it."""
    has_ink = strip.any(axis=0)
    if has_ink.sum() < 10:
        return 0.0
    rows = np.arange(strip.shape[0])[:, None]
    top = np.where(strip, rows, strip.shape[0]).min(axis=0)[has_ink]
    bottom = np.where(strip, rows, -1).max(axis=0)[has_ink]
    up = np.percentile(np.clip(baseline - top, 0, None), 98)
    down = np.percentile(np.clip(bottom - baseline, 0, None), 98)
    return float(up - down) / max(up + down, 1.0)


def _area_vote(strip: np.ndarray) -> float:
    """Mean signed distance of the trace above its median level, relative to its spread."""
    weights = strip.astype(np.float64)
    count = weights.sum(axis=0)
    has_ink = count > 0
    if has_ink.sum() < 10:
        return 0.0
    rows = np.arange(strip.shape[0], dtype=np.float64)[:, None]
    centre = (weights * rows).sum(axis=0)[has_ink] / count[has_ink]
    offset = np.median(centre) - centre  # positive: above the baseline
    return float(offset.mean() / max(np.abs(offset).mean(), 1e-9))
