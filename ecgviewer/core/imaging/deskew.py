"""Estimate the residual rotation of an ECG from its straight lines (grid, baselines, text).

The strongest edge pixels of a downscaled gray image are projected across
lines tilted by candidate angles: edges on grid lines, on flat stretches of
trace and on text baselines stack into sharp peaks when the candidate matches
the true tilt. The sharpness of the profile (sum of squared bin counts, with
linear binning) is searched coarse to fine, from +-30 degrees down to 0.01
degree. Each edge pixel is counted in the family (along x or along y) its
gradient points to, so horizontal and vertical grid lines agree.

Projections need no accurate per-pixel direction, so dense 1 mm grids (whose
crossings fool gradient-direction histograms into 45-degree answers) are
handled as well as sparse ones.

Sign convention (see geometry.py): a positive angle means the content appears
rotated clockwise on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SEARCH_RANGE_DEG = 30.0
MAX_POINTS = 20_000
COARSE_POINTS = 8_000
BLUR_SIGMA = 1.0
MIN_CONFIDENCE = 1.15  # best coarse sharpness over the median; below it no direction stands out
# (step, half-width, profile bin in pixels): coarse to fine after the first sweep
REFINE = ((0.3, 1.5, 4.0), (0.06, 0.3, 2.0), (0.012, 0.06, 1.0))
COARSE_STEP, COARSE_BIN = 2.0, 10.0
MIN_ROW_POINTS = 100


@dataclass(frozen=True)
class Skew:
    """An estimated rotation and how clearly the image's lines agreed on it."""

    angle_deg: float
    confidence: float  # sharpest coarse profile over the median one (1: no structure)


def estimate_skew(gray: np.ndarray) -> Skew | None:
    """The skew of `gray` (2-D uint8) in degrees, or None when no line direction stands out."""
    points, direction = _edge_points(gray)
    if points.shape[0] < 200:
        return None
    coarse = np.arange(-SEARCH_RANGE_DEG, SEARCH_RANGE_DEG + COARSE_STEP / 2, COARSE_STEP)
    sample = slice(None, None, max(1, points.shape[0] // COARSE_POINTS))
    few, few_directions = points[sample], direction[sample]
    scores = np.array([_sharpness(few, few_directions, a, COARSE_BIN) for a in coarse])
    confidence = float(scores.max() / max(np.median(scores), 1e-9))
    if confidence < MIN_CONFIDENCE:
        return None
    best = float(coarse[int(np.argmax(scores))])
    along_x = _along_x(direction, best)  # near the answer the split no longer changes
    for step, span, bin_px in REFINE:
        candidates = best + np.arange(-span, span + step / 2, step)
        fine = [_projected(points, along_x, c, bin_px) for c in candidates]
        best = float(candidates[int(np.argmax(fine))])
    return Skew(angle_deg=best, confidence=confidence)


def line_angle(gray: np.ndarray, span_deg: float = 8.0) -> float | None:
    """The angle (same convention) of the lines running roughly along x in `gray`, within
    +-`span_deg`; lines along y are ignored. None when too few line pixels are seen."""
    points, direction = _edge_points(gray)
    rows = points[_along_x(direction, 0.0)]
    if rows.shape[0] < MIN_ROW_POINTS:
        return None
    best = 0.0
    for step, span, bin_px in ((0.5, span_deg, 2.0), *REFINE[1:]):
        candidates = best + np.arange(-span, span + step / 2, step)
        scores = [_row_energy(rows, c, bin_px) for c in candidates]
        best = float(candidates[int(np.argmax(scores))])
    return best


def _row_energy(rows: np.ndarray, angle_deg: float, bin_px: float) -> float:
    a = np.radians(angle_deg)
    return _profile_energy(-rows[:, 0] * np.sin(a) + rows[:, 1] * np.cos(a), bin_px)


def _edge_points(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates and line direction (degrees) of the strongest edge pixels."""
    smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), BLUR_SIGMA)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    threshold = max(float(np.percentile(magnitude[::4, ::4], 90)), 20.0)
    ys, xs = np.nonzero(magnitude > threshold)
    if xs.size > MAX_POINTS:
        keep = np.linspace(0, xs.size - 1, MAX_POINTS).astype(np.int64)
        xs, ys = xs[keep], ys[keep]
    # a line's direction is perpendicular to its gradient
    direction = np.degrees(np.arctan2(gy[ys, xs], gx[ys, xs])) - 90.0
    return np.stack([xs, ys], axis=1).astype(np.float64), direction.astype(np.float64)


def _along_x(direction: np.ndarray, angle_deg: float) -> np.ndarray:
    """Which edge pixels belong to lines running along x (rather than y) at this tilt."""
    return np.abs((direction - angle_deg + 90.0) % 180.0 - 90.0) < 45.0


def _sharpness(points: np.ndarray, direction: np.ndarray, angle_deg: float, bin_px: float) -> float:
    """How tightly the edge points stack onto lines tilted by `angle_deg` (both families)."""
    return _projected(points, _along_x(direction, angle_deg), angle_deg, bin_px)


def _projected(points: np.ndarray, along_x: np.ndarray, angle_deg: float, bin_px: float) -> float:
    a = np.radians(angle_deg)
    rows, cols = points[along_x], points[~along_x]
    across_rows = -rows[:, 0] * np.sin(a) + rows[:, 1] * np.cos(a)
    across_cols = cols[:, 0] * np.cos(a) + cols[:, 1] * np.sin(a)
    return _profile_energy(across_rows, bin_px) + _profile_energy(across_cols, bin_px)


def _profile_energy(values: np.ndarray, bin_px: float) -> float:
    if values.size == 0:
        return 0.0
    # linear (soft) binning: the score does not jump when lines cross bin borders
    position = (values - values.min()) / bin_px
    lower = np.floor(position).astype(np.int64)
    upper_weight = position - lower
    size = int(lower.max()) + 2
    counts = np.bincount(lower, weights=1.0 - upper_weight, minlength=size)
    counts += np.bincount(lower + 1, weights=upper_weight, minlength=size)
    return float((counts * counts).sum())
