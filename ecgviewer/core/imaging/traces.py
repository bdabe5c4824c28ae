"""The ink of an ECG's traces, and which way their deflections point.

Used by the orientation detector (orient.py). The mask keeps thin dark marks
that stand out from the local paper colour (a closing of the gray image),
that are not strongly coloured (the printed grid usually is) and not long
straight lines (grid lines, sheet edges); specks smaller than a few pixels go.
"""

from __future__ import annotations

from collections.abc import Callable

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
    return trace_masks(rgb)[0]


def faint_trace_ink(rgb: np.ndarray) -> np.ndarray:
    """Like `trace_ink`, but keeping fainter strokes (thin QRS lines, broken traces) and
    removing grid lines that are broken by a few pixels; for the time cue (timecue.py)."""
    return trace_masks(rgb)[1]


def trace_masks(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`trace_ink` and `faint_trace_ink` of one image, from one darkness map."""
    darkness = _darkness(rgb)
    cumulative = np.cumsum(cv2.calcHist([darkness], [0], None, [256], [0, 256]).ravel())
    darkest, share = (_percentile(cumulative, q) for q in (99.5, INK_SHARE))
    masks = []
    for share_of, bridge in ((DARK_SHARE, 0), (FAINT_SHARE, 7)):
        ink = (darkness > max(MIN_DARKNESS, share_of * darkest, share)).astype(np.uint8)
        masks.append(_without_specks(cv2.bitwise_and(ink, 1 - _long_lines(ink, bridge))))
    return masks[0], masks[1]


def _darkness(rgb: np.ndarray) -> np.ndarray:
    """How much darker than the local paper each pixel is; 0 where strongly coloured."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    darkness = cv2.subtract(cv2.blur(paper, (15, 15)), gray)
    darkness[cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1] >= MAX_SATURATION] = 0
    return darkness


def _percentile(cumulative: np.ndarray, q: float) -> float:
    """The q-th percentile of 8-bit values from their cumulative histogram."""
    return float(np.searchsorted(cumulative, q / 100.0 * cumulative[-1]))


def _long_lines(ink: np.ndarray, bridge: int = 0) -> np.ndarray:
    """Straight horizontal or vertical runs over a quarter of the image (grid, edges); with
    `bridge`, vertical runs over a third of it with gaps up to `bridge` pixels."""
    height, width = ink.shape
    across = _opening(ink, max(15, width // 4), axis=1)
    tall = height // 4
    if bridge:
        ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((bridge, 1), np.uint8))
        tall = height // 3
    down = _opening(ink, max(15, tall), axis=0)
    return np.asarray(cv2.dilate(cv2.bitwise_or(across, down), np.ones((3, 3), np.uint8)))


def _opening(ink: np.ndarray, length: int, axis: int) -> np.ndarray:
    """The runs of a 0/1 mask at least `length` long along `axis` (a morphological opening
    with a line, by doubling steps: much faster than OpenCV's for long lines)."""
    mask = ink if axis == 1 else np.ascontiguousarray(ink.T)
    rows, side = mask.shape[0], length // 2
    ones, zeros = np.ones((rows, side), np.uint8), np.zeros((rows, length - 1), np.uint8)
    runs = _sliding(np.hstack([ones, mask, ones]), length, cv2.bitwise_and)  # as OpenCV's border
    kept = _sliding(np.hstack([zeros, runs, zeros]), length, cv2.bitwise_or)
    kept = kept[:, side : side + mask.shape[1]]
    return np.ascontiguousarray(kept if axis == 1 else kept.T)


def _sliding(mask: np.ndarray, length: int, combine: Callable[..., np.ndarray]) -> np.ndarray:
    """combine over each window of `length` columns starting at each column (width shrinks)."""
    result, span = mask, 1
    while 2 * span <= length:
        result = combine(result[:, :-span], result[:, span:])
        span *= 2
    if span < length:
        result = combine(result[:, : result.shape[1] - (length - span)], result[:, length - span :])
    return result


def _without_specks(ink: np.ndarray) -> np.ndarray:
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = (stats[:, cv2.CC_STAT_AREA] >= MIN_SPECK_PX).astype(np.uint8)
    keep[0] = 0
    return np.take(keep, np.asarray(labels, np.int32))


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
    top = strip.argmax(axis=0)[has_ink]
    bottom = strip.shape[0] - 1 - strip[::-1].argmax(axis=0)[has_ink]
    up = float(np.percentile(np.clip(baseline - top, 0, None), 98))
    down = float(np.percentile(np.clip(bottom - baseline, 0, None), 98))
    return (up - down) / max(up + down, 1.0)


def _area_vote(strip: np.ndarray) -> float:
    """Mean signed distance of the trace above its median level, relative to its spread."""
    weights = strip.astype(np.float32)
    count = weights.sum(axis=0)
    has_ink = count > 0
    if has_ink.sum() < 10:
        return 0.0
    rows = np.arange(strip.shape[0], dtype=np.float32)
    centre = (rows @ weights)[has_ink].astype(np.float64) / count[has_ink]
    offset = np.median(centre) - centre  # positive: above the baseline
    return float(offset.mean() / max(np.abs(offset).mean(), 1e-9))
