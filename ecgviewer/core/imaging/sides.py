"""Straighten a sheet side that is seen only along a short stretch, from the lines beside it.

When a photographed sheet runs out of the frame, one of its sides may be in view
for a fraction of its length, and that stretch is often the curled tip of the
paper: a line fitted to it can be several degrees off, which moves the corner
beyond the frame by tens of pixels. The printed lines near that side (grid,
baselines, text) run parallel to it, and they are seen along the whole visible
stretch, flat, a few millimetres in from the edge. Their direction, measured in
a band just inside the side, replaces the fitted one; the side still passes
through the middle of the stretch that is seen (where the fitted position is
sound, whatever its angle).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ecgviewer.core.imaging.deskew import line_angle
from ecgviewer.core.imaging.geometry import Line, line_intersection

SHORT_SIDE = 0.6  # a side seen along less than this share of its length is re-measured
BAND = (0.02, 0.15)  # the band's near and far edge, as shares of the sheet's depth
MIN_STRETCH_PX = 40  # at the working scale; a shorter stretch shows too little to measure
MAX_TURN_DEG = 8.0


def straighten_short_sides(corners: np.ndarray, gray: np.ndarray) -> np.ndarray:
    """`corners` (TL, TR, BR, BL in `gray`'s coordinates) with every short side's direction
    taken from the printed lines beside it; unchanged where nothing better is measured."""
    lines = [_side_line(corners, i) for i in range(4)]
    changed = False
    for i in range(4):
        stretch = _visible(corners[i], corners[(i + 1) % 4], gray.shape)
        if stretch is None:
            continue
        turned = _measured_line(corners, i, stretch, gray)
        if turned is not None:
            lines[i], changed = turned, True
    if not changed:
        return corners
    met = [line_intersection(lines[i - 1], lines[i]) for i in range(4)]
    if any(p is None for p in met):
        return corners
    return np.array(met, dtype=np.float64)


def _side_line(corners: np.ndarray, i: int) -> Line:
    a, b = corners[i], corners[(i + 1) % 4]
    return a, (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)


def _visible(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> tuple[float, float] | None:
    """The stretch of side a-b inside the frame, as parameters (t0, t1) along it, when it is
    short (under SHORT_SIDE of the side) yet long enough to measure; else None."""
    height, width = shape[:2]
    t = np.linspace(0.0, 1.0, 400)
    points = a + t[:, None] * (b - a)
    inside = (
        (points[:, 0] >= 0) & (points[:, 0] <= width - 1)
        & (points[:, 1] >= 0) & (points[:, 1] <= height - 1)
    )  # fmt: skip
    share = float(inside.mean())
    length = float(np.linalg.norm(b - a))
    if share >= SHORT_SIDE or share * length < MIN_STRETCH_PX:
        return None
    return float(t[inside].min()), float(t[inside].max())


def _measured_line(
    corners: np.ndarray, i: int, stretch: tuple[float, float], gray: np.ndarray
) -> Line | None:
    """The side i through the middle of its visible stretch, along the printed lines in a
    band just inside it; None when they show no clear direction."""
    a, b = corners[i], corners[(i + 1) % 4]
    direction = _side_line(corners, i)[1]
    start = a + stretch[0] * (b - a)
    length = (stretch[1] - stretch[0]) * float(np.linalg.norm(b - a))
    normal = np.array([-direction[1], direction[0]])  # a quarter turn clockwise on screen
    centre = corners.mean(axis=0)
    depth = _depth(corners, i)
    inward = 1.0 if float((centre - start) @ normal) > 0 else -1.0
    near = BAND[0] * depth if inward > 0 else -BAND[1] * depth
    band_height = max(8, round((BAND[1] - BAND[0]) * depth))
    to_source = np.column_stack([direction, normal, start + near * normal])  # (u, v) -> image
    band = cv2.warpAffine(
        gray, to_source, (max(8, round(length)), band_height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    angle = line_angle(band)
    if angle is None or abs(angle) >= MAX_TURN_DEG:
        return None
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    turned = np.array([[cos, -sin], [sin, cos]]) @ direction  # clockwise on screen: y is down
    return a + (stretch[0] + stretch[1]) / 2 * (b - a), turned


def _depth(corners: np.ndarray, i: int) -> float:
    """The sheet's extent across side i: the mean length of the two sides next to it."""
    before = np.linalg.norm(corners[i] - corners[i - 1])
    after = np.linalg.norm(corners[(i + 2) % 4] - corners[(i + 1) % 4])
    return float(before + after) / 2
